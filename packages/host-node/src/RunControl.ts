/**
 * Requests to a run from a process that may not drive it: stop it, or apply a review decision (R16). In the
 * Postgres mode a run is driven by one `weft worker` process while the API is served by others, so a request
 * is recorded in the database first (`runs.stop_requested_at`, `run_decisions`) and then announced with
 * `NOTIFY weft_run_control`; the process that drives the run acts on the notice, and also checks the records
 * on its own every few seconds, so a notice lost with a connection is not a lost request.
 *
 * A run that was claimed but never started (no worker has recorded it yet) is stopped here at once: it is
 * recorded TERMINATED with its graph version and one `RunStatus` event, in the transaction that checks it
 * is still unstarted, so a worker that starts it later finds seq 1 taken and leaves it alone.
 *
 * @since 0.1.0
 */
import type { Block, Status } from "@weft/engine"
import { Effect, type Scope } from "effect"
import { Sql, type SqlError } from "./Sql.js"

/** The channel of run requests. */
export const CHANNEL = "weft_run_control"

/**
 * A request announced on the channel.
 *
 * @category models
 */
export interface ControlNotice {
  readonly runId: string
  readonly kind: "stop" | "review"
}

/**
 * A review decision waiting for the process that drives its run.
 *
 * @category models
 */
export interface PendingDecision {
  readonly runId: string
  readonly executionId: string
  readonly decision: Block.ReviewDecision
}

/**
 * What a stop request found.
 *
 * @category models
 */
export type StopRequest =
  /** The run had already ended: nothing recorded. */
  | { readonly _tag: "Ended"; readonly status: Status }
  /** The run was claimed but never started: it is now TERMINATED. */
  | { readonly _tag: "TerminatedUnstarted" }
  /** Recorded and announced: the process that drives the run (or takes it up next) terminates it. */
  | { readonly _tag: "Requested" }
  /** No such run. */
  | { readonly _tag: "Missing" }

const FINAL = "('COMPLETED', 'FAILED', 'TERMINATED')"

const notice = (runId: string, kind: ControlNotice["kind"]) => JSON.stringify({ runId, kind })

/**
 * Records a stop request for a run and announces it; a run that never started is terminated at once.
 *
 * @category requests
 */
export const requestStop = (runId: string): Effect.Effect<StopRequest, SqlError, Sql> =>
  Effect.flatMap(Sql, (sql) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const rows = yield* tx.query<{ status: Status; started: boolean; graph_id: string | null }>(
          "SELECT status, graph IS NOT NULL AS started, graph_id FROM runs WHERE id = $1 FOR UPDATE",
          [runId],
        )
        const row = rows[0]
        if (row === undefined) return { _tag: "Missing" } as const
        if (row.status === "COMPLETED" || row.status === "FAILED" || row.status === "TERMINATED") {
          return { _tag: "Ended", status: row.status } as const
        }
        if (!row.started && row.status === "QUEUED") {
          // Recorded as the executor would have: its graph version, TERMINATED, and one RunStatus event.
          const at = Date.now()
          const event = {
            type: "RunStatus",
            runId,
            seq: 1,
            at,
            status: "TERMINATED",
            graphId: row.graph_id ?? "",
            outputs: {},
            cost: 0,
          }
          yield* tx.query(
            `UPDATE runs r SET status = 'TERMINATED', last_seq = 1, updated_at = now(),
               stop_requested_at = now(), inputs = COALESCE(r.inputs, '{}'::jsonb),
               graph = (SELECT v.graph FROM graph_versions v
                        WHERE v.graph_id = r.graph_id AND v.version = r.graph_version)
             WHERE r.id = $1`,
            [runId],
          )
          yield* tx.query("INSERT INTO run_events (run_id, seq, event) VALUES ($1, 1, $2::jsonb)", [
            runId,
            Sql.json(event),
          ])
          yield* tx.query("SELECT pg_notify('weft_run_events', $1)", [JSON.stringify({ runId, lastSeq: 1 })])
          return { _tag: "TerminatedUnstarted" } as const
        }
        yield* tx.query(
          "UPDATE runs SET stop_requested_at = COALESCE(stop_requested_at, now()) WHERE id = $1",
          [runId],
        )
        yield* tx.query("SELECT pg_notify($1, $2)", [CHANNEL, notice(runId, "stop")])
        return { _tag: "Requested" } as const
      }),
    ),
  )

/**
 * Records a review decision for the process that drives the run, and announces it. A newer decision on the
 * same execution replaces one not yet applied.
 *
 * @category requests
 */
export const recordDecision = (pending: PendingDecision): Effect.Effect<void, SqlError, Sql> =>
  Effect.flatMap(Sql, (sql) =>
    sql.transaction((tx) =>
      Effect.andThen(
        tx.query(
          `INSERT INTO run_decisions (run_id, execution_id, decision) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (run_id, execution_id) DO UPDATE SET decision = EXCLUDED.decision, created_at = now()`,
          [pending.runId, pending.executionId, Sql.json(pending.decision)],
        ),
        tx.query("SELECT pg_notify($1, $2)", [CHANNEL, notice(pending.runId, "review")]),
      ),
    ),
  )

/**
 * What the driving process must do for these runs: the ones with a stop request, and the review decisions
 * whose execution is still in REVIEW. Decisions whose execution has left REVIEW (applied, or the run ended)
 * are deleted on the way: call it once more when a run stops, to leave nothing behind.
 *
 * @category requests
 */
export const pending = (
  runIds: ReadonlyArray<string>,
): Effect.Effect<
  { readonly stops: ReadonlyArray<string>; readonly decisions: ReadonlyArray<PendingDecision> },
  SqlError,
  Sql
> =>
  Effect.gen(function* () {
    if (runIds.length === 0) return { stops: [], decisions: [] }
    const sql = yield* Sql
    // One statement: it runs at the start of every drive. The DELETE's effect is not visible to the SELECTs
    // of the same statement, hence the anti-join against what it deleted.
    const rows = yield* sql.query<{
      kind: "stop" | "decision"
      run_id: string
      execution_id: string | null
      decision: Block.ReviewDecision | null
    }>(
      `WITH ids AS (SELECT jsonb_array_elements_text($1::jsonb) AS id),
       stale AS (
         DELETE FROM run_decisions d
         WHERE d.run_id IN (SELECT id FROM ids)
           AND NOT EXISTS (SELECT 1 FROM node_executions e WHERE e.id = d.execution_id AND e.status = 'REVIEW')
         RETURNING d.run_id, d.execution_id)
       SELECT 'stop' AS kind, r.id AS run_id, NULL AS execution_id, NULL::jsonb AS decision, r.created_at AS at
       FROM runs r
       WHERE r.id IN (SELECT id FROM ids) AND r.stop_requested_at IS NOT NULL AND r.status NOT IN ${FINAL}
       UNION ALL
       SELECT 'decision', d.run_id, d.execution_id, d.decision, d.created_at
       FROM run_decisions d
       WHERE d.run_id IN (SELECT id FROM ids)
         AND NOT EXISTS (SELECT 1 FROM stale s WHERE s.run_id = d.run_id AND s.execution_id = d.execution_id)
       ORDER BY at`,
      [Sql.json(runIds)],
    )
    return {
      stops: rows.filter((row) => row.kind === "stop").map((row) => row.run_id),
      decisions: rows.flatMap((row) =>
        row.kind === "decision" && row.execution_id !== null && row.decision !== null
          ? [{ runId: row.run_id, executionId: row.execution_id, decision: row.decision }]
          : [],
      ),
    }
  })

/**
 * The stored status of a run (a claimed, unstarted run is QUEUED); `undefined` when there is none.
 *
 * @category requests
 */
export const statusOf = (runId: string): Effect.Effect<Status | undefined, SqlError, Sql> =>
  Effect.flatMap(Sql, (sql) =>
    Effect.map(
      sql.query<{ status: Status }>("SELECT status FROM runs WHERE id = $1", [runId]),
      (rows) => rows[0]?.status,
    ),
  )

/**
 * The status of one execution of a run; `undefined` when there is none.
 *
 * @category requests
 */
export const executionStatus = (
  runId: string,
  executionId: string,
): Effect.Effect<Status | undefined, SqlError, Sql> =>
  Effect.flatMap(Sql, (sql) =>
    Effect.map(
      sql.query<{ status: Status }>("SELECT status FROM node_executions WHERE run_id = $1 AND id = $2", [
        runId,
        executionId,
      ]),
      (rows) => rows[0]?.status,
    ),
  )

/**
 * Calls `onNotice` for every request announced by any process, for as long as the scope is open.
 *
 * @category requests
 */
export const listen = (
  onNotice: (notice: ControlNotice) => void,
): Effect.Effect<void, SqlError, Sql | Scope.Scope> =>
  Effect.flatMap(Sql, (sql) =>
    sql.listen(CHANNEL, (payload) => {
      const parsed = parse(payload)
      if (parsed !== undefined) onNotice(parsed)
    }),
  )

const parse = (payload: string): ControlNotice | undefined => {
  try {
    const value: unknown = JSON.parse(payload)
    if (typeof value !== "object" || value === null) return undefined
    const { runId, kind } = value as Record<string, unknown>
    return typeof runId === "string" && (kind === "stop" || kind === "review") ? { runId, kind } : undefined
  } catch {
    return undefined
  }
}
