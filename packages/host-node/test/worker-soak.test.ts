/**
 * Soak of the Postgres mode with workers (reliability 7, without kills): 200 runs started through the HTTP
 * API (20 requests in flight at a time) of a host in worker mode, driven by two real `weft worker`
 * processes on a fresh database. Every run must complete with exactly the outputs of a reference run made
 * before them; both workers must drive some of them and no run may be held by two; every node executes
 * once and every output is stored once; every run's events are numbered 1..last_seq without a gap; and at
 * the end no lease, job or job lock is left behind.
 *
 * Which worker drove a run is only visible while it drives it (`run_leases`, deleted when the run stops),
 * so the test samples `run_leases` every 20 ms; each run lasts over a second (two one-second timers in
 * parallel), so no run can slip between two samples.
 */
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import { client, freshDatabase, startTestHost } from "./api-support.js"
import { sleep, spawnWorker, until, type WorkerProcess } from "./support/workers.js"

const RUNS = 200
const IN_FLIGHT = 20
/** Runs each worker drives at once: 2 × 25 = 50 runs overlap, in four waves or so. */
const WORKER_CONCURRENCY = 25

let db: Awaited<ReturnType<typeof freshDatabase>>
let host: RunningHost
let sql: postgres.Sql
let workers: Array<WorkerProcess> = []

beforeAll(async () => {
  db = await freshDatabase("soak")
  // Sign-in off: this file is about the queue, not about sessions.
  host = await startTestHost({ databaseUrl: db.url, queue: "workers", auth: { mode: "off" } })
  sql = postgres(db.url, { max: 4, onnotice: () => {} })
  workers = await Promise.all(
    ["soak-a", "soak-b"].map((id) =>
      spawnWorker({ databaseUrl: db.url, id, concurrency: WORKER_CONCURRENCY, staleSeconds: 10 }),
    ),
  )
}, 60_000)

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()))
  await host?.close()
  await sql?.end({ timeout: 5 })
  await db?.drop()
})

/**
 * Seven nodes: the input feeds a template, whose text goes straight to one output and through two
 * one-second timers, in parallel, to two more.
 */
const soakGraph = {
  name: "Soak",
  nodes: [
    { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } },
    { id: "fill", blockId: "weft/text/fill-text-template", inputDefault: { format: "Run {{ topic }}" } },
    { id: "waitA", blockId: "weft/time/countdown-timer", inputDefault: { seconds: 1 } },
    { id: "waitB", blockId: "weft/time/countdown-timer", inputDefault: { seconds: 1 } },
    { id: "outA", blockId: "weft/io/agent-output", inputDefault: { name: "a" } },
    { id: "outB", blockId: "weft/io/agent-output", inputDefault: { name: "b" } },
    { id: "outG", blockId: "weft/io/agent-output", inputDefault: { name: "greeting" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "fill", sinkName: "values_#_topic" },
    { sourceId: "fill", sourceName: "output", sinkId: "waitA", sinkName: "input_message" },
    { sourceId: "fill", sourceName: "output", sinkId: "waitB", sinkName: "input_message" },
    { sourceId: "fill", sourceName: "output", sinkId: "outG", sinkName: "value" },
    { sourceId: "waitA", sourceName: "output_message", sinkId: "outA", sinkName: "value" },
    { sourceId: "waitB", sourceName: "output_message", sinkId: "outB", sinkName: "value" },
  ],
}

/** Calls `f` on every item with at most `limit` calls pending at once; answers in item order. */
const mapLimit = async <A, B>(
  items: ReadonlyArray<A>,
  limit: number,
  f: (item: A) => Promise<B>,
): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await f(items[i] as A)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return results
}

/**
 * What one run stored, with its topic replaced by `<topic>`: per node its executions and statuses, and per
 * (node, pin, value) how many outputs; plus the run's outputs and its event numbering.
 */
const storedShape = async (runId: string, topic: string) => {
  const executions = await sql<{ node_id: string; status: string; n: number }[]>`
    SELECT node_id, status, count(*)::int AS n FROM node_executions WHERE run_id = ${runId}
    GROUP BY node_id, status ORDER BY node_id, status`
  const outputs = await sql<{ node_id: string; pin: string; value: unknown; n: number }[]>`
    SELECT node_id, pin, value, count(*)::int AS n FROM node_outputs WHERE run_id = ${runId}
    GROUP BY node_id, pin, value ORDER BY node_id, pin`
  const run = await sql<{ status: string; outputs: unknown; last_seq: number }[]>`
    SELECT status, outputs, last_seq FROM runs WHERE id = ${runId}`
  const shape = {
    executions: executions.map((e) => [e.node_id, e.status, e.n]),
    outputs: outputs.map((o) => [o.node_id, o.pin, o.value, o.n]),
    status: run[0]?.status,
    result: run[0]?.outputs,
  }
  return JSON.parse(JSON.stringify(shape).replaceAll(topic, "<topic>")) as typeof shape
}

describe("soak: 200 runs across two weft worker processes", () => {
  it(`${RUNS} runs started over HTTP all complete once, with the reference outputs, on both workers`, async () => {
    const began = Date.now()
    const api = client(host.url)
    const created = await api.post<{ id: string }>("/api/graphs", soakGraph)
    expect(created.status).toBe(201)
    const graphId = created.body.id
    const start = async (topic: string) => {
      const started = await api.post<{ id: string; existing: boolean }>(`/api/graphs/${graphId}/runs`, {
        inputs: { topic },
      })
      if (started.status !== 201)
        throw new Error(`start ${topic}: ${started.status} ${JSON.stringify(started.body)}`)
      return started.body.id
    }

    // The reference: one run alone, no other run beside it.
    const reference = await start("reference-topic")
    await until(
      async () =>
        (await sql`SELECT 1 FROM runs WHERE id = ${reference} AND status = 'COMPLETED'`).length > 0
          ? true
          : undefined,
      20_000,
      "the reference run",
    )
    const expected = await storedShape(reference, "reference-topic")
    expect(expected.status).toBe("COMPLETED")
    expect(expected.result).toEqual({ a: ["Run <topic>"], b: ["Run <topic>"], greeting: ["Run <topic>"] })
    // One execution per node, all completed.
    expect(expected.executions).toHaveLength(soakGraph.nodes.length)
    expect(expected.executions.every(([, status, n]) => status === "COMPLETED" && n === 1)).toBe(true)
    const outputsPerRun = expected.outputs.reduce((sum, o) => sum + Number(o[3]), 0)
    expect(outputsPerRun).toBeGreaterThanOrEqual(soakGraph.nodes.length)

    // Watch who holds which run, until every run is over.
    const holders = new Map<string, Set<string>>()
    let watching = true
    /** The most leases one worker held in one sample. */
    let mostHeld = 0
    let samples = 0
    const watcher = (async () => {
      while (watching) {
        const held = new Map<string, number>()
        for (const row of await sql<{ run_id: string; worker_id: string }[]>`
          SELECT run_id, worker_id FROM run_leases`) {
          const set = holders.get(row.run_id) ?? new Set<string>()
          set.add(row.worker_id)
          holders.set(row.run_id, set)
          held.set(row.worker_id, (held.get(row.worker_id) ?? 0) + 1)
        }
        mostHeld = Math.max(mostHeld, ...held.values())
        samples++
        await sleep(20)
      }
    })()

    const topics = Array.from({ length: RUNS }, (_, i) => `topic-${i}`)
    let runIds: Array<string> = []
    try {
      const startedAt = Date.now()
      runIds = await mapLimit(topics, IN_FLIGHT, start)
      const startMs = Date.now() - startedAt
      expect(new Set(runIds).size).toBe(RUNS)

      let peak = 0
      await until(
        async () => {
          const rows = await sql<{ status: string; n: number }[]>`
            SELECT status, count(*)::int AS n FROM runs WHERE id IN ${sql(runIds)} GROUP BY status`
          const by = Object.fromEntries(rows.map((r) => [r.status, r.n]))
          if ((by.FAILED ?? 0) > 0 || (by.TERMINATED ?? 0) > 0)
            throw new Error(`runs ended badly: ${JSON.stringify(by)}`)
          peak = Math.max(peak, by.RUNNING ?? 0)
          return by.COMPLETED === RUNS ? true : undefined
        },
        45_000,
        `the ${RUNS} runs to complete`,
      )
      const doneMs = Date.now() - startedAt
      // Runs overlapped: many were RUNNING at one time.
      expect(peak).toBeGreaterThan(WORKER_CONCURRENCY)
      console.info(
        `soak: ${RUNS} runs started in ${startMs} ms, all COMPLETED after ${doneMs} ms, at most ${peak} RUNNING at once`,
      )
    } finally {
      watching = false
      await watcher
    }

    // Every run stored exactly what the reference stored, for its own topic.
    const mismatched: Array<string> = []
    for (const [i, runId] of runIds.entries()) {
      const shape = await storedShape(runId, topics[i] as string)
      if (JSON.stringify(shape) !== JSON.stringify(expected))
        mismatched.push(`${runId}: ${JSON.stringify(shape)}`)
    }
    expect(mismatched).toEqual([])

    // Each (execution, index) once per run: the per-run totals equal the reference's.
    const counts = await sql<{ run_id: string; n: number; distinct_keys: number }[]>`
      SELECT run_id, count(*)::int AS n, count(DISTINCT (execution_id, idx))::int AS distinct_keys
      FROM node_outputs WHERE run_id IN ${sql(runIds)} GROUP BY run_id`
    expect(counts).toHaveLength(RUNS)
    expect(counts.filter((c) => c.n !== outputsPerRun || c.distinct_keys !== outputsPerRun)).toEqual([])

    // Events numbered 1..last_seq, no gap and no duplicate.
    const gaps = await sql`
      SELECT r.id, r.last_seq, count(e.seq)::int AS n, min(e.seq) AS lo, max(e.seq) AS hi
      FROM runs r LEFT JOIN run_events e ON e.run_id = r.id
      WHERE r.id IN ${sql(runIds)}
      GROUP BY r.id, r.last_seq
      HAVING count(e.seq) <> r.last_seq OR min(e.seq) <> 1 OR max(e.seq) <> r.last_seq OR r.last_seq < 1`
    expect(gaps).toEqual([])

    // Both workers drove runs, and no run was held by two of them (nobody died, so nobody took over).
    expect(samples).toBeGreaterThan(10)
    const unseen = runIds.filter((id) => !holders.has(id))
    expect(unseen).toEqual([])
    // (On failure, what the workers said about those runs.)
    const shared = runIds
      .filter((id) => (holders.get(id)?.size ?? 0) !== 1)
      .map((id) => ({
        id,
        holders: [...(holders.get(id) ?? [])],
        said: workers.flatMap((w) =>
          w
            .output()
            .split("\n")
            .filter((line) => line.includes(id))
            .map((line) => `${w.id}: ${line}`),
        ),
      }))
    expect(shared).toEqual([])
    const perWorker = new Map<string, number>()
    for (const id of runIds) {
      for (const worker of holders.get(id) ?? []) perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1)
    }
    expect([...perWorker.keys()].sort()).toEqual(["soak-a", "soak-b"])
    for (const n of perWorker.values()) expect(n).toBeGreaterThan(0)
    console.info(
      `soak: runs per worker ${JSON.stringify(Object.fromEntries(perWorker))}, at most ${mostHeld} held by one worker at once`,
    )

    // Nothing is left behind: no lease, no job (locked or waiting).
    await until(
      async () => ((await sql`SELECT run_id FROM run_leases`).length === 0 ? true : undefined),
      5_000,
      "the leases to be released",
    )
    expect(await sql`SELECT id FROM graphile_worker.jobs WHERE locked_by IS NOT NULL`).toEqual([])
    await until(
      async () => ((await sql`SELECT id FROM graphile_worker.jobs`).length === 0 ? true : undefined),
      5_000,
      "the job queue to empty",
    )

    // Both workers stop gracefully and leave no row behind.
    expect(await Promise.all(workers.map((w) => w.stop()))).toEqual([0, 0])
    expect(await sql`SELECT id FROM weft_workers`).toEqual([])
    expect(Date.now() - began).toBeLessThan(60_000)
    // `--concurrency` bounds the runs one worker drives (holds a lease of) at once.
    expect(mostHeld).toBeLessThanOrEqual(WORKER_CONCURRENCY)
  }, 90_000)
})
