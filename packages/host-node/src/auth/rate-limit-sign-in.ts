/**
 * Sign-in limits: per client address (better-auth's own limiter, on the host's buckets) and per account
 * (the host's, here): failed password sign-ins for one email address, from any number of addresses.
 *
 * The client address is the socket's. Behind a reverse proxy every request comes from the proxy, so the
 * proxies' addresses can be named (`trustedProxies`): for a request from one of them, the address is the
 * right-most `X-Forwarded-For` entry that is not a trusted proxy. `X-Forwarded-For` from anyone else is
 * ignored: a client could write anything there.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import type { RateLimit } from "./rate-limit.js"

/** The default per-account limit: 10 failed sign-ins per 15 minutes for one email address. */
export const DEFAULT_SIGN_IN_ACCOUNT_RATE_LIMIT: RateLimit = { window: 900, max: 10 }

/** The default per-address limit: 10 sign-in (and sign-up) attempts per minute. */
export const DEFAULT_SIGN_IN_RATE_LIMIT: RateLimit = { window: 60, max: 10 }

/** The better-auth route (under its base path) whose failures count against the account. */
export const SIGN_IN_EMAIL_PATH = "/sign-in/email"

/** `::ffff:127.0.0.1` (an IPv4 client of a dual-stack socket) is `127.0.0.1`. */
const plainAddress = (address: string): string => {
  const trimmed = address.trim().toLowerCase()
  return trimmed.startsWith("::ffff:") && trimmed.includes(".") ? trimmed.slice(7) : trimmed
}

/**
 * The client's address: the socket's, or, when the socket is a trusted proxy, the right-most untrusted
 * `X-Forwarded-For` entry.
 *
 * @category accessors
 */
export const clientAddress = (
  socket: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: ReadonlyArray<string>,
): string | undefined => {
  if (socket === undefined) return undefined
  const trusted = new Set(trustedProxies.map(plainAddress))
  let address = plainAddress(socket)
  if (!trusted.has(address) || forwardedFor === undefined) return address
  const hops = forwardedFor
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "")
  for (let i = hops.length - 1; i >= 0; i--) {
    address = plainAddress(hops[i] ?? "")
    if (!trusted.has(address)) return address
  }
  return address
}

/**
 * The bucket key of the account a sign-in body names (a hash of its lower-cased email address), or
 * `undefined` when the body names none (better-auth refuses it anyway).
 *
 * @category accessors
 */
export const accountKeyOf = (body: ArrayBuffer | undefined): string | undefined => {
  if (body === undefined || body.byteLength === 0) return undefined
  let email: unknown
  try {
    email = (JSON.parse(new TextDecoder().decode(body)) as { email?: unknown } | null)?.email
  } catch {
    return undefined
  }
  if (typeof email !== "string" || email.trim() === "") return undefined
  const digest = createHash("sha256").update(email.trim().toLowerCase()).digest("base64url")
  return `sign-in-account:${digest}`
}
