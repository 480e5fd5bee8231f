/**
 * Schedules in SQL, and their fires.
 *
 * A schedule's `next_fire_at` is its one due time. `claim(id, due, next)` is the only way a fire happens:
 * `UPDATE … SET next_fire_at = next WHERE id = … AND next_fire_at = due AND NOT paused`, with the fire
 * recorded in `schedule_runs` in the same transaction. However many processes try, one wins a due time; a
 * deleted or paused schedule has no due time left to win. Another owner's schedule behaves exactly like a
 * missing one (`ScheduleNotFound`).
 *
 * Changes are announced with `NOTIFY weft_schedules` (the schedule id), so that timers in other processes
 * look again at once.
 *
 * @since 0.1.0
 */
import type { Status } from "@weft/engine"
import { Context, Data, Effect, Layer } from "effect"
import { ms, ts } from "../../internal/sql-rows.js"
import { Sql, type SqlError, type SqlTx } from "../../Sql.js"

/** The channel on which schedule changes are announced. */
export const CHANGES_CHANNEL = "weft_schedules"

/**
 * A stored schedule.
 *
 * @category models
 */
export interface Schedule {
  readonly id: string
  readonly graphId: string
  /** The pinned graph version; absent: the preset's, else the active version at each fire. */
  readonly version?: number
  readonly presetId?: string
  readonly name: string
  readonly cron: string
  /** The IANA time zone the expression is read in. */
  readonly timezone: string
  /** Merged over the preset's inputs at each fire. */
  readonly inputs: Readonly<Record<string, unknown>>
  readonly paused: boolean
  /** The next due time (epoch milliseconds); absent while paused. */
  readonly nextFireAt?: number
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * A schedule with its owner, as the scheduler reads it.
 *
 * @category models
 */
export interface OwnedSchedule extends Schedule {
  readonly owner: string
}

/**
 * What a schedule is written with.
 *
 * @category models
 */
export interface ScheduleFields {
  readonly graphId: string
  readonly version?: number
  readonly presetId?: string
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly inputs: Readonly<Record<string, unknown>>
  readonly paused: boolean
  /** Absent exactly when paused. */
  readonly nextFireAt?: number
}

/**
 * One claimed due time of a schedule: the run it started, or why none could start; neither while the start
 * is under way (or was cut short, to be retried).
 *
 * @category models
 */
export interface ScheduleFire {
  readonly dueAt: number
  readonly runId?: string
  /** The run's status now. */
  readonly status?: Status
  readonly error?: string
  readonly claimedAt: number
  readonly startedAt?: number
}

/**
 * No schedule with this id for this owner.
 *
 * @category errors
 */
export class ScheduleNotFound extends Data.TaggedError("ScheduleNotFound")<{ readonly scheduleId: string }> {
  override get message(): string {
    return `No schedule ${this.scheduleId}`
  }
}

/** Work done in a schedule write's transaction (the worker mode adds or removes the schedule's job). */
export type InTransaction = (tx: SqlTx, schedule: OwnedSchedule) => Effect.Effect<void, SqlError>

/**
 * The store's interface.
 *
 * @category models
 */
export interface ScheduleStoreShape {
  readonly insert: (
    owner: string,
    id: string,
    fields: ScheduleFields,
    andThen?: InTransaction,
  ) => Effect.Effect<Schedule, SqlError>
  /** The owner's schedules, newest first, those of one graph when `graphId` is given. */
  readonly list: (
    owner: string,
    options?: { readonly graphId?: string },
  ) => Effect.Effect<ReadonlyArray<Schedule>, SqlError>
  readonly get: (owner: string, id: string) => Effect.Effect<Schedule, ScheduleNotFound | SqlError>
  /** Any owner's schedule, for the scheduler; `undefined` when it is gone. */
  readonly find: (id: string) => Effect.Effect<OwnedSchedule | undefined, SqlError>
  /** Replaces every field but the graph, version and preset. */
  readonly update: (
    owner: string,
    id: string,
    fields: ScheduleFields,
    andThen?: InTransaction,
  ) => Effect.Effect<Schedule, ScheduleNotFound | SqlError>
  readonly remove: (
    owner: string,
    id: string,
    andThen?: InTransaction,
  ) => Effect.Effect<void, ScheduleNotFound | SqlError>
  /** The schedule's latest fires, newest first. */
  readonly fires: (id: string, limit?: number) => Effect.Effect<ReadonlyArray<ScheduleFire>, SqlError>
  /**
   * Claims the due time `due` of a schedule and moves it to `next` (or pauses it when it never fires again),
   * recording the fire (claimed at `now`). Answers the schedule as claimed, or `undefined` when another
   * process claimed the due time first or the schedule is gone or paused.
   */
  readonly claim: (
    id: string,
    due: number,
    next: number | undefined,
    now: number,
    andThen?: InTransaction,
  ) => Effect.Effect<OwnedSchedule | undefined, SqlError>
  /** Records what a claimed fire started (at `now`): its run, or why none started. */
  readonly settle: (
    id: string,
    due: number,
    outcome: { readonly runId: string } | { readonly error: string },
    now: number,
  ) => Effect.Effect<void, SqlError>
  /** Schedules not paused whose due time is at or before `at`, earliest first. */
  readonly due: (
    at: number,
    limit: number,
  ) => Effect.Effect<ReadonlyArray<{ readonly id: string; readonly nextFireAt: number }>, SqlError>
  /** The earliest due time of all schedules not paused. */
  readonly earliest: Effect.Effect<number | undefined, SqlError>
  /** Fires claimed at or before `before` whose start never completed (the process stopped in between). */
  readonly unsettled: (
    before: number,
    limit: number,
  ) => Effect.Effect<ReadonlyArray<{ readonly scheduleId: string; readonly dueAt: number }>, SqlError>
}

interface ScheduleRow {
  readonly id: string
  readonly owner_id: string
  readonly graph_id: string
  readonly graph_version: number | null
  readonly preset_id: string | null
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly inputs: Record<string, unknown>
  readonly paused: boolean
  readonly next_fire_at: number | null
  readonly created_at: number
  readonly updated_at: number
}

const COLUMNS = `id, owner_id, graph_id, graph_version, preset_id, name, cron, timezone, inputs, paused,
  ${ms("next_fire_at")} AS next_fire_at, ${ms("created_at")} AS created_at, ${ms("updated_at")} AS updated_at`

const toOwned = (row: ScheduleRow): OwnedSchedule => ({
  id: row.id,
  owner: row.owner_id,
  graphId: row.graph_id,
  ...(row.graph_version === null ? {} : { version: row.graph_version }),
  ...(row.preset_id === null ? {} : { presetId: row.preset_id }),
  name: row.name,
  cron: row.cron,
  timezone: row.timezone,
  inputs: row.inputs,
  paused: row.paused,
  ...(row.next_fire_at === null ? {} : { nextFireAt: row.next_fire_at }),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
})

const toSchedule = (row: ScheduleRow): Schedule => {
  const { owner: _owner, ...schedule } = toOwned(row)
  return schedule
}

const notify = (tx: SqlTx, id: string) => tx.query("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, id])

const make = Effect.gen(function* () {
  const sql = yield* Sql

  const insert: ScheduleStoreShape["insert"] = (owner, id, fields, andThen) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const rows = yield* tx.query<ScheduleRow>(
          `INSERT INTO schedules (id, owner_id, graph_id, graph_version, preset_id, name, cron, timezone, inputs,
             paused, next_fire_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, ${ts("$11")}) RETURNING ${COLUMNS}`,
          [
            id,
            owner,
            fields.graphId,
            fields.version ?? null,
            fields.presetId ?? null,
            fields.name,
            fields.cron,
            fields.timezone,
            Sql.json(fields.inputs),
            fields.paused,
            fields.nextFireAt ?? null,
          ],
        )
        const schedule = toOwned(rows[0] as ScheduleRow)
        if (andThen !== undefined) yield* andThen(tx, schedule)
        yield* notify(tx, id)
        return toSchedule(rows[0] as ScheduleRow)
      }),
    )

  const list: ScheduleStoreShape["list"] = (owner, options = {}) =>
    Effect.map(
      sql.query<ScheduleRow>(
        `SELECT ${COLUMNS} FROM schedules WHERE owner_id = $1 AND ($2::text IS NULL OR graph_id = $2)
         ORDER BY created_at DESC, id DESC`,
        [owner, options.graphId ?? null],
      ),
      (rows) => rows.map(toSchedule),
    )

  const get: ScheduleStoreShape["get"] = (owner, id) =>
    Effect.flatMap(
      sql.query<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules WHERE id = $1 AND owner_id = $2`, [id, owner]),
      (rows) =>
        rows[0] === undefined
          ? Effect.fail(new ScheduleNotFound({ scheduleId: id }))
          : Effect.succeed(toSchedule(rows[0])),
    )

  const find: ScheduleStoreShape["find"] = (id) =>
    Effect.map(sql.query<ScheduleRow>(`SELECT ${COLUMNS} FROM schedules WHERE id = $1`, [id]), (rows) =>
      rows[0] === undefined ? undefined : toOwned(rows[0]),
    )

  const update: ScheduleStoreShape["update"] = (owner, id, fields, andThen) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const rows = yield* tx.query<ScheduleRow>(
          `UPDATE schedules SET name = $3, cron = $4, timezone = $5, inputs = $6::jsonb, paused = $7,
             next_fire_at = ${ts("$8")}, updated_at = now()
           WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
          [
            id,
            owner,
            fields.name,
            fields.cron,
            fields.timezone,
            Sql.json(fields.inputs),
            fields.paused,
            fields.nextFireAt ?? null,
          ],
        )
        const row = rows[0]
        if (row === undefined) return yield* new ScheduleNotFound({ scheduleId: id })
        if (andThen !== undefined) yield* andThen(tx, toOwned(row))
        yield* notify(tx, id)
        return toSchedule(row)
      }),
    )

  const remove: ScheduleStoreShape["remove"] = (owner, id, andThen) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const rows = yield* tx.query<ScheduleRow>(
          `DELETE FROM schedules WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
          [id, owner],
        )
        const row = rows[0]
        if (row === undefined) return yield* new ScheduleNotFound({ scheduleId: id })
        if (andThen !== undefined) yield* andThen(tx, toOwned(row))
        yield* notify(tx, id)
      }),
    )

  const fires: ScheduleStoreShape["fires"] = (id, limit = 10) =>
    Effect.map(
      sql.query<{
        due_at: number
        run_id: string | null
        status: Status | null
        error: string | null
        claimed_at: number
        started_at: number | null
      }>(
        `SELECT ${ms("f.due_at")} AS due_at, f.run_id, r.status, f.error, ${ms("f.claimed_at")} AS claimed_at,
           ${ms("f.started_at")} AS started_at
         FROM schedule_runs f LEFT JOIN runs r ON r.id = f.run_id
         WHERE f.schedule_id = $1 ORDER BY f.due_at DESC LIMIT $2`,
        [id, Math.max(1, Math.min(100, Math.floor(limit)))],
      ),
      (rows) =>
        rows.map(
          (row): ScheduleFire => ({
            dueAt: row.due_at,
            ...(row.run_id === null ? {} : { runId: row.run_id }),
            ...(row.status === null ? {} : { status: row.status }),
            ...(row.error === null ? {} : { error: row.error }),
            claimedAt: row.claimed_at,
            ...(row.started_at === null ? {} : { startedAt: row.started_at }),
          }),
        ),
    )

  const claim: ScheduleStoreShape["claim"] = (id, due, next, now, andThen) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const rows = yield* tx.query<ScheduleRow>(
          `UPDATE schedules SET next_fire_at = ${ts("$3")}, paused = $3::float8 IS NULL
           WHERE id = $1 AND next_fire_at = ${ts("$2")} AND NOT paused RETURNING ${COLUMNS}`,
          [id, due, next ?? null],
        )
        const row = rows[0]
        if (row === undefined) return undefined
        yield* tx.query(
          `INSERT INTO schedule_runs (schedule_id, due_at, claimed_at) VALUES ($1, ${ts("$2")}, ${ts("$3")})
           ON CONFLICT DO NOTHING`,
          [id, due, now],
        )
        const schedule = toOwned(row)
        if (andThen !== undefined) yield* andThen(tx, schedule)
        return schedule
      }),
    )

  const settle: ScheduleStoreShape["settle"] = (id, due, outcome, now) =>
    Effect.asVoid(
      sql.query(
        `UPDATE schedule_runs SET run_id = $3, error = $4, started_at = ${ts("$5")}
         WHERE schedule_id = $1 AND due_at = ${ts("$2")}`,
        [id, due, "runId" in outcome ? outcome.runId : null, "error" in outcome ? outcome.error : null, now],
      ),
    )

  const due: ScheduleStoreShape["due"] = (at, limit) =>
    Effect.map(
      sql.query<{ id: string; next_fire_at: number }>(
        `SELECT id, ${ms("next_fire_at")} AS next_fire_at FROM schedules
         WHERE NOT paused AND next_fire_at <= ${ts("$1")} ORDER BY next_fire_at LIMIT $2`,
        [at, limit],
      ),
      (rows) => rows.map((row) => ({ id: row.id, nextFireAt: row.next_fire_at })),
    )

  const earliest: ScheduleStoreShape["earliest"] = Effect.map(
    sql.query<{ at: number | null }>(
      `SELECT ${ms("min(next_fire_at)")} AS at FROM schedules WHERE NOT paused`,
    ),
    (rows) => rows[0]?.at ?? undefined,
  )

  const unsettled: ScheduleStoreShape["unsettled"] = (before, limit) =>
    Effect.map(
      sql.query<{ schedule_id: string; due_at: number }>(
        `SELECT schedule_id, ${ms("due_at")} AS due_at FROM schedule_runs
         WHERE started_at IS NULL AND claimed_at <= ${ts("$1")} ORDER BY claimed_at LIMIT $2`,
        [before, limit],
      ),
      (rows) => rows.map((row) => ({ scheduleId: row.schedule_id, dueAt: row.due_at })),
    )

  return {
    insert,
    list,
    get,
    find,
    update,
    remove,
    fires,
    claim,
    settle,
    due,
    earliest,
    unsettled,
  } satisfies ScheduleStoreShape
})

/**
 * The schedule store.
 *
 * @category services
 */
export class ScheduleStore extends Context.Service<ScheduleStore, ScheduleStoreShape>()(
  "@weft/host-node/ScheduleStore",
) {
  /**
   * The store on the `Sql` service. Apply the migrations first (`Migrations.layer`).
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<ScheduleStore, never, Sql> = Layer.effect(ScheduleStore, make)
}
