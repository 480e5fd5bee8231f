/**
 * Schedules for the API: create (the cron expression, the time zone, the graph and the inputs are checked
 * first, so a schedule that is stored can fire), list, read with the next due time and the latest fires,
 * pause or resume or change, and delete. In the Postgres worker mode, every write also adds, moves or
 * removes the schedule's graphile-worker job in its transaction.
 *
 * @since 0.1.0
 */
import type { GraphInvalid, GraphNotFound, RunInputInvalid } from "@weft/engine"
import { Context, Data, Effect, Layer } from "effect"
import { GraphStore } from "../../GraphStore.js"
import { RunService } from "../../RunService.js"
import { SqlError, type SqlTx } from "../../Sql.js"
import { type Preset, type PresetNotFound, PresetStore } from "../presets/PresetStore.js"
import * as RunTemplate from "../presets/RunTemplate.js"
import * as Cron from "./Cron.js"
import * as ScheduleJobs from "./ScheduleJobs.js"
import { Scheduler, templateOf } from "./Scheduler.js"
import {
  type OwnedSchedule,
  type Schedule,
  type ScheduleFire,
  type ScheduleNotFound,
  ScheduleStore,
} from "./ScheduleStore.js"

/**
 * What a schedule is created with.
 *
 * @category models
 */
export interface ScheduleCreate {
  readonly graphId: string
  readonly cron: string
  readonly timezone: string
  readonly inputs?: Readonly<Record<string, unknown>>
  readonly presetId?: string
  readonly version?: number
  readonly name?: string
  /** Create it paused. Default false. */
  readonly paused?: boolean
}

/**
 * What a schedule is changed with: the fields given replace the stored ones.
 *
 * @category models
 */
export interface ScheduleUpdate {
  readonly name?: string
  readonly cron?: string
  readonly timezone?: string
  readonly inputs?: Readonly<Record<string, unknown>>
  readonly paused?: boolean
}

/**
 * A schedule with its latest fires.
 *
 * @category models
 */
export interface ScheduleDetail extends Schedule {
  readonly fires: ReadonlyArray<ScheduleFire>
}

/**
 * The preset named by a schedule belongs to another graph.
 *
 * @category errors
 */
export class PresetGraphMismatch extends Data.TaggedError("PresetGraphMismatch")<{
  readonly presetId: string
  readonly presetGraphId: string
  readonly graphId: string
}> {
  override get message(): string {
    return `Preset ${this.presetId} is for graph ${this.presetGraphId}, not ${this.graphId}`
  }
}

/**
 * Why a schedule could not be saved.
 *
 * @category models
 */
export type ScheduleRefused =
  | Cron.CronInvalid
  | Cron.TimeZoneInvalid
  | GraphNotFound
  | GraphInvalid
  | RunInputInvalid
  | RunTemplate.CredentialRefsInvalid
  | PresetNotFound
  | PresetGraphMismatch

/**
 * The schedules service's interface.
 *
 * @category models
 */
export interface SchedulesShape {
  readonly create: (owner: string, request: ScheduleCreate) => Effect.Effect<Schedule, ScheduleRefused>
  readonly list: (
    owner: string,
    options?: { readonly graphId?: string },
  ) => Effect.Effect<ReadonlyArray<Schedule>>
  readonly get: (owner: string, id: string) => Effect.Effect<ScheduleDetail, ScheduleNotFound>
  readonly update: (
    owner: string,
    id: string,
    request: ScheduleUpdate,
  ) => Effect.Effect<Schedule, ScheduleNotFound | ScheduleRefused>
  readonly remove: (owner: string, id: string) => Effect.Effect<void, ScheduleNotFound>
}

const isSqlError = (error: unknown): error is SqlError => error instanceof SqlError

const make = Effect.gen(function* () {
  const store = yield* ScheduleStore
  const presets = yield* PresetStore
  const graphs = yield* GraphStore
  const { registry } = yield* RunService
  const scheduler = yield* Scheduler
  const credentials = yield* RunTemplate.credentialLookup
  const services = { graphs, registry, ...(credentials === undefined ? {} : { credentials }) }
  /** A database failure is a defect (a 500), never an answer. */
  const orDie = <A, E>(effect: Effect.Effect<A, E | SqlError>): Effect.Effect<A, Exclude<E, SqlError>> =>
    Effect.catchIf(effect, isSqlError, Effect.die) as Effect.Effect<A, Exclude<E, SqlError>>

  /** The job bookkeeping of a write in the worker mode: the schedule's job at its due time, or none. */
  const syncJob = scheduler.jobs
    ? (tx: SqlTx, schedule: OwnedSchedule) =>
        schedule.paused || schedule.nextFireAt === undefined
          ? ScheduleJobs.remove(tx, schedule.id)
          : ScheduleJobs.add(tx, schedule.id, schedule.nextFireAt)
    : undefined

  /** Checks what a schedule would start, as a complete run of its graph. */
  const checkRun = (
    owner: string,
    schedule: {
      readonly graphId: string
      readonly version?: number
      readonly inputs: Readonly<Record<string, unknown>>
    },
    preset: Preset | undefined,
  ) => orDie(RunTemplate.check(services, owner, templateOf(schedule, preset), "complete"))

  const presetFor = (owner: string, presetId: string | undefined, graphId: string) =>
    Effect.gen(function* () {
      if (presetId === undefined) return undefined
      const preset = yield* orDie(presets.get(owner, presetId))
      if (preset.graphId !== graphId) {
        return yield* new PresetGraphMismatch({ presetId, presetGraphId: preset.graphId, graphId })
      }
      return preset
    })

  const create: SchedulesShape["create"] = (owner, request) =>
    Effect.gen(function* () {
      const id = crypto.randomUUID()
      const now = scheduler.now()
      const rule = yield* Cron.parse(request.cron, request.timezone, { seed: id, now })
      const preset = yield* presetFor(owner, request.presetId, request.graphId)
      const fields = {
        graphId: request.graphId,
        ...(request.version === undefined ? {} : { version: request.version }),
        ...(request.presetId === undefined ? {} : { presetId: request.presetId }),
        name: request.name ?? "",
        cron: rule.cron,
        timezone: rule.timezone,
        inputs: request.inputs ?? {},
      }
      yield* checkRun(owner, fields, preset)
      const paused = request.paused === true
      const next = paused ? undefined : Cron.nextAfter(rule, now)
      return yield* orDie(
        store.insert(
          owner,
          id,
          {
            ...fields,
            paused: paused || next === undefined,
            ...(next === undefined ? {} : { nextFireAt: next }),
          },
          syncJob,
        ),
      )
    })

  const update: SchedulesShape["update"] = (owner, id, request) =>
    Effect.gen(function* () {
      const current = yield* orDie(store.get(owner, id))
      const now = scheduler.now()
      const rule = yield* Cron.parse(request.cron ?? current.cron, request.timezone ?? current.timezone, {
        seed: id,
        now,
      })
      const inputs = request.inputs ?? current.inputs
      if (request.inputs !== undefined) {
        const preset = yield* presetFor(owner, current.presetId, current.graphId)
        yield* checkRun(owner, { ...current, inputs }, preset)
      }
      const paused = request.paused ?? current.paused
      const ruleChanged = rule.cron !== current.cron || rule.timezone !== current.timezone
      // The due time stays unless the rule changed or the schedule resumes.
      const next = paused
        ? undefined
        : !ruleChanged && current.nextFireAt !== undefined
          ? current.nextFireAt
          : Cron.nextAfter(rule, now)
      return yield* orDie(
        store.update(
          owner,
          id,
          {
            graphId: current.graphId,
            ...(current.version === undefined ? {} : { version: current.version }),
            ...(current.presetId === undefined ? {} : { presetId: current.presetId }),
            name: request.name ?? current.name,
            cron: rule.cron,
            timezone: rule.timezone,
            inputs,
            paused: paused || next === undefined,
            ...(next === undefined ? {} : { nextFireAt: next }),
          },
          syncJob,
        ),
      )
    })

  const get: SchedulesShape["get"] = (owner, id) =>
    Effect.gen(function* () {
      const schedule = yield* orDie(store.get(owner, id))
      const fires = yield* orDie(store.fires(id, 10))
      return { ...schedule, fires }
    })

  return {
    create,
    list: (owner, options) => orDie(store.list(owner, options)),
    get,
    update,
    remove: (owner, id) =>
      orDie(
        store.remove(owner, id, syncJob === undefined ? undefined : (tx, s) => ScheduleJobs.remove(tx, s.id)),
      ),
  } satisfies SchedulesShape
})

/**
 * The schedules service.
 *
 * @category services
 */
export class Schedules extends Context.Service<Schedules, SchedulesShape>()("@weft/host-node/Schedules") {
  /**
   * The service over the stores, the run service (its block registry) and the scheduler (its clock, and
   * whether schedules have jobs here).
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<
    Schedules,
    never,
    ScheduleStore | PresetStore | GraphStore | RunService | Scheduler
  > = Layer.effect(Schedules, make)
}
