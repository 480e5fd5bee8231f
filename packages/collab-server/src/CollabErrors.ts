import { Data } from "effect"

/**
 * A connection to a document was refused: bad document name, no or unknown token, or no role on the graph
 * (`permission-denied`), or the document could not be loaded from storage (`document-unavailable`: the client
 * may try again later).
 *
 * `reason` is what the client sees in its permission-denied message.
 */
export class CollabRefused extends Data.TaggedError("CollabRefused")<{
  readonly reason: "invalid-document-name" | "permission-denied" | "document-unavailable"
}> {}

/**
 * An incoming message was rejected and its socket closed.
 *
 * `code` is the WebSocket close code (1007 malformed, 1009 too large), `reason` the close reason.
 */
export class CollabMessageRejected extends Data.TaggedError("CollabMessageRejected")<{
  readonly code: 1007 | 1009
  readonly reason: "malformed-message" | "message-too-large" | "document-too-large"
}> {}

/** An option of `makeCollabServer` is invalid; `field` names it (e.g. `redis.url`). */
export class CollabOptionsInvalid extends Data.TaggedError("CollabOptionsInvalid")<{
  readonly field: string
  readonly message: string
}> {}
