import { Deferred, Effect, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Block, Executor, makeMemory, type RunStoreShape } from "../src/index.js"
import { graph, harness, persisted } from "./support.js"

/** Per-test switches: while `hang` is true, gated blocks never finish (the worker "dies" under them). */
const state = { hang: true, calls: new Map<string, number>() }
const called = (key: string) => state.calls.set(key, (state.calls.get(key) ?? 0) + 1)

/** Counts its runs, then passes its value on. */
const Counted = Block.make({
  id: "t/counted",
  title: "Counted",
  description: "Counts executions.",
  categories: ["test"],
  input: Schema.Struct({ value: Schema.Unknown, key: Schema.String }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value, key }) => {
    called(key)
    return { value }
  },
})

/** Yields `first` values, then hangs while `state.hang`, then yields the rest: a crash between outputs. */
const Gated = Block.make({
  id: "t/gated",
  title: "Gated",
  description: "Yields part of its outputs, then waits for the gate.",
  categories: ["test"],
  input: Schema.Struct({ total: Schema.Number, first: Schema.Number }),
  output: Schema.Struct({ n: Schema.Number }),
  async *run({ total, first }) {
    called("gated")
    for (let i = 1; i <= total; i++) {
      if (i === first + 1 && state.hang) await new Promise(() => {})
      yield ["n", i] as const
    }
  },
})

/** Starts a run and stops the executor once `untilRunning` executions of `nodeId` are RUNNING, like a killed worker. */
const crashDuring = async (
  store: RunStoreShape,
  g: ReturnType<typeof graph>,
  nodeId: string,
  outputsBefore: number,
) => {
  const h = harness({ extra: [Counted, Gated], store })
  return h.run(
    Effect.gen(function* () {
      const executor = yield* Executor
      const reached = yield* Deferred.make<void>()
      const handle = yield* executor.start(g)
      let seen = 0
      yield* Effect.forkChild(
        Stream.runForEach(handle.events, (e) => {
          if (e.type === "NodeOutput" && e.nodeId === nodeId && ++seen === outputsBefore) {
            return Deferred.succeed(reached, undefined)
          }
          return Effect.void
        }),
      )
      yield* Deferred.await(reached)
      // Let the driver commit whatever the last output routed, then "kill" the worker by closing the scope.
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      return handle.runId
    }),
  )
}

describe("durability", () => {
  it("W7: a resumed run does not re-run finished executions and re-runs the unfinished one", async () => {
    state.hang = true
    state.calls.clear()
    const store = makeMemory()
    const g = graph(
      [
        ["a", "t/counted", { value: 1, key: "a" }],
        ["gate", "t/gated", { total: 3, first: 1 }],
        ["b", "t/counted", { key: "b" }],
        ["out", "t/output", { name: "n" }],
        ["aOut", "t/output", { name: "a" }],
      ],
      ["a.value -> aOut.value", "gate.n -> b.value", "b.value -> out.value"],
    )
    const runId = await crashDuring(store, g, "gate", 1)
    const before = await Effect.runPromise(store.load(runId))
    expect(before.run.status).toBe("RUNNING")
    expect(state.calls.get("a")).toBe(1)
    expect(state.calls.get("b")).toBe(1)

    state.hang = false
    const h = harness({ extra: [Counted, Gated], store })
    const { result, events } = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.resume(runId)
        const events = yield* Stream.runCollect(handle.events)
        return { result: yield* handle.await, events }
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ a: [1], n: [1, 2, 3] })
    expect(state.calls.get("a")).toBe(1) // finished before the crash: not re-run
    expect(state.calls.get("gated")).toBe(2) // unfinished: re-run once
    expect(state.calls.get("b")).toBe(3) // one execution per distinct value, the first not repeated
    const after = await Effect.runPromise(store.load(runId))
    const gateOutputs = after.outputs.filter((o) => o.nodeId === "gate").map((o) => [o.index, o.value])
    expect(gateOutputs).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]) // exactly once per (execution, output index)
    // Events stay contiguous across the crash and the resume.
    const all = persisted(events)
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1))
    expect(all.some((e) => e.type === "NodeAttempt" && e.nodeId === "gate")).toBe(true)
  })

  it("W7 R9: a static value routed before the crash still fills executions created after the resume", async () => {
    state.hang = true
    state.calls.clear()
    const store = makeMemory()
    const g = graph(
      [
        ["s", "t/static-const", { value: "S" }],
        ["gate", "t/gated", { total: 3, first: 1 }],
        ["pair", "t/pair"],
        ["out", "t/output", { name: "pairs" }],
      ],
      ["s.value -> pair.b", "gate.n -> pair.a", "pair.pair -> out.value"],
    )
    const runId = await crashDuring(store, g, "gate", 1)
    state.hang = false
    const result = await harness({ extra: [Counted, Gated], store }).run(
      Effect.gen(function* () {
        const executor = yield* Executor
        return yield* (yield* executor.resume(runId)).await
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs.pairs).toEqual([
      [1, "S"],
      [2, "S"],
      [3, "S"],
    ])
  })

  it("W7: resuming a finished run returns its result without running anything", async () => {
    state.calls.clear()
    const store = makeMemory()
    const g = graph(
      [
        ["a", "t/counted", { value: 7, key: "once" }],
        ["out", "t/output", { name: "v" }],
      ],
      ["a.value -> out.value"],
    )
    const h = harness({ extra: [Counted], store })
    const [first, again] = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const first = yield* executor.execute(g)
        const again = yield* (yield* executor.resume(first.runId)).await
        return [first, again] as const
      }),
    )
    expect(again).toEqual(first)
    expect(state.calls.get("once")).toBe(1)
  })
})
