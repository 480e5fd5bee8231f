/**
 * The signing secret of sessions: given, or generated once and kept in a 0600 file in the data directory.
 */
import { randomBytes } from "node:crypto"
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs"

/** The shortest secret accepted. */
export const MIN_SECRET_LENGTH = 32

/** The file, in an embedded host's data directory, that keeps its generated secret. */
export const SECRET_FILE = "weft-auth-secret"

/**
 * Reads the secret in `file`, or creates the file with a new random secret (mode 0600). A file readable by
 * others is narrowed to 0600.
 */
export const secretFromFile = (file: string): string => {
  try {
    writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" })
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw error
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  return readFileSync(file, "utf8").trim()
}
