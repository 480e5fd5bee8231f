/**
 * The read side of runs for the API, and their ownership.
 *
 * `claim` makes a run row before the executor starts it: it records the owner, graph and version, and makes
 * starts idempotent. The executor's commits (`PgRunStore`) then fill the row in and never overwrite those
 * three. Another owner's run behaves exactly like a missing one (`RunNotFound`).
 *
 * @since 0.1.0
 */
import {
  type ExecutionRecord,
  type Graph,
  type OutputRecord,
  RunNotFound,
  type RunRecord,
  type Status,
} from "@weft/engine"
import { Context, Data, Effect, Layer } from "effect"
import {
  EXECUTION_COLUMNS,
  type ExecutionRow,
  OUTPUT_COLUMNS,
  type OutputRow,
  RUN_COLUMNS,
  type RunRow,
  toExecutionRecord,
  toOutputRecord,
} from "./internal/sql-rows.js"
import { Sql, type SqlError, type SqlTx } from "./Sql.js"

/**
 * What `claim` is asked for.
 *
 * @category models
 */
export interface ClaimRequest {
  /** The id the new run gets (the executor's `StartOptions.runId`). */
  readonly runId: string
  readonly graphId: string
  readonly graphVersion: number
  /** Claims with the same owner and key give the same run, however many arrive at once. */
  readonly idempotencyKey?: string
  /** The run's decoded inputs, kept from the claim on so that an unstarted run can always be started. */
  readonly inputs?: Readonly<Record<string, unknown>>
  /** What the key's request was (a hash of it): a later claim with the key and another fingerprint is refused. */
  readonly fingerprint?: string
  /** Input values set on some nodes of the graph version for this run, by node id then pin. */
  readonly nodeInputs?: NodeInputs
}

/**
 * Input values a start sets on nodes of the graph version (a preset's credential references), by node id,
 * then input pin.
 *
 * @category models
 */
export type NodeInputs = Readonly<Record<string, Readonly<Record<string, unknown>>>>

/**
 * What `claim` did: `existing` when the idempotency key had already claimed a run (`runId` is that run).
 *
 * @category models
 */
export interface Claim {
  readonly runId: string
  readonly existing: boolean
}

/**
 * A run in a list.
 *
 * @category models
 */
export interface RunSummary {
  readonly id: string
  readonly graphId?: string
  readonly graphVersion?: number
  /** Set on sub-graph runs (R15). */
  readonly parentRunId?: string
  readonly parentExecutionId?: string
  /** QUEUED until the executor records the run. */
  readonly status: Status
  readonly cost: number
  readonly error?: string
  /** Epoch milliseconds. */
  readonly createdAt: number
  /** Epoch milliseconds. */
  readonly updatedAt: number
  /** The seq of the run's last event (0 before the first). */
  readonly lastSeq: number
}

/**
 * A run with everything its page shows.
 *
 * @category models
 */
export interface RunDetail extends RunSummary {
  readonly inputs: Readonly<Record<string, unknown>>
  readonly options: RunRecord["options"]
  /** The exact graph the run executes; absent until the executor records the run. */
  readonly graph?: Graph
}

/**
 * `get`'s answer: the run, its node executions (in creation order), and its outputs (name → values, R14).
 *
 * @category models
 */
export interface RunView {
  readonly run: RunDetail
  readonly executions: ReadonlyArray<ExecutionRecord>
  readonly outputs: Readonly<Record<string, ReadonlyArray<unknown>>>
}

/**
 * Options of `list`.
 *
 * @category models
 */
export interface ListOptions {
  readonly graphId?: string
  /** At most this many runs, newest first. Default 50, at most 1000. */
  readonly limit?: number
  /** Include sub-graph runs (R15). Default false. */
  readonly includeChildren?: boolean
}

/**
 * A claim named a run id that another run already has.
 *
 * @category errors
 */
export class RunConflict extends Data.TaggedError("RunConflict")<{ readonly runId: string }> {
  override get message(): string {
    return `Run id already in use: ${this.runId}`
  }
}

/**
 * An idempotency key was reused for a different request than the one that claimed it.
 *
 * @category errors
 */
export class IdempotencyKeyReused extends Data.TaggedError("IdempotencyKeyReused")<{
  readonly key: string
  readonly runId: string
}> {
  override get message(): string {
    return `The Idempotency-Key was already used for a different request (run ${this.runId})`
  }
}

/**
 * The service's interface.
 *
 * @category models
 */
export interface RunQueriesShape {
  /**
   * Records a new QUEUED run of `owner` (no graph yet: the executor's first commit adds it). With an
   * idempotency key, concurrent and repeated claims of one owner and key give one run. `andThen` runs in the
   * claim's transaction when a new run is claimed (the Postgres mode enqueues its job there, so a claimed
   * run always has a job).
   */
  readonly claim: (
    owner: string,
    request: ClaimRequest,
    andThen?: (tx: SqlTx, runId: string) => Effect.Effect<void, SqlError>,
  ) => Effect.Effect<Claim, RunConflict | IdempotencyKeyReused | SqlError>
  /** The node input values a claim set (see `ClaimRequest.nodeInputs`), or `undefined`. */
  readonly nodeInputsOf: (runId: string) => Effect.Effect<NodeInputs | undefined, SqlError>
  /** Claimed top-level runs that no executor has recorded yet (a process stopped between claim and start). */
  readonly unstarted: Effect.Effect<ReadonlyArray<string>, SqlError>
  /** The owner's runs, newest first. */
  readonly list: (owner: string, options?: ListOptions) => Effect.Effect<ReadonlyArray<RunSummary>, SqlError>
  readonly get: (owner: string, runId: string) => Effect.Effect<RunView, RunNotFound | SqlError>
  /** The values each node execution output (in seq order). */
  readonly nodeOutputs: (
    owner: string,
    runId: string,
  ) => Effect.Effect<ReadonlyArray<OutputRecord>, RunNotFound | SqlError>
  readonly owns: (owner: string, runId: string) => Effect.Effect<boolean, SqlError>
  /** The owner of a run (a sub-graph run's is its parent's); `RunNotFound` for a run without one. */
  readonly ownerOf: (runId: string) => Effect.Effect<string, RunNotFound | SqlError>
}

const toSummary = (row: RunRow): RunSummary => ({
  id: row.id,
  ...(row.graph_id === null ? {} : { graphId: row.graph_id }),
  ...(row.graph_version === null ? {} : { graphVersion: row.graph_version }),
  ...(row.parent_run_id === null ? {} : { parentRunId: row.parent_run_id }),
  ...(row.parent_execution_id === null ? {} : { parentExecutionId: row.parent_execution_id }),
  status: row.status,
  cost: row.cost,
  ...(row.error === null ? {} : { error: row.error }),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastSeq: row.last_seq,
})

const make = Effect.gen(function* () {
  const sql = yield* Sql

  const claim: RunQueriesShape["claim"] = (owner, request, andThen) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const key = request.idempotencyKey
        if (key !== undefined) {
          // Concurrent claims with one key queue on the request's primary key: the first inserts, the others
          // wait for it to commit, insert nothing, and read its run back.
          const inserted = yield* tx.query(
            `INSERT INTO run_requests (owner_id, idempotency_key, run_id, fingerprint) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING RETURNING run_id`,
            [owner, key, request.runId, request.fingerprint ?? null],
          )
          if (inserted.length === 0) {
            const existing = yield* tx.query<{ run_id: string; fingerprint: string | null }>(
              "SELECT run_id, fingerprint FROM run_requests WHERE owner_id = $1 AND idempotency_key = $2",
              [owner, key],
            )
            const first = existing[0]
            if (first !== undefined) {
              const differs =
                first.fingerprint !== null &&
                request.fingerprint !== undefined &&
                first.fingerprint !== request.fingerprint
              if (differs) return yield* new IdempotencyKeyReused({ key, runId: first.run_id })
              return { runId: first.run_id, existing: true }
            }
          }
        }
        const created = yield* tx.query(
          `INSERT INTO runs (id, owner_id, graph_id, graph_version, status, inputs, node_inputs)
           VALUES ($1, $2, $3, $4, 'QUEUED', $5::jsonb, $6::jsonb)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [
            request.runId,
            owner,
            request.graphId,
            request.graphVersion,
            request.inputs === undefined ? null : Sql.json(request.inputs),
            request.nodeInputs === undefined ? null : Sql.json(request.nodeInputs),
          ],
        )
        if (created.length === 0) return yield* new RunConflict({ runId: request.runId })
        if (andThen !== undefined) yield* andThen(tx, request.runId)
        return { runId: request.runId, existing: false }
      }),
    )

  const nodeInputsOf: RunQueriesShape["nodeInputsOf"] = (runId) =>
    Effect.map(
      sql.query<{ node_inputs: NodeInputs | null }>("SELECT node_inputs FROM runs WHERE id = $1", [runId]),
      (rows) => rows[0]?.node_inputs ?? undefined,
    )

  const unstarted: RunQueriesShape["unstarted"] = Effect.map(
    sql.query<{ id: string }>(
      `SELECT id FROM runs WHERE graph IS NULL AND status = 'QUEUED' AND parent_run_id IS NULL
       ORDER BY created_at`,
    ),
    (rows) => rows.map((row) => row.id),
  )

  const list: RunQueriesShape["list"] = (owner, options = {}) =>
    Effect.map(
      sql.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM runs r
         WHERE r.owner_id = $1 AND ($2::text IS NULL OR r.graph_id = $2) AND ($3 OR r.parent_run_id IS NULL)
         ORDER BY r.created_at DESC, r.id DESC LIMIT $4`,
        [
          owner,
          options.graphId ?? null,
          options.includeChildren === true,
          Math.max(1, Math.min(1000, Math.floor(options.limit ?? 50))),
        ],
      ),
      (rows) => rows.map(toSummary),
    )

  const runOf = (owner: string, runId: string) =>
    Effect.gen(function* () {
      const rows = yield* sql.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id = $1 AND r.owner_id = $2`,
        [runId, owner],
      )
      const row = rows[0]
      if (row === undefined) return yield* new RunNotFound({ runId })
      return row
    })

  const get: RunQueriesShape["get"] = (owner, runId) =>
    Effect.gen(function* () {
      const row = yield* runOf(owner, runId)
      const executions = yield* sql.query<ExecutionRow>(
        `SELECT ${EXECUTION_COLUMNS} FROM node_executions e WHERE e.run_id = $1 ORDER BY e.ord`,
        [runId],
      )
      const run: RunDetail = {
        ...toSummary(row),
        inputs: row.inputs ?? {},
        options: row.options,
        ...(row.graph === null ? {} : { graph: row.graph }),
      }
      return { run, executions: executions.map(toExecutionRecord), outputs: row.outputs }
    })

  const nodeOutputs: RunQueriesShape["nodeOutputs"] = (owner, runId) =>
    Effect.gen(function* () {
      yield* runOf(owner, runId)
      const rows = yield* sql.query<OutputRow>(
        `SELECT ${OUTPUT_COLUMNS} FROM node_outputs o WHERE o.run_id = $1 ORDER BY o.seq`,
        [runId],
      )
      return rows.map(toOutputRecord)
    })

  const owns: RunQueriesShape["owns"] = (owner, runId) =>
    Effect.map(
      sql.query("SELECT 1 FROM runs WHERE id = $1 AND owner_id = $2", [runId, owner]),
      (rows) => rows.length > 0,
    )

  const ownerOf: RunQueriesShape["ownerOf"] = (runId) =>
    Effect.gen(function* () {
      const rows = yield* sql.query<{ owner_id: string | null }>("SELECT owner_id FROM runs WHERE id = $1", [
        runId,
      ])
      const owner = rows[0]?.owner_id
      if (owner === undefined || owner === null) return yield* new RunNotFound({ runId })
      return owner
    })

  return { claim, nodeInputsOf, unstarted, list, get, nodeOutputs, owns, ownerOf } satisfies RunQueriesShape
})

/**
 * The run queries service.
 *
 * @category services
 */
export class RunQueries extends Context.Service<RunQueries, RunQueriesShape>()("@weft/host-node/RunQueries") {
  /**
   * The queries on the `Sql` service. Apply the migrations first (`Migrations.layer`).
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<RunQueries, never, Sql> = Layer.effect(RunQueries, make)
}
