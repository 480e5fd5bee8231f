/**
 * Event replay over SSE (reliability 6): a subscriber that hangs up after k events and reconnects with
 * `Last-Event-ID` or `?after=` gets exactly the events it missed, however often it does so and whenever:
 * mid-run while the run is live, while the run waits for a review, and after it ended. The events a
 * subscriber collects over all its connections must equal the run's stored event list (no gap, no
 * duplicate, seq 1, 2, 3… in order, the same data).
 *
 * On PGlite and on Postgres with the run driven by the serving host; then across processes: the run driven
 * by a `weft worker` child process (worker mode) and the events served by two host processes' APIs on the
 * same database, the subscriber switching host at every reconnection.
 *
 * (`api-runs.test.ts` already checks one reconnection mid-run and one `?after=`/`Last-Event-ID` replay
 * after the end; this file checks many k, repeated reconnections, the review pause and other processes.)
 */
import type { RunEvent } from "@weft/engine"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventually,
  freshDatabase,
  readSse,
  type Session,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"
import { openSse } from "./support/sse.js"
import { spawnWorker, type WorkerProcess } from "./support/workers.js"

/**
 * A run that stays live for about three seconds and keeps emitting: a timer that fires three times, one
 * second apart, each value going to an output, and a second timer in parallel.
 */
const liveGraph = {
  name: "Ticks",
  nodes: [
    { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } },
    { id: "ticks", blockId: "weft/time/countdown-timer", inputDefault: { seconds: 1, repeat: 3 } },
    { id: "once", blockId: "weft/time/countdown-timer", inputDefault: { seconds: 2 } },
    { id: "outTicks", blockId: "weft/io/agent-output", inputDefault: { name: "ticks" } },
    { id: "outOnce", blockId: "weft/io/agent-output", inputDefault: { name: "once" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "ticks", sinkName: "input_message" },
    { sourceId: "in", sourceName: "result", sinkId: "once", sinkName: "input_message" },
    { sourceId: "ticks", sourceName: "output_message", sinkId: "outTicks", sinkName: "value" },
    { sourceId: "once", sourceName: "output_message", sinkId: "outOnce", sinkName: "value" },
  ],
}

/** A run that pauses for a review of its input, then outputs the approved data. */
const reviewGraph = {
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
}

const FINAL = new Set(["COMPLETED", "FAILED", "TERMINATED"])
const isFinalEvent = (event: RunEvent | undefined) => event?.type === "RunStatus" && FINAL.has(event.status)

/** Persisted events carry a seq; progress events do not. */
const seqOf = (event: RunEvent): number | undefined => ("seq" in event ? event.seq : undefined)

/** How a reconnection says where it resumes. */
type Via = "last-event-id" | "after"

/** One reconnection of a subscriber. */
interface Reconnection {
  /** The seq it resumed after. */
  readonly after: number
  readonly via: Via
  readonly base: string
  /** Wall-clock time of the reconnection (the engine stamps events with the same clock). */
  readonly at: number
}

/**
 * A subscriber that hangs up after every `dropEvery` events and reconnects at once, resuming after the last
 * seq it saw (by `via`, or alternating when `via` is absent), on `bases[i % bases.length]` for its i-th
 * connection, until it has the final status. Answers every event it received and its reconnections.
 */
const subscribeWithDrops = async (options: {
  readonly bases: ReadonlyArray<string>
  readonly runId: string
  readonly headers: Record<string, string>
  readonly dropEvery: number
  readonly via?: Via
}) => {
  const events: Array<RunEvent> = []
  const reconnections: Array<Reconnection> = []
  let after = 0
  for (let connection = 0; connection < 1000; connection++) {
    const base = options.bases[connection % options.bases.length] as string
    const via: Via = options.via ?? (connection % 2 === 0 ? "last-event-id" : "after")
    const resuming = connection > 0
    const url = `${base}/api/runs/${options.runId}/events${resuming && via === "after" ? `?after=${after}` : ""}`
    const headers = {
      ...options.headers,
      ...(resuming && via === "last-event-id" ? { "last-event-id": String(after) } : {}),
    }
    if (resuming) reconnections.push({ after, via, base, at: Date.now() })
    const sse = await openSse(url, headers)
    try {
      expect(sse.status).toBe(200)
      let received = 0
      while (received < options.dropEvery) {
        const next = await sse.next(20_000)
        if (next === "timeout") throw new Error(`no event within 20 s after seq ${after} (${url})`)
        if (next === "end") throw new Error(`the stream ended after seq ${after} before the run did (${url})`)
        const event = next.data as RunEvent
        events.push(event)
        const seq = seqOf(event)
        if (seq === undefined) continue
        expect(next.id).toBe(String(seq))
        after = seq
        received++
        if (isFinalEvent(event)) {
          // The server ends the stream after the final status.
          expect(await sse.next(10_000)).toBe("end")
          return { events, reconnections }
        }
      }
    } finally {
      sse.close()
    }
  }
  throw new Error("more than 1000 connections")
}

/** Checks that `events` are exactly `stored`: seq 1..n in order, each once, with the same data. */
const expectExactly = (events: ReadonlyArray<RunEvent>, stored: ReadonlyArray<RunEvent>) => {
  const persisted = events.filter((e) => seqOf(e) !== undefined)
  const seqs = persisted.map(seqOf)
  expect(seqs).toEqual(stored.map((_, i) => i + 1))
  expect(persisted).toEqual(stored)
}

/** The subscribers of one live run: each `dropEvery` with each way of resuming. */
const DROPS = [1, 2, 3, 5, 8]

/** Starts `graph`'s run through the API and answers its id. */
const startRun = async (base: string, session: Session, graph: unknown, inputs: Record<string, unknown>) => {
  const api = client(base, session)
  const created = await api.post<{ id: string }>("/api/graphs", graph)
  expect(created.status).toBe(201)
  const started = await api.post<{ id: string }>(`/api/graphs/${created.body.id}/runs`, { inputs })
  expect(started.status).toBe(201)
  return started.body.id
}

/**
 * Many subscribers to one live run, reconnecting after every 1, 2, 3, 5 and 8 events, with each way of
 * resuming and with both alternating; each must end with exactly the stored events, and some of them must
 * have reconnected while the run was still going.
 */
const liveRunCheck = async (options: {
  readonly bases: ReadonlyArray<string>
  readonly session: Session
  readonly runId: string
  readonly stored: (runId: string) => Promise<ReadonlyArray<RunEvent>>
}) => {
  const subscribers = DROPS.flatMap((dropEvery) =>
    (["last-event-id", "after", undefined] as const).map((via) => ({ dropEvery, via })),
  )
  const results = await Promise.all(
    subscribers.map(({ dropEvery, via }) =>
      subscribeWithDrops({
        bases: options.bases,
        runId: options.runId,
        headers: options.session.headers,
        dropEvery,
        ...(via === undefined ? {} : { via }),
      }),
    ),
  )
  const stored = await options.stored(options.runId)
  expect(stored.length).toBeGreaterThan(10)
  expect(stored.at(-1)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
  for (const result of results) expectExactly(result.events, stored)
  // Mid-run: reconnections made well before the run's final status, by each way of resuming.
  const endedAt = (stored.at(-1) as RunEvent).at
  const live = results.flatMap((r) => r.reconnections).filter((r) => r.at < endedAt - 300)
  expect(live.filter((r) => r.via === "last-event-id").length).toBeGreaterThan(5)
  expect(live.filter((r) => r.via === "after").length).toBeGreaterThan(5)
  // …and resuming at many different points of the run.
  expect(new Set(live.map((r) => r.after)).size).toBeGreaterThan(5)
  const connections = results.reduce((n, r) => n + r.reconnections.length + 1, 0)
  console.info(
    `replay: ${stored.length} events, ${results.length} subscribers, ${connections} connections, ${live.length} reconnections mid-run`,
  )
  return { stored, results }
}

/**
 * After the end: resuming after every k from 0 to n answers exactly events k+1..n and ends, by either way;
 * with both, `Last-Event-ID` wins.
 */
const everyResumePoint = async (
  base: string,
  session: Session,
  runId: string,
  stored: ReadonlyArray<RunEvent>,
) => {
  const url = `${base}/api/runs/${runId}/events`
  for (let k = 0; k <= stored.length; k++) {
    const byHeader = await readSse(url, { headers: { ...session.headers, "last-event-id": String(k) } })
    const byQuery = await readSse(`${url}?after=${k}`, { headers: session.headers })
    for (const sse of [byHeader, byQuery]) {
      expect(sse.status).toBe(200)
      expect(sse.frames.filter((f) => f.event !== undefined).map((f) => f.data)).toEqual(stored.slice(k))
    }
  }
  const both = await readSse(`${url}?after=2`, { headers: { ...session.headers, "last-event-id": "5" } })
  expect(both.frames.filter((f) => f.event !== undefined).map((f) => f.data)).toEqual(stored.slice(5))
}

/**
 * A subscriber hangs up as the run pauses for a review; reconnections while it waits get exactly what they
 * missed and then stay open with nothing new; after the decision they go on to the end.
 */
const reviewPauseCheck = async (options: {
  readonly base: string
  /** The host the reconnections go to (default: `base`). */
  readonly other?: string
  readonly session: Session
  readonly stored: (runId: string) => Promise<ReadonlyArray<RunEvent>>
}) => {
  const { base, session } = options
  const runId = await startRun(base, session, reviewGraph, { draft: "first draft" })
  const url = `${base}/api/runs/${runId}/events`
  // First connection: read up to the REVIEW status, then hang up.
  const first = await openSse(url, session.headers)
  const seen: Array<RunEvent> = []
  try {
    for (;;) {
      const next = await first.next(20_000)
      if (typeof next === "string") throw new Error(`first connection: ${next}`)
      const event = next.data as RunEvent
      seen.push(event)
      if (event.type === "RunStatus" && event.status === "REVIEW") break
    }
  } finally {
    first.close()
  }
  const pausedAt = seqOf(seen.at(-1) as RunEvent) as number
  expect(seen.map(seqOf)).toEqual(seen.map((_, i) => i + 1))
  const api = client(base, session)
  const paused = await api.get<{ status: string; executions: ReadonlyArray<{ id: string; status: string }> }>(
    `/api/runs/${runId}`,
  )
  expect(paused.body.status).toBe("REVIEW")

  // While paused: resuming after the last seen event gets nothing and stays open; resuming earlier (by
  // the query) gets exactly the events in between, then nothing.
  const otherUrl = `${options.other ?? base}/api/runs/${runId}/events`
  const atPause = await openSse(otherUrl, { ...session.headers, "last-event-id": String(pausedAt) })
  const earlier = await openSse(`${otherUrl}?after=1`, session.headers)
  try {
    expect(await atPause.next(500)).toBe("timeout")
    const between: Array<RunEvent> = []
    for (let i = 1; i < pausedAt; i++) {
      const next = await earlier.next(10_000)
      if (typeof next === "string") throw new Error(`earlier connection: ${next}`)
      between.push(next.data as RunEvent)
    }
    expect(between).toEqual(seen.slice(1))
    expect(await earlier.next(500)).toBe("timeout")

    const review = paused.body.executions.find((e) => e.status === "REVIEW")
    const decided = await api.post(`/api/runs/${runId}/reviews`, {
      executionId: review?.id,
      approved: true,
      data: "edited draft",
    })
    expect(decided.status).toBe(200)

    const rest = async (sse: typeof atPause) => {
      const events: Array<RunEvent> = []
      for (;;) {
        const next = await sse.next(20_000)
        if (next === "timeout") throw new Error("no event within 20 s after the decision")
        if (next === "end") return events
        events.push(next.data as RunEvent)
      }
    }
    const afterPause = await rest(atPause)
    const afterEarlier = await rest(earlier)
    const stored = await options.stored(runId)
    expectExactly([...seen, ...afterPause], stored)
    expectExactly([seen[0] as RunEvent, ...between, ...afterEarlier], stored)
    expect(stored.at(-1)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    expect((await api.get<{ outputs: unknown }>(`/api/runs/${runId}`)).body.outputs).toEqual({
      final: ["edited draft"],
    })
  } finally {
    atPause.close()
    earlier.close()
  }
}

describe.each(["pglite", "postgres"] as const)(
  "SSE replay on %s, the run driven by the serving host",
  (driver) => {
    const dir = tempDir("replay")
    let db: Awaited<ReturnType<typeof freshDatabase>> | undefined
    let sql: postgres.Sql | undefined
    let host: RunningHost
    let alice: Session

    beforeAll(async () => {
      if (driver === "pglite") host = await startTestHost({ dataDir: dir.dir })
      else {
        db = await freshDatabase("replay")
        host = await startTestHost({ databaseUrl: db.url })
        sql = postgres(db.url, { max: 2, onnotice: () => {} })
      }
      alice = await signUp(host.url, "alice")
    }, 60_000)

    afterAll(async () => {
      await host?.close()
      await sql?.end({ timeout: 5 })
      await db?.drop()
      dir.dispose()
    })

    /**
     * The run's stored events, once it has ended: on Postgres from `run_events`; on PGlite (one instance per
     * directory, which the host holds) as the host replays them from its store, checked against `lastSeq`.
     */
    const stored = async (runId: string): Promise<ReadonlyArray<RunEvent>> => {
      if (sql !== undefined) {
        const rows = await sql<{ seq: number; event: RunEvent }[]>`
        SELECT seq, event FROM run_events WHERE run_id = ${runId} ORDER BY seq`
        const last = await sql<{ last_seq: number }[]>`SELECT last_seq FROM runs WHERE id = ${runId}`
        expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1))
        expect(last[0]?.last_seq).toBe(rows.length)
        return rows.map((r) => r.event)
      }
      const sse = await readSse(`${host.url}/api/runs/${runId}/events`, { headers: alice.headers })
      const events = sse.frames.filter((f) => f.event !== undefined).map((f) => f.data as RunEvent)
      const run = await client(host.url, alice).get<{ lastSeq: number }>(`/api/runs/${runId}`)
      expect(run.body.lastSeq).toBe(events.length)
      return events
    }

    it("subscribers reconnecting after every 1, 2, 3, 5 or 8 events, mid-run, get every event exactly once", async () => {
      const runId = await startRun(host.url, alice, liveGraph, { topic: "tick" })
      const { stored: events } = await liveRunCheck({ bases: [host.url], session: alice, runId, stored })
      expect(
        (await client(host.url, alice).get<{ outputs: unknown }>(`/api/runs/${runId}`)).body.outputs,
      ).toEqual({
        ticks: ["tick", "tick", "tick"],
        once: ["tick"],
      })
      await everyResumePoint(host.url, alice, runId, events)
    }, 60_000)

    it("a subscriber that hangs up while the run waits for a review catches up exactly, before and after the decision", async () => {
      await reviewPauseCheck({ base: host.url, session: alice, stored })
    }, 60_000)
  },
)

describe("SSE replay across processes: a weft worker drives, two hosts serve the events", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let sql: postgres.Sql
  let hostA: RunningHost
  let hostB: RunningHost
  let worker: WorkerProcess
  let alice: Session

  beforeAll(async () => {
    db = await freshDatabase("replayw")
    hostA = await startTestHost({ databaseUrl: db.url, queue: "workers" })
    hostB = await startTestHost({ databaseUrl: db.url, queue: "workers" })
    sql = postgres(db.url, { max: 2, onnotice: () => {} })
    worker = await spawnWorker({ databaseUrl: db.url, id: "replay-worker" })
    alice = await signUp(hostA.url, "alice")
  }, 60_000)

  afterAll(async () => {
    await worker?.stop()
    await hostB?.close()
    await hostA?.close()
    await sql?.end({ timeout: 5 })
    await db?.drop()
  })

  const stored = async (runId: string): Promise<ReadonlyArray<RunEvent>> => {
    const rows = await sql<{ seq: number; event: RunEvent }[]>`
      SELECT seq, event FROM run_events WHERE run_id = ${runId} ORDER BY seq`
    const last = await sql<{ last_seq: number }[]>`SELECT last_seq FROM runs WHERE id = ${runId}`
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1))
    expect(last[0]?.last_seq).toBe(rows.length)
    return rows.map((r) => r.event)
  }

  it("subscribers switching host at every reconnection, mid-run, get every event exactly once", async () => {
    const runId = await startRun(hostA.url, alice, liveGraph, { topic: "far" })
    // The worker process drives it, not either host.
    const holder = await eventually(async () => {
      const rows = await sql<
        { worker_id: string }[]
      >`SELECT worker_id FROM run_leases WHERE run_id = ${runId}`
      return rows[0]?.worker_id
    })
    expect(holder).toBe("replay-worker")
    const { stored: events } = await liveRunCheck({
      bases: [hostA.url, hostB.url],
      session: alice,
      runId,
      stored,
    })
    expect(
      (await client(hostB.url, alice).get<{ outputs: unknown }>(`/api/runs/${runId}`)).body.outputs,
    ).toEqual({
      ticks: ["far", "far", "far"],
      once: ["far"],
    })
    await everyResumePoint(hostB.url, alice, runId, events)
  }, 60_000)

  it("a subscriber that hangs up while the worker's run waits for a review catches up exactly, on the other host", async () => {
    await reviewPauseCheck({ base: hostA.url, other: hostB.url, session: alice, stored })
  }, 60_000)
})
