/**
 * Requests to runs driven by another process (the Postgres mode with workers, a fresh database for this
 * file): the API process stops and reviews runs that a worker drives, that wait paused in REVIEW with no
 * driver, or that no worker has started yet; a request made while no worker runs takes effect when one
 * starts; and a worker that loses its lease stops driving the run (self-fencing) without terminating it.
 */
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningHost, startHost } from "../src/Host.js"
import { type RunningWorker, startWorker } from "../src/Worker.js"
import { freshDatabase, lastEvent, readSse } from "./api-support.js"
import { until } from "./support/workers.js"

let db: Awaited<ReturnType<typeof freshDatabase>>
let host: RunningHost
let sql: postgres.Sql
const workers: Array<RunningWorker> = []

beforeAll(async () => {
  db = await freshDatabase("control")
  host = await startHost({
    port: 0,
    host: "127.0.0.1",
    databaseUrl: db.url,
    queue: "workers",
    auth: { mode: "off" },
    runs: { requestWait: "1500 millis", pollInterval: "300 millis" },
  })
  sql = postgres(db.url, { max: 2, onnotice: () => {} })
}, 30_000)

afterAll(async () => {
  for (const worker of workers) await worker.close()
  await host?.close()
  await sql?.end({ timeout: 5 })
  await db?.drop()
})

const worker = async (id: string) => {
  const started = await startWorker({
    databaseUrl: db.url,
    id,
    heartbeatInterval: "200 millis",
    staleAfter: "1500 millis",
    pollInterval: "300 millis",
    runs: { pollInterval: "300 millis" },
  })
  workers.push(started)
  return started
}

const call = async <T>(method: string, path: string, body?: unknown) => {
  const response = await fetch(`${host.url}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: (await response.json()) as T }
}

const createGraph = async (graph: unknown) =>
  (await call<{ id: string }>("POST", "/api/graphs", graph)).body.id
const startRun = async (graphId: string) =>
  (await call<{ id: string }>("POST", `/api/graphs/${graphId}/runs`, {})).body.id

const timer = {
  name: "Timer",
  nodes: [
    {
      id: "wait",
      blockId: "weft/time/countdown-timer",
      inputDefault: { seconds: 60, input_message: "late" },
    },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "message" } },
  ],
  links: [{ sourceId: "wait", sourceName: "output_message", sinkId: "out", sinkName: "value" }],
}

const reviewed = {
  name: "Reviewed",
  nodes: [
    { id: "hitl", blockId: "weft/agent/human-in-the-loop", inputDefault: { name: "x", data: 1 } },
    { id: "yes", blockId: "weft/io/agent-output", inputDefault: { name: "approved" } },
    { id: "no", blockId: "weft/io/agent-output", inputDefault: { name: "rejected" } },
  ],
  links: [
    { sourceId: "hitl", sourceName: "approved_data", sinkId: "yes", sinkName: "value" },
    { sourceId: "hitl", sourceName: "rejected_data", sinkId: "no", sinkName: "value" },
  ],
}

const runRow = async (runId: string) =>
  (
    await sql<{ status: string; last_seq: number }[]>`SELECT status, last_seq FROM runs WHERE id = ${runId}`
  )[0]

const executions = async (runId: string) =>
  sql<{ id: string; node_id: string; status: string }[]>`
    SELECT id, node_id, status FROM node_executions WHERE run_id = ${runId} ORDER BY ord`

const lease = async (runId: string) =>
  (await sql<{ worker_id: string }[]>`SELECT worker_id FROM run_leases WHERE run_id = ${runId}`)[0]?.worker_id

/** Waits until the run is paused in REVIEW and no worker holds it any more; answers the execution in REVIEW. */
const pausedForReview = async (runId: string) =>
  until(
    async () => {
      const row = await runRow(runId)
      if (row?.status !== "REVIEW" || (await lease(runId)) !== undefined) return undefined
      return (await executions(runId)).find((e) => e.status === "REVIEW")
    },
    15_000,
    "the run to pause for review",
  )

const eventsOf = async (runId: string) =>
  (
    await sql<{ event: { type: string; status?: string } }[]>`
      SELECT event FROM run_events WHERE run_id = ${runId} ORDER BY seq`
  ).map((row) => row.event)

describe("requests to runs driven by another process", () => {
  it("W4: stopping a run a worker drives terminates it there: its block is aborted and the lease released", async () => {
    const a = await worker("control-a")
    const runId = await startRun(await createGraph(timer))
    await until(
      async () => ((await executions(runId)).some((e) => e.status === "RUNNING") ? true : undefined),
      10_000,
      "the timer to run",
    )
    expect(a.held()).toEqual([runId])
    const started = Date.now()
    const stopped = await call<{ status: string; pending?: boolean }>("POST", `/api/runs/${runId}/stop`)
    expect(stopped).toEqual({ status: 200, body: { id: runId, status: "TERMINATED" } })
    expect(Date.now() - started).toBeLessThan(1500)
    expect((await executions(runId)).map((e) => [e.node_id, e.status])).toEqual([["wait", "TERMINATED"]])
    // The worker deletes the lease row, then forgets the run: wait for both.
    await until(
      async () => ((await lease(runId)) === undefined && a.held().length === 0 ? true : undefined),
      5_000,
      "the lease release",
    )
    const sse = await readSse(`${host.url}/api/runs/${runId}/events`)
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
  }, 30_000)

  it("R16: a decision on a run paused with no driver is taken up by a worker, which continues the run", async () => {
    await worker("control-b")
    const runId = await startRun(await createGraph(reviewed))
    const pending = await pausedForReview(runId)
    const decided = await call<{ status: string; pending?: boolean }>("POST", `/api/runs/${runId}/reviews`, {
      executionId: pending.id,
      approved: true,
      data: 42,
    })
    expect(decided.status).toBe(200)
    expect(decided.body.pending).toBeUndefined()
    const sse = await readSse(`${host.url}/api/runs/${runId}/events`)
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    const view = await call<{ outputs: unknown }>("GET", `/api/runs/${runId}`)
    expect(view.body.outputs).toEqual({ approved: [42] })
    // Applied decisions do not linger.
    expect(await sql`SELECT 1 FROM run_decisions WHERE run_id = ${runId}`).toEqual([])
    // A second decision on the same execution is refused: it is no longer waiting.
    const again = await call("POST", `/api/runs/${runId}/reviews`, {
      executionId: pending.id,
      approved: true,
    })
    expect(again.status).toBe(409)
  }, 30_000)

  it("W4 R16: stopping a run paused for review in the worker mode terminates it", async () => {
    const runId = await startRun(await createGraph(reviewed))
    const pending = await pausedForReview(runId)
    const stopped = await call<{ status: string }>("POST", `/api/runs/${runId}/stop`)
    expect(stopped.body).toEqual({ id: runId, status: "TERMINATED" })
    expect((await executions(runId)).find((e) => e.id === pending.id)?.status).toBe("TERMINATED")
    expect((await eventsOf(runId)).at(-1)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
  }, 30_000)

  it("a request made while no worker runs takes effect when one starts; an unstarted run stops at once", async () => {
    // A run paused for review, then every worker stops.
    const runId = await startRun(await createGraph(reviewed))
    await pausedForReview(runId)
    for (const w of workers.splice(0)) await w.close()
    const stopped = await call<{ status: string; pending?: boolean }>("POST", `/api/runs/${runId}/stop`)
    expect(stopped.body).toEqual({ id: runId, status: "REVIEW", pending: true })

    // A run that no worker has started: stopped at once, with one TERMINATED event and its graph recorded.
    const unstarted = await startRun(await createGraph(timer))
    expect((await runRow(unstarted))?.status).toBe("QUEUED")
    const quick = await call<{ status: string }>("POST", `/api/runs/${unstarted}/stop`)
    expect(quick.body).toEqual({ id: unstarted, status: "TERMINATED" })
    expect(await eventsOf(unstarted)).toEqual([
      expect.objectContaining({ type: "RunStatus", status: "TERMINATED", seq: 1 }),
    ])
    const sse = await readSse(`${host.url}/api/runs/${unstarted}/events`)
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
    const view = await call<{ status: string; graph?: unknown }>("GET", `/api/runs/${unstarted}`)
    expect(view.body.status).toBe("TERMINATED")

    // A worker starts: the stop request waiting on the paused run is carried out, the stopped one stays stopped.
    await worker("control-c")
    await until(
      async () => ((await runRow(runId))?.status === "TERMINATED" ? true : undefined),
      10_000,
      "the paused run to be terminated",
    )
    await until(
      async () =>
        (await sql`SELECT 1 FROM graphile_worker.jobs WHERE key = ${unstarted}`).length === 0
          ? true
          : undefined,
      10_000,
      "the stopped run's job to be consumed",
    )
    expect(await runRow(unstarted)).toEqual({ status: "TERMINATED", last_seq: 1 })
    expect(await executions(unstarted)).toEqual([])
  }, 40_000)

  it("self-fencing: a worker whose lease was taken over stops driving the run without terminating it", async () => {
    for (const w of workers.splice(0)) await w.close()
    const a = await worker("fence-a")
    const runId = await startRun(await createGraph(timer))
    await until(async () => (a.held().includes(runId) ? true : undefined), 10_000, "worker a to take the run")
    // Another worker, alive, took the lease (as a sweep does when it thinks a worker is dead).
    await sql`INSERT INTO weft_workers (id) VALUES ('fence-thief')`
    await sql`UPDATE run_leases SET worker_id = 'fence-thief' WHERE run_id = ${runId}`
    await until(
      async () => (a.held().includes(runId) ? undefined : true),
      5_000,
      "worker a to let the run go",
    )
    const row = await runRow(runId)
    expect(row?.status).toBe("RUNNING")
    expect((await executions(runId)).map((e) => e.status)).toEqual(["RUNNING"])
    // The thief dies: a live worker takes the run over again and it goes on (stopped here, to be quick).
    await sql`DELETE FROM weft_workers WHERE id = 'fence-thief'`
    await until(async () => (a.held().includes(runId) ? true : undefined), 10_000, "worker a to take it back")
    expect(await lease(runId)).toBe("fence-a")
    const stopped = await call<{ status: string }>("POST", `/api/runs/${runId}/stop`)
    expect(stopped.body).toEqual({ id: runId, status: "TERMINATED" })
  }, 40_000)

  it("a run job left locked by a worker that died is unlocked after the stale threshold and driven", async () => {
    for (const w of workers.splice(0)) await w.close()
    const runId = await startRun(await createGraph(reviewed))
    // A worker took the job and died before it took the lease: the job stays locked by it.
    await sql`UPDATE graphile_worker._private_jobs SET locked_by = 'dead-worker', locked_at = now() - interval '1 hour'
              WHERE key = ${runId}`
    await worker("unlocker")
    await until(
      async () => ((await runRow(runId))?.status === "REVIEW" ? true : undefined),
      15_000,
      "the run to be driven after its job was unlocked",
    )
    expect(await sql`SELECT 1 FROM graphile_worker.jobs WHERE locked_by = 'dead-worker'`).toEqual([])
  }, 30_000)
})
