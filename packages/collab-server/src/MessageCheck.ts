import * as decoding from "lib0/decoding"
import * as Y from "yjs"

/**
 * What an inbound Hocuspocus frame carries, after a strict parse.
 *
 * - `update`: a Yjs update (sync step 2 or update) of `bytes` bytes, already checked to decode.
 * - `other`: any other well-formed frame (sync step 1, awareness, stateless, …), left to Hocuspocus.
 * - `malformed`: the frame cannot be a valid message; the connection must be closed.
 */
export type MessageCheck =
  | { readonly _tag: "update"; readonly bytes: number }
  | { readonly _tag: "other" }
  | { readonly _tag: "malformed"; readonly detail: string }

const messageSync = 0
const messageSyncReply = 4
const syncStep1 = 0
const syncStep2 = 1
const syncUpdate = 2

/**
 * Parse one inbound frame strictly: `[document name][type][…]`. For sync frames the payload must be the whole
 * rest of the frame, a state vector for step 1 and a decodable, non-empty Yjs update for step 2 and updates.
 *
 * Hocuspocus would apply a half-decodable update and only then fail; this check runs before anything is applied,
 * so a bad frame never touches the document.
 */
export const checkMessage = (frame: Uint8Array): MessageCheck => {
  try {
    const decoder = decoding.createDecoder(frame)
    decoding.readVarString(decoder)
    const type = decoding.readVarUint(decoder)
    if (type !== messageSync && type !== messageSyncReply) return { _tag: "other" }
    const syncType = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    if (decoding.hasContent(decoder))
      return { _tag: "malformed", detail: "trailing bytes after the sync payload" }
    if (syncType === syncStep1) {
      Y.decodeStateVector(payload)
      return { _tag: "other" }
    }
    if (syncType !== syncStep2 && syncType !== syncUpdate) {
      return { _tag: "malformed", detail: `unknown sync message type ${syncType}` }
    }
    if (payload.byteLength < 2) return { _tag: "malformed", detail: "empty update" }
    Y.decodeUpdate(payload)
    return { _tag: "update", bytes: payload.byteLength }
  } catch (cause) {
    return { _tag: "malformed", detail: cause instanceof Error ? cause.message : String(cause) }
  }
}
