import { Effect, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Block, type NodeStatusEvent, type RunEvent } from "../src/index.js"
import { execute, graph, harness } from "./support.js"

let flaky = 0
const Flaky = Block.make({
  id: "t/always-flaky",
  title: "Always flaky",
  description: "Fails every attempt.",
  categories: ["test"],
  retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false },
  input: Schema.Struct({}),
  output: Schema.Struct({ ok: Schema.Boolean }),
  run: () => {
    flaky++
    throw new Error(`boom ${flaky}`)
  },
})

const Slow = Block.make({
  id: "t/slow-timeout",
  title: "Slow",
  description: "Outlives its timeout.",
  categories: ["test"],
  timeoutMs: 20,
  input: Schema.Struct({}),
  output: Schema.Struct({ ok: Schema.Boolean }),
  run: () => new Promise<undefined>(() => {}),
})

const BadOutput = Block.make({
  id: "t/bad-output",
  title: "Bad output",
  description: "Yields a string on a number pin.",
  categories: ["test"],
  input: Schema.Struct({}),
  output: Schema.Struct({ count: Schema.Number }),
  run: () => ({ count: "three" as unknown as number }),
})

const failedEvent = (events: ReadonlyArray<RunEvent>, nodeId: string): NodeStatusEvent | undefined =>
  events.find(
    (e): e is NodeStatusEvent => e.type === "NodeStatus" && e.nodeId === nodeId && e.status === "FAILED",
  )

describe("tagged failures", () => {
  it("R3 R2: a FAILED event says which node, which error and which field or pin went wrong", async () => {
    const h = harness({ extra: [Flaky, Slow, BadOutput] })
    flaky = 0
    const { result, events } = await execute(
      graph([
        ["add", "t/add", { a: 1, b: "two" }],
        ["bad", "t/bad-output"],
        ["slow", "t/slow-timeout"],
        ["flaky", "t/always-flaky"],
        ["fail", "t/fail", { message: "plain failure" }],
      ]),
      { harness: h },
    )
    expect(result.status).toBe("COMPLETED")
    expect(failedEvent(events, "add")).toMatchObject({ errorTag: "BlockFailed", field: "b" })
    expect(failedEvent(events, "add")?.error).toMatch(/^invalid input: b: Expected number/)
    expect(failedEvent(events, "bad")).toMatchObject({ errorTag: "BlockFailed", field: "count" })
    expect(failedEvent(events, "bad")?.error).toMatch(/invalid output on pin "count"/)
    expect(failedEvent(events, "slow")).toMatchObject({
      errorTag: "BlockTimedOut",
      error: "timed out after 20 ms",
    })
    expect(failedEvent(events, "flaky")).toMatchObject({ errorTag: "RetriesExhausted", error: "boom 3" })
    expect(failedEvent(events, "fail")).toMatchObject({ errorTag: "BlockFailed", error: "plain failure" })
    expect(flaky).toBe(3)
  })
})

describe("blocks that die", () => {
  it("R2: a block whose Effect or Stream throws (a defect) fails its execution; the run still completes", async () => {
    const Dies = Block.make({
      id: "t/dies",
      title: "Dies",
      description: "Throws inside Effect.sync.",
      categories: ["test"],
      input: Schema.Struct({}),
      output: Schema.Struct({ ok: Schema.Boolean }),
      run: () =>
        Effect.sync(() => {
          throw new Error("died in effect")
        }),
    })
    const StreamDies = Block.make({
      id: "t/stream-dies",
      title: "Stream dies",
      description: "Yields once, then its stream throws.",
      categories: ["test"],
      input: Schema.Struct({}),
      output: Schema.Struct({ n: Schema.Number }),
      run: () =>
        Stream.concat(
          Stream.make(["n", 1] as const),
          Stream.fromEffect(
            Effect.sync((): readonly ["n", number] => {
              throw new Error("died in stream")
            }),
          ),
        ),
    })
    const { result, events } = await execute(
      graph([
        ["a", "t/dies"],
        ["b", "t/stream-dies"],
      ]),
      {
        harness: harness({ extra: [Dies, StreamDies] }),
      },
    )
    expect(result.status).toBe("COMPLETED")
    expect(failedEvent(events, "a")?.error).toBe("died in effect")
    expect(failedEvent(events, "b")?.error).toBe("died in stream")
  })
})
