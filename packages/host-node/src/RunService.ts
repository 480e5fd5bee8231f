/**
 * Runs for the API: start (with idempotency), stop, review, follow the events, and resume what a previous
 * process left unfinished. This is the embedded, in-process run queue: every run is driven by the one
 * `Executor` of this process, over the SQL `RunStore`.
 *
 * `drive(runId)` ("run this run id from the store") is the unit of work: start-up recovery calls it for
 * every unfinished run, and a graphile-worker task will call the same function in the Postgres mode.
 *
 * @since 0.1.0
 */
import { coreBlocks } from "@weft/blocks"
import {
  type Block,
  BlockRegistry,
  type BlockRegistryShape,
  type BlockResources,
  type CredentialResolver,
  checkGraph,
  decodeRunInputs,
  Executor,
  type ExecutorShape,
  type GraphInvalid,
  GraphLoader,
  GraphNotFound,
  graphIO,
  isFinal,
  isPersisted,
  type ReviewNotPending,
  type RunEvent,
  type RunHandle,
  type RunInputInvalid,
  RunNotFound,
  RunStore,
  type RunStoreShape,
  type Status,
  StoreError,
} from "@weft/engine"
import { Context, Deferred, Duration, Effect, Layer, Option, Stream } from "effect"
import { type GraphRef, GraphStore } from "./GraphStore.js"
import { PgRunStore } from "./PgRunStore.js"
import { RunQueue } from "./Queue.js"
import { RunQueries } from "./RunQueries.js"
import { SqlError } from "./Sql.js"

/**
 * Whose run the executor is driving, and which stored graph version it runs: sub-graphs (R15) are loaded
 * from this owner's graphs only, those stored with the run's graph first.
 *
 * @category services
 */
export class RunOwner extends Context.Service<
  RunOwner,
  { readonly owner: string; readonly root?: GraphRef }
>()("@weft/host-node/RunOwner") {}

/**
 * What the run service is configured with.
 *
 * @category models
 */
export interface RunServiceOptions {
  /** Block sets the executor runs (default: `[coreBlocks]`). */
  readonly blocks?: ReadonlyArray<Block.BlockSet>
  /** Shared resources for blocks (`LlmConfig`, `SafeHttp`…), as `ExecutorConfig.resources`. */
  readonly resources?: BlockResources
  /** Resolves credential references; without it, blocks with required credentials fail. */
  readonly credentials?: CredentialResolver
  /** Per-run limit on concurrent node executions. */
  readonly maxConcurrency?: number
  /** How often a follower re-reads the store when it hears nothing (default 2 s). */
  readonly pollInterval?: Duration.Input
}

/**
 * What `start` takes.
 *
 * @category models
 */
export interface StartRequest {
  readonly inputs?: Readonly<Record<string, unknown>>
  readonly version?: number
  readonly idempotencyKey?: string
}

/**
 * The run service's interface.
 *
 * @category models
 */
export interface RunServiceShape {
  /** The block registry runs use. */
  readonly registry: BlockRegistryShape
  /** The resources handed to blocks (for single-block executions too). */
  readonly resources: BlockResources
  /**
   * Starts a run of the owner's graph (its active version, or `version`). With an idempotency key, a
   * repeated start answers the first run's id with `existing: true` and starts nothing.
   */
  readonly start: (
    owner: string,
    graphId: string,
    request: StartRequest,
  ) => Effect.Effect<
    { readonly runId: string; readonly existing: boolean },
    GraphNotFound | GraphInvalid | RunInputInvalid | StoreError
  >
  /** Drives a stored run in this process until it stops: the queue's unit of work. */
  readonly drive: (runId: string) => Effect.Effect<void, RunNotFound | GraphInvalid | StoreError>
  /**
   * Cancels a run this process drives (W4) and answers its status afterwards: TERMINATED, or the final
   * status it had already reached. A run that is not being driven (paused for a review) keeps its status.
   */
  readonly stop: (owner: string, runId: string) => Effect.Effect<Status, RunNotFound | StoreError>
  /** Applies a review decision (R16) and continues the run. */
  readonly review: (
    owner: string,
    runId: string,
    executionId: string,
    decision: { readonly approved: boolean; readonly data?: unknown; readonly message?: string },
  ) => Effect.Effect<Status, RunNotFound | ReviewNotPending | GraphInvalid | StoreError>
  /**
   * The run's events after `afterSeq`: persisted ones from the store, then live ones (progress included)
   * until the run's final status, whichever process drives it. Fails with `RunNotFound` for another
   * owner's run.
   */
  readonly events: (
    owner: string,
    runId: string,
    afterSeq: number,
  ) => Effect.Effect<Stream.Stream<RunEvent, StoreError>, RunNotFound | StoreError>
  /** Resumes every unfinished top-level run in this process; answers their ids. */
  readonly resumeUnfinished: Effect.Effect<ReadonlyArray<string>, StoreError>
  /** Ends every event stream (the server is shutting down). */
  readonly shutdown: Effect.Effect<void>
}

const make = (options: RunServiceOptions) =>
  Effect.gen(function* () {
    const registry = yield* BlockRegistry
    const executor: ExecutorShape = yield* Executor
    const store: RunStoreShape = yield* RunStore
    const graphs = yield* GraphStore
    const runs = yield* RunQueries
    const pollInterval = options.pollInterval ?? Duration.seconds(2)
    const queue = Option.getOrUndefined(yield* Effect.serviceOption(RunQueue))
    const stopping = yield* Deferred.make<void>()
    const scope = yield* Effect.scope

    /** Runs this process drives now, by id: removed when the driver stops (finished, or paused for review). */
    const live = new Map<string, RunHandle>()
    const track = (handle: RunHandle) =>
      Effect.gen(function* () {
        if (live.get(handle.runId) === handle) return handle
        live.set(handle.runId, handle)
        yield* handle.await.pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (live.get(handle.runId) === handle) live.delete(handle.runId)
            }),
          ),
          Effect.forkIn(scope),
        )
        return handle
      })

    /** Followers waiting for news of a run, woken by NOTIFY or by this process starting it. */
    const waiters = new Map<string, Set<Deferred.Deferred<void>>>()
    const wake = (runId: string) => {
      const set = waiters.get(runId)
      if (set === undefined) return
      waiters.delete(runId)
      for (const news of set) Deferred.doneUnsafe(news, Effect.void)
    }
    /**
     * Subscribes to the next news of a run. Subscribe before reading the store, so that a commit between
     * the read and the wait is not missed; `wait` then returns at once, or after the poll interval.
     */
    const subscribe = (runId: string) => {
      const news = Deferred.makeUnsafe<void>()
      let set = waiters.get(runId)
      if (set === undefined) {
        set = new Set()
        waiters.set(runId, set)
      }
      set.add(news)
      const cancel = Effect.sync(() => {
        const current = waiters.get(runId)
        current?.delete(news)
        if (current?.size === 0) waiters.delete(runId)
      })
      return {
        wait: Deferred.await(news).pipe(
          Effect.timeoutOption(pollInterval),
          Effect.ensuring(cancel),
          Effect.asVoid,
        ),
        cancel,
      }
    }

    // Commits by any process (another worker on Postgres) wake the followers of that run.
    yield* PgRunStore.listenCommits((notice) => wake(notice.runId))

    /** A database failure of the run queries, as the engine's store error. */
    const sqlToStore =
      (operation: string) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | StoreError, R> =>
        Effect.mapError(
          effect,
          (error) =>
            (error instanceof SqlError ? new StoreError({ operation, cause: error }) : error) as
              | Exclude<E, SqlError>
              | StoreError,
        )

    const withOwner = <A, E, R>(owner: string, root: GraphRef | undefined, effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, RunOwner, { owner, ...(root === undefined ? {} : { root }) })

    /** Takes up a stored run in this process, as its owner. */
    const resume = (runId: string) =>
      Effect.gen(function* () {
        const owner = yield* runs.ownerOf(runId).pipe(sqlToStore("ownerOf"))
        const snapshot = yield* store.load(runId)
        const graph = snapshot.run.graph
        const handle = yield* withOwner(
          owner,
          { id: graph.id, version: graph.version },
          executor.resume(runId),
        )
        yield* track(handle)
        wake(runId)
        return handle
      })

    /**
     * Records and starts a run that was claimed and enqueued but not yet recorded by the executor (the
     * Postgres mode): its graph version and inputs come from the claimed row. When another process recorded
     * it meanwhile, the store refuses this start (seq 1 is taken) and the run is resumed instead.
     */
    const begin = (runId: string) =>
      Effect.gen(function* () {
        const owner = yield* runs.ownerOf(runId).pipe(sqlToStore("ownerOf"))
        const view = yield* runs.get(owner, runId).pipe(sqlToStore("get"))
        if (view.run.graph !== undefined || view.run.graphId === undefined) return yield* resume(runId)
        const stored = yield* graphs.get(owner, view.run.graphId, view.run.graphVersion).pipe(
          sqlToStore("graph"),
          Effect.catchTag("GraphNotFound", () => Effect.fail(new RunNotFound({ runId }))),
        )
        const root = { id: stored.graph.id, version: stored.graph.version }
        const started = yield* withOwner(
          owner,
          root,
          executor.start(stored.graph, { runId, inputs: view.run.inputs }),
        ).pipe(
          Effect.catchTag("OptionsInvalid", (error) => Effect.die(error)),
          Effect.catchTag("RunInputInvalid", (error) => Effect.die(error)),
          Effect.map((handle) => ({ handle, fresh: true })),
          Effect.catchTag("StoreError", () =>
            Effect.map(resume(runId), (handle) => ({ handle, fresh: false })),
          ),
        )
        if (started.fresh) {
          yield* track(started.handle)
          wake(runId)
        }
        return started.handle
      })

    const drive: RunServiceShape["drive"] = (runId) =>
      Effect.flatMap(begin(runId), (handle) => Effect.asVoid(handle.await))

    const start: RunServiceShape["start"] = (owner, graphId, request) =>
      Effect.gen(function* () {
        const stored = yield* graphs.get(owner, graphId, request.version).pipe(sqlToStore("graph"))
        const graph = stored.graph
        // Validate before claiming, so that a refused start leaves nothing behind.
        yield* checkGraph(graph, registry)
        const inputs = yield* decodeRunInputs(graph, graphIO(graph, registry), request.inputs ?? {})
        const claim = yield* runs
          .claim(owner, {
            runId: crypto.randomUUID(),
            graphId,
            graphVersion: graph.version,
            ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
          })
          .pipe(
            Effect.catchTag("RunConflict", (error) => Effect.die(error)),
            sqlToStore("claim"),
          )
        if (claim.existing) return { runId: claim.runId, existing: true }
        if (queue !== undefined) {
          // The Postgres mode: a worker process records and drives the run.
          yield* queue.enqueue(claim.runId, inputs).pipe(sqlToStore("enqueue"))
          wake(claim.runId)
          return { runId: claim.runId, existing: false }
        }
        const root = { id: graph.id, version: graph.version }
        const handle = yield* withOwner(
          owner,
          root,
          executor.start(graph, { runId: claim.runId, inputs }),
        ).pipe(Effect.catchTag("OptionsInvalid", (error) => Effect.die(error)))
        yield* track(handle)
        wake(claim.runId)
        return { runId: claim.runId, existing: false }
      })

    const checkOwner = (owner: string, runId: string) =>
      Effect.flatMap(sqlToStore("owns")(runs.owns(owner, runId)), (owns) =>
        owns ? Effect.void : Effect.fail(new RunNotFound({ runId })),
      )

    const statusOf = (runId: string) => Effect.map(store.load(runId), (snapshot) => snapshot.run.status)

    const stop: RunServiceShape["stop"] = (owner, runId) =>
      Effect.gen(function* () {
        yield* checkOwner(owner, runId)
        const handle = live.get(runId)
        // Interrupting the driver as a cancellation commits TERMINATED before `cancel` returns (W4).
        if (handle !== undefined) yield* handle.cancel
        wake(runId)
        return yield* statusOf(runId)
      })

    const review: RunServiceShape["review"] = (owner, runId, executionId, decision) =>
      Effect.gen(function* () {
        yield* checkOwner(owner, runId)
        const snapshot = yield* store.load(runId)
        const root = { id: snapshot.run.graph.id, version: snapshot.run.graph.version }
        const handle = yield* withOwner(
          owner,
          root,
          executor.review(runId, executionId, {
            approved: decision.approved,
            ...(decision.data === undefined ? {} : { data: decision.data }),
            ...(decision.message === undefined ? {} : { message: decision.message }),
          }),
        )
        yield* track(handle)
        wake(runId)
        return yield* statusOf(runId)
      })

    /** Whether an event is the run's last: a final status. */
    const isEnd = (event: RunEvent) => event.type === "RunStatus" && isFinal(event.status)

    const follow = (runId: string, afterSeq: number): Stream.Stream<RunEvent, StoreError> =>
      Stream.suspend(() => {
        let last = afterSeq
        let ended = false
        const round: Stream.Stream<RunEvent, StoreError> = Stream.suspend(() =>
          executor.events(runId, last).pipe(
            Stream.filter((event) => !isPersisted(event) || event.seq > last),
            Stream.tap((event) =>
              Effect.sync(() => {
                if (isPersisted(event)) last = event.seq
                if (isEnd(event)) ended = true
              }),
            ),
            Stream.takeUntil(isEnd),
          ),
        )
        /** The subscription taken before the last round read the store. */
        let pending: ReturnType<typeof subscribe> | undefined
        // One round after another, flat (a follower of a run paused for days must not nest streams).
        const step = (): Effect.Effect<
          readonly [Stream.Stream<RunEvent, StoreError>, void] | undefined,
          StoreError
        > =>
          Effect.gen(function* () {
            const previous = pending
            pending = undefined
            if (ended) {
              if (previous !== undefined) yield* previous.cancel
              return undefined
            }
            if (previous !== undefined) {
              // The run is not live here (another process drives it, or it waits for a review or a
              // resume): unless it is over, wait for a NOTIFY (or the poll interval), then read again.
              const status = yield* statusOf(runId).pipe(
                Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)),
              )
              if (status !== undefined && isFinal(status)) {
                yield* previous.cancel
                ended = true
                return [Stream.fromIterable(yield* store.events(runId, last)), undefined] as const
              }
              yield* previous.wait
            }
            pending = subscribe(runId)
            return [round, undefined] as const
          })
        const rounds = Stream.unfold(undefined, step).pipe(
          Stream.flatten(),
          Stream.ensuring(Effect.suspend(() => pending?.cancel ?? Effect.void)),
        )
        return rounds
      }).pipe(Stream.interruptWhen(Deferred.await(stopping)))

    const events: RunServiceShape["events"] = (owner, runId, afterSeq) =>
      Effect.as(checkOwner(owner, runId), follow(runId, afterSeq))

    const resumeUnfinished: RunServiceShape["resumeUnfinished"] = Effect.gen(function* () {
      const unfinished = yield* store.unfinished()
      const resumed: Array<string> = []
      for (const run of unfinished) {
        // A child run resumes inside its parent's agent node (R15), not on its own.
        if (run.parentRunId !== undefined) continue
        const outcome = yield* Effect.result(resume(run.id))
        if (outcome._tag === "Success") resumed.push(run.id)
        else yield* Effect.logWarning(`run ${run.id} could not be resumed: ${String(outcome.failure)}`)
      }
      return resumed
    })

    return {
      registry,
      resources: options.resources ?? Context.empty(),
      start,
      drive,
      stop,
      review,
      events,
      resumeUnfinished,
      shutdown: Effect.asVoid(Deferred.succeed(stopping, undefined)),
    } satisfies RunServiceShape
  })

/**
 * A graph loader for sub-graph runs (R15) that reads the graphs of the run's owner (`RunOwner`, set by the
 * run service around every start and resume), and finds nothing outside a run.
 */
const ownerLoader = Layer.effect(
  GraphLoader,
  Effect.gen(function* () {
    const graphs = yield* GraphStore
    return {
      load: (graphId: string, version?: number) =>
        Effect.flatMap(Effect.serviceOption(RunOwner), (owner) =>
          Option.isNone(owner)
            ? Effect.fail(new GraphNotFound({ graphId, ...(version === undefined ? {} : { version }) }))
            : graphs.loaderFor(owner.value.owner, owner.value.root).load(graphId, version),
        ),
    }
  }),
)

/**
 * The run service.
 *
 * @category services
 */
export class RunService extends Context.Service<RunService, RunServiceShape>()("@weft/host-node/RunService") {
  /**
   * The run service with its executor, over the SQL run store. Closing it interrupts the runs without
   * cancelling them: they stay unfinished and resume on the next start.
   *
   * @category layers
   */
  static readonly layer = (options: RunServiceOptions = {}) => {
    const executor = Executor.layer({
      ...(options.resources === undefined ? {} : { resources: options.resources }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
    })
    const engine = Layer.provideMerge(
      executor,
      Layer.mergeAll(BlockRegistry.layer(options.blocks ?? [coreBlocks]), PgRunStore.layer, ownerLoader),
    )
    return Layer.effect(RunService, make(options)).pipe(Layer.provide(engine), Layer.orDie)
  }
}
