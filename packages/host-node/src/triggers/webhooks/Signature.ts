/**
 * Webhook signatures: each delivery carries
 *
 * ```
 * X-Weft-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
 * ```
 *
 * keyed with the webhook's secret (its UTF-8 bytes, `whsec_` prefix included). The timestamp must be within
 * the tolerance of the server's clock (5 minutes by default), so an old captured delivery is refused; several
 * `v1=` entries may be sent (one matching is enough), e.g. while a sender rotates secrets. Comparisons are
 * constant-time.
 *
 * Signing with openssl:
 *
 * ```sh
 * T=$(date +%s); SIG=$(printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
 * curl -H "X-Weft-Signature: t=$T,v1=$SIG" --data-binary "$BODY" …
 * ```
 *
 * @since 0.1.0
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { Data } from "effect"

/** The header that carries the signature (lower case, as Node reports headers). */
export const SIGNATURE_HEADER = "x-weft-signature"

/** The default tolerance between the signature's timestamp and the server's clock: 5 minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300

/** The prefix of webhook secrets. */
export const SECRET_PREFIX = "whsec_"

/**
 * Why a delivery's signature was refused.
 *
 * @category models
 */
export type SignatureProblem = "missing" | "malformed" | "stale" | "mismatch"

/**
 * A delivery whose signature is missing, malformed, too old (or too far in the future), or does not match
 * its body. `message` says how to sign.
 *
 * @category errors
 */
export class SignatureInvalid extends Data.TaggedError("SignatureInvalid")<{
  readonly reason: SignatureProblem
  readonly message: string
}> {}

/**
 * A new webhook secret: `whsec_` and 32 random bytes in base64url.
 *
 * @category constructors
 */
export const newSecret = (): string => `${SECRET_PREFIX}${randomBytes(32).toString("base64url")}`

const hmac = (secret: string, timestamp: number, body: Uint8Array): Buffer =>
  createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest()

/**
 * The signature header's value for a delivery of `body` at `timestamp` (unix seconds).
 *
 * @category constructors
 */
export const sign = (secret: string, timestamp: number, body: Uint8Array | string): string =>
  `t=${timestamp},v1=${hmac(secret, timestamp, typeof body === "string" ? Buffer.from(body) : body).toString("hex")}`

const HOW =
  'sign each delivery: X-Weft-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the webhook\'s secret>'

const refuse = (reason: SignatureProblem, message: string) => new SignatureInvalid({ reason, message })

/** The parts of a signature header, or a description of what is wrong with it. */
const parse = (
  header: string,
): { readonly timestamp: number; readonly signatures: ReadonlyArray<Buffer> } | string => {
  let timestamp: number | undefined
  const signatures: Array<Buffer> = []
  for (const part of header.split(",")) {
    const eq = part.indexOf("=")
    if (eq < 0) return `"${part.trim().slice(0, 40)}" is not key=value`
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === "t") {
      if (!/^\d{1,12}$/.test(value)) return "t must be a unix time in seconds"
      timestamp = Number(value)
    } else if (key === "v1") {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return "v1 must be 64 hex digits (an HMAC-SHA256)"
      signatures.push(Buffer.from(value, "hex"))
    }
    // Other keys (later schemes) are ignored.
  }
  if (timestamp === undefined) return "t= is missing"
  if (signatures.length === 0) return "v1= is missing"
  return { timestamp, signatures }
}

/**
 * Checks a delivery's signature header against its raw body. Fails with `SignatureInvalid` when the header
 * is missing or malformed, when its timestamp is more than `toleranceSeconds` away from `nowSeconds`, or
 * when no `v1` matches. Answers the matching signature (hex), which identifies this delivery.
 *
 * @category validation
 */
export const verify = (options: {
  readonly secret: string
  readonly header: string | undefined
  readonly body: Uint8Array
  readonly nowSeconds: number
  readonly toleranceSeconds?: number
}):
  | { readonly ok: true; readonly signature: string }
  | { readonly ok: false; readonly error: SignatureInvalid } => {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS
  if (options.header === undefined || options.header.trim() === "") {
    return { ok: false, error: refuse("missing", `The delivery is not signed: ${HOW}`) }
  }
  const parsed = parse(options.header)
  if (typeof parsed === "string") {
    return { ok: false, error: refuse("malformed", `X-Weft-Signature is malformed (${parsed}): ${HOW}`) }
  }
  const skew = Math.abs(options.nowSeconds - parsed.timestamp)
  if (skew > tolerance) {
    return {
      ok: false,
      error: refuse(
        "stale",
        `The signature's timestamp is ${skew} s away from the server's clock (at most ${tolerance} s): sign each delivery when it is sent`,
      ),
    }
  }
  const expected = hmac(options.secret, parsed.timestamp, options.body)
  // Every entry is compared, whichever matches, so the time taken says nothing about which one did.
  let matched = false
  for (const candidate of parsed.signatures) {
    if (timingSafeEqual(candidate, expected)) matched = true
  }
  if (!matched) {
    return {
      ok: false,
      error: refuse(
        "mismatch",
        `The signature does not match the body (wrong secret, or the body changed after signing): ${HOW}`,
      ),
    }
  }
  return { ok: true, signature: expected.toString("hex") }
}
