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
  type Graph,
  GraphInvalid,
  GraphLoader,
  GraphNotFound,
  graphIO,
  isFinal,
  isPersisted,
  ReviewNotPending,
  type RunEvent,
  type RunHandle,
  type RunInputInvalid,
  RunNotFound,
  RunStore,
  type RunStoreShape,
  type Status,
  StoreError,
} from "@weft/engine"
import { Context, Deferred, Duration, Effect, Layer, Option, Queue, Schedule, Stream } from "effect"
import { type GraphRef, GraphStore } from "./GraphStore.js"
import { fingerprint } from "./internal/fingerprint.js"
import * as RunObserver from "./ops/RunObserver.js"
import { PgRunStore } from "./PgRunStore.js"
import { RunQueue } from "./Queue.js"
import * as RunControl from "./RunControl.js"
import { type IdempotencyKeyReused, type NodeInputs, RunQueries } from "./RunQueries.js"
import { Sql, SqlError } from "./Sql.js"

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
  /** Block ids or aliases that must not run on this server: graphs using them do not validate. */
  readonly disabledBlocks?: ReadonlyArray<string>
  /** Shared resources for blocks (`LlmConfig`, `SafeHttp`…), as `ExecutorConfig.resources`. */
  readonly resources?: BlockResources
  /** Resolves credential references; without it, blocks with required credentials fail. */
  readonly credentials?: CredentialResolver
  /** Per-run limit on concurrent node executions. */
  readonly maxConcurrency?: number
  /** How often a follower re-reads the store when it hears nothing, and how often the runs driven here look
   * for requests (stop, review) whose notice was missed (default 2 s). */
  readonly pollInterval?: Duration.Input
  /**
   * Whether this process serves event streams and requests of runs driven elsewhere (default true). A
   * `weft worker` turns it off: it then does not LISTEN to every commit of every process.
   */
  readonly serveEvents?: boolean
  /** How long a stop or review of a run driven by another process waits for it to take effect (default 10 s). */
  readonly requestWait?: Duration.Input
}

/**
 * What a stop or a review answers: the run's status afterwards, and `pending` when the request is recorded
 * but has not taken effect within the wait (no worker has taken the run up yet); it takes effect later.
 *
 * @category models
 */
export interface RequestOutcome {
  readonly status: Status
  readonly pending: boolean
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
  /**
   * Input values set on nodes of the graph version for this run only (a preset's credential references),
   * by node id then pin, over the nodes' own values. An unknown node id makes the graph invalid.
   */
  readonly nodeInputs?: NodeInputs
}

/**
 * The graph with `nodeInputs` set over its nodes' values: a new object when anything is set (the engine
 * caches plans per graph object). Fails `GraphInvalid` naming an unknown node.
 */
const withNodeInputs = (
  graph: Graph,
  nodeInputs: NodeInputs | undefined,
): Effect.Effect<Graph, GraphInvalid> => {
  if (nodeInputs === undefined || Object.keys(nodeInputs).length === 0) return Effect.succeed(graph)
  const known = new Set(graph.nodes.map((node) => node.id))
  const unknown = Object.keys(nodeInputs).filter((id) => !known.has(id))
  if (unknown.length > 0) {
    return Effect.fail(
      new GraphInvalid({
        graphId: graph.id,
        errors: Object.fromEntries(unknown.map((id) => [id, { id: `no node ${id} in this graph` }])),
      }),
    )
  }
  return Effect.succeed({
    ...graph,
    nodes: graph.nodes.map((node) => {
      const values = nodeInputs[node.id]
      return values === undefined ? node : { ...node, inputDefault: { ...node.inputDefault, ...values } }
    }),
  })
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
   * repeated start answers the first run's id with `existing: true` and starts nothing; the same key with a
   * different graph, version or inputs fails with `IdempotencyKeyReused`.
   */
  readonly start: (
    owner: string,
    graphId: string,
    request: StartRequest,
  ) => Effect.Effect<
    { readonly runId: string; readonly existing: boolean },
    GraphNotFound | GraphInvalid | RunInputInvalid | IdempotencyKeyReused | StoreError
  >
  /** Drives a stored run in this process until it stops: the queue's unit of work. */
  readonly drive: (runId: string) => Effect.Effect<void, RunNotFound | GraphInvalid | StoreError>
  /**
   * Cancels a run (W4) wherever it is: driven by this process, by a worker, paused in REVIEW, or claimed and
   * not started yet. Answers its status afterwards: TERMINATED, or the final status it had already reached.
   */
  readonly stop: (owner: string, runId: string) => Effect.Effect<RequestOutcome, RunNotFound | StoreError>
  /** Applies a review decision (R16) and continues the run, wherever it is driven. */
  readonly review: (
    owner: string,
    runId: string,
    executionId: string,
    decision: { readonly approved: boolean; readonly data?: unknown; readonly message?: string },
  ) => Effect.Effect<RequestOutcome, RunNotFound | ReviewNotPending | GraphInvalid | StoreError>
  /**
   * Stops driving a run in this process without cancelling it (a worker that lost its lease): it stays
   * unfinished in the store for another process to resume.
   */
  readonly release: (runId: string) => Effect.Effect<void>
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
  /** Completes once `shutdown` has been called: long-lived connections close then. */
  readonly closing: Effect.Effect<void>
}

const make = (options: RunServiceOptions) =>
  Effect.gen(function* () {
    const registry = yield* BlockRegistry
    const executor: ExecutorShape = yield* Executor
    const store: RunStoreShape = yield* RunStore
    const graphs = yield* GraphStore
    const runs = yield* RunQueries
    const pollInterval = options.pollInterval ?? Duration.seconds(2)
    const requestWait = Duration.fromInputUnsafe(options.requestWait ?? Duration.seconds(10))
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
    if (options.serveEvents !== false) yield* PgRunStore.listenCommits((notice) => wake(notice.runId))

    const sql = yield* Sql
    const withSql = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Sql>> =>
      Effect.provideService(effect, Sql, sql)
    const control = {
      requestStop: (runId: string) => withSql(RunControl.requestStop(runId)),
      recordDecision: (pending: RunControl.PendingDecision) => withSql(RunControl.recordDecision(pending)),
      pending: (runIds: ReadonlyArray<string>) => withSql(RunControl.pending(runIds)),
      statusOf: (runId: string) => withSql(RunControl.statusOf(runId)),
      executionStatus: (runId: string, executionId: string) =>
        withSql(RunControl.executionStatus(runId, executionId)),
    }

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
        const nodeInputs = yield* runs.nodeInputsOf(runId).pipe(sqlToStore("nodeInputs"))
        const graph = yield* withNodeInputs(stored.graph, nodeInputs)
        const started = yield* withOwner(
          owner,
          root,
          executor.start(graph, { runId, inputs: view.run.inputs }),
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
      Effect.gen(function* () {
        const requests = yield* control.pending([runId]).pipe(sqlToStore("pending"))
        if (requests.stops.length > 0) {
          // Stopped while no process drove it: terminate it in the store without running anything.
          yield* executor.cancel(runId)
          wake(runId)
          return
        }
        const decided = yield* decide(runId, requests.decisions)
        const handle = decided ?? (yield* begin(runId))
        yield* handle.await
        // Decisions applied while it ran are done with.
        if (decidedRuns.delete(runId)) yield* control.pending([runId]).pipe(sqlToStore("pending"))
      })

    const start: RunServiceShape["start"] = (owner, graphId, request) =>
      Effect.gen(function* () {
        const stored = yield* graphs.get(owner, graphId, request.version).pipe(sqlToStore("graph"))
        const graph = yield* withNodeInputs(stored.graph, request.nodeInputs)
        // Validate before claiming, so that a refused start leaves nothing behind.
        yield* checkGraph(graph, registry)
        const inputs = yield* decodeRunInputs(graph, graphIO(graph, registry), request.inputs ?? {})
        const claim = yield* runs
          .claim(
            owner,
            {
              runId: crypto.randomUUID(),
              graphId,
              graphVersion: graph.version,
              inputs,
              ...(request.nodeInputs === undefined ? {} : { nodeInputs: request.nodeInputs }),
              ...(request.idempotencyKey === undefined
                ? {}
                : {
                    idempotencyKey: request.idempotencyKey,
                    fingerprint: fingerprint({
                      graphId,
                      version: request.version ?? null,
                      inputs: request.inputs ?? {},
                      ...(request.nodeInputs === undefined ? {} : { nodeInputs: request.nodeInputs }),
                    }),
                  }),
            },
            // The Postgres mode: the job is added with the claim, so a claimed run always has one.
            queue?.enqueue,
          )
          .pipe(
            Effect.catchTag("RunConflict", (error) => Effect.die(error)),
            sqlToStore("claim"),
          )
        if (claim.existing) return { runId: claim.runId, existing: true }
        if (queue !== undefined) {
          // A worker process records and drives the run.
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

    const statusOf = (runId: string) =>
      Effect.flatMap(control.statusOf(runId).pipe(sqlToStore("status")), (status) =>
        status === undefined ? Effect.fail(new RunNotFound({ runId })) : Effect.succeed(status),
      )

    /**
     * Waits (at most `requestWait`) until `done` holds for the run's stored status, woken by its commits.
     * Answers the status, and whether it is still pending.
     */
    const awaitRequest = (runId: string, done: (status: Status) => Effect.Effect<boolean, StoreError>) =>
      Effect.gen(function* () {
        const deadline = Date.now() + Duration.toMillis(requestWait)
        while (true) {
          const news = subscribe(runId)
          const status = yield* Effect.onError(statusOf(runId), () => news.cancel)
          if (yield* Effect.onError(done(status), () => news.cancel)) {
            yield* news.cancel
            return { status, pending: false }
          }
          if (Date.now() >= deadline) {
            yield* news.cancel
            return { status, pending: true }
          }
          yield* news.wait
        }
      })

    /** Runs that took a recorded decision while driven here: their records are cleared when the drive ends. */
    const decidedRuns = new Set<string>()

    /** Applies review decisions recorded for a run this process is about to drive; the first one resumes it. */
    const decide = (runId: string, decisions: ReadonlyArray<RunControl.PendingDecision>) =>
      Effect.gen(function* () {
        let handle: RunHandle | undefined
        for (const pending of decisions) {
          if (pending.runId !== runId) continue
          const owner = yield* runs.ownerOf(runId).pipe(sqlToStore("ownerOf"))
          const snapshot = yield* store.load(runId)
          const root = { id: snapshot.run.graph.id, version: snapshot.run.graph.version }
          const applied = yield* withOwner(
            owner,
            root,
            executor.review(runId, pending.executionId, pending.decision),
          ).pipe(
            Effect.map((h): RunHandle | undefined => h),
            Effect.catchTag("ReviewNotPending", () => Effect.succeed(undefined)),
          )
          if (applied !== undefined) {
            decidedRuns.add(runId)
            handle = yield* track(applied)
            wake(runId)
          }
        }
        return handle
      })

    /** Requests seen for the runs driven here, so that a notice and the poll do not apply one twice. */
    const applied = new Set<string>()
    const decisionKey = (pending: RunControl.PendingDecision) =>
      `${pending.runId}\u0000${pending.executionId}\u0000${JSON.stringify(pending.decision)}`

    /** Acts on the requests recorded for runs this process drives (by notice, or by the periodic check). */
    const serveRequests = (runIds: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const here = runIds.filter((runId) => live.has(runId))
        if (here.length === 0) return
        const requests = yield* control.pending(here).pipe(sqlToStore("pending"))
        for (const runId of requests.stops) {
          const handle = live.get(runId)
          if (handle !== undefined) yield* handle.cancel
          wake(runId)
        }
        const fresh = requests.decisions.filter((pending) => !applied.has(decisionKey(pending)))
        for (const pending of fresh) {
          applied.add(decisionKey(pending))
          if (live.has(pending.runId)) yield* decide(pending.runId, [pending])
        }
        // Forget what is no longer pending, so the set stays small.
        const still = new Set(requests.decisions.map(decisionKey))
        for (const key of applied) if (!still.has(key)) applied.delete(key)
      }).pipe(Effect.catchCause((cause) => Effect.logWarning("run requests could not be served", cause)))

    const stop: RunServiceShape["stop"] = (owner, runId) =>
      Effect.gen(function* () {
        yield* checkOwner(owner, runId)
        const handle = live.get(runId)
        if (handle !== undefined) {
          // Interrupting the driver as a cancellation commits TERMINATED before `cancel` returns (W4).
          yield* handle.cancel
          wake(runId)
          return { status: yield* statusOf(runId), pending: false }
        }
        const request = yield* control.requestStop(runId).pipe(sqlToStore("stop"))
        switch (request._tag) {
          case "Missing":
            return yield* Effect.fail(new RunNotFound({ runId }))
          case "Ended":
            return { status: request.status, pending: false }
          case "TerminatedUnstarted":
            wake(runId)
            return { status: "TERMINATED" as const, pending: false }
          case "Requested":
            break
        }
        if (queue === undefined) {
          // A run paused in REVIEW has no driver: terminate it here. A running one may be driven by another
          // host process on the same database, which hears the request; if none ends it in time, this
          // process terminates it (it was left by a process that stopped).
          if ((yield* statusOf(runId)) !== "REVIEW") {
            const outcome = yield* awaitRequest(runId, (status) => Effect.succeed(isFinal(status)))
            if (!outcome.pending) return outcome
          }
          // Another writer finishing it meanwhile makes the store refuse this one: the status says how it ended.
          yield* Effect.ignore(executor.cancel(runId))
          wake(runId)
          return { status: yield* statusOf(runId), pending: false }
        }
        // The worker that drives it hears the request; a run no worker holds is taken up by one to terminate it.
        yield* queue.nudge(runId).pipe(sqlToStore("nudge"))
        return yield* awaitRequest(runId, (status) => Effect.succeed(isFinal(status)))
      })

    const review: RunServiceShape["review"] = (owner, runId, executionId, decision) =>
      Effect.gen(function* () {
        yield* checkOwner(owner, runId)
        const reviewDecision = {
          approved: decision.approved,
          ...(decision.data === undefined ? {} : { data: decision.data }),
          ...(decision.message === undefined ? {} : { message: decision.message }),
        }
        if (queue === undefined || live.has(runId)) {
          const snapshot = yield* store.load(runId)
          const root = { id: snapshot.run.graph.id, version: snapshot.run.graph.version }
          const handle = yield* withOwner(owner, root, executor.review(runId, executionId, reviewDecision))
          yield* track(handle)
          wake(runId)
          return { status: yield* statusOf(runId), pending: false }
        }
        // Another process drives the run, or none does: check the decision is due, record it for the driver.
        const snapshot = yield* store.load(runId)
        const execution = snapshot.executions.find((e) => e.id === executionId)
        if (execution?.status !== "REVIEW" || isFinal(snapshot.run.status)) {
          return yield* Effect.fail(new ReviewNotPending({ runId, executionId }))
        }
        yield* control
          .recordDecision({ runId, executionId, decision: reviewDecision })
          .pipe(sqlToStore("review"))
        yield* queue.nudge(runId).pipe(sqlToStore("nudge"))
        return yield* awaitRequest(runId, (status) =>
          isFinal(status)
            ? Effect.succeed(true)
            : Effect.map(
                control.executionStatus(runId, executionId).pipe(sqlToStore("review")),
                (current) => current !== "REVIEW",
              ),
        )
      })

    const release: RunServiceShape["release"] = (runId) => executor.release(runId)

    // Requests for runs driven here: at once on a notice, and every poll interval in case one was missed.
    const notices = yield* Queue.unbounded<string>()
    yield* withSql(RunControl.listen((notice) => Queue.offerUnsafe(notices, notice.runId)))
    yield* Effect.forkIn(
      Effect.forever(Effect.flatMap(Queue.take(notices), (runId) => serveRequests([runId]))),
      scope,
    )
    yield* Effect.forkIn(
      Effect.repeat(
        Effect.suspend(() => serveRequests([...live.keys()])),
        Schedule.spaced(pollInterval),
      ),
      scope,
    )

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
        else
          yield* Effect.logWarning(`run ${run.id} could not be resumed: ${String(outcome.failure)}`).pipe(
            Effect.annotateLogs({ runId: run.id }),
          )
      }
      // Runs claimed by a process that stopped before starting them: start them now, from the claim.
      for (const runId of yield* runs.unstarted.pipe(sqlToStore("unstarted"))) {
        const outcome = yield* Effect.result(begin(runId))
        if (outcome._tag === "Success") resumed.push(runId)
        else
          yield* Effect.logWarning(`run ${runId} could not be started: ${String(outcome.failure)}`).pipe(
            Effect.annotateLogs({ runId }),
          )
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
      release,
      events,
      resumeUnfinished,
      shutdown: Effect.asVoid(Deferred.succeed(stopping, undefined)),
      closing: Deferred.await(stopping),
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
    const registry = BlockRegistry.layer(options.blocks ?? [coreBlocks], {
      ...(options.disabledBlocks === undefined ? {} : { disabled: options.disabledBlocks }),
    })
    const engine = Layer.provideMerge(
      executor,
      Layer.mergeAll(
        registry,
        // Every commit is observed for metrics and logs (`ops/RunObserver.ts`).
        RunObserver.layer.pipe(Layer.provide([PgRunStore.layer, registry])),
        ownerLoader,
      ),
    )
    return Layer.effect(RunService, make(options)).pipe(Layer.provide(engine), Layer.orDie)
  }
}
