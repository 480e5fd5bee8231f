/**
 * The run queue of the Postgres mode: a started run becomes a graphile-worker job (`weft_run` with
 * `{ runId }`, job key = the run id, so a run has at most one job), which a `weft worker` process takes.
 *
 * The HTTP process only claims the run (with its inputs) and enqueues its job in the claim's transaction, so
 * a claimed run always has a job; the worker records the run with the executor and drives it
 * (`RunService.drive`). Jobs are added with graphile-worker's own `add_job` SQL function, on the host's
 * connection.
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import { runMigrations } from "graphile-worker"
import { Sql, type SqlError, type SqlTx } from "./Sql.js"

/** The graphile-worker task that drives a run. */
export const TASK = "weft_run"

/**
 * graphile-worker's migrations failed.
 *
 * @category errors
 */
export class QueueMigrationFailed extends Data.TaggedError("QueueMigrationFailed")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return `graphile-worker migrations failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * Adds (or replaces, while it waits) the job of a run, to run after `delayMs`. A job that a worker holds
 * keeps running and a new one is added, as graphile-worker does for a locked job with the same key.
 *
 * @category constructors
 */
export const addJob = (tx: SqlTx, runId: string, delayMs = 0): Effect.Effect<void, SqlError> =>
  Effect.asVoid(
    tx.query(
      `SELECT 1 FROM graphile_worker.add_job($1::text, json_build_object('runId', $2::text),
         run_at := now() + make_interval(secs => $3::float8 / 1000), job_key := $2::text)`,
      [TASK, runId, delayMs],
    ),
  )

/**
 * Applies graphile-worker's migrations (its `graphile_worker` schema) on the database at `connectionString`.
 *
 * @category constructors
 */
export const migrate = (connectionString: string): Effect.Effect<void, QueueMigrationFailed> =>
  Effect.tryPromise({
    try: () => runMigrations({ preset: { worker: { connectionString } } }),
    catch: (cause) => new QueueMigrationFailed({ cause }),
  })

/**
 * What the run service enqueues with.
 *
 * @category models
 */
export interface RunQueueShape {
  /** Enqueues the job of a run just claimed, inside the claim's transaction (its inputs are in the claim). */
  readonly enqueue: (tx: SqlTx, runId: string) => Effect.Effect<void, SqlError>
  /**
   * Adds a job for a run that may have no driver (a request waits for it: a stop, a review decision), so a
   * worker takes it up. A worker that already drives the run ignores the duplicate.
   */
  readonly nudge: (runId: string) => Effect.Effect<void, SqlError>
}

/**
 * The run queue: present in the Postgres mode with workers; without it the run service drives runs itself.
 *
 * @category services
 */
export class RunQueue extends Context.Service<RunQueue, RunQueueShape>()("@weft/host-node/RunQueue") {
  /**
   * The queue on the `Sql` service (Postgres). Applies graphile-worker's migrations at `connectionString` first.
   *
   * @category layers
   */
  static readonly layer = (connectionString: string): Layer.Layer<RunQueue, QueueMigrationFailed, Sql> =>
    Layer.effect(
      RunQueue,
      Effect.gen(function* () {
        yield* migrate(connectionString)
        const sql = yield* Sql
        return {
          enqueue: (tx, runId) => addJob(tx, runId),
          nudge: (runId) => sql.transaction((tx) => addJob(tx, runId)),
        } satisfies RunQueueShape
      }),
    )
}
