import { Effect, Fiber, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import {
  Block,
  Executor,
  type Graph,
  makeMemory,
  type NodeProgressEvent,
  type PersistedEvent,
  type RunEvent,
  type RunRecord,
  StoreError,
} from "../src/index.js"
import { executionsOf, gate, nodeStatuses, rulesHarness, within } from "./rules-support.js"
import { execute, graph, harness, persisted } from "./support.js"

const seqs = (events: ReadonlyArray<RunEvent>) => persisted(events).map((e) => e.seq)
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** Collects the events of a run on `handle.events`, calling `onEvent` for each as it arrives. */
const observe = (
  g: Graph,
  blocks: ReadonlyArray<Block.AnyBlock>,
  onEvent: (event: RunEvent) => void,
  options: { readonly budget?: number } = {},
) => {
  const h = rulesHarness({ extra: blocks })
  return h.run(
    Effect.gen(function* () {
      const executor = yield* Executor
      const handle = yield* executor.start(g, options)
      const events: Array<RunEvent> = []
      yield* Stream.runForEach(handle.events, (event) =>
        Effect.sync(() => {
          events.push(event)
          onEvent(event)
        }),
      )
      const result = yield* handle.await
      const stored = yield* h.store.events(result.runId, 0)
      return { result, events, stored }
    }),
  )
}

describe("W5: live events", () => {
  it("W5: an output is an event, routed downstream and run there, while its block is still running", async () => {
    const released = gate()
    let releasedBy: "downstream" | "fallback" | undefined
    const fallback = setTimeout(() => {
      releasedBy ??= "fallback"
      released.open()
    }, 2000)
    const Gated = Block.make({
      id: "ev/gated",
      title: "Gated",
      description: "Yields, waits for the test, yields again.",
      categories: ["test"],
      input: Schema.Struct({}),
      output: Schema.Struct({ v: Schema.Number }),
      async *run() {
        yield ["v", 1] as const
        await released.promise
        yield ["v", 2] as const
      },
    })
    const g = graph(
      [
        ["src", "ev/gated"],
        ["next", "t/pass"],
      ],
      ["src.v -> next.value"],
    )
    const { events } = await within(
      observe(g, [Gated], (event) => {
        if (event.type === "NodeStatus" && event.nodeId === "next" && event.status === "COMPLETED") {
          releasedBy ??= "downstream"
          released.open()
        }
      }),
      5000,
      "the gated run",
    )
    clearTimeout(fallback)
    expect(releasedBy).toBe("downstream")
    const trace = events.flatMap((e) =>
      e.type === "NodeOutput"
        ? [`${e.nodeId} ${e.pin} ${String(e.value)}`]
        : e.type === "NodeStatus" && e.nodeId === "next"
          ? [`next ${e.status} ${String(e.inputs?.value ?? "")}`.trim()]
          : [],
    )
    expect(trace).toEqual([
      "src v 1",
      "next QUEUED 1",
      "next RUNNING",
      "next value 1",
      "next COMPLETED",
      "src v 2",
      "next QUEUED 2",
      "next RUNNING",
      "next value 2",
      "next COMPLETED",
    ])
  })

  const Chatty = Block.make({
    id: "ev/chatty",
    title: "Chatty",
    description: "Reports progress between outputs.",
    categories: ["test"],
    input: Schema.Struct({}),
    output: Schema.Struct({ v: Schema.Number }),
    *run(_, ctx) {
      ctx.progress("p1")
      yield ["v", 1] as const
      ctx.progress({ token: "p2" })
      ctx.progress("p3")
      yield ["v", 2] as const
      ctx.progress("p4")
    },
  })

  it("W5: ctx.progress emits NodeProgress events with afterSeq and no seq, which the store does not keep", async () => {
    const { result, events, stored } = await observe(graph([["c", "ev/chatty"]]), [Chatty], () => {})
    const progress = events.filter((e): e is NodeProgressEvent => e.type === "NodeProgress")
    expect(progress.map((e) => e.delta)).toEqual(["p1", { token: "p2" }, "p3", "p4"])
    for (const event of progress) {
      expect(event).not.toHaveProperty("seq")
      expect(event).toMatchObject({ runId: result.runId, nodeId: "c", executionId: `${result.runId}.1` })
      expect(typeof event.afterSeq).toBe("number")
    }
    expect(stored.some((e) => (e.type as string) === "NodeProgress")).toBe(false)
    expect(stored).toEqual(persisted(events))
    expect(seqs(events)).toEqual(range(stored.length))
  })

  it("W5: a progress event arrives in the order it happened: right after the persisted event its afterSeq names", async () => {
    const { events } = await observe(graph([["c", "ev/chatty"]]), [Chatty], () => {})
    const trace = events.flatMap((e) =>
      e.type === "NodeProgress"
        ? [`progress ${JSON.stringify(e.delta)}`]
        : e.type === "NodeOutput"
          ? [`output ${String(e.value)}`]
          : e.type === "NodeStatus"
            ? [e.status]
            : [],
    )
    expect(trace).toEqual([
      "QUEUED",
      "RUNNING",
      'progress "p1"',
      "output 1",
      'progress {"token":"p2"}',
      'progress "p3"',
      "output 2",
      'progress "p4"',
      "COMPLETED",
    ])
    // afterSeq names the last persisted event before it in the stream.
    let lastSeq = 0
    for (const event of events) {
      if (event.type === "NodeProgress") expect(event.afterSeq).toBe(lastSeq)
      else lastSeq = event.seq
    }
    const outputSeq = (value: number) =>
      persisted(events).find((e) => e.type === "NodeOutput" && e.nodeId === "c" && e.value === value)?.seq ??
      -1
    const progress = events.filter((e): e is NodeProgressEvent => e.type === "NodeProgress")
    expect(progress.map((e) => e.afterSeq)).toEqual([
      outputSeq(1) - 1,
      outputSeq(1),
      outputSeq(1),
      outputSeq(2),
    ])
  })
})

describe("W6: sequence numbers", () => {
  const fanOut = graph(
    [
      ["in", "t/input", { name: "items" }],
      ["each", "t/each"],
      ["a", "t/pass"],
      ["b", "t/sleep", { ms: 3 }],
      ["out", "t/output", { name: "out" }],
    ],
    [
      "in.result -> each.items",
      "each.item -> a.value",
      "each.item -> b.value",
      "a.value -> out.value",
      "b.value -> out.value",
    ],
  )

  it("W6: a fan-out run's persisted events are numbered 1..n with no gap and no repeat, and the store holds exactly them", async () => {
    const { result, events, store } = await execute(fanOut, { inputs: { items: [1, 2, 3, 4] } })
    expect(result.status).toBe("COMPLETED")
    const n = persisted(events).length
    expect(n).toBeGreaterThan(40)
    expect(seqs(events)).toEqual(range(n))
    expect(new Set(events.map((e) => e.runId))).toEqual(new Set([result.runId]))
    const stored = await Effect.runPromise(store.events(result.runId, 0))
    expect(stored).toEqual(persisted(events))
    expect((await Effect.runPromise(store.load(result.runId))).run.lastSeq).toBe(n)
    expect(nodeStatuses(events).filter((e) => e.status === "COMPLETED")).toHaveLength(1 + 1 + 4 + 4 + 8)
  })

  it("W6: executor.events(runId, k) replays exactly the events with seq > k", async () => {
    const h = harness()
    const { result, events } = await execute(fanOut, { harness: h, inputs: { items: [1, 2] } })
    const all = persisted(events)
    const n = all.length
    for (const k of [0, 1, 2, Math.floor(n / 2), n - 1, n, n + 5]) {
      const replay = await h.run(
        Effect.gen(function* () {
          const executor = yield* Executor
          return yield* Stream.runCollect(executor.events(result.runId, k))
        }),
      )
      expect(replay).toEqual(all.filter((e) => e.seq > k))
    }
  })

  it("W6: a subscriber that joins mid-run from seq k gets the replay then the live events, without loss or duplicates", async () => {
    const released = gate()
    const Gated = Block.make({
      id: "ev/gated-once",
      title: "Gated",
      description: "Yields, waits, yields.",
      categories: ["test"],
      input: Schema.Struct({}),
      output: Schema.Struct({ v: Schema.Number }),
      async *run() {
        yield ["v", 1] as const
        await released.promise
        yield ["v", 2] as const
      },
    })
    const g = graph(
      [
        ["src", "ev/gated-once"],
        ["next", "t/pass"],
      ],
      ["src.v -> next.value"],
    )
    const h = rulesHarness({ extra: [Gated] })
    const { late, early, stored } = await within(
      h.run(
        Effect.gen(function* () {
          const executor = yield* Executor
          const handle = yield* executor.start(g)
          // Wait until the first output has been published.
          const early = yield* Stream.runCollect(
            handle.events.pipe(Stream.takeUntil((e) => e.type === "NodeOutput" && e.nodeId === "src")),
          )
          const lateFiber = yield* Effect.forkChild(Stream.runCollect(executor.events(handle.runId, 2)))
          yield* Effect.yieldNow
          released.open()
          const late = yield* Fiber.join(lateFiber)
          yield* handle.await
          const stored = yield* h.store.events(handle.runId, 0)
          return { late, early, stored }
        }),
      ),
      5000,
      "the gated run",
    )
    expect(seqs(early).at(-1)).toBeGreaterThan(2)
    expect(late).toEqual(stored.filter((e) => e.seq > 2))
    expect(seqs(late)).toEqual(range(stored.length).slice(2))
  })

  it("W6: the in-memory store refuses a batch that would leave a gap or repeat a seq, and applies nothing of it", async () => {
    const store = makeMemory()
    const run: RunRecord = {
      id: "r",
      graph: graph([]),
      inputs: {},
      status: "RUNNING",
      createdAt: 0,
      updatedAt: 0,
      outputs: {},
      cost: 0,
      lastSeq: 0,
      options: {},
    }
    const event = (seq: number): PersistedEvent => ({
      type: "RunStatus",
      runId: "r",
      seq,
      at: 0,
      status: "RUNNING",
      graphId: "g",
    })
    const commit = (seqList: ReadonlyArray<number>, withRun = false) =>
      Effect.runPromise(
        Effect.result(
          store.commit("r", {
            ...(withRun ? { run } : {}),
            executions: [],
            outputs: [],
            events: seqList.map(event),
          }),
        ),
      )
    const stored = async () => (await Effect.runPromise(store.events("r", 0))).map((e) => e.seq)

    expect((await commit([2], true))._tag).toBe("Failure")
    expect((await commit([1, 2], true))._tag).toBe("Success")
    const gap = await commit([4])
    expect(gap._tag).toBe("Failure")
    if (gap._tag === "Failure") expect(gap.failure).toBeInstanceOf(StoreError)
    expect((await commit([3, 5]))._tag).toBe("Failure")
    expect((await commit([2]))._tag).toBe("Failure")
    expect((await commit([3, 3]))._tag).toBe("Failure")
    expect(await stored()).toEqual([1, 2])
    expect((await commit([3, 4]))._tag).toBe("Success")
    expect(await stored()).toEqual([1, 2, 3, 4])
    expect((await Effect.runPromise(store.events("r", 3))).map((e) => e.seq)).toEqual([4])
    expect((await Effect.runPromise(store.load("r"))).run.lastSeq).toBe(4)
  })
})

describe("W9: cost", () => {
  const Priced = Block.make({
    id: "ev/priced",
    title: "Priced",
    description: "Costs 2, plus what it reports.",
    categories: ["test"],
    cost: 2,
    input: Schema.Struct({ extra: Schema.Array(Schema.Number) }),
    output: Schema.Struct({ ok: Schema.Boolean }),
    run: ({ extra }, ctx) => {
      for (const amount of extra) ctx.reportCost(amount)
      return { ok: true }
    },
  })
  const PerItem = Block.make({
    id: "ev/per-item",
    title: "Per item",
    description: "Costs 10 per unit of n.",
    categories: ["test"],
    cost: ({ n }) => n * 10,
    input: Schema.Struct({ n: Schema.Number }),
    output: Schema.Struct({ n: Schema.Number }),
    run: ({ n }) => ({ n }),
  })
  const blocks = [Priced, PerItem]

  it("W9: a block's cost (number or function of its input) plus what it reports is summed per execution and per run", async () => {
    const g = graph(
      [
        ["priced", "ev/priced", { extra: [0.5, 0.25] }],
        ["count", "t/count", { count: 3 }],
        ["per", "ev/per-item"],
        ["free", "t/pass", { value: 1 }],
      ],
      ["count.n -> per.n"],
    )
    const { result, events, stored } = await observe(g, blocks, () => {})
    const costOf = (nodeId: string) =>
      nodeStatuses(events)
        .filter((e) => e.nodeId === nodeId && e.status === "COMPLETED")
        .map((e) => e.cost)
    expect(costOf("priced")).toEqual([2.75])
    expect(costOf("per")).toEqual([10, 20, 30])
    expect(costOf("free")).toEqual([undefined])
    expect(result.cost).toBe(62.75)
    expect(stored.at(-1)).toMatchObject({ type: "RunStatus", status: "COMPLETED", cost: 62.75 })
  })

  it("W9: the execution and run records in the store carry the same costs", async () => {
    const h = rulesHarness({ extra: blocks })
    const g = graph(
      [
        ["count", "t/count", { count: 2 }],
        ["per", "ev/per-item"],
      ],
      ["count.n -> per.n"],
    )
    const { result } = await execute(g, { harness: h })
    const snapshot = await Effect.runPromise(h.store.load(result.runId))
    expect(snapshot.executions.filter((e) => e.nodeId === "per").map((e) => e.cost)).toEqual([10, 20])
    expect(snapshot.run.cost).toBe(30)
    expect(result.cost).toBe(30)
  })

  it("W9 R14: a run whose cost passes its budget fails: what ran is kept, what waited is stopped", async () => {
    const g = graph(
      [
        ["count", "t/count", { count: 5 }],
        ["per", "ev/per-item"],
      ],
      ["count.n -> per.n"],
    )
    // Costs 10, 20, 30, … : the sum passes 55 at the third execution (60).
    const h = rulesHarness({ extra: blocks })
    const { result, events } = await execute(g, { harness: h, budget: 55, maxConcurrency: 1 })
    expect(result.status).toBe("FAILED")
    expect(result.cost).toBe(60)
    expect(result.error).toBe("cost budget 55 exceeded (spent 60)")
    const per = executionsOf(events, "per")
    expect(per.map((e) => e.statuses.at(-1))).toEqual([
      "COMPLETED",
      "COMPLETED",
      "COMPLETED",
      "FAILED",
      "FAILED",
    ])
    expect(per.slice(3).map((e) => e.error)).toEqual([
      "stopped: the run's cost budget was exceeded",
      "stopped: the run's cost budget was exceeded",
    ])
    expect(per.slice(3).every((e) => !e.statuses.includes("RUNNING"))).toBe(true)
    expect(events.at(-1)).toMatchObject({ type: "RunStatus", status: "FAILED", cost: 60 })
  })

  it("W9: a run that spends exactly its budget completes", async () => {
    const g = graph(
      [
        ["count", "t/count", { count: 3 }],
        ["per", "ev/per-item"],
      ],
      ["count.n -> per.n"],
    )
    const { result } = await execute(g, { harness: rulesHarness({ extra: blocks }), budget: 60 })
    expect(result.status).toBe("COMPLETED")
    expect(result.cost).toBe(60)
  })
})
