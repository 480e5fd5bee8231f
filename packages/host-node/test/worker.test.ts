/**
 * The Postgres mode with workers (a fresh database for this file): the API enqueues, `weft worker`
 * processes drive; a worker killed with SIGKILL loses its runs to a live worker within the heartbeat
 * threshold, without any stored output written twice or a finished execution run again; a slow worker that
 * still heartbeats keeps its runs; a graceful stop leaves no job locked and the run resumes elsewhere.
 */
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningHost, startHost } from "../src/Host.js"
import { type RunningWorker, startWorker } from "../src/Worker.js"
import { freshDatabase } from "./api-support.js"
import { sleep, spawnWorker as spawnWorkerProcess, until, type WorkerProcess } from "./support/workers.js"

const STALE_SECONDS = 1.5

let db: Awaited<ReturnType<typeof freshDatabase>>
let host: RunningHost
let sql: postgres.Sql

beforeAll(async () => {
  db = await freshDatabase("worker")
  host = await startHost({
    port: 0,
    host: "127.0.0.1",
    databaseUrl: db.url,
    queue: "workers",
    auth: { mode: "off" },
  })
  sql = postgres(db.url, { max: 2, onnotice: () => {} })
}, 30_000)

afterAll(async () => {
  await host?.close()
  await sql?.end({ timeout: 5 })
  await db?.drop()
})

/** Two countdown timers in a chain: a kill in the second leaves the first finished. */
const chainGraph = (seconds: number) => ({
  name: "Chain",
  nodes: [
    { id: "first", blockId: "weft/time/countdown-timer", inputDefault: { seconds, input_message: "one" } },
    { id: "second", blockId: "weft/time/countdown-timer", inputDefault: { seconds } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "message" } },
  ],
  links: [
    { sourceId: "first", sourceName: "output_message", sinkId: "second", sinkName: "input_message" },
    { sourceId: "second", sourceName: "output_message", sinkId: "out", sinkName: "value" },
  ],
})

const post = async <T>(path: string, body: unknown): Promise<T> => {
  const response = await fetch(`${host.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${text}`)
  return JSON.parse(text) as T
}

const createGraph = async (seconds: number) =>
  (await post<{ id: string }>("/api/graphs", chainGraph(seconds))).id
const startRun = async (graphId: string) => (await post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).id

const statuses = async (runIds: ReadonlyArray<string>) =>
  sql<{ id: string; status: string }[]>`SELECT id, status FROM runs WHERE id IN ${sql(runIds)}`

const allCompleted = (runIds: ReadonlyArray<string>) => async () => {
  const rows = await statuses(runIds)
  if (rows.some((r) => r.status === "FAILED" || r.status === "TERMINATED"))
    throw new Error(`a run ended badly: ${JSON.stringify(rows)}`)
  return rows.length === runIds.length && rows.every((r) => r.status === "COMPLETED") ? true : undefined
}

/** What a run stored: per node, its executions (count) and its outputs by (execution, index). */
const stored = async (runId: string) => {
  const executions = await sql<{ node_id: string; n: number }[]>`
    SELECT node_id, count(*)::int AS n FROM node_executions WHERE run_id = ${runId} GROUP BY node_id ORDER BY node_id`
  const outputs = await sql<{ node_id: string; pin: string; value: unknown; copies: number }[]>`
    SELECT node_id, pin, value, count(*)::int AS copies FROM node_outputs WHERE run_id = ${runId}
    GROUP BY execution_id, idx, node_id, pin, value ORDER BY node_id, pin`
  const run = await sql<{ outputs: unknown }[]>`SELECT outputs FROM runs WHERE id = ${runId}`
  return {
    executions: executions.map((e) => [e.node_id, e.n]),
    outputs: outputs.map((o) => [o.node_id, o.pin, o.value, o.copies]),
    result: run[0]?.outputs,
  }
}

const lockedJobs = async () =>
  (
    await sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE locked_by IS NOT NULL`
  )[0]?.n ?? -1

const fastWorker = (id: string) =>
  startWorker({
    databaseUrl: db.url,
    id,
    heartbeatInterval: "200 millis",
    staleAfter: `${STALE_SECONDS * 1000} millis`,
    pollInterval: "300 millis",
  })

const spawnWorker = (id: string): Promise<WorkerProcess> =>
  spawnWorkerProcess({ databaseUrl: db.url, id, staleSeconds: STALE_SECONDS })

describe("Postgres mode with workers", () => {
  it("a run started through the API is enqueued, and a worker child process drives it to COMPLETED", async () => {
    const graphId = await createGraph(0.2)
    const runId = await startRun(graphId)
    // Nobody drives it yet: the HTTP process only enqueued it.
    const job = await sql`SELECT key, task_identifier FROM graphile_worker.jobs WHERE key = ${runId}`
    expect(job).toEqual([{ key: runId, task_identifier: "weft_run" }])
    const worker = await spawnWorker("child-basic")
    try {
      await until(allCompleted([runId]), 15_000, "the run to complete")
      expect(await stored(runId)).toEqual({
        executions: [
          ["first", 1],
          ["out", 1],
          ["second", 1],
        ],
        outputs: [
          ["first", "output_message", "one", 1],
          ["out", "name", "message", 1],
          ["out", "output", "one", 1],
          ["second", "output_message", "one", 1],
        ],
        result: { message: ["one"] },
      })
      await until(
        async () =>
          (await sql`SELECT 1 FROM run_leases WHERE run_id = ${runId}`).length === 0 ? true : undefined,
        5_000,
        "the lease to be released",
      )
      expect(await sql`SELECT id FROM graphile_worker.jobs`).toEqual([])
    } finally {
      worker.child.kill("SIGTERM")
      expect(await worker.exited).toBe(0)
    }
    // A graceful stop removes the worker's row.
    expect(await sql`SELECT id FROM weft_workers WHERE id = 'child-basic'`).toEqual([])
  }, 60_000)

  it("a slow worker that still heartbeats is never robbed of its run", async () => {
    const a = await fastWorker("slow-a")
    let b: RunningWorker | undefined
    try {
      const graphId = await createGraph(STALE_SECONDS * 1.5)
      const runId = await startRun(graphId)
      await until(
        async () => (a.held().includes(runId) ? true : undefined),
        10_000,
        "worker a to take the run",
      )
      b = await fastWorker("slow-b")
      const holders = new Set<string>()
      await until(
        async () => {
          for (const row of await sql<
            { worker_id: string }[]
          >`SELECT worker_id FROM run_leases WHERE run_id = ${runId}`)
            holders.add(row.worker_id)
          return allCompleted([runId])()
        },
        20_000,
        "the run to complete",
      )
      expect([...holders]).toEqual(["slow-a"])
      expect(b.held()).toEqual([])
      const run = await stored(runId)
      expect(run.executions).toEqual([
        ["first", 1],
        ["out", 1],
        ["second", 1],
      ])
    } finally {
      await a.close()
      await b?.close()
    }
  }, 60_000)

  it("a graceful stop leaves no job locked, and another worker resumes the run at once", async () => {
    const a = await fastWorker("grace-a")
    let b: RunningWorker | undefined
    try {
      const graphId = await createGraph(1)
      const runId = await startRun(graphId)
      await until(
        async () =>
          (
            await sql`SELECT 1 FROM node_executions WHERE run_id = ${runId} AND node_id = 'second' AND status = 'RUNNING'`
          ).length > 0
            ? true
            : undefined,
        15_000,
        "the second timer to run",
      )
      expect(a.held()).toEqual([runId])
      await a.close()
      expect(await lockedJobs()).toBe(0)
      expect(await sql`SELECT worker_id FROM run_leases`).toEqual([])
      // Interrupted, not cancelled: the run is still going and its job is back in the queue.
      expect((await statuses([runId]))[0]?.status).toBe("RUNNING")
      expect(await sql`SELECT key FROM graphile_worker.jobs WHERE locked_by IS NULL`).toEqual([
        { key: runId },
      ])
      const stoppedAt = Date.now()
      b = await fastWorker("grace-b")
      await until(allCompleted([runId]), 10_000, "the run to complete on worker b")
      // Well before a heartbeat could have gone stale and much sooner than graphile-worker's 4 hours.
      expect(Date.now() - stoppedAt).toBeLessThan(8_000)
      const run = await stored(runId)
      // The first timer finished before the stop and was not run again; the second one ran again.
      expect(run.outputs).toEqual([
        ["first", "output_message", "one", 1],
        ["out", "name", "message", 1],
        ["out", "output", "one", 1],
        ["second", "output_message", "one", 1],
      ])
      expect(run.executions).toEqual([
        ["first", 1],
        ["out", 1],
        ["second", 1],
      ])
    } finally {
      await a.close()
      await b?.close()
    }
  }, 60_000)

  const TRIALS = Number(process.env.WEFT_KILL_TRIALS ?? "5")

  it(`kill -9 of the worker holding runs: every run completes elsewhere, nothing stored twice (${TRIALS} trials)`, async () => {
    const graphId = await createGraph(1)
    // A run with no kill: what every run must store.
    const reference = await startRun(graphId)
    let pool = [await spawnWorker("kill-0"), await spawnWorker("kill-1")]
    let next = 2
    try {
      await until(allCompleted([reference]), 15_000, "the reference run")
      const expected = await stored(reference)
      for (let trial = 0; trial < TRIALS; trial++) {
        const runIds = await Promise.all([1, 2, 3, 4].map(() => startRun(graphId)))
        // Kill at a different moment in each trial (seeded by the trial number).
        const delay = 100 + ((trial * 397) % 900)
        await until(
          async () =>
            (await sql`SELECT 1 FROM run_leases WHERE run_id IN ${sql(runIds)}`).length > 0
              ? true
              : undefined,
          10_000,
          "a lease",
        )
        await sleep(delay)
        const holders = await sql<{ worker_id: string; n: number }[]>`
          SELECT worker_id, count(*)::int AS n FROM run_leases WHERE run_id IN ${sql(runIds)}
          GROUP BY worker_id ORDER BY n DESC`
        const victimId = holders[0]?.worker_id
        const victim = pool.find((w) => w.id === victimId)
        if (victim === undefined)
          throw new Error(`trial ${trial}: no worker holds a run (${JSON.stringify(holders)})`)
        const killedAt = Date.now()
        victim.child.kill("SIGKILL")
        await victim.exited
        await until(allCompleted(runIds), (STALE_SECONDS + 8) * 1000, `trial ${trial}: the runs to complete`)
        const took = Date.now() - killedAt
        for (const runId of runIds) expect(await stored(runId)).toEqual(expected)
        expect(took).toBeLessThan((STALE_SECONDS + 8) * 1000)
        // Replace the killed worker for the next trial.
        pool = [...pool.filter((w) => w !== victim), await spawnWorker(`kill-${next++}`)]
      }
    } finally {
      for (const worker of pool) worker.child.kill("SIGTERM")
      await Promise.all(pool.map((w) => w.exited))
    }
  }, 240_000)
})
