/**
 * The executor: starts, resumes, reviews and cancels runs, and streams their events.
 *
 * Each run is driven by one fiber that owns its state; each node execution runs in a fiber of its own.
 * Every batch of changes is committed to the `RunStore` before its events are published or the executions
 * it made ready are started (W7).
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Effect, Fiber, Layer, Option, Queue, Semaphore, Stream } from "effect"
import type { AnyBlock, BlockResources, CredentialResolver, ReviewDecision } from "./Block.js"
import { BlockRegistry, type BlockRegistryShape } from "./BlockRegistry.js"
import {
  type GraphInvalid,
  OptionsInvalid,
  ReviewNotPending,
  type RunInputInvalid,
  type RunNotFound,
  type StoreError,
} from "./Errors.js"
import type { Graph } from "./Graph.js"
import { GraphLoader } from "./GraphLoader.js"
import {
  type CancelToken,
  type ChildRequest,
  type DriverEnv,
  drive,
  type LiveRun,
  type RunResult,
} from "./internal/driver.js"
import { RunMachine } from "./internal/machine.js"
import { isPersisted, type RunEvent } from "./RunEvent.js"
import { type RunOptionsRecord, type RunSnapshot, RunStore } from "./RunStore.js"
import { isFinal } from "./Status.js"
import { checkGraph, decodeRunInputs, type GraphIO, graphIO } from "./Validation.js"

export type { RunResult } from "./internal/driver.js"

/**
 * Options of one run.
 *
 * @category models
 */
export interface StartOptions {
  /** Values for the graph's input nodes, by name (R5, R6). */
  readonly inputs?: Readonly<Record<string, unknown>>
  /** Use this id instead of a random UUID. */
  readonly runId?: string
  /** Sensitive blocks wait for a human review before they run (R16). */
  readonly safeMode?: boolean
  /** Stop the run (FAILED) once its summed cost passes this (W9). */
  readonly budget?: number
  /** Stop the run (FAILED) after this many milliseconds (W2). */
  readonly deadlineMs?: number
  /** At most this many node executions of this run at once (W3). */
  readonly maxConcurrency?: number
}

/**
 * A run started in this process.
 *
 * @category models
 */
export interface RunHandle {
  readonly runId: string
  /** Every event from the first, live until the run stops. */
  readonly events: Stream.Stream<RunEvent, StoreError>
  /** Waits until the run stops (finished, or paused for review). */
  readonly await: Effect.Effect<RunResult>
  /** Cancels the run (W4): it ends TERMINATED. */
  readonly cancel: Effect.Effect<void>
}

/**
 * Executor-wide settings.
 *
 * @category models
 */
export interface ExecutorConfig {
  /** Default per-run limit on concurrent node executions (W3). Default 64. */
  readonly maxConcurrency?: number
  /** Per-block limits on concurrent executions across all runs, by block id (W3). Overrides `Block.concurrency`. */
  readonly blockConcurrency?: Readonly<Record<string, number>>
  /** Resolves credential fields to secrets for `ctx.credentials`. Without it, blocks that need credentials fail. */
  readonly credentials?: CredentialResolver
  /** Shared resources handed to every block as `ctx.resources`. */
  readonly resources?: BlockResources
}

/**
 * The executor's interface.
 *
 * @category models
 */
export interface ExecutorShape {
  /**
   * Validates the graph (R4) and its inputs (R5), records the run, and starts it. Graphs are treated as
   * immutable values: validation and the routing plan are cached per graph object, so pass a new object
   * (not a mutated one) for a changed graph.
   */
  readonly start: (
    graph: Graph,
    options?: StartOptions,
  ) => Effect.Effect<RunHandle, GraphInvalid | RunInputInvalid | OptionsInvalid | StoreError>
  /** Starts a run and streams its events until it stops. */
  readonly run: (
    graph: Graph,
    options?: StartOptions,
  ) => Stream.Stream<RunEvent, GraphInvalid | RunInputInvalid | OptionsInvalid | StoreError>
  /** Starts a run and waits for its result. */
  readonly execute: (
    graph: Graph,
    options?: StartOptions,
  ) => Effect.Effect<RunResult, GraphInvalid | RunInputInvalid | OptionsInvalid | StoreError>
  /**
   * Continues a run from the store (W7): finished executions are kept, unfinished ones run again.
   * A run that is live in this process is returned as it is.
   */
  readonly resume: (runId: string) => Effect.Effect<RunHandle, RunNotFound | GraphInvalid | StoreError>
  /** Acts on an execution in REVIEW (R16) and continues the run. */
  readonly review: (
    runId: string,
    executionId: string,
    decision: ReviewDecision,
  ) => Effect.Effect<RunHandle, RunNotFound | ReviewNotPending | GraphInvalid | StoreError>
  /**
   * Cancels a run (W4). A run live in this process is interrupted: its blocks see their abort signal and
   * everything unfinished becomes TERMINATED. A stored run that is unfinished but not live (paused in
   * REVIEW, or left by a stopped process) is terminated in the store, its unfinished sub-graph runs too.
   * A run driven by another process must be cancelled there: the store refuses the second writer.
   */
  readonly cancel: (runId: string) => Effect.Effect<void, StoreError>
  /**
   * Stops driving a run in this process without cancelling it: it stays unfinished in the store, to be
   * resumed by this or another process (a worker that lost its lease). Does nothing for a run not live here.
   */
  readonly release: (runId: string) => Effect.Effect<void>
  /** Persisted events with `seq > afterSeq`, then live events until the run stops (W6). */
  readonly events: (runId: string, afterSeq?: number) => Stream.Stream<RunEvent, StoreError>
}

interface Live extends LiveRun {
  fiber: Fiber.Fiber<RunResult> | undefined
}

/**
 * A random UUID v4. `crypto.randomUUID` exists only in secure contexts (https, localhost), so a page served
 * over plain http falls back to `crypto.getRandomValues`, which every browser and Node have.
 */
const newRunId = (): string => {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const positiveInt = (u: number | undefined) => u === undefined || (Number.isInteger(u) && u >= 1)
const nonNegative = (u: number | undefined) => u === undefined || (Number.isFinite(u) && u >= 0)

/** Refuses options that would make a run hang or stop at once for no reason. */
const checkOptions = (options: StartOptions): Effect.Effect<void, OptionsInvalid> => {
  if (!positiveInt(options.maxConcurrency))
    return Effect.fail(
      new OptionsInvalid({ field: "maxConcurrency", reason: "must be an integer of at least 1" }),
    )
  if (!nonNegative(options.deadlineMs))
    return Effect.fail(
      new OptionsInvalid({ field: "deadlineMs", reason: "must be a finite number of at least 0" }),
    )
  if (!nonNegative(options.budget))
    return Effect.fail(
      new OptionsInvalid({ field: "budget", reason: "must be a finite number of at least 0" }),
    )
  if (options.runId !== undefined && (typeof options.runId !== "string" || options.runId.trim() === ""))
    return Effect.fail(new OptionsInvalid({ field: "runId", reason: "must be a non-empty string" }))
  return Effect.void
}

/**
 * Graphs are immutable values: one validated against a registry stays valid, and its input schema stays
 * the same. Running the same graph again, from any executor over the same registry, skips both.
 */
const compiled = new WeakMap<
  BlockRegistryShape,
  { validate: (g: Graph) => Effect.Effect<void, GraphInvalid>; ioOf: (g: Graph) => GraphIO }
>()

const compiledFor = (registry: BlockRegistryShape) => {
  let entry = compiled.get(registry)
  if (entry === undefined) {
    const valid = new WeakSet<Graph>()
    const io = new WeakMap<Graph, GraphIO>()
    entry = {
      validate: (graph) =>
        valid.has(graph)
          ? Effect.void
          : Effect.tap(checkGraph(graph, registry), () => Effect.sync(() => valid.add(graph))),
      ioOf: (graph) => {
        let schemas = io.get(graph)
        if (schemas === undefined) {
          schemas = graphIO(graph, registry)
          io.set(graph, schemas)
        }
        return schemas
      },
    }
    compiled.set(registry, entry)
  }
  return entry
}

const makeExecutor = (config: ExecutorConfig) =>
  Effect.gen(function* () {
    if (!positiveInt(config.maxConcurrency)) {
      return yield* Effect.die(
        new OptionsInvalid({ field: "maxConcurrency", reason: "must be an integer of at least 1" }),
      )
    }
    for (const [blockId, limit] of Object.entries(config.blockConcurrency ?? {})) {
      if (!positiveInt(limit)) {
        return yield* Effect.die(
          new OptionsInvalid({
            field: `blockConcurrency.${blockId}`,
            reason: "must be an integer of at least 1",
          }),
        )
      }
    }
    const registry = yield* BlockRegistry
    const store = yield* RunStore
    const loader = Option.getOrUndefined(yield* Effect.serviceOption(GraphLoader))
    const scope = yield* Effect.scope
    const lives = new Map<string, Live>()
    const semaphores = new Map<string, Semaphore.Semaphore>()

    const blockSemaphore = (block: AnyBlock) => {
      const limit = config.blockConcurrency?.[block.id] ?? block.concurrency
      if (limit === undefined) return undefined
      let semaphore = semaphores.get(block.id)
      if (semaphore === undefined) {
        semaphore = Semaphore.makeUnsafe(limit)
        semaphores.set(block.id, semaphore)
      }
      return semaphore
    }

    const makeLive = (runId: string, token: CancelToken): Effect.Effect<Live> =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<RunResult>()
        const control = yield* Queue.unbounded<LiveRun["control"] extends Queue.Queue<infer A> ? A : never>()
        return { runId, token, listeners: new Set(), done, control, accepting: true, fiber: undefined }
      })

    const { validate, ioOf } = compiledFor(registry)

    const env: DriverEnv = {
      store,
      resources: config.resources ?? Context.empty(),
      ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
      loader,
      maxConcurrency: config.maxConcurrency ?? 64,
      blockSemaphore,
      runChild: (request) => runChild(request),
    }

    const handleOf = (live: Live): RunHandle => ({
      runId: live.runId,
      events: events(live.runId, 0),
      await: Deferred.await(live.done),
      cancel: interrupt(live.runId, true),
    })

    /** Forks the driver of a run into the executor's scope. */
    const launch = (machine: RunMachine, restart: ReturnType<RunMachine["restore"]>, token: CancelToken) =>
      Effect.gen(function* () {
        const live = yield* makeLive(machine.runId, token)
        lives.set(machine.runId, live)
        const fiber = yield* drive(env, machine, restart, live).pipe(
          Effect.ensuring(Effect.sync(() => lives.delete(machine.runId))),
          Effect.forkIn(scope),
        )
        live.fiber = fiber
        return handleOf(live)
      })

    const machineFor = (
      runId: string,
      graph: Graph,
      inputs: Readonly<Record<string, unknown>>,
      options: RunOptionsRecord,
      parent: ChildRequest["parent"] | undefined,
      previous: Parameters<typeof RunMachine.prototype.restore>[0]["run"] | undefined,
    ) =>
      Effect.map(
        Clock.currentTimeMillis,
        (now) => new RunMachine(runId, graph, inputs, options, registry, parent, now, previous),
      )

    const optionsRecord = (options: StartOptions, now: number): RunOptionsRecord => ({
      ...(options.safeMode === undefined ? {} : { safeMode: options.safeMode }),
      ...(options.budget === undefined ? {} : { budget: options.budget }),
      ...(options.deadlineMs === undefined ? {} : { deadlineAt: now + options.deadlineMs }),
      ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
    })

    /** Validates, records and begins a new run, without driving it. */
    const prepare = (
      graph: Graph,
      options: StartOptions,
      parent: ChildRequest["parent"] | undefined,
      runId: string,
    ) =>
      Effect.gen(function* () {
        yield* validate(graph)
        const inputs = yield* decodeRunInputs(graph, ioOf(graph), options.inputs ?? {})
        const now = yield* Clock.currentTimeMillis
        const machine = yield* machineFor(
          runId,
          graph,
          inputs,
          optionsRecord(options, now),
          parent,
          undefined,
        )
        machine.begin()
        const { batch } = machine.takeBatch()
        yield* store.commit(runId, batch)
        return machine
      })

    const start: ExecutorShape["start"] = (graph, options = {}) =>
      Effect.gen(function* () {
        yield* checkOptions(options)
        const machine = yield* prepare(graph, options, undefined, options.runId ?? newRunId())
        return yield* launch(machine, [], { cancelled: false })
      })

    /** Loads a run from the store and rebuilds its machine; returns the executions to run again. */
    const restoreFromStore = (runId: string, parent?: ChildRequest["parent"]) =>
      Effect.gen(function* () {
        const snapshot = yield* store.load(runId)
        const run = snapshot.run
        // The registry may have changed since the run started: a block that is gone must not crash the resume.
        yield* validate(run.graph)
        const machine = yield* machineFor(runId, run.graph, run.inputs, run.options, parent, run)
        return { machine, snapshot }
      })

    const resume: ExecutorShape["resume"] = (runId) =>
      Effect.gen(function* () {
        const existing = lives.get(runId)
        if (existing !== undefined) return handleOf(existing)
        const { machine, snapshot } = yield* restoreFromStore(runId)
        if (isFinal(snapshot.run.status)) return yield* finishedHandle(runId, snapshot.run)
        const restart = machine.restore(snapshot)
        return yield* launch(machine, restart, { cancelled: false })
      })

    const finishedHandle = (
      runId: string,
      run: { status: RunResult["status"]; outputs: RunResult["outputs"]; cost: number; error?: string },
    ) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<RunResult>()
        yield* Deferred.succeed(done, {
          runId,
          status: run.status,
          outputs: run.outputs,
          cost: run.cost,
          ...(run.error === undefined ? {} : { error: run.error }),
        })
        return {
          runId,
          events: events(runId, 0),
          await: Deferred.await(done),
          cancel: Effect.void,
        } satisfies RunHandle
      })

    const review: ExecutorShape["review"] = (runId, executionId, decision) =>
      Effect.gen(function* () {
        const existing = lives.get(runId)
        if (existing !== undefined) {
          if (existing.accepting) {
            Queue.offerUnsafe(existing.control, { tag: "Decision", executionId, decision })
            return handleOf(existing)
          }
          yield* Deferred.await(existing.done)
        }
        const { machine, snapshot } = yield* restoreFromStore(runId)
        const record = snapshot.executions.find((e) => e.id === executionId)
        if (record === undefined || record.status !== "REVIEW" || isFinal(snapshot.run.status)) {
          return yield* Effect.fail(new ReviewNotPending({ runId, executionId }))
        }
        const restart = machine.restore(snapshot)
        const exec = machine.execution(executionId)
        if (exec !== undefined && exec.status === "REVIEW") machine.applyDecision(exec, decision)
        return yield* launch(machine, restart, { cancelled: false })
      })

    /** Terminates a stored run that no driver holds, then its unfinished sub-graph runs (R15). */
    const terminateStored = (runId: string): Effect.Effect<void, StoreError> =>
      Effect.gen(function* () {
        const loaded = yield* Effect.result(restoreFromStore(runId))
        if (loaded._tag === "Failure") {
          if (loaded.failure._tag === "StoreError") return yield* Effect.fail(loaded.failure)
          return
        }
        const { machine, snapshot } = loaded.success
        if (isFinal(snapshot.run.status)) return
        machine.restore(snapshot, false)
        machine.now = yield* Clock.currentTimeMillis
        machine.terminate()
        yield* store.commit(runId, machine.takeBatch().batch)
        const children = (yield* store.unfinished()).filter((run) => run.parentRunId === runId)
        for (const child of children) yield* terminateStored(child.id)
      })

    /** Interrupts the driver of a run live in this process: a cancellation (W4), or a release. */
    function interrupt(runId: string, cancelled: boolean): Effect.Effect<void> {
      return Effect.suspend(() => {
        const live = lives.get(runId)
        if (live === undefined || live.fiber === undefined) return Effect.void
        if (cancelled) live.token.cancelled = true
        return Effect.asVoid(Fiber.interrupt(live.fiber))
      })
    }

    const cancel: ExecutorShape["cancel"] = (runId) =>
      Effect.suspend(() => (lives.has(runId) ? interrupt(runId, true) : terminateStored(runId)))

    const release: ExecutorShape["release"] = (runId) => interrupt(runId, false)

    /** Runs a child graph inline in the calling block's fiber, so that interrupting the parent interrupts it (R15). */
    const runChild = (request: ChildRequest): Effect.Effect<RunResult, Error> =>
      Effect.gen(function* () {
        const existing = yield* Effect.result(store.load(request.runId))
        let machine: RunMachine
        let restart: ReturnType<RunMachine["restore"]> = []
        if (existing._tag === "Success") {
          const snapshot = existing.success
          // Outputs recorded before a restart are replayed in their original order, so the parent's
          // re-run sees the same sequence and drops what it had already recorded (W7).
          replayRunOutputs(snapshot, request.onRunOutput)
          if (isFinal(snapshot.run.status)) {
            return {
              runId: request.runId,
              status: snapshot.run.status,
              outputs: snapshot.run.outputs,
              cost: snapshot.run.cost,
            }
          }
          const restored = yield* restoreFromStore(request.runId, request.parent)
          machine = restored.machine
          restart = machine.restore(snapshot)
        } else {
          if (existing.failure._tag === "StoreError") return yield* Effect.fail(existing.failure)
          machine = yield* prepare(request.graph, { inputs: request.inputs }, request.parent, request.runId)
        }
        const live = yield* makeLive(request.runId, request.token)
        lives.set(request.runId, live)
        return yield* drive(env, machine, restart, live, request.onRunOutput).pipe(
          Effect.ensuring(Effect.sync(() => lives.delete(request.runId))),
        )
      }).pipe(Effect.mapError((error): Error => error))

    /** Calls `onRunOutput` for every run output recorded in a snapshot, in the order they were recorded. */
    const replayRunOutputs = (snapshot: RunSnapshot, onRunOutput: (name: string, value: unknown) => void) => {
      const nodes = new Map(snapshot.run.graph.nodes.map((n) => [n.id, n]))
      const executions = new Map(snapshot.executions.map((e) => [e.id, e]))
      for (const output of snapshot.outputs) {
        if (output.pin !== "output") continue
        const node = nodes.get(output.nodeId)
        if (node === undefined || registry.get(node.blockId)?.kind !== "output") continue
        const name = executions.get(output.executionId)?.inputs.name ?? node.inputDefault?.name ?? node.id
        onRunOutput(String(name), output.value)
      }
    }

    const events: ExecutorShape["events"] = (runId, afterSeq = 0) =>
      Stream.callback<RunEvent, StoreError>((queue) =>
        Effect.gen(function* () {
          const live = lives.get(runId)
          let last = afterSeq
          let buffer: Array<RunEvent> | undefined = []
          let ended = false
          const push = (event: RunEvent) => {
            if (ended) return
            if (isPersisted(event)) {
              if (event.seq <= last) return
              last = event.seq
            }
            Queue.offerUnsafe(queue, event)
            if (
              event.type === "RunStatus" &&
              (isFinal(event.status) || (live !== undefined && event.status === "REVIEW" && !live.accepting))
            ) {
              ended = true
              Queue.endUnsafe(queue)
            }
          }
          if (live !== undefined) {
            const listener = (event: RunEvent) => {
              if (buffer !== undefined) buffer.push(event)
              else push(event)
            }
            live.listeners.add(listener)
            yield* Effect.addFinalizer(() => Effect.sync(() => live.listeners.delete(listener)))
          }
          const past = yield* store.events(runId, afterSeq)
          for (const event of past) {
            if (isPersisted(event) && event.type === "RunStatus" && isFinal(event.status)) {
              push(event)
              break
            }
            push(event)
          }
          const buffered = buffer ?? []
          buffer = undefined
          for (const event of buffered) push(event)
          if (!ended && (live === undefined || !lives.has(runId))) {
            ended = true
            Queue.endUnsafe(queue)
          }
          // A run can stop without publishing a final status (its store failed): end when it stops. Every
          // event it published came before `done`.
          if (!ended && live !== undefined) {
            yield* Deferred.await(live.done)
            if (!ended) {
              ended = true
              Queue.endUnsafe(queue)
            }
          }
          return yield* Effect.never
        }),
      )

    return {
      start,
      run: (graph, options) => Stream.unwrap(Effect.map(start(graph, options), (handle) => handle.events)),
      execute: (graph, options) => Effect.flatMap(start(graph, options), (handle) => handle.await),
      resume,
      review,
      cancel,
      release,
      events,
    } satisfies ExecutorShape
  })

/**
 * The executor service. Needs a `BlockRegistry` and a `RunStore`; a `GraphLoader` enables sub-graphs.
 *
 * @category services
 */
export class Executor extends Context.Service<Executor, ExecutorShape>()("@weft/engine/Executor") {
  /**
   * The executor. Closing the layer interrupts its runs without cancelling them: they stay resumable.
   *
   * @category layers
   */
  static readonly layer = (
    config: ExecutorConfig = {},
  ): Layer.Layer<Executor, never, BlockRegistry | RunStore> => Layer.effect(Executor, makeExecutor(config))
}
