import { runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import { addDays, isoFormat, strftime, wallTime } from "../src/internal/logic-time.js"
import { blocks, graph } from "./support/graphs.js"

/** A block fed by a trigger, with its pin `pin` and `error` collected. */
const clock = (blockId: string, pin: string, defaults: Record<string, unknown>) =>
  graph(
    [
      ["go", "test/input", { name: "go" }],
      ["clock", blockId, defaults],
      ["out", "test/output", { name: pin }],
      ["err", "test/output", { name: "error" }],
    ],
    ["go.result -> clock.trigger", `clock.${pin} -> out.value`, "clock.error -> err.value"],
  )

const read = async (blockId: string, pin: string, defaults: Record<string, unknown> = {}) => {
  const result = await runGraph(clock(blockId, pin, defaults), { blocks, inputs: { go: "now" } })
  expect(result.status).toBe("COMPLETED")
  const value = result.outputs[pin]?.[0]
  if (typeof value !== "string") throw new Error(`no ${pin}: ${JSON.stringify(result.outputs)}`)
  return value
}

const DATE_TIME = "716a67b3-6760-42e7-86dc-18645c6e00fc"
const DATE = "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1"
const TIME = "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"
const COUNTDOWN = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
const TOLERANCE_MS = 5_000

const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10)

describe("strftime and isoformat (fixed instants, checked against Python)", () => {
  const format = "%A %d %B %Y, %I:%M:%S.%f %p %Z (%z) week %U/%W/%V day %j %G-%u %c|%x %X %D %e %-H"
  const at = 1_700_000_000_123

  it("formats every directive as Python on Linux does", () => {
    expect(strftime(wallTime(at, "UTC"), format)).toBe(
      "Tuesday 14 November 2023, 10:13:20.123000 PM UTC (+0000) week 46/46/46 day 318 2023-2 Tue Nov 14 22:13:20 2023|11/14/23 22:13:20 11/14/23 14 22",
    )
    expect(strftime(wallTime(at, "Asia/Kathmandu"), format)).toBe(
      "Wednesday 15 November 2023, 03:58:20.123000 AM +0545 (+0545) week 46/46/46 day 319 2023-3 Wed Nov 15 03:58:20 2023|11/15/23 03:58:20 11/15/23 15 3",
    )
    expect(strftime(wallTime(at, "America/New_York"), format)).toBe(
      "Tuesday 14 November 2023, 05:13:20.123000 PM EST (-0500) week 46/46/46 day 318 2023-2 Tue Nov 14 17:13:20 2023|11/14/23 17:13:20 11/14/23 14 17",
    )
  })

  it("isoformat, ISO weeks at a year's end, and days subtracted across a DST change", () => {
    const newYearsEve = wallTime(1_735_689_599_500, "UTC")
    expect(isoFormat(newYearsEve, true)).toBe("2024-12-31T23:59:59.500000+00:00")
    expect(isoFormat(newYearsEve, false)).toBe("2024-12-31T23:59:59+00:00")
    expect(strftime(newYearsEve, "%G-W%V-%u %U %W %j")).toBe("2025-W01-2 52 53 366")
    const afterDst = wallTime(1_710_259_200_000, "America/New_York") // 2024-03-12 12:00 EDT
    const weekBefore = addDays(afterDst, -7, "America/New_York")
    expect(strftime(weekBefore, "%Y-%m-%d %H:%M:%S %Z %z")).toBe("2024-03-05 12:00:00 EST -0500")
    expect(isoFormat(weekBefore, false)).toBe("2024-03-05T12:00:00-05:00")
  })
})

describe("time blocks on the real clock", () => {
  it("GetCurrentDateAndTime: the default format is the UTC time now", async () => {
    const text = await read(DATE_TIME, "date_time")
    expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    expect(Math.abs(Date.parse(`${text.replace(" ", "T")}Z`) - Date.now())).toBeLessThan(TOLERANCE_MS)
  })

  it("GetCurrentDateAndTime: ISO 8601 in a time zone carries its offset", async () => {
    const text = await read(DATE_TIME, "date_time", {
      format_type: { discriminator: "iso8601", timezone: "Asia/Kathmandu", include_microseconds: true },
    })
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+05:45$/)
    expect(Math.abs(Date.parse(text) - Date.now())).toBeLessThan(TOLERANCE_MS)
  })

  it("GetCurrentDateAndTime: a strftime format in a time zone", async () => {
    const text = await read(DATE_TIME, "date_time", {
      format_type: {
        discriminator: "strftime",
        format: "%Y-%m-%dT%H:%M:%S%z",
        timezone: "America/Los_Angeles",
      },
    })
    expect(text).toMatch(/-0[78]00$/)
    const iso = `${text.slice(0, -5)}${text.slice(-5, -2)}:${text.slice(-2)}`
    expect(Math.abs(Date.parse(iso) - Date.now())).toBeLessThan(TOLERANCE_MS)
  })

  it("GetCurrentTime: HH:MM:SS by default, and an ISO time with a T and an offset", async () => {
    const time = await read(TIME, "time")
    expect(time).toMatch(/^\d\d:\d\d:\d\d$/)
    const now = new Date()
    const seconds = (now.getUTCHours() * 3600 + now.getUTCMinutes() * 60 + now.getUTCSeconds()) % 86_400
    const [h = 0, m = 0, s = 0] = time.split(":").map(Number)
    const diff = Math.abs(h * 3600 + m * 60 + s - seconds)
    expect(Math.min(diff, 86_400 - diff)).toBeLessThan(TOLERANCE_MS / 1000)
    expect(await read(TIME, "time", { format_type: { discriminator: "iso8601" } })).toMatch(
      /^T\d\d:\d\d:\d\d\+00:00$/,
    )
  })

  it("GetCurrentDate: the offset is subtracted; text that is not a whole number counts as 0", async () => {
    const before = Date.now()
    const weekAgo = await read(DATE, "date", { offset: "7" })
    const tomorrow = await read(DATE, "date", { offset: -1, format_type: { discriminator: "iso8601" } })
    const today = await read(DATE, "date", { offset: "soon" })
    const after = Date.now()
    const day = 86_400_000
    expect([utcDate(before - 7 * day), utcDate(after - 7 * day)]).toContain(weekAgo)
    expect([utcDate(before + day), utcDate(after + day)]).toContain(tomorrow)
    expect([utcDate(before), utcDate(after)]).toContain(today)
    expect(
      await read(DATE, "date", { format_type: { discriminator: "strftime", format: "%d/%m/%Y" } }),
    ).toMatch(/^\d\d\/\d\d\/\d{4}$/)
  })

  it("an unknown time zone fails the execution, routed on `error`", async () => {
    const result = await runGraph(
      clock(DATE_TIME, "date_time", { format_type: { discriminator: "iso8601", timezone: "Moon/Base" } }),
      { blocks, inputs: { go: 1 } },
    )
    expect(result.outputs).toEqual({ error: ['unknown time zone "Moon/Base"'] })
  })
})

describe("CountdownTimer", () => {
  const timer = (defaults: Record<string, unknown>) =>
    graph(
      [
        ["timer", COUNTDOWN, defaults],
        ["out", "test/output", { name: "message" }],
        ["err", "test/output", { name: "error" }],
      ],
      ["timer.output_message -> out.value", "timer.error -> err.value"],
    )

  it("waits for the duration, then emits the message", async () => {
    const started = Date.now()
    const result = await runGraph(timer({ seconds: "1", input_message: { done: true } }), { blocks })
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect(result.outputs).toEqual({ message: [{ done: true }] })
  })

  it("repeats; a zero or negative duration emits at once", async () => {
    const started = Date.now()
    const result = await runGraph(timer({ minutes: "0", seconds: -5, repeat: 3 }), { blocks })
    expect(Date.now() - started).toBeLessThan(900)
    expect(result.outputs).toEqual({ message: ["timer finished", "timer finished", "timer finished"] })
  })

  it("cancelling the run through its AbortSignal ends the wait at once: the run is TERMINATED", async () => {
    const controller = new AbortController()
    const started = Date.now()
    setTimeout(() => controller.abort(), 50)
    const result = await runGraph(timer({ hours: 1 }), { blocks, signal: controller.signal })
    expect(result.status).toBe("TERMINATED")
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(result.outputs).toEqual({})
  })

  it("a duration that is not a whole number fails", async () => {
    const result = await runGraph(timer({ days: "one" }), { blocks })
    expect(result.outputs).toEqual({ error: ["invalid literal for int() with base 10: 'one'"] })
  })
})
