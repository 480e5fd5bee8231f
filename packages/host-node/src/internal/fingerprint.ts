/**
 * A fingerprint of a JSON value: the SHA-256 of its canonical text (object keys sorted at every depth), so
 * that two requests that differ only in key order have the same fingerprint.
 */
import { createHash } from "node:crypto"

const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort())
      sorted[key] = canonical((value as Record<string, unknown>)[key])
    return sorted
  }
  return value
}

/** The hex SHA-256 of `value`'s canonical JSON text. */
export const fingerprint = (value: unknown): string =>
  createHash("sha256")
    .update(JSON.stringify(canonical(value)) ?? "null")
    .digest("hex")
