/**
 * Tiny blocks and helpers shared by the engine tests.
 */
import { Effect, Layer, Schema, Stream } from "effect"
import {
  Block,
  BlockRegistry,
  Executor,
  type ExecutorConfig,
  type Graph,
  GraphLoader,
  type Link,
  makeMemory,
  type Node,
  type PersistedEvent,
  type RunEvent,
  type RunResult,
  RunStore,
  type RunStoreShape,
  type StartOptions,
} from "../src/index.js"

export const Input = Block.make({
  id: "t/input",
  title: "Input",
  description: "A graph input.",
  categories: ["io"],
  kind: "input",
  input: Schema.Struct({ name: Schema.String, value: Schema.optional(Schema.Unknown) }),
  output: Schema.Struct({ result: Schema.Unknown }),
  run: ({ value }) => ({ result: value }),
})

export const NumberInput = Block.make({
  id: "t/number-input",
  title: "Number input",
  description: "A numeric graph input.",
  categories: ["io"],
  kind: "input",
  input: Schema.Struct({ name: Schema.String, value: Schema.Number }),
  output: Schema.Struct({ result: Schema.Number }),
  run: ({ value }) => ({ result: value }),
})

export const Output = Block.make({
  id: "t/output",
  title: "Output",
  description: "A graph output.",
  categories: ["io"],
  kind: "output",
  input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
  output: Schema.Struct({ output: Schema.Unknown }),
  run: ({ value }) => ({ output: value }),
})

export const Note = Block.make({
  id: "t/note",
  title: "Note",
  description: "A note; never runs.",
  categories: ["io"],
  kind: "note",
  input: Schema.Struct({ text: Schema.optional(Schema.String) }),
  output: Schema.Struct({}),
  run: () => {
    throw new Error("a note ran")
  },
})

export const Pass = Block.make({
  id: "t/pass",
  title: "Pass",
  description: "Passes its value on.",
  categories: ["basic"],
  input: Schema.Struct({ value: Schema.Unknown }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value }) => ({ value }),
})

export const Const = Block.make({
  id: "t/const",
  title: "Constant",
  description: "Yields its `value` default.",
  categories: ["basic"],
  input: Schema.Struct({ value: Schema.Unknown }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value }) => ({ value }),
})

export const StaticConst = Block.make({
  id: "t/static-const",
  title: "Static constant",
  description: "Like Const, but every link from it is static.",
  categories: ["basic"],
  staticOutput: true,
  input: Schema.Struct({ value: Schema.Unknown }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value }) => ({ value }),
})

export const Add = Block.make({
  id: "t/add",
  title: "Add",
  description: "a + b",
  categories: ["math"],
  input: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  output: Schema.Struct({ sum: Schema.Number }),
  run: ({ a, b }) => ({ sum: a + b }),
})

export const Pair = Block.make({
  id: "t/pair",
  title: "Pair",
  description: "Yields [a, b].",
  categories: ["basic"],
  input: Schema.Struct({ a: Schema.Unknown, b: Schema.Unknown }),
  output: Schema.Struct({ pair: Schema.Array(Schema.Unknown) }),
  run: ({ a, b }) => ({ pair: [a, b] }),
})

/** Yields each item of `items` on `item`, in order. */
export const Each = Block.make({
  id: "t/each",
  title: "Each",
  description: "Yields each item.",
  categories: ["iteration"],
  input: Schema.Struct({ items: Schema.Array(Schema.Unknown) }),
  output: Schema.Struct({ item: Schema.Unknown }),
  *run({ items }) {
    for (const item of items) yield ["item", item] as const
  },
})

/** Fails with `message` by throwing. */
export const Fail = Block.make({
  id: "t/fail",
  title: "Fail",
  description: "Throws.",
  categories: ["test"],
  input: Schema.Struct({ message: Schema.String }),
  output: Schema.Struct({ never: Schema.Unknown }),
  run: ({ message }) => {
    throw new Error(message)
  },
})

/** Returns a plain record holding the shape of its input, to check R8 merges. */
export const Echo = Block.make({
  id: "t/echo",
  title: "Echo",
  description: "Yields its whole input.",
  categories: ["test"],
  openInputs: true,
  input: Schema.Struct({}),
  output: Schema.Struct({ input: Schema.Unknown }),
  run: (input) => ({ input }),
})

/** Waits `ms`, honouring the abort signal, then yields `value`. */
export const Sleep = Block.make({
  id: "t/sleep",
  title: "Sleep",
  description: "Waits, then yields.",
  categories: ["time"],
  input: Schema.Struct({ ms: Schema.Number, value: Schema.optional(Schema.Unknown) }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ ms, value }, ctx) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ value: value ?? null }), ms)
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer)
        reject(new Error("aborted"))
      })
    }),
})

/** Streams `count` numbers with an Effect `Stream`. */
export const Count = Block.make({
  id: "t/count",
  title: "Count",
  description: "Yields 1..count.",
  categories: ["iteration"],
  input: Schema.Struct({ count: Schema.Number }),
  output: Schema.Struct({ n: Schema.Number }),
  run: ({ count }) => Stream.fromIterable(Array.from({ length: count }, (_, i) => ["n", i + 1] as const)),
})

/** Ends the run with a failed effect. */
export const EffectFail = Block.make({
  id: "t/effect-fail",
  title: "Effect fail",
  description: "Fails in the error channel.",
  categories: ["test"],
  input: Schema.Struct({}),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: () => Effect.fail(new Error("effect failed")),
})

/** The blocks above, as one set. */
export const testBlocks = Block.set("test", [
  Input,
  NumberInput,
  Output,
  Note,
  Pass,
  Const,
  StaticConst,
  Add,
  Pair,
  Each,
  Fail,
  Echo,
  Sleep,
  Count,
  EffectFail,
])

/** Builds a graph from terse node and link lists. Links are `"src.pin -> sink.pin"`, `=>` for static. */
export const graph = (
  nodes: ReadonlyArray<Node | readonly [id: string, blockId: string, inputDefault?: Record<string, unknown>]>,
  links: ReadonlyArray<string | Link> = [],
  id = "g",
): Graph => ({
  id,
  version: 1,
  name: id,
  nodes: nodes.map((n) =>
    Array.isArray(n)
      ? { id: n[0], blockId: n[1], ...(n[2] === undefined ? {} : { inputDefault: n[2] }) }
      : (n as Node),
  ),
  links: links.map((l) => {
    if (typeof l !== "string") return l
    const isStatic = l.includes("=>")
    const [from, to] = l.split(isStatic ? "=>" : "->").map((s) => s.trim())
    const [sourceId, ...sp] = (from ?? "").split(".")
    const [sinkId, ...kp] = (to ?? "").split(".")
    return {
      sourceId: sourceId ?? "",
      sourceName: sp.join("."),
      sinkId: sinkId ?? "",
      sinkName: kp.join("."),
      ...(isStatic ? { isStatic: true } : {}),
    }
  }),
})

export interface Harness {
  readonly store: RunStoreShape
  readonly layer: Layer.Layer<Executor>
  /** Runs an effect that needs the executor, inside a scope that closes after it. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Executor>) => Promise<A>
}

/** An executor over the test blocks (plus `extra`), a fresh in-memory store, and `graphs` for sub-graphs. */
export const harness = (
  options: {
    readonly extra?: ReadonlyArray<Block.AnyBlock>
    readonly graphs?: ReadonlyArray<Graph>
    readonly config?: ExecutorConfig
    readonly store?: RunStoreShape
  } = {},
): Harness => {
  const store = options.store ?? makeMemory()
  const layer = Executor.layer(options.config).pipe(
    Layer.provide(BlockRegistry.layer([testBlocks, Block.set("extra", options.extra ?? [])])),
    Layer.provide(Layer.succeed(RunStore, store)),
    Layer.provide(GraphLoader.layer(options.graphs ?? [])),
    Layer.orDie,
  )
  return {
    store,
    layer,
    run: (effect) => Effect.runPromise(Effect.scoped(Effect.provide(effect, layer))),
  }
}

/** Runs a graph to its stop and collects every event it emitted. */
export const execute = async (
  g: Graph,
  options: StartOptions & { readonly harness?: Harness } = {},
): Promise<{
  readonly result: RunResult
  readonly events: ReadonlyArray<RunEvent>
  readonly store: RunStoreShape
}> => {
  const h = options.harness ?? harness()
  return h.run(
    Effect.gen(function* () {
      const executor = yield* Executor
      const handle = yield* executor.start(g, options)
      const events = yield* Stream.runCollect(handle.events)
      const result = yield* handle.await
      return { result, events, store: h.store }
    }),
  )
}

/** The persisted events of a list, for assertions on seq. */
export const persisted = (events: ReadonlyArray<RunEvent>): ReadonlyArray<PersistedEvent> =>
  events.filter((e): e is PersistedEvent => e.type !== "NodeProgress")

/** The values output on `pin` by node `nodeId`, in order. */
export const outputsOf = (
  events: ReadonlyArray<RunEvent>,
  nodeId: string,
  pin: string,
): ReadonlyArray<unknown> =>
  events.flatMap((e) => (e.type === "NodeOutput" && e.nodeId === nodeId && e.pin === pin ? [e.value] : []))

/** How many executions of `nodeId` reached `status`. */
export const countStatus = (events: ReadonlyArray<RunEvent>, nodeId: string, status: string): number =>
  events.filter((e) => e.type === "NodeStatus" && e.nodeId === nodeId && e.status === status).length
