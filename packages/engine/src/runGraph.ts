/**
 * A Promise-based entry point for plain TypeScript: run a graph without learning Effect.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
import type { BlockSet } from "./Block.js"
import { BlockRegistry, type BlockRegistryShape, makeRegistry } from "./BlockRegistry.js"
import { Executor, type ExecutorConfig, type RunResult, type StartOptions } from "./Executor.js"
import type { Graph } from "./Graph.js"
import { GraphLoader } from "./GraphLoader.js"
import type { RunEvent } from "./RunEvent.js"
import { RunStore, type RunStoreShape } from "./RunStore.js"

/**
 * Options of `runGraph`.
 *
 * @category models
 */
export interface RunGraphOptions extends StartOptions, ExecutorConfig {
  /** The block sets the graph's nodes come from. */
  readonly blocks: ReadonlyArray<BlockSet>
  /** Graphs that agent-executor blocks may run as sub-graphs (R15). */
  readonly graphs?: ReadonlyArray<Graph>
  /** A store to keep the run in; a fresh in-memory one by default. */
  readonly store?: RunStoreShape
  /** Called with every event, in order, as it happens. */
  readonly onEvent?: (event: RunEvent) => void
  /** Aborting it cancels the run (it ends TERMINATED). */
  readonly signal?: AbortSignal
}

/** One registry per list of block sets, so that repeated runs reuse its compiled graphs. */
const registries = new WeakMap<ReadonlyArray<BlockSet>, BlockRegistryShape>()

/**
 * Runs a graph to completion and resolves with its result. Rejects with a tagged error (e.g.
 * `GraphInvalid`) when the graph or its inputs are invalid.
 *
 * @example
 * ```ts
 * const result = await runGraph(graph, { blocks: [myBlocks], inputs: { topic: "owls" } })
 * console.log(result.status, result.outputs)
 * ```
 *
 * @category running
 */
export const runGraph = (graph: Graph, options: RunGraphOptions): Promise<RunResult> => {
  const store = options.store
  let registry = registries.get(options.blocks)
  if (registry === undefined) {
    const made = Effect.runSyncExit(makeRegistry(options.blocks))
    if (made._tag === "Failure") return Effect.runPromise(Effect.failCause(made.cause))
    registry = made.value
    registries.set(options.blocks, registry)
  }
  const layer = Executor.layer(options).pipe(
    Layer.provide(Layer.succeed(BlockRegistry, registry)),
    Layer.provide(store === undefined ? RunStore.layerMemory : Layer.succeed(RunStore, store)),
    Layer.provide(GraphLoader.layer(options.graphs ?? [])),
  )
  const program = Effect.gen(function* () {
    const executor = yield* Executor
    const handle = yield* executor.start(graph, options)
    const signal = options.signal
    const onAbort = () => {
      Effect.runFork(handle.cancel)
    }
    signal?.addEventListener("abort", onAbort, { once: true })
    if (signal?.aborted === true) onAbort()
    const onEvent = options.onEvent
    if (onEvent !== undefined) {
      yield* Stream.runForEach(handle.events, (event) => Effect.sync(() => onEvent(event)))
    }
    const result = yield* handle.await
    signal?.removeEventListener("abort", onAbort)
    return result
  })
  return Effect.runPromise(Effect.scoped(Effect.provide(program, layer)))
}
