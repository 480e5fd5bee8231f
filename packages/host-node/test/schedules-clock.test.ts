/**
 * Schedules under a clock the test moves: cron expressions in time zones across daylight-saving changes,
 * coalescing of missed due times, one winner among concurrent fires of one due time, and the recovery of a
 * fire whose start was cut short (same idempotency key, so still one run). The scheduler runs on the real
 * stores and run service, on PGlite and on Postgres.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { GraphStore, Migrations, RunQueries, RunService, type Sql } from "../src/index.js"
import * as Cron from "../src/triggers/schedules/Cron.js"
import { Scheduler } from "../src/triggers/schedules/Scheduler.js"
import { ScheduleStore } from "../src/triggers/schedules/ScheduleStore.js"
import { Schedules } from "../src/triggers/schedules/Schedules.js"
import * as Triggers from "../src/triggers/schedules/Triggers.js"
import { eventually, helloGraph } from "./api-support.js"
import { createDatabase, drivers, rows, type TestDatabase } from "./support/db.js"

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

/** The first `count` due times after `from`. */
const dues = (cron: string, timezone: string, from: string, count: number) => {
  const rule = Effect.runSync(Cron.parse(cron, timezone, { seed: "test", now: at(from) }))
  const out: Array<string | undefined> = []
  let after = at(from)
  for (let i = 0; i < count; i++) {
    const next = Cron.nextAfter(rule, after)
    out.push(iso(next))
    if (next === undefined) break
    after = next
  }
  return out
}

const refusal = (cron: string, timezone: string) =>
  Effect.runSync(
    Cron.parse(cron, timezone, { seed: "test", now: at("2026-11-21T00:00:00Z") }).pipe(
      Effect.match({ onFailure: (error) => error._tag, onSuccess: () => "valid" }),
    ),
  )

describe("cron expressions in a time zone", () => {
  it("takes 5 fields, or 6 with a leading second field, and refuses anything else", () => {
    expect(refusal("*/15 * * * *", "UTC")).toBe("valid")
    expect(refusal("0 9 * * MON-FRI", "Europe/Berlin")).toBe("valid")
    expect(refusal("* * * * * *", "UTC")).toBe("valid")
    for (const bad of [
      "",
      "* * * *",
      "* * * * * * *",
      "61 * * * *",
      "* * 32 * *",
      "hello",
      "@daily",
      "*/0 * * * *",
    ]) {
      expect(refusal(bad, "UTC"), bad).toBe("CronInvalid")
    }
    // Never fires: there is no 30 February.
    expect(refusal("0 0 30 2 *", "UTC")).toBe("CronInvalid")
    expect(dues("* * * * * *", "UTC", "2026-11-21T12:00:00.500Z", 2)).toEqual([
      "2026-11-21T12:00:01.000Z",
      "2026-11-21T12:00:02.000Z",
    ])
  })

  it("accepts IANA time zones by their canonical names, and refuses others", () => {
    expect(Cron.canonicalTimeZone("Europe/Berlin")).toBe("Europe/Berlin")
    expect(Cron.canonicalTimeZone("US/Eastern")).toBe("America/New_York")
    expect(Cron.canonicalTimeZone("utc")).toBe("UTC")
    for (const bad of ["Mars/Olympus_Mons", "+05:00", "UTC+1", "", "Europe/../etc", "x".repeat(80)]) {
      expect(Cron.canonicalTimeZone(bad), bad).toBeUndefined()
      expect(refusal("* * * * *", bad), bad).toBe("TimeZoneInvalid")
    }
  })

  it("follows the zone's offset through the year", () => {
    expect(dues("0 9 * * *", "America/New_York", "2026-01-10T00:00:00Z", 1)).toEqual([
      "2026-01-10T14:00:00.000Z",
    ])
    expect(dues("0 9 * * *", "America/New_York", "2026-07-10T00:00:00Z", 1)).toEqual([
      "2026-07-10T13:00:00.000Z",
    ])
  })

  it("fires a local time skipped by spring-forward once, an hour later, and keeps the next day's time", () => {
    // Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist that day.
    expect(dues("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2)).toEqual([
      "2026-03-29T01:30:00.000Z", // 03:30 CEST
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
    ])
    // An hourly expression skips the missing hour without firing twice.
    expect(dues("0 * * * *", "Europe/Berlin", "2026-03-29T00:10:00Z", 3)).toEqual([
      "2026-03-29T01:00:00.000Z", // 03:00 CEST
      "2026-03-29T02:00:00.000Z",
      "2026-03-29T03:00:00.000Z",
    ])
  })

  it("fires a local time repeated by fall-back once, and keeps firing every 30 minutes through it", () => {
    // Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice that night.
    expect(dues("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2)).toEqual([
      "2026-10-25T00:30:00.000Z", // 02:30 CEST, the first
      "2026-10-26T01:30:00.000Z", // 02:30 CET the next day: not 01:30Z on the 25th
    ])
    expect(dues("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:50:00Z", 4)).toEqual([
      "2026-10-25T00:00:00.000Z", // 02:00 CEST
      "2026-10-25T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T01:00:00.000Z", // 02:00 CET
      "2026-10-25T01:30:00.000Z", // 02:30 CET
    ])
  })
})

describe.each(drivers)("the scheduler on %s, under a test clock", (driver) => {
  let db: TestDatabase
  const clock = { now: at("2026-11-21T10:30:00Z") }
  let runtime: ManagedRuntime.ManagedRuntime<
    Schedules | Scheduler | ScheduleStore | GraphStore | RunQueries | Sql,
    unknown
  >
  const run = <A, E>(
    effect: Effect.Effect<A, E, Schedules | Scheduler | ScheduleStore | GraphStore | RunQueries | Sql>,
  ) => runtime.runPromise(effect)
  const owner = "owner-1"
  let graphId: string

  beforeAll(async () => {
    db = await createDatabase(driver)
    const stores = Layer.mergeAll(GraphStore.layer, RunQueries.layer)
    runtime = ManagedRuntime.make(
      Triggers.layer({ now: () => clock.now, retryAfter: "30 seconds", timer: false }).pipe(
        Layer.provideMerge(RunService.layer().pipe(Layer.provideMerge(stores))),
        Layer.provideMerge(Migrations.layer),
        Layer.provideMerge(db.layer({ max: 3 })),
        Layer.orDie,
      ),
    )
    const created = await run(
      Effect.flatMap(GraphStore, (graphs) =>
        graphs.create(owner, { ...helloGraph("Clock"), id: "clock-graph", version: 1 }),
      ),
    )
    graphId = created.id
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  const runsOfGraph = async () =>
    (
      await rows<{ n: number }>(runtime, "SELECT count(*)::int AS n FROM runs WHERE graph_id = $1", [graphId])
    )[0]?.n

  it("fires once after downtime across several due times, then keeps the cadence; concurrent fires of one due time have one winner", async () => {
    clock.now = at("2026-11-21T10:30:00Z")
    const schedule = await run(
      Effect.flatMap(Schedules, (s) =>
        s.create(owner, { graphId, cron: "0 * * * *", timezone: "UTC", inputs: { topic: "clock" } }),
      ),
    )
    expect(iso(schedule.nextFireAt)).toBe("2026-11-21T11:00:00.000Z")
    const scheduler = await run(Scheduler)

    // Nothing is due yet.
    expect(await run(scheduler.fireDue)).toEqual([])

    // Down across 11:00, 12:00, 13:00 and 14:00: one fire, for the earliest, then the next hour after now.
    clock.now = at("2026-11-21T14:10:00Z")
    const first = await run(scheduler.fireDue)
    expect(first.map((o) => o._tag)).toEqual(["Started"])
    expect(await run(scheduler.fireDue)).toEqual([])
    const after = await run(Effect.flatMap(Schedules, (s) => s.get(owner, schedule.id)))
    expect(iso(after.nextFireAt)).toBe("2026-11-21T15:00:00.000Z")
    expect(after.fires.map((f) => iso(f.dueAt))).toEqual(["2026-11-21T11:00:00.000Z"])
    expect(after.fires[0]?.runId).toBe(first[0]?._tag === "Started" ? first[0].runId : "none")
    expect(await runsOfGraph()).toBe(1)

    // On time again.
    clock.now = at("2026-11-21T15:00:00Z")
    expect((await run(scheduler.fireDue)).map((o) => o._tag)).toEqual(["Started"])

    // Eight fires of one due time at once: one run.
    clock.now = at("2026-11-21T16:00:00.250Z")
    const due = at("2026-11-21T16:00:00Z")
    const racing = await run(
      Effect.all(
        Array.from({ length: 8 }, () => scheduler.fire(schedule.id, due)),
        { concurrency: "unbounded" },
      ),
    )
    expect(racing.filter((o) => o._tag === "Started")).toHaveLength(1)
    expect(racing.filter((o) => o._tag === "Skipped")).toHaveLength(7)
    expect(await runsOfGraph()).toBe(3)
    const fires = await run(Effect.flatMap(Schedules, (s) => s.get(owner, schedule.id)))
    expect(fires.fires.map((f) => iso(f.dueAt))).toEqual([
      "2026-11-21T16:00:00.000Z",
      "2026-11-21T15:00:00.000Z",
      "2026-11-21T11:00:00.000Z",
    ])
    expect(new Set(fires.fires.map((f) => f.runId)).size).toBe(3)

    // The scheduled runs are the owner's, and complete.
    const runs = await run(Effect.flatMap(RunQueries, (q) => q.list(owner, { graphId })))
    expect(runs).toHaveLength(3)
    await eventually(async () => {
      const view = await run(Effect.flatMap(RunQueries, (q) => q.get(owner, runs[0]?.id ?? "")))
      return view.run.status === "COMPLETED" ? view : undefined
    })
    const done = await run(Effect.flatMap(RunQueries, (q) => q.get(owner, runs[0]?.id ?? "")))
    expect(done.outputs).toEqual({ greeting: ["Hello, clock!"] })

    await run(Effect.flatMap(Schedules, (s) => s.remove(owner, schedule.id)))
  })

  it("starts a fire again when its process stopped between claim and start, with the same key: still one run", async () => {
    clock.now = at("2026-11-22T08:00:00Z")
    const schedule = await run(
      Effect.flatMap(Schedules, (s) =>
        s.create(owner, {
          graphId,
          cron: "0 9 * * *",
          timezone: "Europe/Berlin",
          inputs: { topic: "again" },
        }),
      ),
    )
    // 09:00 in Berlin (CET) is 08:00Z: the next one is tomorrow's.
    expect(iso(schedule.nextFireAt)).toBe("2026-11-23T08:00:00.000Z")
    const due = at("2026-11-23T08:00:00Z")
    const before = await runsOfGraph()

    // A process claims the due time and stops before starting the run.
    clock.now = due + 5
    const store = await run(ScheduleStore)
    const claimed = await run(store.claim(schedule.id, due, at("2026-11-24T08:00:00Z"), clock.now))
    expect(claimed?.id).toBe(schedule.id)
    const scheduler = await run(Scheduler)
    // The due time is taken: no other fire of it.
    expect((await run(scheduler.fire(schedule.id, due)))._tag).toBe("Skipped")
    // Too early to tell a stopped process from a slow one.
    expect(await run(scheduler.recover)).toBe(0)
    expect(await runsOfGraph()).toBe(before)

    clock.now = due + 31_000
    expect(await run(scheduler.recover)).toBe(1)
    expect(await run(scheduler.recover)).toBe(0)
    const detail = await run(Effect.flatMap(Schedules, (s) => s.get(owner, schedule.id)))
    const runId = detail.fires[0]?.runId
    expect(runId).toBeDefined()
    expect(await runsOfGraph()).toBe((before ?? 0) + 1)

    // Even a second start of the same fire (its settlement lost) finds the same run.
    await rows(runtime, "UPDATE schedule_runs SET started_at = NULL, run_id = NULL WHERE schedule_id = $1", [
      schedule.id,
    ])
    expect(await run(scheduler.recover)).toBe(1)
    const again = await run(Effect.flatMap(Schedules, (s) => s.get(owner, schedule.id)))
    expect(again.fires[0]?.runId).toBe(runId)
    expect(await runsOfGraph()).toBe((before ?? 0) + 1)

    await run(Effect.flatMap(Schedules, (s) => s.remove(owner, schedule.id)))
  })

  it("fires a daily Berlin schedule once on the night its time happens twice", async () => {
    clock.now = at("2026-10-24T12:00:00Z")
    const schedule = await run(
      Effect.flatMap(Schedules, (s) =>
        s.create(owner, { graphId, cron: "30 2 * * *", timezone: "Europe/Berlin", inputs: { topic: "dst" } }),
      ),
    )
    const scheduler = await run(Scheduler)
    clock.now = at("2026-10-25T00:30:00Z") // 02:30 CEST
    expect((await run(scheduler.fireDue)).map((o) => o._tag)).toEqual(["Started"])
    clock.now = at("2026-10-25T01:30:00Z") // 02:30 CET, the same wall time again
    expect(await run(scheduler.fireDue)).toEqual([])
    const detail = await run(Effect.flatMap(Schedules, (s) => s.get(owner, schedule.id)))
    expect(iso(detail.nextFireAt)).toBe("2026-10-26T01:30:00.000Z")
    expect(detail.fires).toHaveLength(1)
    await run(Effect.flatMap(Schedules, (s) => s.remove(owner, schedule.id)))
  })
})
