import { Effect, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import {
  allowedFrom,
  Block,
  canTransition,
  Executor,
  makeMemory,
  type RunEvent,
  Status,
} from "../src/index.js"
import { executionsOf, failingAfter, nodeStatuses, rulesHarness, within } from "./rules-support.js"
import { execute, graph, harness } from "./support.js"

const ALL = Status.literals

/** The table of SPEC.md R13, written out independently of `Status.ts`. */
const TABLE: Record<string, ReadonlyArray<string>> = {
  QUEUED: ["INCOMPLETE", "TERMINATED", "REVIEW"],
  RUNNING: ["INCOMPLETE", "QUEUED", "TERMINATED", "REVIEW"],
  COMPLETED: ["RUNNING"],
  FAILED: ["INCOMPLETE", "QUEUED", "RUNNING", "REVIEW"],
  TERMINATED: ["INCOMPLETE", "QUEUED", "RUNNING", "REVIEW"],
  REVIEW: ["RUNNING"],
}

/** Checks every status change of every execution (from INCOMPLETE, where executions are created) and of the run. */
const illegalChanges = (events: ReadonlyArray<RunEvent>): Array<string> => {
  const problems: Array<string> = []
  const last = new Map<string, Status>()
  let run: Status = "QUEUED"
  for (const event of events) {
    if (event.type === "NodeStatus") {
      const from = last.get(event.executionId) ?? "INCOMPLETE"
      if (!canTransition(from, event.status)) problems.push(`${event.executionId}: ${from} → ${event.status}`)
      last.set(event.executionId, event.status)
    } else if (event.type === "RunStatus") {
      if (!canTransition(run, event.status)) problems.push(`run: ${run} → ${event.status}`)
      run = event.status
    }
  }
  return problems
}

const Flaky = Block.make({
  id: "st/flaky",
  title: "Flaky",
  description: "Fails, then fails again.",
  categories: ["test"],
  retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false },
  input: Schema.Struct({}),
  output: Schema.Struct({ v: Schema.Number }),
  run: () => {
    throw new Error("flaky")
  },
})

describe("R13: the status transition table", () => {
  it("R13: there are exactly seven statuses", () => {
    expect([...ALL]).toEqual([
      "INCOMPLETE",
      "QUEUED",
      "RUNNING",
      "COMPLETED",
      "FAILED",
      "TERMINATED",
      "REVIEW",
    ])
  })

  it("R13: canTransition agrees with the SPEC table on all 49 (from, to) pairs", () => {
    const disagreements: Array<string> = []
    let checked = 0
    for (const from of ALL) {
      for (const to of ALL) {
        checked++
        const expected = (TABLE[to] ?? []).includes(from)
        if (canTransition(from, to) !== expected) disagreements.push(`${from} → ${to}`)
      }
    }
    expect(checked).toBe(49)
    expect(disagreements).toEqual([])
    expect(allowedFrom.INCOMPLETE.size).toBe(0)
    expect(ALL.filter((s) => canTransition(s, s))).toEqual([])
  })

  it("R13: every status change observed in runs with successes, failures, retries and never-ready executions is legal", async () => {
    const g = graph(
      [
        ["in", "t/input", { name: "items" }],
        ["each", "t/each"],
        ["pass", "t/pass"],
        ["bad", "t/fail", { message: "no" }],
        ["catch", "t/pass"],
        ["flaky", "st/flaky"],
        ["pair", "t/pair"],
        ["slow", "t/sleep", { ms: 5 }],
        ["out", "t/output", { name: "out" }],
      ],
      [
        "in.result -> each.items",
        "each.item -> pass.value",
        "pass.value -> pair.a",
        "slow.value -> pair.b",
        "bad.error -> catch.value",
        "pair.pair -> out.value",
      ],
    )
    const { result, events } = await execute(g, {
      harness: rulesHarness({ extra: [Flaky] }),
      inputs: { items: [1, 2, 3] },
      maxConcurrency: 2,
    })
    expect(result.status).toBe("COMPLETED")
    expect(illegalChanges(events)).toEqual([])
    const sequences = new Set(
      ["each", "pass", "bad", "catch", "flaky", "pair", "slow", "out"].flatMap((n) =>
        executionsOf(events, n).map((e) => e.statuses.join(" ")),
      ),
    )
    expect([...sequences].sort()).toEqual(["QUEUED RUNNING COMPLETED", "QUEUED RUNNING FAILED"])
    expect(events.filter((e) => e.type === "RunStatus").map((e) => e.status)).toEqual([
      "RUNNING",
      "COMPLETED",
    ])
  })

  it("R13: the status changes of a run stopped by a limit are legal too", async () => {
    const g = graph([
      ["slow1", "t/sleep", { ms: 2000 }],
      ["slow2", "t/sleep", { ms: 2000 }],
    ])
    const { result, events } = await execute(g, { maxConcurrency: 1, deadlineMs: 30 })
    expect(result.status).toBe("FAILED")
    expect(illegalChanges(events)).toEqual([])
    const sequences = [...executionsOf(events, "slow1"), ...executionsOf(events, "slow2")]
      .map((e) => e.statuses.join(" "))
      .sort()
    expect(sequences).toEqual(["QUEUED FAILED", "QUEUED RUNNING FAILED"])
  })
})

describe("R14: how a run ends", () => {
  it("R14: a run whose nodes failed still ends COMPLETED, with no run error", async () => {
    const g = graph([
      ["bad1", "t/fail", { message: "one" }],
      ["bad2", "t/effect-fail"],
    ])
    const { result, events, store } = await execute(g)
    expect(result).toMatchObject({ status: "COMPLETED", outputs: {} })
    expect(result.error).toBeUndefined()
    expect(nodeStatuses(events).filter((e) => e.status === "FAILED")).toHaveLength(2)
    const snapshot = await Effect.runPromise(store.load(result.runId))
    expect(snapshot.run.status).toBe("COMPLETED")
  })

  it("R14: a run records its outputs as name → values, in the order they were produced", async () => {
    const g = graph(
      [
        ["count", "t/count", { count: 4 }],
        ["words", "t/each", { items: ["x", "y"] }],
        ["nums", "t/output", { name: "numbers" }],
        ["ws", "t/output", { name: "words" }],
        ["unreached", "t/output", { name: "never" }],
        ["empty", "t/const", { value: {} }],
        ["gate", "t/pass"],
      ],
      [
        "count.n -> nums.value",
        "words.item -> ws.value",
        "empty.value_#_x -> gate.value",
        "gate.value -> unreached.value",
      ],
    )
    const { result, events, store } = await execute(g)
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ numbers: [1, 2, 3, 4], words: ["x", "y"] })
    const final = events.at(-1)
    expect(final).toMatchObject({ type: "RunStatus", status: "COMPLETED", outputs: result.outputs })
    const snapshot = await Effect.runPromise(store.load(result.runId))
    expect(snapshot.run.outputs).toEqual(result.outputs)
  })

  it("R14: a store failure is a run-level failure: the run ends FAILED and its event stream ends", async () => {
    const store = failingAfter(makeMemory(), 3)
    const h = harness({ store })
    const g = graph(
      [
        ["count", "t/count", { count: 5 }],
        ["slow", "t/sleep", { ms: 5 }],
        ["pass", "t/pass"],
      ],
      ["count.n -> slow.value", "slow.value -> pass.value"],
    )
    const { result, events } = await within(execute(g, { harness: h }), 2000, "the run's event stream")
    expect(result.status).toBe("FAILED")
    expect(result.error).toBe("run store failed: Run store failed during commit: disk full")
    expect(store.commits()).toBeGreaterThan(3)
    // What was published was committed first: only the first three batches' events.
    const stored = await Effect.runPromise(store.events(result.runId, 0))
    expect(events.filter((e) => e.type !== "NodeProgress")).toEqual(stored)
  })

  it("R14: a store that fails from its first commit makes start fail, and no run is left", async () => {
    const store = failingAfter(makeMemory(), 0)
    const h = harness({ store })
    const error = await h.run(
      Effect.flip(
        Effect.gen(function* () {
          const executor = yield* Executor
          return yield* executor.start(graph([["k", "t/const", { value: 1 }]]), { runId: "never" })
        }),
      ),
    )
    expect(error._tag).toBe("StoreError")
    const events = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        return yield* Stream.runCollect(executor.events("never"))
      }),
    )
    expect(events).toEqual([])
  })
})
