/**
 * Server-Sent Events for run events: `id: <seq>`, `event: <type>`, `data: <json>` per event (progress
 * events have no id), and a comment every 15 s so that proxies keep the connection open.
 *
 * @since 0.1.0
 */
import { isPersisted, type RunEvent } from "@weft/engine"
import { Duration, Stream } from "effect"
import { HttpServerResponse } from "effect/http"

/** How often a quiet stream sends a comment. */
export const HEARTBEAT = Duration.seconds(15)

const stringify = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? "null"
  } catch {
    return JSON.stringify({ type: "Unserializable", message: String(value) })
  }
}

/**
 * One event as an SSE frame.
 *
 * @category encoding
 */
export const frame = (event: RunEvent): string => {
  const id = isPersisted(event) ? `id: ${event.seq}\n` : ""
  // JSON text has no raw newlines, so one data line carries the whole event.
  return `${id}event: ${event.type}\ndata: ${stringify(event)}\n\n`
}

/**
 * The SSE response for a stream of run events. The stream ends when `events` ends; a store failure
 * midway ends it with an `event: error` frame.
 *
 * @category encoding
 */
export const sseResponse = <E>(
  events: Stream.Stream<RunEvent, E>,
  heartbeat: Duration.Input = HEARTBEAT,
): HttpServerResponse.HttpServerResponse => {
  const frames = events.pipe(
    Stream.map(frame),
    Stream.catch((error) =>
      Stream.succeed(
        `event: error\ndata: ${stringify({ error: error instanceof Error ? error.message : String(error) })}\n\n`,
      ),
    ),
  )
  const beats = Stream.tick(heartbeat).pipe(
    Stream.drop(1),
    Stream.map(() => ": heartbeat\n\n"),
  )
  const body = Stream.merge(frames, beats, { haltStrategy: "left" }).pipe(
    Stream.prepend([": connected\n\n"]),
    Stream.encodeText,
  )
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" },
  })
}
