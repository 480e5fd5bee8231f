/**
 * Schedules in the Postgres worker mode: each active schedule has one graphile-worker job `weft_schedule`
 * (`{ scheduleId }`, job key `weft_schedule:<id>`) that runs at its due time. The worker that takes it fires
 * the due time (`Scheduler.runJob`), which adds the job for the following due time in the transaction that
 * claims this one. Jobs are only a wake-up: the `schedules` row decides, so a duplicate or late job fires
 * nothing twice, and a missing one is re-added by the workers' sweep (`ensure`).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { ms, ts } from "../../internal/sql-rows.js"
import type { SqlError, SqlShape, SqlTx } from "../../Sql.js"

/** The graphile-worker task that fires a schedule. */
export const TASK = "weft_schedule"

/**
 * The job key of a schedule's job: at most one waiting job per schedule.
 *
 * @category constructors
 */
export const jobKey = (scheduleId: string): string => `${TASK}:${scheduleId}`

/**
 * Adds (or moves) a schedule's job to run at `runAt` (epoch milliseconds). With `preserve`, a waiting job
 * keeps its time (the sweep only makes sure there is one).
 *
 * @category constructors
 */
export const add = (
  tx: SqlTx,
  scheduleId: string,
  runAt: number,
  options: { readonly preserve?: boolean } = {},
): Effect.Effect<void, SqlError> =>
  Effect.asVoid(
    tx.query(
      `SELECT 1 FROM graphile_worker.add_job($1::text, json_build_object('scheduleId', $2::text),
         run_at := ${ts("$3")}, job_key := $4::text, job_key_mode := $5::text)`,
      [
        TASK,
        scheduleId,
        runAt,
        jobKey(scheduleId),
        options.preserve === true ? "preserve_run_at" : "replace",
      ],
    ),
  )

/**
 * Removes a schedule's waiting job (one a worker holds runs to its end, and finds the schedule gone or
 * paused).
 *
 * @category constructors
 */
export const remove = (tx: SqlTx, scheduleId: string): Effect.Effect<void, SqlError> =>
  Effect.asVoid(tx.query("SELECT 1 FROM graphile_worker.remove_job($1::text)", [jobKey(scheduleId)]))

/**
 * Makes sure every active schedule due at or before `before` (epoch milliseconds; all of them when
 * omitted) has a job: those whose job was lost, or held by a worker that died, or that were created by a
 * host without workers. Answers how many it looked at.
 *
 * @category constructors
 */
export const ensure = (sql: SqlShape, before?: number): Effect.Effect<number, SqlError> =>
  sql.transaction((tx) =>
    Effect.gen(function* () {
      const rows = yield* tx.query<{ id: string; next_fire_at: number }>(
        `SELECT id, ${ms("next_fire_at")} AS next_fire_at FROM schedules
         WHERE NOT paused AND ($1::float8 IS NULL OR next_fire_at <= ${ts("$1")})
         ORDER BY next_fire_at LIMIT 1000`,
        [before ?? null],
      )
      for (const row of rows) yield* add(tx, row.id, row.next_fire_at, { preserve: true })
      return rows.length
    }),
  )

/**
 * The schedule id of a job's payload, if it has one.
 *
 * @category utilities
 */
export const scheduleIdOf = (payload: unknown): string | undefined => {
  const id = (payload as { readonly scheduleId?: unknown } | null)?.scheduleId
  return typeof id === "string" && id !== "" ? id : undefined
}
