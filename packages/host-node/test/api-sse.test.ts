/**
 * The SSE encoding of run events: `id:` is the seq, `event:` the type, `data:` the event as one JSON line;
 * progress events have no id; a quiet stream sends heartbeat comments; a store failure ends the stream with
 * an `error` frame.
 */
import type { RunEvent } from "@weft/engine"
import { Effect, Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import { describe, expect, it } from "vitest"
import { frame, sseResponse } from "../src/api/Sse.js"

const status: RunEvent = { type: "RunStatus", runId: "r", seq: 1, at: 0, status: "RUNNING", graphId: "g" }
const progress: RunEvent = {
  type: "NodeProgress",
  runId: "r",
  afterSeq: 1,
  at: 0,
  executionId: "e",
  nodeId: "n",
  delta: "to\nken",
}
const done: RunEvent = { type: "RunStatus", runId: "r", seq: 2, at: 0, status: "COMPLETED", graphId: "g" }

const body = (response: HttpServerResponse.HttpServerResponse) => HttpServerResponse.toWeb(response).text()

describe("SSE frames", () => {
  it("gives persisted events their seq as id and their type as event name; progress has no id", () => {
    expect(frame(status)).toBe(`id: 1\nevent: RunStatus\ndata: ${JSON.stringify(status)}\n\n`)
    const text = frame(progress)
    expect(text.startsWith("event: NodeProgress\ndata: ")).toBe(true)
    expect(text).not.toContain("id:")
    // A newline inside a value stays escaped inside the one data line.
    expect(text.split("\n").filter((line) => line.startsWith("data: "))).toHaveLength(1)
  })

  it("streams the events as text/event-stream and ends with them", async () => {
    const response = sseResponse(Stream.fromIterable([status, progress, done]))
    expect(
      response.headers["content-type"] ?? (response.body as { contentType?: string }).contentType,
    ).toContain("text/event-stream")
    const text = await body(response)
    expect(text).toBe(`: connected\n\n${frame(status)}${frame(progress)}${frame(done)}`)
  })

  it("sends heartbeat comments while the run is quiet", async () => {
    const quiet = Stream.concat(
      Stream.fromEffect(Effect.as(Effect.sleep("130 millis"), status)),
      Stream.fromIterable([done]),
    )
    const text = await body(sseResponse(quiet, "40 millis"))
    const beats = text.split("\n\n").filter((chunk) => chunk === ": heartbeat")
    expect(beats.length).toBeGreaterThanOrEqual(2)
    expect(text.endsWith(frame(done))).toBe(true)
  })

  it("ends with an error frame when the store fails midway", async () => {
    const failing = Stream.concat(Stream.fromIterable([status]), Stream.fail(new Error("disk on fire")))
    const text = await body(sseResponse(failing))
    expect(text.endsWith(`event: error\ndata: ${JSON.stringify({ error: "disk on fire" })}\n\n`)).toBe(true)
  })
})
