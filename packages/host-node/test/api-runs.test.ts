/**
 * Runs over HTTP on PGlite: start, stream the events to the end, read the outputs; Idempotency-Key under
 * parallel starts; reconnecting with Last-Event-ID; stop; reviews; and the AutoGPT corpus agent whose AI
 * block answers from a loopback OpenAI-compatible server.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { LlmConfig, SafeHttpClient } from "@weft/blocks"
import { Context } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type OpenAIServer, startOpenAIServer } from "../../blocks/test/support/openai-server.js"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventFrames,
  eventually,
  helloGraph,
  lastEvent,
  readSse,
  seqs,
  startTestHost,
  tempDir,
  timerGraph,
} from "./api-support.js"

const corpusAgent = join(
  import.meta.dirname,
  "../../../../shared/corpus/autogpt/agents/agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json",
)

const dir = tempDir("runs")
let host: RunningHost
let llm: OpenAIServer
let api: ReturnType<typeof client>

beforeAll(async () => {
  llm = await startOpenAIServer({ handler: () => "[1, 1, 2, 3, 5]" })
  const resources = Context.make(LlmConfig, {
    baseURL: llm.baseURL,
    apiKey: "test-key",
    http: new SafeHttpClient({ allow: ["127.0.0.1"] }),
  }) as Context.Context<never>
  // Sign-in off (the development mode of `weft serve --auth off`): the run API needs no session.
  host = await startTestHost({ dataDir: dir.dir, runs: { resources }, auth: { mode: "off" } })
  api = client(host.url)
})
afterAll(async () => {
  await host?.close()
  await llm?.close()
  dir.dispose()
})

interface RunView {
  readonly id: string
  readonly graphId: string
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly lastSeq: number
  readonly executions: ReadonlyArray<{
    id: string
    nodeId: string
    status: string
    outputs: ReadonlyArray<{ pin: string; value: unknown }>
    review?: { payload: unknown }
  }>
}

const createGraph = async (graph: unknown) => {
  const created = await api.post<{ id: string }>("/api/graphs", graph)
  expect(created.status).toBe(201)
  return created.body.id
}

const startRun = async (graphId: string, body: unknown = {}, headers: Record<string, string> = {}) => {
  const started = await api.post<{ id: string; existing: boolean }>(
    `/api/graphs/${graphId}/runs`,
    body,
    headers,
  )
  expect(started.status).toBe(201)
  return started.body
}

const eventsUrl = (runId: string, query = "") => `${host.url}/api/runs/${runId}/events${query}`

describe("runs", () => {
  it("runs a Weft graph: the SSE stream has contiguous ids, ends with COMPLETED, and the run has the outputs", async () => {
    const graphId = await createGraph(helloGraph())
    const { id, existing } = await startRun(graphId, { inputs: { topic: "owls" } })
    expect(existing).toBe(false)
    const sse = await readSse(eventsUrl(id))
    expect(sse.status).toBe(200)
    expect(sse.contentType).toContain("text/event-stream")
    const ids = seqs(sse.frames)
    expect(ids).toEqual(ids.map((_, i) => i + 1))
    expect(ids.length).toBeGreaterThan(5)
    // Every frame's id is its event's seq, and its event name its type.
    for (const frame of eventFrames(sse.frames)) {
      if (frame.id !== undefined)
        expect(frame.data).toMatchObject({ seq: Number(frame.id), type: frame.event })
    }
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })

    const run = await api.get<RunView>(`/api/runs/${id}`)
    expect(run.status).toBe(200)
    expect(run.body).toMatchObject({
      id,
      graphId,
      status: "COMPLETED",
      outputs: { greeting: ["Hello, owls!"] },
    })
    expect(run.body.lastSeq).toBe(ids.length)
    expect(run.body.executions.map((e) => [e.nodeId, e.status])).toEqual([
      ["in", "COMPLETED"],
      ["fill", "COMPLETED"],
      ["out", "COMPLETED"],
    ])
    expect(run.body.executions[1]?.outputs).toEqual([{ pin: "output", value: "Hello, owls!" }])

    const list = await api.get<ReadonlyArray<{ id: string; status: string }>>(`/api/runs?graphId=${graphId}`)
    expect(list.body).toEqual([expect.objectContaining({ id, status: "COMPLETED" })])
  })

  it("replays from ?after= and from Last-Event-ID exactly the events after it", async () => {
    const graphId = await createGraph(helloGraph())
    const { id } = await startRun(graphId, { inputs: { topic: "bats" } })
    const all = await readSse(eventsUrl(id))
    const total = seqs(all.frames).length
    const after = await readSse(eventsUrl(id, "?after=5"))
    expect(seqs(after.frames)).toEqual(seqs(all.frames).slice(5))
    const resumed = await readSse(eventsUrl(id), { headers: { "last-event-id": "9" } })
    expect(seqs(resumed.frames)).toEqual(seqs(all.frames).slice(9))
    expect(eventFrames(resumed.frames).map((f) => f.data)).toEqual(
      eventFrames(all.frames)
        .slice(9)
        .map((f) => f.data),
    )
    const none = await readSse(eventsUrl(id, `?after=${total}`))
    expect(eventFrames(none.frames)).toEqual([])
  })

  it("a subscriber that reconnects mid-run with Last-Event-ID gets exactly the events it missed", async () => {
    const graphId = await createGraph(timerGraph(1))
    const { id } = await startRun(graphId)
    // First connection: hang up once the timer is running (the run is still going).
    const first = await readSse(eventsUrl(id), {
      stopAfter: (frame) => frame.data?.type === "NodeStatus" && frame.data.status === "RUNNING",
    })
    const seen = seqs(first.frames)
    expect(seen).toEqual(seen.map((_, i) => i + 1))
    const status = await api.get<RunView>(`/api/runs/${id}`)
    expect(status.body.status).toBe("RUNNING")
    const lastSeen = seen.at(-1) ?? 0
    const second = await readSse(eventsUrl(id), { headers: { "last-event-id": String(lastSeen) } })
    const rest = seqs(second.frames)
    expect(rest[0]).toBe(lastSeen + 1)
    expect([...seen, ...rest]).toEqual([...seen, ...rest].map((_, i) => i + 1))
    expect(lastEvent(second.frames)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    const run = await api.get<RunView>(`/api/runs/${id}`)
    expect(run.body.lastSeq).toBe(rest.at(-1))
    expect(run.body.outputs).toEqual({ message: ["done"] })
  })

  it("parallel starts with one Idempotency-Key make exactly one run", async () => {
    const graphId = await createGraph(helloGraph())
    const key = `key-${Math.random()}`
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        api.post<{ id: string; existing: boolean }>(
          `/api/graphs/${graphId}/runs`,
          { inputs: { topic: "once" } },
          { "idempotency-key": key },
        ),
      ),
    )
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201))
    const ids = new Set(answers.map((a) => a.body.id))
    expect(ids.size).toBe(1)
    expect(answers.filter((a) => !a.body.existing)).toHaveLength(1)
    const [runId] = [...ids]
    const runs = await api.get<ReadonlyArray<{ id: string }>>(`/api/runs?graphId=${graphId}`)
    expect(runs.body.map((r) => r.id)).toEqual([runId])
    await readSse(eventsUrl(runId ?? ""))
    expect((await api.get<RunView>(`/api/runs/${runId}`)).body.outputs).toEqual({
      greeting: ["Hello, once!"],
    })
    // A later start with the same key and request still answers the same run; another key starts another run.
    expect((await startRun(graphId, { inputs: { topic: "once" } }, { "idempotency-key": key })).id).toBe(
      runId,
    )
    expect(
      (await startRun(graphId, { inputs: { topic: "x" } }, { "idempotency-key": `${key}-2` })).id,
    ).not.toBe(runId)
  })

  it("refuses bad run inputs naming the input, and starts nothing", async () => {
    const graphId = await createGraph(helloGraph())
    const missing = await api.post<{ fields: Record<string, string> }>(`/api/graphs/${graphId}/runs`, {
      inputs: {},
    })
    expect(missing.status).toBe(400)
    expect(Object.keys(missing.body.fields)).toEqual(["inputs.topic"])
    const unknown = await api.post<{ fields: Record<string, string> }>(`/api/graphs/${graphId}/runs`, {
      inputs: { topic: "a", colour: "red" },
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body.fields).toEqual({ "inputs.colour": "unknown input" })
    expect((await api.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graphId}`)).body).toEqual([])
    expect((await api.post(`/api/graphs/nope/runs`, {})).status).toBe(404)
    expect((await api.post(`/api/graphs/${graphId}/runs`, { version: 7 })).status).toBe(404)
  })

  it("stops a running run: it ends TERMINATED and its stream ends", async () => {
    const graphId = await createGraph(timerGraph(30))
    const { id } = await startRun(graphId)
    const stream = readSse(eventsUrl(id))
    await eventually(async () => {
      const run = await api.get<RunView>(`/api/runs/${id}`)
      return run.body.executions.some((e) => e.nodeId === "timer" && e.status === "RUNNING")
        ? true
        : undefined
    })
    const started = Date.now()
    const stopped = await api.post<{ status: string }>(`/api/runs/${id}/stop`)
    expect(stopped).toMatchObject({ status: 200, body: { id, status: "TERMINATED" } })
    const sse = await stream
    expect(Date.now() - started).toBeLessThan(5000)
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
    expect((await api.get<RunView>(`/api/runs/${id}`)).body.status).toBe("TERMINATED")
    // Stopping a finished run changes nothing.
    expect((await api.post(`/api/runs/${id}/stop`)).body).toMatchObject({ status: "TERMINATED" })
  })

  it("pauses for a review; approving with edited data continues the run with it", async () => {
    const graphId = await createGraph({
      name: "Reviewed",
      nodes: [
        { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "draft" } },
        { id: "hitl", blockId: "weft/agent/human-in-the-loop", inputDefault: { name: "Draft" } },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "final" } },
      ],
      links: [
        { sourceId: "in", sourceName: "result", sinkId: "hitl", sinkName: "data" },
        { sourceId: "hitl", sourceName: "approved_data", sinkId: "out", sinkName: "value" },
      ],
    })
    const { id } = await startRun(graphId, { inputs: { draft: "first draft" } })
    // The stream stays open while the run waits for the review, and goes on after it.
    const stream = readSse(eventsUrl(id))
    const review = await eventually(async () => {
      const run = await api.get<RunView>(`/api/runs/${id}`)
      return run.body.status === "REVIEW" ? run.body.executions.find((e) => e.status === "REVIEW") : undefined
    })
    expect(review.review?.payload).toEqual({ name: "Draft", data: "first draft", editable: true })
    const wrong = await api.post(`/api/runs/${id}/reviews`, { executionId: "nope", approved: true })
    expect(wrong.status).toBe(409)
    const decided = await api.post<{ status: string }>(`/api/runs/${id}/reviews`, {
      executionId: review.id,
      approved: true,
      data: "edited draft",
    })
    expect(decided.status).toBe(200)
    const sse = await stream
    const statuses = eventFrames(sse.frames)
      .map((f) => f.data)
      .filter((e) => e?.type === "RunStatus")
      .map((e) => (e?.type === "RunStatus" ? e.status : ""))
    expect(statuses).toEqual(["RUNNING", "REVIEW", "RUNNING", "COMPLETED"])
    expect(seqs(sse.frames)).toEqual(seqs(sse.frames).map((_, i) => i + 1))
    expect((await api.get<RunView>(`/api/runs/${id}`)).body.outputs).toEqual({ final: ["edited draft"] })
  })

  it("W4 R16: stopping a run paused for a review terminates it; a decision afterwards is refused (409)", async () => {
    const graphId = await createGraph({
      name: "Waits",
      nodes: [
        { id: "hitl", blockId: "weft/agent/human-in-the-loop", inputDefault: { name: "x", data: 1 } },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "rejected" } },
      ],
      links: [{ sourceId: "hitl", sourceName: "rejected_data", sinkId: "out", sinkName: "value" }],
    })
    const { id } = await startRun(graphId)
    const review = await eventually(async () => {
      const run = await api.get<RunView>(`/api/runs/${id}`)
      return run.body.status === "REVIEW" ? run.body.executions.find((e) => e.status === "REVIEW") : undefined
    })
    const stopped = await api.post<{ status: string; pending?: boolean }>(`/api/runs/${id}/stop`)
    expect(stopped.status).toBe(200)
    expect(stopped.body).toEqual({ id, status: "TERMINATED" })
    const after = (await api.get<RunView>(`/api/runs/${id}`)).body
    expect(after.status).toBe("TERMINATED")
    expect(after.executions.find((e) => e.id === review.id)?.status).toBe("TERMINATED")
    const sse = await readSse(eventsUrl(id))
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
    const late = await api.post<{ error: string }>(`/api/runs/${id}/reviews`, {
      executionId: review.id,
      approved: true,
    })
    expect(late.status).toBe(409)
    // Stopping again answers the final status and changes nothing.
    expect((await api.post(`/api/runs/${id}/stop`)).body).toEqual({ id, status: "TERMINATED" })
  })

  it("runs the AutoGPT corpus agent (AI Function) to COMPLETED, its LLM on a loopback server", async () => {
    const before = llm.requests.length
    const graphId = await createGraph(JSON.parse(readFileSync(corpusAgent, "utf8")))
    // The model answers once the subscriber is connected, so that it sees the tokens live.
    let subscribed = () => {}
    const connected = new Promise<void>((resolve) => {
      subscribed = resolve
    })
    llm.setHandler(async () => {
      await connected
      return "[1, 1, 2, 3, 5]"
    })
    const { id } = await startRun(graphId, { inputs: { Arguments: "5" } })
    const sse = await readSse(eventsUrl(id), { onFrame: (frame) => frame.id !== undefined && subscribed() })
    const ids = seqs(sse.frames)
    expect(ids).toEqual(ids.map((_, i) => i + 1))
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    // The model's tokens arrive live as progress events, which have no id (they are not stored).
    const progress = eventFrames(sse.frames).filter((f) => f.event === "NodeProgress")
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.every((f) => f.id === undefined)).toBe(true)
    const run = await api.get<RunView>(`/api/runs/${id}`)
    expect(run.body.outputs).toEqual({ return: ["[1, 1, 2, 3, 5]"] })
    expect(llm.requests.length).toBe(before + 1)
    expect(JSON.stringify(llm.requests.at(-1)?.body)).toContain("5")
  })

  it("answers 404 for a run that does not exist, on every run route", async () => {
    expect((await api.get("/api/runs/nope")).status).toBe(404)
    expect((await api.post("/api/runs/nope/stop")).status).toBe(404)
    expect((await api.post("/api/runs/nope/reviews", { executionId: "x", approved: true })).status).toBe(404)
    const sse = await readSse(eventsUrl("nope"))
    expect(sse.status).toBe(404)
  })
})
