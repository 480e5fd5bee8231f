/**
 * Schedules over HTTP on a host that fires them itself (PGlite, and Postgres without workers), on the real
 * clock with an every-second cron expression (`* * * * * *`): a schedule fires and its runs complete as its
 * owner; bad cron expressions, time zones, graphs and inputs are refused naming the field; another user's
 * schedules answer 404; pausing and deleting stop it; a host down across several due times fires once when
 * it is back, then keeps the cadence. (Several hosts and workers on one database: schedules-workers.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { HostOptions, RunningHost } from "../src/Host.js"
import {
  client,
  eventually,
  freshDatabase,
  helloGraph,
  type Session,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"
import { sleep } from "./support/workers.js"

interface ScheduleView {
  readonly id: string
  readonly graphId: string
  readonly presetId?: string
  readonly version?: number
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly inputs: Record<string, unknown>
  readonly paused: boolean
  readonly nextFireAt?: number
}

interface Fire {
  readonly dueAt: number
  readonly runId?: string
  readonly status?: string
  readonly error?: string
  readonly claimedAt: number
  readonly startedAt?: number
}

interface Refusal {
  readonly _tag: string
  readonly error: string
  readonly fields?: Record<string, string>
}

describe.each(["pglite", "postgres"] as const)("schedules on %s", (driver) => {
  let host: RunningHost
  let options: HostOptions
  let dispose: () => Promise<void> | void = () => {}
  let alice: Session
  let bob: Session
  let a: ReturnType<typeof client>
  let b: ReturnType<typeof client>

  beforeAll(async () => {
    if (driver === "pglite") {
      const dir = tempDir("schedules")
      options = { dataDir: dir.dir, schedules: { pollInterval: "2 seconds" } }
      dispose = dir.dispose
    } else {
      const db = await freshDatabase("schedules")
      options = { databaseUrl: db.url, schedules: { pollInterval: "2 seconds" } }
      dispose = db.drop
    }
    host = await startTestHost(options)
    alice = await signUp(host.url, `alice-${driver}`)
    bob = await signUp(host.url, `bob-${driver}`)
    a = client(host.url, alice)
    b = client(host.url, bob)
  })

  afterAll(async () => {
    await host?.close()
    await dispose()
  })

  /** A new graph of Alice's (so that its runs are counted alone). */
  const newGraph = async (name: string) =>
    (await a.post<{ id: string }>("/api/graphs", helloGraph(name))).body.id

  const runsOf = async (graphId: string) =>
    (await a.get<ReadonlyArray<{ id: string; status: string }>>(`/api/runs?graphId=${graphId}`)).body

  const lastRuns = async (id: string) =>
    (await a.get<ScheduleView & { lastRuns: ReadonlyArray<Fire> }>(`/api/schedules/${id}`)).body.lastRuns

  const everySecond = (graphId: string, topic: string) =>
    a.post<ScheduleView>("/api/schedules", {
      graphId,
      cron: "* * * * * *",
      timezone: "UTC",
      inputs: { topic },
      name: topic,
    })

  it("refuses a bad cron expression, time zone, graph or inputs with 4xx naming the field, and writes nothing", async () => {
    const graphId = await newGraph("Refused")
    const base = { graphId, cron: "*/5 * * * *", timezone: "Europe/Berlin", inputs: { topic: "x" } }
    const cases: ReadonlyArray<[Record<string, unknown>, number, string]> = [
      [{ ...base, cron: "* * *" }, 400, "cron"],
      [{ ...base, cron: "61 * * * *" }, 400, "cron"],
      [{ ...base, cron: "* * * * * * *" }, 400, "cron"],
      [{ ...base, cron: "0 0 30 2 *" }, 400, "cron"],
      [{ ...base, cron: 5 }, 400, "cron"],
      [{ ...base, timezone: "Mars/Olympus_Mons" }, 400, "timezone"],
      [{ ...base, timezone: "+05:00" }, 400, "timezone"],
      [{ ...base, inputs: {} }, 400, "inputs.topic"],
      [{ ...base, inputs: { topic: "x", colour: "red" } }, 400, "inputs.colour"],
      [{ ...base, version: 7 }, 404, ""],
      [{ ...base, graphId: "no-such-graph" }, 404, ""],
      [{ ...base, presetId: "no-such-preset" }, 404, ""],
      [{ ...base, surprise: true }, 400, "surprise"],
    ]
    for (const [body, status, field] of cases) {
      const answer = await a.post<Refusal>("/api/schedules", body)
      expect(answer.status, JSON.stringify(body)).toBe(status)
      if (field !== "") expect(Object.keys(answer.body.fields ?? {}), JSON.stringify(body)).toEqual([field])
    }
    // A preset of another graph.
    const otherGraph = await newGraph("Other")
    const preset = await a.post<{ id: string }>("/api/presets", {
      graphId: otherGraph,
      name: "p",
      inputs: {},
    })
    const mismatch = await a.post<Refusal>("/api/schedules", { ...base, presetId: preset.body.id })
    expect(mismatch.status).toBe(400)
    expect(Object.keys(mismatch.body.fields ?? {})).toEqual(["presetId"])
    expect((await a.get<ReadonlyArray<ScheduleView>>(`/api/schedules?graphId=${graphId}`)).body).toEqual([])
  })

  it("stores a schedule with its canonical time zone and its next due time in that zone", async () => {
    const graphId = await newGraph("Morning")
    const created = await a.post<ScheduleView>("/api/schedules", {
      graphId,
      cron: "0 9 * * *",
      timezone: "US/Eastern",
      inputs: { topic: "morning" },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      graphId,
      cron: "0 9 * * *",
      timezone: "America/New_York",
      paused: false,
    })
    const next = created.body.nextFireAt ?? 0
    expect(next).toBeGreaterThan(Date.now())
    expect(next - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000)
    const local = new Intl.DateTimeFormat("en-GB", {
      timeZone: "America/New_York",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).format(new Date(next))
    expect(local).toBe("09:00:00")
    const detail = await a.get<ScheduleView & { lastRuns: ReadonlyArray<Fire> }>(
      `/api/schedules/${created.body.id}`,
    )
    expect(detail.body).toMatchObject({ ...created.body, lastRuns: [] })
    expect(
      (await a.get<ReadonlyArray<ScheduleView>>(`/api/schedules?graphId=${graphId}`)).body.map((s) => s.id),
    ).toEqual([created.body.id])
    expect((await a.call("DELETE", `/api/schedules/${created.body.id}`)).status).toBe(204)
  })

  it("fires every second as its owner, each due time once, and the runs complete", async () => {
    const graphId = await newGraph("Ticks")
    const created = await everySecond(graphId, "tick")
    expect(created.status).toBe(201)
    const id = created.body.id
    await eventually(async () => {
      const list = await lastRuns(id)
      return list.filter((f) => f.status === "COMPLETED").length >= 3 ? true : undefined
    }, 15_000)
    // Paused, it fires no more: its fires and the graph's runs can be compared.
    await a.put(`/api/schedules/${id}`, { paused: true })
    const fires = await eventually(async () => {
      const list = await lastRuns(id)
      return list.every((f) => f.runId !== undefined) ? list : undefined
    })
    const dues = fires.map((f) => f.dueAt)
    expect(new Set(dues).size).toBe(dues.length)
    // Whole seconds, one second apart.
    for (const due of dues) expect(due % 1000).toBe(0)
    const sorted = [...dues].sort((x, y) => x - y)
    for (let i = 1; i < sorted.length; i++) expect((sorted[i] ?? 0) - (sorted[i - 1] ?? 0)).toBe(1000)
    const done = fires.filter((f) => f.status === "COMPLETED")
    const run = await a.get<{ status: string; outputs: Record<string, unknown>; graphId: string }>(
      `/api/runs/${done[0]?.runId}`,
    )
    expect(run.body).toMatchObject({ status: "COMPLETED", graphId, outputs: { greeting: ["Hello, tick!"] } })
    // The run is Alice's: Bob cannot see it.
    expect((await b.get(`/api/runs/${done[0]?.runId}`)).status).toBe(404)
    // One run per fire, and no other run of the graph.
    const runs = await runsOf(graphId)
    expect(runs.map((r) => r.id).sort()).toEqual(fires.map((f) => f.runId).sort())
    expect((await a.call("DELETE", `/api/schedules/${id}`)).status).toBe(204)
  })

  it("stops firing while paused, fires again once resumed, and stops for good when deleted", async () => {
    const graphId = await newGraph("Paused")
    const id = (await everySecond(graphId, "pause")).body.id
    await eventually(async () => ((await runsOf(graphId)).length >= 1 ? true : undefined))
    const paused = await a.put<ScheduleView>(`/api/schedules/${id}`, { paused: true })
    expect(paused.status).toBe(200)
    expect(paused.body.paused).toBe(true)
    expect(paused.body.nextFireAt).toBeUndefined()
    await sleep(300)
    const whilePaused = (await runsOf(graphId)).length
    await sleep(2200)
    expect((await runsOf(graphId)).length).toBe(whilePaused)

    const resumed = await a.put<ScheduleView>(`/api/schedules/${id}`, { paused: false })
    expect(resumed.body.paused).toBe(false)
    expect(resumed.body.nextFireAt).toBeGreaterThan(Date.now() - 1000)
    await eventually(async () => ((await runsOf(graphId)).length > whilePaused ? true : undefined), 5000)

    expect((await a.call("DELETE", `/api/schedules/${id}`)).status).toBe(204)
    await sleep(300)
    const afterDelete = (await runsOf(graphId)).length
    await sleep(2200)
    expect((await runsOf(graphId)).length).toBe(afterDelete)
    expect((await a.get(`/api/schedules/${id}`)).status).toBe(404)
  })

  it("answers another user's schedule ids with 404 and lists none of them", async () => {
    const graphId = await newGraph("Private")
    const created = await a.post<ScheduleView>("/api/schedules", {
      graphId,
      cron: "0 0 1 1 *",
      timezone: "UTC",
      inputs: { topic: "private" },
      name: "alice's",
    })
    for (const answer of [
      await b.get<Refusal>(`/api/schedules/${created.body.id}`),
      await b.put<Refusal>(`/api/schedules/${created.body.id}`, { paused: true }),
      await b.call<Refusal>("DELETE", `/api/schedules/${created.body.id}`),
      await b.post<Refusal>("/api/schedules", {
        graphId,
        cron: "* * * * *",
        timezone: "UTC",
        inputs: { topic: "b" },
      }),
    ]) {
      expect(answer.status).toBe(404)
      expect(JSON.stringify(answer.body)).not.toContain("alice's")
    }
    expect((await b.get<ReadonlyArray<ScheduleView>>("/api/schedules")).body).toEqual([])
    const still = await a.get<ScheduleView>(`/api/schedules/${created.body.id}`)
    expect(still.body).toMatchObject({ paused: false, name: "alice's" })
    await a.call("DELETE", `/api/schedules/${created.body.id}`)
  })

  it("fires once for the due times it missed while the host was down, then keeps the cadence", async () => {
    const graphId = await newGraph("Downtime")
    const id = (await everySecond(graphId, "down")).body.id
    await eventually(async () =>
      (await lastRuns(id)).filter((f) => f.runId !== undefined).length >= 2 ? true : undefined,
    )
    await host.close()
    const closedAt = Date.now()
    await sleep(3600)
    const restartedAt = Date.now()
    host = await startTestHost(options)
    // Sessions outlive the process.
    a = client(host.url, alice)
    b = client(host.url, bob)
    // Let it fire the missed time and then two more on the cadence.
    const fires = await eventually(async () => {
      const list = await lastRuns(id)
      return list.filter((f) => f.claimedAt >= restartedAt).length >= 3 ? list : undefined
    })
    await a.call("DELETE", `/api/schedules/${id}`)
    const before = fires.filter((f) => f.claimedAt <= closedAt)
    const between = fires.filter((f) => f.claimedAt > closedAt && f.claimedAt < restartedAt)
    const after = fires.filter((f) => f.claimedAt >= restartedAt).sort((x, y) => x.dueAt - y.dueAt)
    expect(between).toEqual([])
    const lastBefore = Math.max(...before.map((f) => f.dueAt))
    // At least 3 due times passed while it was down; exactly one fire stands for them, the earliest.
    expect(restartedAt - lastBefore).toBeGreaterThanOrEqual(3000)
    const missed = after.filter((f) => f.dueAt < restartedAt)
    expect(missed.map((f) => f.dueAt)).toEqual([lastBefore + 1000])
    // Then the regular cadence, from after the restart.
    const regular = after.filter((f) => f.dueAt >= restartedAt)
    expect(regular.length).toBeGreaterThanOrEqual(2)
    for (let i = 1; i < regular.length; i++) {
      expect((regular[i]?.dueAt ?? 0) - (regular[i - 1]?.dueAt ?? 0)).toBe(1000)
    }
    // The first after the missed one is the first due time after it was fired.
    const firedMissed = missed[0]?.claimedAt ?? 0
    expect(regular[0]?.dueAt).toBe(Math.floor(firedMissed / 1000) * 1000 + 1000)
    // One run per fire.
    const runIds = fires.flatMap((f) => (f.runId === undefined ? [] : [f.runId]))
    expect(new Set(runIds).size).toBe(runIds.length)
  })

  it("refuses a schedule for a graph that no longer validates (a block disabled since), naming the node's field", async () => {
    const graphId = await newGraph("Disabled")
    await host.close()
    host = await startTestHost({ ...options, runs: { disabledBlocks: ["weft/text/fill-text-template"] } })
    a = client(host.url, alice)
    const refused = await a.post<Refusal>("/api/schedules", {
      graphId,
      cron: "* * * * *",
      timezone: "UTC",
      inputs: { topic: "never" },
    })
    expect(refused.status).toBe(400)
    expect(Object.keys(refused.body.fields ?? {})).toEqual(["nodes.fill.blockId"])
    expect((await a.get<ReadonlyArray<ScheduleView>>(`/api/schedules?graphId=${graphId}`)).body).toEqual([])
  })
})
