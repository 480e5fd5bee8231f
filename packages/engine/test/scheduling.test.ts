import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Block, DynamicPins, type RunEvent } from "../src/index.js"
import { executionsOf, nodeStatuses, rulesHarness } from "./rules-support.js"
import { countStatus, execute, graph, outputsOf } from "./support.js"

const run = (g: Parameters<typeof execute>[0], options: Parameters<typeof execute>[1] = {}) =>
  execute(g, { harness: rulesHarness(), ...options })

/** `Emit` yielding the given pairs, as a node. */
const emit = (id: string, pairs: ReadonlyArray<readonly [string, unknown]>) =>
  [id, "r/emit", { pairs: pairs.map(([pin, value]) => [pin, value]) }] as const

/** The `[a, b]` inputs of a Pair node's executions, in creation order. */
const pairsOf = (events: ReadonlyArray<RunEvent>, nodeId: string) =>
  executionsOf(events, nodeId).map((e) => [e.inputs?.a, e.inputs?.b])

/** The seq of the first event matching `predicate`. */
const seqOf = (events: ReadonlyArray<RunEvent>, predicate: (e: RunEvent) => boolean): number => {
  const found = events.find(predicate)
  if (found === undefined || found.type === "NodeProgress") throw new Error("no such event")
  return found.seq
}

describe("R6: start executions", () => {
  it("R6: the run starts every input node and every node with no incoming link, and nothing else", async () => {
    const g = graph(
      [
        ["in", "t/input", { name: "x" }],
        ["k", "t/const", { value: 1 }],
        ["note", "t/note", { text: "never runs" }],
        ["p", "t/pass"],
        ["q", "t/pass"],
      ],
      ["in.result -> p.value", "k.value -> q.value"],
    )
    const { result, events } = await run(g, { inputs: { x: "hi" } })
    expect(result.status).toBe("COMPLETED")
    // The start executions are queued in the run's first batch, before anything runs.
    const firstRunning = seqOf(events, (e) => e.type === "NodeStatus" && e.status === "RUNNING")
    const queuedFirst = nodeStatuses(events)
      .filter((e) => e.status === "QUEUED" && e.seq < firstRunning)
      .map((e) => e.nodeId)
    expect(queuedFirst).toEqual(["in", "k"])
    expect(events[0]).toMatchObject({ type: "RunStatus", status: "RUNNING", seq: 1 })
    expect(executionsOf(events, "p").map((e) => e.inputs)).toEqual([{ value: "hi" }])
    expect(executionsOf(events, "q").map((e) => e.inputs)).toEqual([{ value: 1 }])
  })

  it("R6: note nodes never run, even with no incoming link or when a value is routed to them", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: "to a note" }],
        ["note1", "t/note"],
        ["note2", "t/note"],
      ],
      ["k.value -> note2.text"],
    )
    const { result, events, store } = await run(g)
    expect(result.status).toBe("COMPLETED")
    expect(countStatus(events, "k", "COMPLETED")).toBe(1)
    expect(events.filter((e) => "nodeId" in e && e.nodeId.startsWith("note"))).toEqual([])
    const snapshot = await Effect.runPromise(store.load(result.runId))
    expect(snapshot.executions.map((e) => e.nodeId)).toEqual(["k"])
  })

  it("R6: an input node receives {value: inputs[name]} on top of its defaults", async () => {
    const g = graph(
      [
        ["given", "t/input", { name: "given", value: "default" }],
        ["absent", "t/input", { name: "absent", value: "default" }],
        ["out1", "t/output", { name: "given" }],
        ["out2", "t/output", { name: "absent" }],
      ],
      ["given.result -> out1.value", "absent.result -> out2.value"],
    )
    const { result, events } = await run(g, { inputs: { given: { deep: ["run input"] } } })
    expect(executionsOf(events, "given")[0]?.inputs).toEqual({
      name: "given",
      value: { deep: ["run input"] },
    })
    expect(executionsOf(events, "absent")[0]?.inputs).toEqual({ name: "absent", value: "default" })
    expect(result.outputs).toEqual({ given: [{ deep: ["run input"] }], absent: ["default"] })
  })
  it("R6 R8: an input node's start execution gets the run input; executions made by a link into it keep the linked value", async () => {
    const g = graph(
      [
        ["k", "t/each", { items: ["linked 1", "linked 2"] }],
        ["in", "t/input", { name: "x" }],
        ["out", "t/output", { name: "x" }],
      ],
      ["k.item -> in.value", "in.result -> out.value"],
    )
    const { result, events } = await run(g, { inputs: { x: "run input" } })
    expect(executionsOf(events, "in").map((e) => e.inputs)).toEqual([
      { name: "x", value: "run input" },
      { name: "x", value: "linked 1" },
      { name: "x", value: "linked 2" },
    ])
    expect(result.outputs).toEqual({ x: ["run input", "linked 1", "linked 2"] })
  })
})

describe("R7: values pair up FIFO", () => {
  it("R7: N values on one pin make N executions, one value each", async () => {
    const g = graph(
      [
        ["each", "t/each", { items: ["a", "b", "c", "d", "e"] }],
        ["p", "t/pass"],
      ],
      ["each.item -> p.value"],
    )
    const { events } = await run(g)
    const p = executionsOf(events, "p")
    expect(p.map((e) => e.inputs)).toEqual([
      { value: "a" },
      { value: "b" },
      { value: "c" },
      { value: "d" },
      { value: "e" },
    ])
    expect(p.map((e) => e.statuses.join())).toEqual(Array(5).fill("QUEUED,RUNNING,COMPLETED"))
  })

  it("R7: values on different pins pair up FIFO: a gets 1,2,3 and b gets 10,20,30 → (1,10),(2,20),(3,30)", async () => {
    const g = graph(
      [
        ["as", "t/each", { items: [1, 2, 3] }],
        ["bs", "t/each", { items: [10, 20, 30] }],
        ["pair", "t/pair"],
        ["out", "t/output", { name: "pairs" }],
      ],
      ["as.item -> pair.a", "bs.item -> pair.b", "pair.pair -> out.value"],
    )
    const { result, events } = await run(g)
    expect(pairsOf(events, "pair")).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ])
    expect([...(result.outputs.pairs ?? [])].sort()).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ])
  })

  const orders: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, unknown]>]> = [
    [
      "all a first",
      [
        ["a", 1],
        ["a", 2],
        ["a", 3],
        ["b", 10],
        ["b", 20],
        ["b", 30],
      ],
    ],
    [
      "all b first",
      [
        ["b", 10],
        ["b", 20],
        ["b", 30],
        ["a", 1],
        ["a", 2],
        ["a", 3],
      ],
    ],
    [
      "interleaved",
      [
        ["a", 1],
        ["a", 2],
        ["b", 10],
        ["b", 20],
        ["b", 30],
        ["a", 3],
      ],
    ],
    [
      "alternating",
      [
        ["b", 10],
        ["a", 1],
        ["a", 2],
        ["b", 20],
        ["a", 3],
        ["b", 30],
      ],
    ],
  ]
  for (const [name, pairs] of orders) {
    it(`R7: FIFO pairing holds whatever the arrival order (${name})`, async () => {
      const g = graph([emit("src", pairs), ["pair", "t/pair"]], ["src.a -> pair.a", "src.b -> pair.b"])
      const { events } = await run(g)
      expect(pairsOf(events, "pair")).toEqual([
        [1, 10],
        [2, 20],
        [3, 30],
      ])
      expect(countStatus(events, "pair", "COMPLETED")).toBe(3)
    })
  }

  it("R7: a value goes to the oldest incomplete execution lacking that pin; the rest wait with their own values", async () => {
    const g = graph(
      [
        emit("src", [
          ["a", 1],
          ["a", 2],
          ["a", 3],
          ["b", 10],
        ]),
        ["pair", "t/pair"],
      ],
      ["src.a -> pair.a", "src.b -> pair.b"],
    )
    const { result, events, store } = await run(g)
    expect(pairsOf(events, "pair")).toEqual([[1, 10]])
    const snapshot = await Effect.runPromise(store.load(result.runId))
    const pairs = snapshot.executions.filter((e) => e.nodeId === "pair")
    expect(pairs.map((e) => [e.status, e.inputs])).toEqual([
      ["COMPLETED", { a: 1, b: 10 }],
      ["INCOMPLETE", { a: 2 }],
      ["INCOMPLETE", { a: 3 }],
    ])
  })
})

describe("R8: readiness and defaults", () => {
  it("R8: a default never satisfies a linked pin: the execution waits for a linked value and never runs", async () => {
    const g = graph(
      [
        emit("src", [
          ["a", 1],
          ["a", 2],
        ]),
        ["add", "t/add", { a: 0, b: 100 }],
      ],
      ["src.a -> add.a", "src.b -> add.b"],
    )
    const { result, events, store } = await run(g)
    expect(result.status).toBe("COMPLETED")
    expect(executionsOf(events, "add")).toEqual([])
    const snapshot = await Effect.runPromise(store.load(result.runId))
    expect(snapshot.executions.filter((e) => e.nodeId === "add").map((e) => [e.status, e.inputs])).toEqual([
      ["INCOMPLETE", { a: 1 }],
      ["INCOMPLETE", { a: 2 }],
    ])
  })

  it("R8: when ready, defaults are merged under the linked values", async () => {
    const g = graph(
      [
        emit("src", [["a", "linked"]]),
        ["echo", "t/echo", { x: "default x", y: "default y", z: { deep: true } }],
      ],
      ["src.a -> echo.y"],
    )
    const { events } = await run(g)
    const expected = { x: "default x", y: "linked", z: { deep: true } }
    expect(executionsOf(events, "echo")[0]?.inputs).toEqual(expected)
    expect(outputsOf(events, "echo", "input")).toEqual([expected])
  })

  it("R8 R11: dynamic pins are assembled on top of a default for their base pin, then the result is decoded", async () => {
    const g = graph(
      [emit("src", [["a", 2]]), ["g", "r/gather", { values: { kept: 1, replaced: 0 } }]],
      ["src.a -> g.values_#_replaced"],
    )
    const { events } = await run(g)
    expect(outputsOf(events, "g", "input")).toEqual([{ values: { kept: 1, replaced: 2 } }])
  })
})

describe("R9: static links", () => {
  const staticPairs = (events: ReadonlyArray<RunEvent>) =>
    pairsOf(events, "pair").map(([a, b]) => `${String(a)}${String(b)}`)

  it("R9: three values on a plus one static b give three executions when b arrives first", async () => {
    const g = graph(
      [
        ["late", "t/sleep", { ms: 30, value: [1, 2, 3] }],
        ["as", "t/each"],
        ["bs", "t/static-const", { value: "B" }],
        ["pair", "t/pair"],
      ],
      ["late.value -> as.items", "as.item -> pair.a", "bs.value -> pair.b"],
    )
    const { events } = await run(g)
    const bSeq = seqOf(events, (e) => e.type === "NodeOutput" && e.nodeId === "bs")
    const firstA = seqOf(events, (e) => e.type === "NodeOutput" && e.nodeId === "as")
    expect(bSeq).toBeLessThan(firstA)
    expect(staticPairs(events)).toEqual(["1B", "2B", "3B"])
    expect(countStatus(events, "pair", "COMPLETED")).toBe(3)
  })

  it("R9: three values on a plus one static b give three executions when the a values arrive first", async () => {
    const g = graph(
      [
        ["as", "t/each", { items: [1, 2, 3] }],
        ["late", "t/sleep", { ms: 30, value: "B" }],
        ["bs", "t/static-const"],
        ["pair", "t/pair"],
      ],
      ["late.value -> bs.value", "as.item -> pair.a", "bs.value -> pair.b"],
    )
    const { events } = await run(g)
    const bSeq = seqOf(events, (e) => e.type === "NodeOutput" && e.nodeId === "bs")
    const as = outputsOf(events, "as", "item")
    expect(as).toEqual([1, 2, 3])
    expect(bSeq).toBeGreaterThan(
      seqOf(events, (e) => e.type === "NodeOutput" && e.nodeId === "as" && e.value === 3),
    )
    expect(staticPairs(events)).toEqual(["1B", "2B", "3B"])
    expect(countStatus(events, "pair", "COMPLETED")).toBe(3)
  })

  for (const [name, pairs] of [
    [
      "b first",
      [
        ["b", "B"],
        ["a", 1],
        ["a", 2],
        ["a", 3],
      ],
    ],
    [
      "b last",
      [
        ["a", 1],
        ["a", 2],
        ["a", 3],
        ["b", "B"],
      ],
    ],
    [
      "b in between",
      [
        ["a", 1],
        ["b", "B"],
        ["a", 2],
        ["a", 3],
      ],
    ],
  ] as const) {
    it(`R9: a link marked isStatic is static too (${name}): three executions`, async () => {
      const g = graph([emit("src", pairs), ["pair", "t/pair"]], ["src.a -> pair.a", "src.b => pair.b"])
      const { events, result, store } = await run(g)
      expect(staticPairs(events)).toEqual(["1B", "2B", "3B"])
      const snapshot = await Effect.runPromise(store.load(result.runId))
      expect(snapshot.executions.filter((e) => e.nodeId === "pair").map((e) => e.status)).toEqual([
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
      ])
    })

    it(`R9 R12: a non-static value is consumed exactly once (${name}): one execution, the others stay INCOMPLETE`, async () => {
      const g = graph([emit("src", pairs), ["pair", "t/pair"]], ["src.a -> pair.a", "src.b -> pair.b"])
      const { events, result, store } = await run(g)
      expect(staticPairs(events)).toEqual(["1B"])
      const snapshot = await Effect.runPromise(store.load(result.runId))
      expect(snapshot.executions.filter((e) => e.nodeId === "pair").map((e) => [e.status, e.inputs])).toEqual(
        [
          ["COMPLETED", { a: 1, b: "B" }],
          ["INCOMPLETE", { a: 2 }],
          ["INCOMPLETE", { a: 3 }],
        ],
      )
    })
  }

  it("R9: a new static value replaces the old one for later executions only", async () => {
    const g = graph(
      [
        emit("src", [
          ["b", "B1"],
          ["a", 1],
          ["b", "B2"],
          ["a", 2],
          ["a", 3],
        ]),
        ["pair", "t/pair"],
      ],
      ["src.a -> pair.a", "src.b => pair.b"],
    )
    const { events } = await run(g)
    expect(staticPairs(events)).toEqual(["1B1", "2B2", "3B2"])
  })
})

describe("R10: outputs are routed in yield order", () => {
  it("R10: each output is routed in full (to every sink) before the next output of the same node", async () => {
    const g = graph(
      [
        ["each", "t/each", { items: [1, 2, 3] }],
        ["p", "t/pass"],
        ["q", "t/pass"],
      ],
      ["each.item -> p.value", "each.item -> q.value"],
    )
    const { events } = await run(g)
    const trace = events.flatMap((e) => {
      if (e.type === "NodeOutput" && e.nodeId === "each") return [`out ${String(e.value)}`]
      if (e.type === "NodeStatus" && e.status === "QUEUED" && e.nodeId !== "each")
        return [`${e.nodeId} ${String(e.inputs?.value)}`]
      return []
    })
    expect(trace).toEqual(["out 1", "p 1", "q 1", "out 2", "p 2", "q 2", "out 3", "p 3", "q 3"])
  })

  it("R10: values are routed in yield order while downstream executions run concurrently and finish out of order", async () => {
    const g = graph(
      [
        [
          "each",
          "t/each",
          {
            items: [
              { ms: 60, value: 1 },
              { ms: 5, value: 2 },
              { ms: 30, value: 3 },
            ],
          },
        ],
        ["sleep", "t/sleep"],
        ["out", "t/output", { name: "done" }],
      ],
      ["each.item_#_ms -> sleep.ms", "each.item_#_value -> sleep.value", "sleep.value -> out.value"],
    )
    const { result, events } = await run(g)
    const sleeps = executionsOf(events, "sleep")
    expect(sleeps.map((e) => e.inputs)).toEqual([
      { ms: 60, value: 1 },
      { ms: 5, value: 2 },
      { ms: 30, value: 3 },
    ])
    // All three were running at once, so they finished in order of their delays.
    expect(outputsOf(events, "sleep", "value")).toEqual([2, 3, 1])
    expect(result.outputs).toEqual({ done: [2, 3, 1] })
    const running = nodeStatuses(events).filter((e) => e.nodeId === "sleep" && e.status === "RUNNING")
    const firstDone = seqOf(
      events,
      (e) => e.type === "NodeStatus" && e.nodeId === "sleep" && e.status === "COMPLETED",
    )
    expect(running.every((e) => e.seq < firstDone)).toBe(true)
  })
})

describe("R11: dynamic pins", () => {
  it("R11: sink pins values_#_k, items_$_i and obj_@_a assemble a dict, a list and an object", async () => {
    const g = graph(
      [
        emit("src", [
          ["a", "A"],
          ["b", "B"],
          ["c", "C"],
        ]),
        ["g", "r/gather"],
      ],
      [
        "src.a -> g.values_#_x",
        "src.b -> g.values_#_y",
        "src.b -> g.items_$_1",
        "src.a -> g.items_$_0",
        "src.c -> g.items_$_2_#_deep",
        "src.c -> g.obj_@_name",
      ],
    )
    const { events } = await run(g)
    const [gather] = executionsOf(events, "g")
    expect(gather?.inputs).toEqual({
      values: { x: "A", y: "B" },
      items: ["A", "B", { deep: "C" }],
      obj: { name: "C" },
    })
    expect(countStatus(events, "g", "COMPLETED")).toBe(1)
  })

  it("R11: every dynamic sink pin is awaited on its own: with one missing the execution never runs", async () => {
    const g = graph(
      [
        emit("src", [
          ["a", "A"],
          ["a", "A2"],
        ]),
        ["g", "r/gather"],
      ],
      ["src.a -> g.values_#_x", "src.b -> g.values_#_y"],
    )
    const { events } = await run(g)
    expect(executionsOf(events, "g")).toEqual([])
  })

  it("R11: a source pin with a suffix selects the sub-value of the output", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: { key: { list: [7, 8, 9] }, other: 1 } }],
        ["p", "t/pass"],
        ["q", "t/pass"],
        ["r", "t/pass"],
      ],
      ["k.value_#_key -> p.value", "k.value_#_key_#_list_$_1 -> q.value", "k.value_@_other -> r.value"],
    )
    const { events } = await run(g)
    expect(executionsOf(events, "p").map((e) => e.inputs)).toEqual([{ value: { list: [7, 8, 9] } }])
    expect(executionsOf(events, "q").map((e) => e.inputs)).toEqual([{ value: 8 }])
    expect(executionsOf(events, "r").map((e) => e.inputs)).toEqual([{ value: 1 }])
  })

  it("R11: a source pin whose sub-value is absent routes nothing, and creates no execution", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: { other: 1, list: [1] } }],
        ["p", "t/pass"],
        ["q", "t/pass"],
        ["whole", "t/pass"],
      ],
      ["k.value_#_key -> p.value", "k.value_#_list_$_5 -> q.value", "k.value -> whole.value"],
    )
    const { result, events, store } = await run(g)
    expect(result.status).toBe("COMPLETED")
    expect(executionsOf(events, "p")).toEqual([])
    expect(executionsOf(events, "q")).toEqual([])
    expect(countStatus(events, "whole", "COMPLETED")).toBe(1)
    const snapshot = await Effect.runPromise(store.load(result.runId))
    expect(snapshot.executions.filter((e) => e.nodeId === "p" || e.nodeId === "q")).toEqual([])
  })
})

describe("R11: DynamicPins", () => {
  it("R11: baseName is the part before the first delimiter", () => {
    expect(DynamicPins.baseName("values")).toBe("values")
    expect(DynamicPins.baseName("values_#_x")).toBe("values")
    expect(DynamicPins.baseName("items_$_3")).toBe("items")
    expect(DynamicPins.baseName("obj_@_a_#_b_$_0")).toBe("obj")
    expect(DynamicPins.baseName("snake_case_name")).toBe("snake_case_name")
    expect(DynamicPins.isDynamic("snake_case_name")).toBe(false)
    expect(DynamicPins.isDynamic("a_#_b")).toBe(true)
  })

  it("R11: parsePin splits nested paths", () => {
    expect(DynamicPins.parsePin("a_#_k_$_2_@_attr")).toEqual({
      base: "a",
      path: [
        { kind: "dict", key: "k" },
        { kind: "list", index: 2 },
        { kind: "attr", key: "attr" },
      ],
    })
    expect(DynamicPins.parsePin("plain")).toEqual({ base: "plain", path: [] })
  })

  it("R11: parsePin refuses __proto__ and friends, non-numeric and huge list indexes", () => {
    for (const pin of ["values_#___proto__", "obj_@_constructor", "a_#_ok_#_prototype"])
      expect(DynamicPins.parsePin(pin)).toMatch(/is not allowed/)
    for (const pin of ["items_$_x", "items_$_-1", "items_$_1.5", "items_$_"])
      expect(DynamicPins.parsePin(pin)).toMatch(/not a non-negative integer/)
    expect(DynamicPins.parsePin("items_$_100001")).toMatch(/larger than/)
  })

  it("R11: assemble builds dicts, lists (in numeric index order, gaps as null) and objects, over plain keys", () => {
    expect(
      DynamicPins.assemble({
        items_$_10: "k",
        items_$_2: "c",
        items_$_0: "a",
        "values_#_x": 1,
        values: { kept: true },
        "obj_@_a_#_b": 2,
        plain: "p",
      }),
    ).toEqual({
      items: ["a", null, "c", null, null, null, null, null, null, null, "k"],
      values: { kept: true, x: 1 },
      obj: { a: { b: 2 } },
      plain: "p",
    })
  })

  it("R11: assemble skips unusable names and never touches Object.prototype", () => {
    const assembled = DynamicPins.assemble({ "x_#___proto__": { polluted: true }, y_$_nope: 1, z: 1 })
    expect(assembled).toEqual({ z: 1 })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("R11: select reads a sub-value and gives undefined when it is absent", () => {
    const value = { a: [{ b: 1 }], own: 2 }
    const path = (pin: string) => {
      const parsed = DynamicPins.parsePin(pin)
      if (typeof parsed === "string") throw new Error(parsed)
      return parsed.path
    }
    expect(DynamicPins.select(value, path("v_#_a_$_0_@_b"))).toBe(1)
    expect(DynamicPins.select(value, path("v_#_a_$_1"))).toBeUndefined()
    expect(DynamicPins.select(value, path("v_#_toString"))).toBeUndefined()
    expect(DynamicPins.select(value, path("v_$_0"))).toBeUndefined()
  })
})

describe("R12: never-ready executions", () => {
  it("R12: executions that never become ready stay INCOMPLETE, never run, and contribute no outputs", async () => {
    const g = graph(
      [
        emit("src", [
          ["a", 1],
          ["a", 2],
          ["b", 10],
          ["a", 3],
        ]),
        ["pair", "t/pair"],
        ["out", "t/output", { name: "pairs" }],
      ],
      ["src.a -> pair.a", "src.b -> pair.b", "pair.pair -> out.value"],
    )
    const { result, events, store } = await run(g)
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ pairs: [[1, 10]] })
    const snapshot = await Effect.runPromise(store.load(result.runId))
    const pairs = snapshot.executions.filter((e) => e.nodeId === "pair")
    expect(pairs.map((e) => [e.status, e.outputCount, e.startedAt === undefined])).toEqual([
      ["COMPLETED", 1, false],
      ["INCOMPLETE", 0, true],
      ["INCOMPLETE", 0, true],
    ])
    const incomplete = new Set(pairs.filter((e) => e.status === "INCOMPLETE").map((e) => e.id))
    expect(events.filter((e) => "executionId" in e && incomplete.has(e.executionId))).toEqual([])
    expect(snapshot.outputs.filter((o) => incomplete.has(o.executionId))).toEqual([])
  })
})

describe("cycles", () => {
  it("R4 R7: a loop that counts down to 0 terminates with one execution per step", async () => {
    const g = graph(
      [
        ["in", "t/number-input", { name: "n" }],
        ["pos", "r/positive"],
        ["dec", "r/decrement"],
        ["out", "t/output", { name: "landed" }],
      ],
      ["in.result -> pos.value", "pos.yes -> dec.value", "dec.value -> pos.value", "pos.no -> out.value"],
    )
    const { result, events } = await run(g, { inputs: { n: 5 } })
    expect(result.status).toBe("COMPLETED")
    expect(executionsOf(events, "pos").map((e) => e.inputs?.value)).toEqual([5, 4, 3, 2, 1, 0])
    expect(executionsOf(events, "dec").map((e) => e.inputs?.value)).toEqual([5, 4, 3, 2, 1])
    expect(countStatus(events, "pos", "COMPLETED")).toBe(6)
    expect(countStatus(events, "dec", "COMPLETED")).toBe(5)
    expect(result.outputs).toEqual({ landed: [0] })
  })

  it("R4 R7: a node linked to itself runs once per value it feeds itself", async () => {
    const CountDown = Block.make({
      id: "s/count-down",
      title: "Count down",
      description: "Yields value - 1 on next while value > 0, else done.",
      categories: ["test"],
      input: Schema.Struct({ value: Schema.Number }),
      output: Schema.Struct({ next: Schema.Number, done: Schema.Number }),
      run: ({ value }) => (value > 0 ? { next: value - 1 } : { done: value }),
    })
    const g = graph(
      [
        ["in", "t/number-input", { name: "n" }],
        ["cd", "s/count-down"],
        ["out", "t/output", { name: "done" }],
      ],
      ["in.result -> cd.value", "cd.next -> cd.value", "cd.done -> out.value"],
    )
    const { result, events } = await execute(g, {
      harness: rulesHarness({ extra: [CountDown] }),
      inputs: { n: 3 },
    })
    expect(result.status).toBe("COMPLETED")
    expect(executionsOf(events, "cd").map((e) => e.inputs?.value)).toEqual([3, 2, 1, 0])
    expect(outputsOf(events, "cd", "next")).toEqual([2, 1, 0])
    expect(result.outputs).toEqual({ done: [0] })
  })
})
