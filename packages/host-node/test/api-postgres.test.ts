/**
 * The runs and events flow on Postgres (a fresh database for this file): start a run, stream it to the
 * end, read its outputs; idempotent parallel starts; and a subscriber on a second host process (same
 * database) that follows a run the first host drives, through LISTEN/NOTIFY.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventFrames,
  freshDatabase,
  helloGraph,
  readSse,
  type Session,
  seqs,
  signUp,
  startTestHost,
  timerGraph,
} from "./api-support.js"

let db: Awaited<ReturnType<typeof freshDatabase>>
let host: RunningHost
let other: RunningHost
let alice: Session

beforeAll(async () => {
  db = await freshDatabase("api")
  host = await startTestHost({ databaseUrl: db.url })
  // A second host on the same database that resumes nothing: it only serves reads and event streams here.
  // Its followers re-read the store only once a minute, so a stream that ends promptly was woken by NOTIFY.
  other = await startTestHost({ databaseUrl: db.url, resume: false, runs: { pollInterval: "60 seconds" } })
  alice = await signUp(host.url, "alice")
})
afterAll(async () => {
  await other?.close()
  await host?.close()
  await db?.drop()
})

interface RunView {
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly lastSeq: number
}

describe("on Postgres", () => {
  it("uses Postgres", () => {
    expect([host.database, other.database]).toEqual(["postgres", "postgres"])
  })

  it("runs a graph: contiguous SSE ids to COMPLETED, then the outputs", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph())).body.id
    const { id } = (
      await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic: "pg" } })
    ).body
    const sse = await readSse(`${host.url}/api/runs/${id}/events`, { headers: alice.headers })
    const ids = seqs(sse.frames)
    expect(ids).toEqual(ids.map((_, i) => i + 1))
    expect(eventFrames(sse.frames).at(-1)?.data).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    const run = await api.get<RunView>(`/api/runs/${id}`)
    expect(run.body).toMatchObject({
      status: "COMPLETED",
      outputs: { greeting: ["Hello, pg!"] },
      lastSeq: ids.length,
    })
  })

  it("parallel starts with one Idempotency-Key make exactly one run", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph())).body.id
    const answers = await Promise.all(
      Array.from({ length: 25 }, () =>
        api.post<{ id: string }>(
          `/api/graphs/${graphId}/runs`,
          { inputs: { topic: "k" } },
          { "idempotency-key": "k1" },
        ),
      ),
    )
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1)
    expect((await api.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graphId}`)).body).toHaveLength(1)
  })

  it("a subscriber on another host follows a run this host drives, live, to its end", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", timerGraph(1))).body.id
    const { id } = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body
    const started = Date.now()
    const remote = await readSse(`${other.url}/api/runs/${id}/events`, { headers: alice.headers })
    const ids = seqs(remote.frames)
    expect(ids).toEqual(ids.map((_, i) => i + 1))
    expect(eventFrames(remote.frames).at(-1)?.data).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    // Woken by NOTIFY (the other host polls once a minute): the stream ends soon after the one-second timer.
    expect(Date.now() - started).toBeLessThan(20_000)
    const local = await readSse(`${host.url}/api/runs/${id}/events`, { headers: alice.headers })
    expect(eventFrames(remote.frames).map((f) => f.data)).toEqual(
      eventFrames(local.frames).map((f) => f.data),
    )
    expect((await client(other.url, alice).get<RunView>(`/api/runs/${id}`)).body.outputs).toEqual({
      message: ["done"],
    })
  })

  it("subscribers that hang up early never break other requests (an interrupted query is not cancelled)", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph("Hang-ups"))).body.id
    const statuses: Array<number> = []
    // Sequential rounds of a start and a stream closed after its first event, 4 at a time.
    for (let round = 0; round < 15; round++) {
      await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const started = await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {
            inputs: { topic: `t${round}-${i}` },
          })
          statuses.push(started.status)
          if (started.status !== 201) return
          await readSse(`${host.url}/api/runs/${started.body.id}/events`, {
            headers: alice.headers,
            stopAfter: (frame) => frame.id !== undefined,
          })
        }),
      )
    }
    expect(statuses).toEqual(statuses.map(() => 201))
  })

  it("a stop sent to another host process reaches the run where it is driven, at once", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", timerGraph(60))).body.id
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    await readSse(`${host.url}/api/runs/${runId}/events`, {
      headers: alice.headers,
      stopAfter: (frame) => frame.data?.type === "NodeStatus" && frame.data.status === "RUNNING",
    })
    const started = Date.now()
    const stopped = await client(other.url, alice).post<{ status: string; pending?: boolean }>(
      `/api/runs/${runId}/stop`,
    )
    expect(stopped.body).toEqual({ id: runId, status: "TERMINATED" })
    // The driving host cancelled it (its block aborted), well before the timer or the request wait.
    expect(Date.now() - started).toBeLessThan(3000)
    const view = await api.get<{ status: string; executions: ReadonlyArray<{ status: string }> }>(
      `/api/runs/${runId}`,
    )
    expect(view.body.executions.map((e) => e.status)).toEqual(["TERMINATED"])
  })
})
