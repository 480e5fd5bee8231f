import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  Block,
  checkGraph,
  decodeRunInputs,
  Executor,
  GraphInvalid,
  graphIO,
  OptionsInvalid,
  RunInputInvalid,
  runGraph,
  validateGraph,
} from "../src/index.js"
import { registryOf, rulesHarness } from "./rules-support.js"
import { graph, testBlocks } from "./support.js"

/** A note block with a required input: notes are never checked (R4) and never run (R6). */
const StrictNote = Block.make({
  id: "v/strict-note",
  title: "Strict note",
  description: "A note with a required field.",
  categories: ["io"],
  kind: "note",
  input: Schema.Struct({ text: Schema.String }),
  output: Schema.Struct({}),
  run: () => undefined,
})

/** An output node whose value is typed, to check the graph's output schema (R5). */
const NumberOutput = Block.make({
  id: "v/number-output",
  title: "Number output",
  description: "A numeric graph output.",
  categories: ["io"],
  kind: "output",
  input: Schema.Struct({ name: Schema.String, value: Schema.Number }),
  output: Schema.Struct({ output: Schema.Number }),
  run: ({ value }) => ({ output: value }),
})

const registry = registryOf([StrictNote, NumberOutput])

describe("validation (R4)", () => {
  it("R4: a well-formed graph validates to an empty error map", async () => {
    const g = graph(
      [
        ["in", "t/number-input", { name: "x" }],
        ["k", "t/const", { value: 2 }],
        ["add", "t/add"],
        ["out", "t/output", { name: "sum" }],
      ],
      ["in.result -> add.a", "k.value -> add.b", "add.sum -> out.value"],
    )
    expect(validateGraph(g, await registry)).toEqual({})
    await Effect.runPromise(checkGraph(g, await registry))
  })

  it("R4: a link naming a missing node is reported on the node that exists, or under $graph when neither does", async () => {
    const g = graph(
      [
        ["p", "t/pass", { value: 1 }],
        ["q", "t/pass", { value: 1 }],
      ],
      ["ghost.value -> p.value", "q.value -> phantom.value", "nowhere.x -> neverland.y"],
    )
    expect(validateGraph(g, await registry)).toEqual({
      p: { value: "linked from node ghost, which does not exist" },
      q: { value: "linked to node phantom, which does not exist" },
      $graph: { "link nowhere.x→neverland.y": "neither node exists" },
    })
  })

  it("R4 R11: unknown pins are reported per node and pin; dynamic pins are checked by base name", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: { a: 1 } }],
        ["g", "r/gather"],
        ["p", "t/pass"],
      ],
      [
        "k.value_#_a -> g.values_#_x",
        "k.value_$_0 -> g.items_$_1",
        "k.value_@_a -> g.obj_@_name_#_deep",
        "k.value -> p.value",
        "k.nope -> p.value",
        "k.value -> p.nope",
        "k.nope_#_a -> g.values_#_y",
        "k.value -> g.nope_#_x",
        "k.error -> g.values_#_err",
      ],
    )
    expect(validateGraph(g, await registry)).toEqual({
      k: {
        nope: 'block t/const has no output pin "nope"',
        "nope_#_a": 'block t/const has no output pin "nope"',
      },
      p: { nope: 'block t/pass has no input pin "nope"' },
      g: { "nope_#_x": 'block r/gather has no input pin "nope"' },
    })
  })

  it("R4 R11: a dynamic pin with an unusable path (non-numeric index, __proto__) is a validation error", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: 1 }],
        ["g", "r/gather"],
      ],
      ["k.value -> g.items_$_first", "k.value -> g.values_#___proto__", "k.value_$_x -> g.obj"],
    )
    const errors = validateGraph(g, await registry)
    expect(Object.keys(errors).sort()).toEqual(["g", "k"])
    expect(errors.g?.items_$_first).toMatch(/not a non-negative integer/)
    expect(errors.g?.["values_#___proto__"]).toMatch(/__proto__/)
    expect(errors.k?.value_$_x).toMatch(/not a non-negative integer/)
  })

  it("R4: an unknown block is reported on its node's blockId", async () => {
    const g = graph([
      ["a", "t/pass", { value: 1 }],
      ["b", "no/such-block"],
    ])
    expect(validateGraph(g, await registry)).toEqual({ b: { blockId: "unknown block no/such-block" } })
  })

  it("R4: a required input with neither default nor link is reported as {nodeId: {field: message}}", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: 1 }],
        ["add1", "t/add"],
        ["add2", "t/add", { b: 0 }],
        ["add3", "t/add", { a: 1, b: 2 }],
        ["in", "t/input"],
      ],
      ["k.value -> add1.a", "k.value -> add2.a"],
    )
    const message = "required input has no default and no link"
    expect(validateGraph(g, await registry)).toEqual({
      add1: { b: message },
      in: { name: message },
    })
  })

  it("R4: an input node's value is supplied by the run, so it needs no default", async () => {
    const g = graph([["in", "t/number-input", { name: "n" }]])
    expect(validateGraph(g, await registry)).toEqual({})
  })

  it("R4: cycles are allowed", async () => {
    const g = graph(
      [
        ["in", "t/number-input", { name: "n" }],
        ["pos", "r/positive"],
        ["dec", "r/decrement"],
        ["self", "t/pass"],
      ],
      [
        "in.result -> pos.value",
        "pos.yes -> dec.value",
        "dec.value -> pos.value",
        "self.value -> self.value",
      ],
    )
    expect(validateGraph(g, await registry)).toEqual({})
  })

  it("R4: note nodes are not checked for required inputs", async () => {
    const g = graph([
      ["n1", "v/strict-note"],
      ["n2", "t/note", { text: "hello" }],
    ])
    expect(validateGraph(g, await registry)).toEqual({})
  })

  it("R4: duplicate node ids and duplicate input names are reported; output names may repeat", async () => {
    const g = graph([
      ["a", "t/pass", { value: 1 }],
      ["a", "t/pass", { value: 2 }],
      ["i1", "t/input", { name: "x" }],
      ["i2", "t/input", { name: "x" }],
      ["o1", "t/output", { name: "y", value: 1 }],
      ["o2", "t/output", { name: "y", value: 2 }],
    ])
    expect(validateGraph(g, await registry)).toEqual({
      a: { id: "duplicate node id a" },
      i2: { name: 'input name "x" is also used by node i1' },
    })
  })

  it("R14: two output nodes with one name collect their values under that name", async () => {
    const g = graph([
      ["o1", "t/output", { name: "y", value: 1 }],
      ["o2", "t/output", { name: "y", value: 2 }],
    ])
    const result = await runGraph(g, { blocks: [testBlocks] })
    expect(result.outputs.y?.slice().sort()).toEqual([1, 2])
  })

  it("R4: Executor.start refuses an invalid graph with GraphInvalid carrying the same error map", async () => {
    const g = graph(
      [
        ["k", "t/const", { value: 1 }],
        ["add", "t/add"],
      ],
      ["k.value -> add.a", "k.value -> add.c"],
    )
    const error = await rulesHarness().run(
      Effect.flip(
        Effect.gen(function* () {
          const executor = yield* Executor
          return yield* executor.start(g)
        }),
      ),
    )
    expect(error).toBeInstanceOf(GraphInvalid)
    if (!(error instanceof GraphInvalid)) return
    expect(error.errors).toEqual(validateGraph(g, await registry))
    expect(error.errors).toEqual({
      add: { c: 'block t/add has no input pin "c"', b: "required input has no default and no link" },
    })
  })
})

describe("graph inputs and outputs (R5)", () => {
  const io = async () => {
    const g = graph([
      ["i1", "t/number-input", { name: "count" }],
      ["i2", "t/number-input", { name: "step", value: 1 }],
      ["i3", "t/input", { name: "anything", description: "Any value" }],
      ["i4", "t/input", { name: "maybe", value: "fallback" }],
      ["o1", "v/number-output", { name: "total" }],
      ["o2", "t/output", { name: "log", value: "none" }],
      ["n", "t/note"],
      ["p", "t/pass", { value: 1, name: "not-an-input" }],
    ])
    return { g, io: graphIO(g, await registry) }
  }

  it("R5: the input schema has one property per input node, keyed by name, required iff the node has no default value", async () => {
    const { io: x } = await io()
    const schema = x.inputJsonSchema
    expect(Object.keys(schema.properties as object).sort()).toEqual(["anything", "count", "maybe", "step"])
    expect([...((schema.required as Array<string>) ?? [])].sort()).toEqual(["anything", "count"])
    const properties = schema.properties as Record<string, Record<string, unknown>>
    expect(properties.anything).toMatchObject({ description: "Any value" })
    expect(JSON.stringify(properties.count)).toContain('"number"')
  })

  it("R5: the output schema has one property per output node, keyed by name, typed by its value schema, required iff no default value", async () => {
    const { io: x } = await io()
    const schema = x.outputJsonSchema
    expect(Object.keys(schema.properties as object).sort()).toEqual(["log", "total"])
    expect(schema.required).toEqual(["total"])
    const properties = schema.properties as Record<string, Record<string, unknown>>
    expect(JSON.stringify(properties.total)).toContain('"number"')
    const decodeOutputs = Schema.decodeUnknownSync(
      x.outputs as unknown as Schema.Codec<Record<string, unknown>>,
    )
    expect(decodeOutputs({ total: 3 })).toEqual({ total: 3 })
    expect(() => decodeOutputs({ total: "3" })).toThrow()
    expect(() => decodeOutputs({ log: "x" })).toThrow(/total/)
  })

  it("R5: run inputs decode against the input schema; defaults may be left out", async () => {
    const { g, io: x } = await io()
    const decoded = await Effect.runPromise(decodeRunInputs(g, x, { count: 2, anything: { a: [1] } }))
    expect(decoded).toEqual({ count: 2, anything: { a: [1] } })
  })

  it("R5: missing, mistyped and unknown run inputs fail with RunInputInvalid naming each input", async () => {
    const { g, io: x } = await io()
    const failure = (inputs: unknown) => Effect.runPromise(Effect.flip(decodeRunInputs(g, x, inputs)))

    const missing = await failure({ anything: 1 })
    expect(missing).toBeInstanceOf(RunInputInvalid)
    expect(Object.keys(missing.errors)).toEqual(["count"])

    const missingUntyped = await failure({ count: 1 })
    expect(Object.keys(missingUntyped.errors)).toEqual(["anything"])

    const mistyped = await failure({ count: "two", anything: 1, step: "x" })
    expect(Object.keys(mistyped.errors).sort()).toEqual(["count", "step"])
    expect(mistyped.errors.count).toMatch(/number/i)
    expect(mistyped.message).toContain("count")

    const unknown = await failure({ count: 1, anything: 1, extra: true })
    expect(Object.keys(unknown.errors)).toEqual(["extra"])
  })

  it("R5: Executor.start refuses bad run inputs with RunInputInvalid and records no run", async () => {
    const g = graph(
      [
        ["in", "t/number-input", { name: "n" }],
        ["out", "t/output", { name: "n" }],
      ],
      ["in.result -> out.value"],
    )
    const h = rulesHarness()
    const error = await h.run(
      Effect.flip(
        Effect.gen(function* () {
          const executor = yield* Executor
          return yield* executor.start(g, { inputs: { n: "seven" }, runId: "bad-inputs" })
        }),
      ),
    )
    expect(error).toBeInstanceOf(RunInputInvalid)
    if (!(error instanceof RunInputInvalid)) return
    expect(Object.keys(error.errors)).toEqual(["n"])
    const stored = await Effect.runPromise(Effect.result(h.store.load("bad-inputs")))
    expect(stored._tag).toBe("Failure")
  })
})

describe("graphs from plain JSON", () => {
  it("R4: runGraph refuses malformed graph JSON with GraphInvalid naming each bad path, without running anything", async () => {
    const bad = JSON.parse(
      '{"id":"g","version":1,"name":"g","nodes":[{"id":"a","blockId":"t/pass"},{"id":"b","blockId":7}],"links":[{"sourceId":"a"}]}',
    )
    const error = await runGraph(bad, { blocks: [testBlocks] }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(GraphInvalid)
    const errors = (error as GraphInvalid).errors.$graph ?? {}
    expect(errors["nodes.1.blockId"]).toMatch(/Expected string/)
    expect(errors["links.0.sourceName"]).toMatch(/Missing key/)
    expect(Object.keys(errors).length).toBeGreaterThanOrEqual(4)
  })
})

describe("run options", () => {
  it("R4: out-of-range run options are refused with OptionsInvalid naming the option, before anything runs", async () => {
    const g = graph([["c", "t/const", { value: 1 }]])
    for (const [options, field] of [
      [{ maxConcurrency: 0 }, "maxConcurrency"],
      [{ maxConcurrency: 1.5 }, "maxConcurrency"],
      [{ deadlineMs: -1 }, "deadlineMs"],
      [{ budget: Number.NaN }, "budget"],
      [{ runId: "  " }, "runId"],
    ] as const) {
      const error = await runGraph(g, { blocks: [testBlocks], ...options }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(OptionsInvalid)
      expect((error as OptionsInvalid).field).toBe(field)
    }
    expect(() =>
      Block.make({
        id: "t/bad-concurrency",
        title: "x",
        description: "x",
        categories: [],
        concurrency: 0,
        input: Schema.Struct({}),
        output: Schema.Struct({}),
        run: () => undefined,
      }),
    ).toThrow(/concurrency must be an integer/)
  })
})

describe("R5 and AutoGPT exports", () => {
  it("R5: a null default (AutoGPT's 'none') does not make a graph input optional", async () => {
    const g = graph([["in", "t/input", { name: "topic", value: null }]])
    const error = await runGraph(g, { blocks: [testBlocks] }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(RunInputInvalid)
    expect(Object.keys((error as RunInputInvalid).errors)).toEqual(["topic"])
  })
})
