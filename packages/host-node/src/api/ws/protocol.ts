/**
 * The messages of the WebSocket API (`/api/ws`): what a client may send, how a client message is decoded
 * (every refusal names the offending field), and what the server sends back, as JSON text frames.
 *
 * @since 0.1.0
 */
import type { RunEvent } from "@weft/engine"
import { Exit, Schema } from "effect"
import { issueFields } from "../Errors.js"

const Id = Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(200))

/** A sequence number: the client's last seen event of a run (0: none). */
const Seq = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** The client's own reference for a request, echoed in the replies to it. */
const ClientId = Schema.Union([Schema.String.check(Schema.isMaxLength(200)), Schema.Finite])

/** The most runs an `after` map may name. */
export const MAX_AFTER_ENTRIES = 1000

const IsoTime = Schema.String.check(
  Schema.isMaxLength(100),
  Schema.makeFilter((value: string) =>
    Number.isFinite(Date.parse(value)) ? undefined : "expected an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
  ),
)

/**
 * `{"type":"subscribe","runId":…,"after":<seq>}`: the run's events after `after` (default 0), then its
 * live events until its final status.
 *
 * @category schemas
 */
export const SubscribeRun = Schema.Struct({
  type: Schema.Literal("subscribe"),
  runId: Id,
  after: Schema.optionalKey(Seq),
  id: Schema.optionalKey(ClientId),
})

/**
 * `{"type":"subscribe","graphId":…,"after":{"<runId>":<seq>},"since":"<ISO time>"}`: the events of every
 * unfinished run of the graph, of the runs named in `after` (from their seq, to their end even when they
 * have finished since), of the runs created at or after `since`, and of every run that starts later.
 *
 * @category schemas
 */
export const SubscribeGraph = Schema.Struct({
  type: Schema.Literal("subscribe"),
  graphId: Id,
  after: Schema.optionalKey(Schema.Record(Id, Seq).check(Schema.isMaxProperties(MAX_AFTER_ENTRIES))),
  since: Schema.optionalKey(IsoTime),
  id: Schema.optionalKey(ClientId),
})

/**
 * `{"type":"unsubscribe","runId":…}`.
 *
 * @category schemas
 */
export const UnsubscribeRun = Schema.Struct({
  type: Schema.Literal("unsubscribe"),
  runId: Id,
  id: Schema.optionalKey(ClientId),
})

/**
 * `{"type":"unsubscribe","graphId":…}`.
 *
 * @category schemas
 */
export const UnsubscribeGraph = Schema.Struct({
  type: Schema.Literal("unsubscribe"),
  graphId: Id,
  id: Schema.optionalKey(ClientId),
})

/**
 * `{"type":"ping"}`, answered with `{"type":"pong"}`.
 *
 * @category schemas
 */
export const Ping = Schema.Struct({ type: Schema.Literal("ping"), id: Schema.optionalKey(ClientId) })

/**
 * A decoded client message.
 *
 * @category models
 */
export type ClientMessage =
  | typeof SubscribeRun.Type
  | typeof SubscribeGraph.Type
  | typeof UnsubscribeRun.Type
  | typeof UnsubscribeGraph.Type
  | typeof Ping.Type

/** The client's reference for a request. */
export type ClientRef = string | number

/**
 * Why a client message was refused: the field at fault (a dotted path such as `after.<runId>`, or `message`
 * for the message as a whole) and what is wrong with it.
 *
 * @category models
 */
export interface Refusal {
  readonly field: string
  readonly message: string
  /** Every offending field, when there are several. */
  readonly fields?: Readonly<Record<string, string>>
  /** The client's `id`, when the message had a usable one. */
  readonly id?: ClientRef
}

/**
 * A message the server sends.
 *
 * @category models
 */
export type ServerMessage =
  | {
      readonly type: "event"
      readonly runId: string
      /** Set when the event reaches the client through a graph subscription. */
      readonly graphId?: string
      readonly event: RunEvent
    }
  | {
      readonly type: "subscribed"
      readonly runId?: string
      readonly graphId?: string
      /** Run subscription: the seq the replay starts after. */
      readonly after?: number
      /** Graph subscription: the runs followed from the start, with the seq each replay starts after. */
      readonly runs?: ReadonlyArray<{ readonly runId: string; readonly after: number }>
      readonly id?: ClientRef
    }
  | {
      readonly type: "unsubscribed"
      readonly runId?: string
      readonly graphId?: string
      /**
       * `requested`: the client unsubscribed. `finished`: the run reached its final status and every event
       * was sent. `stopped`: the server ended the stream early (shutting down, or the store failed);
       * subscribe again with the last seq.
       */
      readonly reason: "requested" | "finished" | "stopped"
      readonly id?: ClientRef
    }
  | {
      readonly type: "error"
      readonly message: string
      readonly field?: string
      readonly fields?: Readonly<Record<string, string>>
      readonly runId?: string
      readonly graphId?: string
      readonly id?: ClientRef
    }
  | { readonly type: "pong"; readonly id?: ClientRef }
  | { readonly type: "heartbeat"; readonly at: number }

const TYPES = ["subscribe", "unsubscribe", "ping"] as const

const refusal = (field: string, message: string, id: ClientRef | undefined): Refusal => ({
  field,
  message,
  ...(id === undefined ? {} : { id }),
})

const clientRefOf = (value: unknown): ClientRef | undefined =>
  (typeof value === "string" && value.length <= 200) || (typeof value === "number" && Number.isFinite(value))
    ? value
    : undefined

const strict = { onExcessProperty: "error", errors: "all" } as const

const decodeWith = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  value: Record<string, unknown>,
  id: ClientRef | undefined,
): S["Type"] | Refusal => {
  const exit = Schema.decodeUnknownExit(schema)(value, strict)
  if (Exit.isSuccess(exit)) return exit.value
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error
  if (error === undefined) return refusal("message", "could not be decoded", id)
  const fields = issueFields(error.issue)
  const [field, message] = Object.entries(fields)[0] ?? ["message", "could not be decoded"]
  return {
    ...refusal(field === "body" ? "message" : field, message, id),
    ...(Object.keys(fields).length > 1 ? { fields } : {}),
  }
}

/**
 * Reads one client message: JSON text, an object with a known `type`, and the fields of that type only.
 *
 * @category decoding
 */
export const decodeClientMessage = (text: string): { readonly message: ClientMessage } | Refusal => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return refusal("message", "not valid JSON", undefined)
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return refusal("message", "expected a JSON object", undefined)
  }
  const record = value as Record<string, unknown>
  const id = clientRefOf(record.id)
  const type = record.type
  if (type === undefined) return refusal("type", "required field is missing", id)
  if (typeof type !== "string" || !(TYPES as ReadonlyArray<string>).includes(type)) {
    return refusal("type", `unknown message type; expected one of ${TYPES.join(", ")}`, id)
  }
  if (type === "ping") return wrap(decodeWith(Ping, record, id))
  const hasRun = "runId" in record
  const hasGraph = "graphId" in record
  if (hasRun && hasGraph) return refusal("graphId", "give either runId or graphId, not both", id)
  if (!hasRun && !hasGraph) return refusal("runId", "required field is missing (or graphId)", id)
  if (type === "subscribe") {
    return wrap(hasRun ? decodeWith(SubscribeRun, record, id) : decodeWith(SubscribeGraph, record, id))
  }
  return wrap(hasRun ? decodeWith(UnsubscribeRun, record, id) : decodeWith(UnsubscribeGraph, record, id))
}

const isRefusal = (value: ClientMessage | Refusal): value is Refusal => "field" in value

const wrap = (value: ClientMessage | Refusal): { readonly message: ClientMessage } | Refusal =>
  isRefusal(value) ? value : { message: value }

/**
 * A server message as a text frame. A value that JSON cannot encode (inside an event) is replaced by a
 * description of it, as the SSE stream does.
 *
 * @category encoding
 */
export const encodeServerMessage = (message: ServerMessage): string => {
  try {
    return JSON.stringify(message)
  } catch {
    if (message.type !== "event") return JSON.stringify({ type: "error", message: "unserializable message" })
    const event = message.event
    return JSON.stringify({
      ...message,
      event: {
        type: "Unserializable",
        runId: event.runId,
        ...("seq" in event ? { seq: event.seq } : {}),
        message: `${event.type} event could not be encoded as JSON`,
      },
    })
  }
}
