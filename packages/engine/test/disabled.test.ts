import { Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  Block,
  BlockDisabled,
  BlockRegistry,
  Executor,
  GraphInvalid,
  GraphLoader,
  makeMemory,
  makeRegistry,
  RunStore,
  type RunStoreShape,
  runBlockEffect,
  validateGraph,
} from "../src/index.js"
import { graph, testBlocks } from "./support.js"

let calls = 0

/** A block that counts its runs: a disabled one must never get here. */
const Legacy = Block.make({
  id: "t/legacy",
  aliases: ["legacy-uuid"],
  title: "Legacy",
  description: "Counts its runs.",
  categories: ["test"],
  input: Schema.Struct({ value: Schema.Unknown }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value }) => {
    calls++
    return { value }
  },
})

/** The same block, marked disabled by its author. */
const Deprecated = Block.make({
  id: "t/deprecated",
  title: "Deprecated",
  description: "Marked disabled.",
  categories: ["test"],
  disabled: "replaced by t/legacy",
  input: Schema.Struct({ value: Schema.Unknown }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value }) => {
    calls++
    return { value }
  },
})

/** Runs a graph as a child run (R15). */
const Agent = Block.make({
  id: "t/agent",
  title: "Agent",
  description: "Runs another graph.",
  categories: ["agent"],
  openOutputs: true,
  input: Schema.Struct({ graph_id: Schema.String }),
  output: Schema.Struct({}),
  run: ({ graph_id }, ctx) => ctx.subgraph({ graphId: graph_id, inputs: {} }),
})

const extra = Block.set("extra", [Legacy, Deprecated, Agent])

const uses = (blockId: string) =>
  graph(
    [
      ["c", "t/const", { value: 1 }],
      ["x", blockId],
      ["out", "t/output", { name: "value" }],
    ],
    ["c.value -> x.value", "x.value -> out.value"],
  )

const executorWith = (disabled: ReadonlyArray<string>, store: RunStoreShape, graphs = [uses("t/legacy")]) =>
  Executor.layer().pipe(
    Layer.provide(BlockRegistry.layer([testBlocks, extra], { disabled })),
    Layer.provide(Layer.succeed(RunStore, store)),
    Layer.provide(GraphLoader.layer(graphs)),
    Layer.orDie,
  )

const run = <A, E>(layer: Layer.Layer<Executor>, effect: Effect.Effect<A, E, Executor>) =>
  Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)))

describe("disabled blocks", () => {
  it("R4: a block marked disabled fails validation naming the node's blockId, and is still listed", async () => {
    const registry = await Effect.runPromise(makeRegistry([testBlocks, extra]))
    expect(validateGraph(uses("t/deprecated"), registry)).toEqual({
      x: { blockId: "block t/deprecated is disabled: replaced by t/legacy" },
    })
    expect(registry.disabled("t/deprecated")).toBe("replaced by t/legacy")
    expect(registry.disabled("t/legacy")).toBeUndefined()
    expect(registry.list()).toContain(Deprecated)
  })

  it("R4: the registry's disabled option turns a block off by id or alias, for every id it has", async () => {
    const registry = await Effect.runPromise(makeRegistry([testBlocks, extra], { disabled: ["legacy-uuid"] }))
    expect(registry.disabled("t/legacy")).toBe("disabled on this server")
    expect(validateGraph(uses("t/legacy"), registry)).toEqual({
      x: { blockId: "block t/legacy is disabled: disabled on this server" },
    })
    // Unknown ids in the option are ignored, and other blocks are untouched.
    const other = await Effect.runPromise(makeRegistry([testBlocks, extra], { disabled: ["nope"] }))
    expect(validateGraph(uses("t/legacy"), other)).toEqual({})
  })

  it("R4: a run of a graph with a disabled block is refused before anything runs", async () => {
    calls = 0
    const error = await run(
      executorWith(["t/legacy"], makeMemory()),
      Effect.flip(Effect.flatMap(Executor, (executor) => executor.start(uses("t/legacy")))),
    )
    expect(error).toBeInstanceOf(GraphInvalid)
    expect(calls).toBe(0)
  })

  it("R4: runBlock refuses a disabled block (its own mark, or the registry's answer)", async () => {
    const own = await Effect.runPromise(Effect.flip(runBlockEffect(Deprecated, { value: 1 })))
    expect(own).toBeInstanceOf(BlockDisabled)
    expect(own.message).toBe("Block t/deprecated is disabled: replaced by t/legacy")
    const operator = await Effect.runPromise(
      Effect.flip(runBlockEffect(Legacy, { value: 1 }, { disabled: "disabled on this server" })),
    )
    expect(operator).toMatchObject({ _tag: "BlockDisabled", blockId: "t/legacy" })
    expect(calls).toBe(0)
  })

  it("R4 R15: a sub-graph that uses a disabled block fails the agent node; the block never runs", async () => {
    calls = 0
    const parent = graph(
      [
        ["agent", "t/agent", { graph_id: "g" }],
        ["out", "t/output", { name: "value" }],
      ],
      ["agent.value -> out.value"],
      "parent",
    )
    const result = await run(
      executorWith(["t/legacy"], makeMemory()),
      Effect.flatMap(Executor, (executor) => executor.execute(parent)),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({})
    expect(calls).toBe(0)
  })

  it("R4 W7: a stored run whose block was disabled since is not resumed", async () => {
    calls = 0
    const store = makeMemory()
    // Recorded by a process that allowed the block, then stopped before running anything.
    const runId = await run(
      executorWith([], store),
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(uses("t/legacy"))
        yield* executor.release(handle.runId)
        return handle.runId
      }),
    )
    const before = calls
    const error = await run(
      executorWith(["t/legacy"], store),
      Effect.flip(Effect.flatMap(Executor, (executor) => executor.resume(runId))),
    )
    expect(error).toBeInstanceOf(GraphInvalid)
    expect(calls).toBe(before)
  })
})
