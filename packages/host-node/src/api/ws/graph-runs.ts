/**
 * New runs of a graph, noticed across processes: every commit of any host or worker process on the database
 * is announced by `NOTIFY` (`PgRunStore.listenCommits`); a run id heard for the first time is looked up
 * once (its owner, graph and parent) and handed to the watchers of that owner's graph.
 *
 * One feed serves every socket of the process: one `LISTEN`, one lookup per run.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Queue, type Scope } from "effect"
import { type CommitNotice, PgRunStore } from "../../PgRunStore.js"
import { RunQueries } from "../../RunQueries.js"
import type { Sql } from "../../Sql.js"

/**
 * The feed's interface.
 *
 * @category models
 */
export interface GraphRunsShape {
  /**
   * Calls `onRun` with the id of a top-level run of `owner`'s graph `graphId` each time that run commits
   * (its first commit included), from any process, until the scope closes. `onRun` runs on the feed's
   * fiber: it must be quick (fork the work).
   */
  readonly watch: (
    owner: string,
    graphId: string,
    onRun: (runId: string) => Effect.Effect<void>,
  ) => Effect.Effect<void, never, Scope.Scope>
}

/** What a run id is: its owner, and (once someone watched that owner) its graph. Neither ever changes. */
interface RunRef {
  readonly owner: string | undefined
  /** `null`: a sub-graph run or a run without a graph, never watched. `undefined`: not looked up yet. */
  readonly graphId?: string | null
}

/** How many run ids the feed remembers. */
const CACHE_SIZE = 10_000

const keyOf = (owner: string, graphId: string) => `${owner}\u0000${graphId}`

const make = Effect.gen(function* () {
  const runs = yield* RunQueries
  const watchers = new Map<string, Set<(runId: string) => Effect.Effect<void>>>()
  /** Owners with at least one watcher, with their watcher count. */
  const owners = new Map<string, number>()
  const refs = new Map<string, RunRef>()

  const remember = (runId: string, ref: RunRef) => {
    refs.delete(runId)
    refs.set(runId, ref)
    if (refs.size > CACHE_SIZE) {
      const oldest = refs.keys().next()
      if (oldest.done !== true) refs.delete(oldest.value)
    }
    return ref
  }

  /** The run's owner and graph, looked up as far as the watchers need. */
  const refOf = (runId: string): Effect.Effect<RunRef | undefined> =>
    Effect.gen(function* () {
      let ref = refs.get(runId)
      if (ref === undefined) {
        const owner = yield* runs
          .ownerOf(runId)
          .pipe(Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)))
        ref = remember(runId, { owner })
      }
      if (ref.owner === undefined || ref.graphId !== undefined || !owners.has(ref.owner)) return ref
      const view = yield* runs.get(ref.owner, runId)
      const graphId =
        view.run.parentRunId === undefined && view.run.graphId !== undefined ? view.run.graphId : null
      return remember(runId, { owner: ref.owner, graphId })
    }).pipe(
      Effect.catch((error) =>
        Effect.as(Effect.logWarning(`the run ${runId} could not be looked up: ${String(error)}`), undefined),
      ),
    )

  const onCommit = (notice: CommitNotice) =>
    Effect.gen(function* () {
      if (watchers.size === 0) return
      const ref = yield* refOf(notice.runId)
      if (ref?.owner === undefined || ref.graphId === undefined || ref.graphId === null) return
      const listeners = watchers.get(keyOf(ref.owner, ref.graphId))
      if (listeners === undefined) return
      for (const onRun of [...listeners]) yield* onRun(notice.runId)
    })

  const notices = yield* Queue.unbounded<CommitNotice>()
  yield* PgRunStore.listenCommits((notice) => {
    Queue.offerUnsafe(notices, notice)
  })
  yield* Effect.forever(Effect.flatMap(Queue.take(notices), onCommit)).pipe(Effect.forkScoped)

  const watch: GraphRunsShape["watch"] = (owner, graphId, onRun) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const key = keyOf(owner, graphId)
        let set = watchers.get(key)
        if (set === undefined) {
          set = new Set()
          watchers.set(key, set)
        }
        set.add(onRun)
        owners.set(owner, (owners.get(owner) ?? 0) + 1)
        return key
      }),
      (key) =>
        Effect.sync(() => {
          const set = watchers.get(key)
          set?.delete(onRun)
          if (set?.size === 0) watchers.delete(key)
          const count = (owners.get(owner) ?? 1) - 1
          if (count <= 0) owners.delete(owner)
          else owners.set(owner, count)
        }),
    ).pipe(Effect.asVoid)

  return { watch } satisfies GraphRunsShape
})

/**
 * The feed of new runs by graph.
 *
 * @category services
 */
export class GraphRuns extends Context.Service<GraphRuns, GraphRunsShape>()("@weft/host-node/api/GraphRuns") {
  /**
   * The feed, listening for commits until the layer closes.
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<GraphRuns, never, Sql | RunQueries> = Layer.effect(GraphRuns, make).pipe(
    Layer.orDie,
  )
}
