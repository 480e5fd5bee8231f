/**
 * Schedules on one Postgres database shared by several processes, on the real clock with an every-second
 * cron expression:
 * - the worker mode: a host that only enqueues, and two `weft worker` processes whose `weft_schedule` jobs
 *   fire the schedules: each due time fires once and its run completes on a worker; a schedule whose due
 *   times passed while no worker ran fires once when one starts; deleting a schedule removes its job;
 * - two hosts that fire schedules themselves (no workers): each due time fires once.
 * Fires are compared with the graph's runs: one run per due time, and no other.
 */
import { randomBytes } from "node:crypto"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventually,
  freshDatabase,
  helloGraph,
  type Session,
  signUp,
  startTestHost,
} from "./api-support.js"
import { sleep, spawnWorker, type WorkerProcess } from "./support/workers.js"

interface Fire {
  readonly dueAt: number
  readonly runId?: string
  readonly status?: string
  readonly claimedAt: number
  readonly startedAt?: number
}

describe("schedules on one Postgres database, several processes", () => {
  let db: { url: string; drop: () => Promise<void> }
  let sql: postgres.Sql
  let host: RunningHost | undefined
  const workers: Array<WorkerProcess> = []
  let alice: Session
  let a: ReturnType<typeof client>

  beforeAll(async () => {
    // The workers (child processes) inherit it: they refuse to start without the host's credentials key.
    process.env.WEFT_CREDENTIALS_KEY ??= randomBytes(32).toString("hex")
    db = await freshDatabase("schedwork")
    host = await startTestHost({ databaseUrl: db.url, queue: "workers" })
    sql = postgres(db.url, { max: 1, onnotice: () => {} })
    alice = await signUp(host.url, "alice-workers")
    a = client(host.url, alice)
  })

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()))
    await host?.close()
    await sql?.end({ timeout: 5 })
    await db?.drop()
  })

  const startWorker = async (id: string) => {
    const worker = await spawnWorker({ databaseUrl: db.url, id })
    workers.push(worker)
    return worker
  }

  const newGraph = async (name: string) =>
    (await a.post<{ id: string }>("/api/graphs", helloGraph(name))).body.id

  const everySecond = async (graphId: string, topic: string) =>
    (
      await a.post<{ id: string }>("/api/schedules", {
        graphId,
        cron: "* * * * * *",
        timezone: "UTC",
        inputs: { topic },
      })
    ).body.id

  const lastRuns = async (id: string) =>
    (await a.get<{ lastRuns: ReadonlyArray<Fire> }>(`/api/schedules/${id}`)).body.lastRuns

  /** Pauses a schedule, then answers its fires once each has its run. */
  const pauseAndRead = async (id: string) => {
    expect((await a.put(`/api/schedules/${id}`, { paused: true })).status).toBe(200)
    return eventually(async () => {
      const list = await lastRuns(id)
      return list.every((f) => f.runId !== undefined) ? list : undefined
    })
  }

  const runsOf = async (graphId: string) =>
    (await a.get<ReadonlyArray<{ id: string; status: string }>>(`/api/runs?graphId=${graphId}`)).body

  const scheduleJobs = async (scheduleId: string) =>
    (
      await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM graphile_worker.jobs
        WHERE task_identifier = 'weft_schedule' AND key = ${`weft_schedule:${scheduleId}`}`
    )[0]?.n

  it("fires each due time once across two workers, and the runs complete on the workers", async () => {
    await startWorker("sched-w1")
    await startWorker("sched-w2")
    const graphId = await newGraph("Workers")
    const id = await everySecond(graphId, "workers")
    expect(await scheduleJobs(id)).toBe(1)
    await eventually(
      async () =>
        (await lastRuns(id)).filter((f) => f.status === "COMPLETED").length >= 4 ? true : undefined,
      20_000,
    )
    const fires = await pauseAndRead(id)
    // Paused: its job is gone.
    await eventually(async () => ((await scheduleJobs(id)) === 0 ? true : undefined))
    const dues = fires.map((f) => f.dueAt).sort((x, y) => x - y)
    expect(new Set(dues).size).toBe(dues.length)
    for (let i = 1; i < dues.length; i++) expect((dues[i] ?? 0) - (dues[i - 1] ?? 0)).toBe(1000)
    const runs = await runsOf(graphId)
    expect(runs.map((r) => r.id).sort()).toEqual(fires.map((f) => f.runId).sort())
    const done = await eventually(async () => {
      const list = await runsOf(graphId)
      return list.every((r) => r.status === "COMPLETED") ? list : undefined
    })
    expect(done.length).toBe(fires.length)
    const run = await a.get<{ outputs: Record<string, unknown> }>(`/api/runs/${done[0]?.id}`)
    expect(run.body.outputs).toEqual({ greeting: ["Hello, workers!"] })
    // Each due time was fired by one worker: its start is logged once across both.
    const logs = workers.map((w) => w.output()).join("\n")
    for (const fire of fires) {
      const line = `schedule ${id}: due ${new Date(fire.dueAt).toISOString()} started run ${fire.runId}`
      expect(logs.split(line).length - 1, line).toBe(1)
    }
    // Fired on time: the claim follows the due time by less than a second.
    for (const fire of fires) expect(fire.claimedAt - fire.dueAt).toBeLessThan(1000)
  }, 40_000)

  it("deleting a schedule removes its job and stops it", async () => {
    const graphId = await newGraph("Deleted")
    const id = await everySecond(graphId, "deleted")
    await eventually(async () => ((await runsOf(graphId)).length >= 1 ? true : undefined))
    expect((await a.call("DELETE", `/api/schedules/${id}`)).status).toBe(204)
    await eventually(async () => ((await scheduleJobs(id)) === 0 ? true : undefined))
    await sleep(300)
    const count = (await runsOf(graphId)).length
    await sleep(2200)
    expect((await runsOf(graphId)).length).toBe(count)
    expect(await scheduleJobs(id)).toBe(0)
  }, 20_000)

  it("fires once for the due times that passed while no worker ran, then keeps the cadence", async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()))
    const graphId = await newGraph("No workers")
    const createdAt = Date.now()
    const id = await everySecond(graphId, "late")
    await sleep(3600)
    expect(await lastRuns(id)).toEqual([])
    const startedAt = Date.now()
    await startWorker("sched-w3")
    await eventually(
      async () => ((await lastRuns(id)).filter((f) => f.runId !== undefined).length >= 3 ? true : undefined),
      20_000,
    )
    const fires = [...(await pauseAndRead(id))].sort((x, y) => x.dueAt - y.dueAt)
    const missed = fires.filter((f) => f.dueAt < startedAt)
    // The first due time after the schedule was created stands for all those the worker missed.
    expect(missed.map((f) => f.dueAt)).toEqual([Math.floor(createdAt / 1000) * 1000 + 1000])
    const regular = fires.filter((f) => f.dueAt >= startedAt)
    expect(regular.length).toBeGreaterThanOrEqual(2)
    expect(regular[0]?.dueAt).toBe(Math.floor((missed[0]?.claimedAt ?? 0) / 1000) * 1000 + 1000)
    for (let i = 1; i < regular.length; i++)
      expect((regular[i]?.dueAt ?? 0) - (regular[i - 1]?.dueAt ?? 0)).toBe(1000)
    const runs = await runsOf(graphId)
    expect(runs.map((r) => r.id).sort()).toEqual(fires.map((f) => f.runId).sort())
    await Promise.all(workers.splice(0).map((w) => w.stop()))
  }, 40_000)

  it("two hosts that fire schedules themselves fire each due time once", async () => {
    await host?.close()
    host = await startTestHost({ databaseUrl: db.url })
    const second = await startTestHost({ databaseUrl: db.url })
    try {
      a = client(host.url, alice)
      const graphId = await newGraph("Two hosts")
      const id = await everySecond(graphId, "twice")
      await sleep(4500)
      const fires = await pauseAndRead(id)
      // 4.5 s of an every-second schedule: 4 or 5 due times, each fired once, with one run each.
      expect(fires.length).toBeGreaterThanOrEqual(4)
      expect(fires.length).toBeLessThanOrEqual(6)
      expect(new Set(fires.map((f) => f.dueAt)).size).toBe(fires.length)
      const runs = await runsOf(graphId)
      expect(runs.map((r) => r.id).sort()).toEqual(fires.map((f) => f.runId).sort())
    } finally {
      await second.close()
    }
  }, 30_000)
})
