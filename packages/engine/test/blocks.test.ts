import { Effect, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Block } from "../src/index.js"
import { executionsOf, rulesHarness } from "./rules-support.js"
import { execute, graph, outputsOf } from "./support.js"

const Out = Schema.Struct({ v: Schema.Number, w: Schema.String })
const In = Schema.Struct({})

const shape = (id: string, run: Block.BlockOptions<typeof In.fields, typeof Out.fields>["run"]) =>
  Block.make({
    id: `b/${id}`,
    title: id,
    description: `Returns ${id}.`,
    categories: ["test"],
    input: In,
    output: Out,
    run,
  })

/** Shapes that yield pairs: the same pin several times, in order. */
const pairShapes = [
  shape("stream", () =>
    Stream.fromIterable([
      ["v", 1],
      ["w", "x"],
      ["v", 2],
      ["v", 3],
    ] as const),
  ),
  shape("async-generator", async function* () {
    yield ["v", 1] as const
    await new Promise((resolve) => setTimeout(resolve, 1))
    yield ["w", "x"] as const
    yield ["v", 2] as const
    await Promise.resolve()
    yield ["v", 3] as const
  }),
  shape("sync-generator", function* () {
    yield ["v", 1] as const
    yield ["w", "x"] as const
    yield ["v", 2] as const
    yield ["v", 3] as const
  }),
  shape("iterable", () => [["v", 1] as const, ["w", "x"] as const, ["v", 2] as const, ["v", 3] as const]),
]

/** Shapes that give one `{pin: value}` record: each key once, in key order. */
const recordShapes = [
  shape("record", () => ({ w: "x", v: 7 })),
  shape("promise", () => new Promise((resolve) => setTimeout(() => resolve({ w: "x", v: 7 }), 1))),
  shape("effect", () => Effect.succeed({ w: "x", v: 7 }).pipe(Effect.delay("1 millis"))),
]

const Nothing = shape("nothing", () => undefined)

const lifted = async (block: Block.AnyBlock) => {
  const g = graph(
    [
      ["src", block.id],
      ["pv", "t/pass"],
      ["pw", "t/pass"],
      ["out", "t/output", { name: "v" }],
    ],
    ["src.v -> pv.value", "src.w -> pw.value", "pv.value -> out.value"],
  )
  return execute(g, { harness: rulesHarness({ extra: [...pairShapes, ...recordShapes, Nothing] }) })
}

describe("R1: every return shape is lifted to the same sequence", () => {
  for (const block of pairShapes) {
    it(`R1: ${block.title} — every yielded pair is an output, in order, and each value makes one execution downstream`, async () => {
      const { result, events } = await lifted(block)
      expect(result.status).toBe("COMPLETED")
      const [src] = executionsOf(events, "src")
      expect(src?.statuses).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
      expect(src?.outputs).toEqual([
        ["v", 1],
        ["w", "x"],
        ["v", 2],
        ["v", 3],
      ])
      const pv = executionsOf(events, "pv")
      expect(pv.map((e) => e.inputs)).toEqual([{ value: 1 }, { value: 2 }, { value: 3 }])
      expect(pv.every((e) => e.statuses.join() === "QUEUED,RUNNING,COMPLETED")).toBe(true)
      expect(executionsOf(events, "pw").map((e) => e.inputs)).toEqual([{ value: "x" }])
      expect(result.outputs).toEqual({ v: [1, 2, 3] })
    })
  }

  for (const block of recordShapes) {
    it(`R1: ${block.title} of a {pin: value} record — each key is one output, in key order`, async () => {
      const { result, events } = await lifted(block)
      expect(result.status).toBe("COMPLETED")
      expect(executionsOf(events, "src")[0]?.outputs).toEqual([
        ["w", "x"],
        ["v", 7],
      ])
      expect(executionsOf(events, "pv").map((e) => e.inputs)).toEqual([{ value: 7 }])
      expect(result.outputs).toEqual({ v: [7] })
    })
  }

  it("R1: returning nothing completes the execution with no outputs", async () => {
    const { result, events } = await lifted(Nothing)
    expect(result.status).toBe("COMPLETED")
    const [src] = executionsOf(events, "src")
    expect(src?.statuses).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
    expect(src?.outputs).toEqual([])
    expect(executionsOf(events, "pv")).toEqual([])
    expect(result.outputs).toEqual({})
  })

  it("R1: one input pin consumes one value per execution, one output pin produces many", async () => {
    const g = graph(
      [
        ["count", "t/count", { count: 4 }],
        ["add", "t/add", { b: 100 }],
        ["out", "t/output", { name: "sums" }],
      ],
      ["count.n -> add.a", "add.sum -> out.value"],
    )
    const { result, events } = await execute(g)
    expect(outputsOf(events, "count", "n")).toEqual([1, 2, 3, 4])
    expect(executionsOf(events, "add").map((e) => e.inputs)).toEqual([
      { a: 1, b: 100 },
      { a: 2, b: 100 },
      { a: 3, b: 100 },
      { a: 4, b: 100 },
    ])
    expect(result.outputs).toEqual({ sums: [101, 102, 103, 104] })
  })
})

/** Yields `v` once, then the `error` pin. */
const YieldsError = Block.make({
  id: "b/yields-error",
  title: "Yields error",
  description: "Yields v, then error.",
  categories: ["test"],
  input: Schema.Struct({}),
  output: Schema.Struct({ v: Schema.Number }),
  *run() {
    yield ["v", 1] as const
    yield ["error", "bad thing"] as const
    yield ["v", 2] as const
  },
})

const Rejects = Block.make({
  id: "b/rejects",
  title: "Rejects",
  description: "A rejected promise.",
  categories: ["test"],
  input: Schema.Struct({}),
  output: Schema.Struct({ v: Schema.Number }),
  run: () => Promise.reject(new Error("promise rejected")),
})

const ErrorRecord = Block.make({
  id: "b/error-record",
  title: "Error record",
  description: "Returns a record with an error key.",
  categories: ["test"],
  input: Schema.Struct({}),
  output: Schema.Struct({ v: Schema.Number }),
  // `error` is not a declared pin, so the record's type does not allow it.
  run: () => Promise.resolve({ error: "from a record" } as unknown as { v: number }),
})

describe("R2: a failing block fails its execution, not the run", () => {
  const failing: ReadonlyArray<readonly [string, string, Record<string, unknown>, string]> = [
    ["throwing", "t/fail", { message: "it broke" }, "it broke"],
    ["Effect.fail", "t/effect-fail", {}, "effect failed"],
    ["a rejected promise", "b/rejects", {}, "promise rejected"],
    ["yielding on `error`", "b/yields-error", {}, "bad thing"],
    ["returning a record with an `error` key", "b/error-record", {}, "from a record"],
  ]
  for (const [how, blockId, defaults, message] of failing) {
    it(`R2: ${how} — the execution is FAILED, the message is its error output and routes along an error link; the run COMPLETES`, async () => {
      const g = graph(
        [
          ["bad", blockId, defaults],
          ["catch", "t/pass"],
          ["caught", "t/output", { name: "caught" }],
          ["fine", "t/const", { value: "still ran" }],
          ["ok", "t/output", { name: "ok" }],
        ],
        ["bad.error -> catch.value", "catch.value -> caught.value", "fine.value -> ok.value"],
      )
      const { result, events, store } = await execute(g, {
        harness: rulesHarness({ extra: [YieldsError, Rejects, ErrorRecord] }),
      })
      expect(result.status).toBe("COMPLETED")
      expect(result.error).toBeUndefined()
      const [bad] = executionsOf(events, "bad")
      expect(bad?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
      expect(bad?.error).toBe(message)
      expect(bad?.outputs.at(-1)).toEqual(["error", message])
      expect(executionsOf(events, "catch").map((e) => e.inputs)).toEqual([{ value: message }])
      expect(result.outputs).toEqual({ caught: [message], ok: ["still ran"] })
      const snapshot = await Effect.runPromise(store.load(result.runId))
      const record = snapshot.executions.find((e) => e.nodeId === "bad")
      expect(record?.status).toBe("FAILED")
      expect(record?.error).toBe(message)
      expect(snapshot.outputs.filter((o) => o.nodeId === "bad").map((o) => [o.pin, o.value])).toEqual(
        bad?.outputs,
      )
    })
  }

  it("R2: outputs yielded before the error pin are routed; nothing after it is", async () => {
    const g = graph(
      [
        ["bad", "b/yields-error"],
        ["pv", "t/pass"],
      ],
      ["bad.v -> pv.value"],
    )
    const { events } = await execute(g, { harness: rulesHarness({ extra: [YieldsError] }) })
    expect(executionsOf(events, "bad")[0]?.outputs).toEqual([
      ["v", 1],
      ["error", "bad thing"],
    ])
    expect(executionsOf(events, "pv").map((e) => e.inputs)).toEqual([{ value: 1 }])
  })

  it("R2: a failure with no error link still leaves the run COMPLETED, and downstream of the failed pin never runs", async () => {
    const g = graph(
      [
        ["bad", "t/fail", { message: "x" }],
        ["after", "t/pass"],
      ],
      ["bad.never -> after.value"],
    )
    const { result, events } = await execute(g)
    expect(result.status).toBe("COMPLETED")
    expect(executionsOf(events, "after")).toEqual([])
  })
})

const WrongType = Block.make({
  id: "b/wrong-type",
  title: "Wrong type",
  description: "Declares a number, yields a string.",
  categories: ["test"],
  input: Schema.Struct({}),
  output: Schema.Struct({ ok: Schema.Number, count: Schema.Number }),
  *run() {
    yield ["ok", 1] as const
    yield ["count", "three" as unknown as number] as const
  },
})

const undeclared = (openOutputs: boolean) =>
  Block.make({
    id: openOutputs ? "b/open" : "b/closed",
    title: "Undeclared pin",
    description: "Yields a pin it does not declare.",
    categories: ["test"],
    openOutputs,
    input: Schema.Struct({}),
    output: Schema.Struct({ declared: Schema.Number }),
    *run() {
      yield ["declared", 1] as const
      yield ["surprise", "!"] as unknown as readonly ["declared", number]
    },
  })

describe("R3: inputs are decoded and outputs checked", () => {
  it("R3: an input that does not decode fails the execution, naming the field, before run is called", async () => {
    let ran = 0
    const Strict = Block.make({
      id: "b/strict",
      title: "Strict",
      description: "Counts its runs.",
      categories: ["test"],
      input: Schema.Struct({ count: Schema.Number, label: Schema.String }),
      output: Schema.Struct({ ok: Schema.Boolean }),
      run: () => {
        ran++
        return { ok: true }
      },
    })
    const g = graph(
      [
        ["k", "t/const", { value: "not a number" }],
        ["s", "b/strict", { label: "fine" }],
        ["e", "t/pass"],
      ],
      ["k.value -> s.count", "s.error -> e.value"],
    )
    const { result, events } = await execute(g, { harness: rulesHarness({ extra: [Strict] }) })
    expect(result.status).toBe("COMPLETED")
    expect(ran).toBe(0)
    const [s] = executionsOf(events, "s")
    expect(s?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(s?.error).toMatch(/^invalid input: count: /)
    expect(s?.error).not.toContain("label")
    expect(s?.outputs).toEqual([["error", s?.error]])
    expect(executionsOf(events, "e").map((e) => e.inputs)).toEqual([{ value: s?.error }])
  })

  it("R3: an output of the wrong type fails the execution, naming the pin; earlier outputs stand", async () => {
    const g = graph(
      [
        ["w", "b/wrong-type"],
        ["p", "t/pass"],
        ["q", "t/pass"],
      ],
      ["w.ok -> p.value", "w.count -> q.value"],
    )
    const { events } = await execute(g, { harness: rulesHarness({ extra: [WrongType] }) })
    const [w] = executionsOf(events, "w")
    expect(w?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(w?.error).toMatch(/^invalid output on pin "count": /)
    expect(w?.outputs).toEqual([
      ["ok", 1],
      ["error", w?.error],
    ])
    expect(executionsOf(events, "p")).toHaveLength(1)
    expect(executionsOf(events, "q")).toEqual([])
  })

  it("R3: an undeclared output pin fails the execution, naming the pin", async () => {
    const Closed = undeclared(false)
    const { events } = await execute(graph([["c", Closed.id]]), {
      harness: rulesHarness({ extra: [Closed] }),
    })
    const [c] = executionsOf(events, "c")
    expect(c?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(c?.error).toContain('"surprise"')
    expect(c?.outputs).toEqual([
      ["declared", 1],
      ["error", c?.error],
    ])
  })

  it("R3: an openOutputs block may yield undeclared pins; they are recorded and routed unchecked", async () => {
    const Open = undeclared(true)
    const g = graph(
      [
        ["o", Open.id],
        ["p", "t/pass"],
      ],
      ["o.surprise -> p.value"],
    )
    const { events } = await execute(g, { harness: rulesHarness({ extra: [Open] }) })
    const [o] = executionsOf(events, "o")
    expect(o?.statuses).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
    expect(o?.outputs).toEqual([
      ["declared", 1],
      ["surprise", "!"],
    ])
    expect(executionsOf(events, "p").map((e) => e.inputs)).toEqual([{ value: "!" }])
  })
})
