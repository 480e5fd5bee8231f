/**
 * Hocuspocus frames built by hand, for tests that speak the protocol over raw sockets (here and in the host's
 * tests of its `/collab` mount): `[document name][message type][…]`, written with lib0's encoding.
 */
import * as encoding from "lib0/encoding"

/** Message types. */
export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
/** A sync message's update subtype. */
export const SYNC_UPDATE = 2
/** Auth answers. */
export const AUTH_PERMISSION_DENIED = 1
export const AUTH_AUTHENTICATED = 2

/** One frame, written by `write`. */
export const frame = (write: (encoder: encoding.Encoder) => void): Uint8Array => {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** The authentication frame a provider sends first for a document. */
export const authFrame = (name: string, token: string) =>
  frame((e) => {
    encoding.writeVarString(e, name)
    encoding.writeVarUint(e, MESSAGE_AUTH)
    encoding.writeVarUint(e, 0) // token
    encoding.writeVarString(e, token)
  })

/** A sync update frame carrying `payload` (any bytes), then `trailing` bytes after it. */
export const updateFrame = (name: string, payload: Uint8Array, trailing: Uint8Array = new Uint8Array()) =>
  frame((e) => {
    encoding.writeVarString(e, name)
    encoding.writeVarUint(e, MESSAGE_SYNC)
    encoding.writeVarUint(e, SYNC_UPDATE)
    encoding.writeVarUint8Array(e, payload)
    encoding.writeUint8Array(e, trailing)
  })

/** An awareness frame setting `state` (or removing, with `null`) for `clientId` at `clock`. */
export const awarenessFrame = (name: string, clientId: number, clock: number, state: unknown) =>
  frame((e) => {
    encoding.writeVarString(e, name)
    encoding.writeVarUint(e, MESSAGE_AWARENESS)
    const update = encoding.createEncoder()
    encoding.writeVarUint(update, 1)
    encoding.writeVarUint(update, clientId)
    encoding.writeVarUint(update, clock)
    encoding.writeVarString(update, JSON.stringify(state))
    encoding.writeVarUint8Array(e, encoding.toUint8Array(update))
  })

/** `n` pseudo-random bytes from `seed` (the same bytes for the same seed). */
export const randomBytes = (n: number, seed: number) => {
  const out = new Uint8Array(n)
  let s = seed
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    out[i] = s & 0xff
  }
  return out
}
