/**
 * Firing schedules: exactly one run per due time, whatever the number of processes.
 *
 * A fire is two steps:
 * 1. **Claim** (one SQL transaction): `next_fire_at` moves from the due time to the following one, if it is
 *    still the due time, and the fire is recorded in `schedule_runs`. One process wins a due time; the
 *    others find it moved and do nothing. The following time is the first after *now*: when the host was
 *    down across several due times, the earliest is fired once and the missed ones are skipped (coalesced).
 * 2. **Start**: the run starts as the schedule's owner with the idempotency key
 *    `weft:schedule:<id>:<due time>`, then the fire is settled with the run id (or why no run could start).
 *    A process that stopped between the two leaves the fire unsettled; `recover` starts it again with the
 *    same key, so a run is never started twice for one due time.
 *
 * In the embedded and inline modes the host's timer (`ScheduleTimer`) calls `fireDue`; in the Postgres worker
 * mode a graphile-worker job per schedule calls `runJob` (`ScheduleJobs`).
 *
 * @since 0.1.0
 */
import type { GraphInvalid, GraphNotFound, RunInputInvalid, StoreError } from "@weft/engine"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { RunQueue } from "../../Queue.js"
import type { IdempotencyKeyReused } from "../../RunQueries.js"
import { RunService } from "../../RunService.js"
import { Sql, type SqlError } from "../../Sql.js"
import { type Preset, type PresetNotFound, PresetStore } from "../presets/PresetStore.js"
import { startRequest } from "../presets/Presets.js"
import { type CredentialRefsInvalid, credentialLookup, type RunTemplate } from "../presets/RunTemplate.js"
import * as Cron from "./Cron.js"
import * as ScheduleJobs from "./ScheduleJobs.js"
import { type OwnedSchedule, ScheduleStore } from "./ScheduleStore.js"

/**
 * How the scheduler runs.
 *
 * @category models
 */
export interface SchedulerOptions {
  /** The clock, in epoch milliseconds (tests move it). Default `Date.now`. */
  readonly now?: () => number
  /** A claimed fire whose start has not completed after this long is started again. Default 30 s. */
  readonly retryAfter?: Duration.Input
}

/**
 * What firing a due time did.
 *
 * @category models
 */
export type FireOutcome =
  /** The run started (`existing`: it had already been started for this due time). */
  | {
      readonly _tag: "Started"
      readonly scheduleId: string
      readonly runId: string
      readonly existing: boolean
    }
  /** The due time was claimed but no run could start (the graph or the inputs no longer validate). */
  | { readonly _tag: "Refused"; readonly scheduleId: string; readonly error: string }
  /** Another process claimed the due time first, or the schedule is gone, paused or not due. */
  | { readonly _tag: "Skipped"; readonly scheduleId: string }

/**
 * The scheduler's interface.
 *
 * @category models
 */
export interface SchedulerShape {
  /** The scheduler's clock, in epoch milliseconds. */
  readonly now: () => number
  /** Whether schedules have graphile-worker jobs here (the Postgres worker mode). */
  readonly jobs: boolean
  /** Fires the due time `due` of a schedule, if it is due and still that schedule's due time. */
  readonly fire: (
    scheduleId: string,
    due: number,
  ) => Effect.Effect<FireOutcome, SqlError | StoreError | PresetNotFound>
  /** Fires every schedule that is due now (the timer's tick); a fire that fails is logged and retried later. */
  readonly fireDue: Effect.Effect<ReadonlyArray<FireOutcome>, SqlError>
  /** Starts again the fires whose start a stopped process left unfinished; answers how many. */
  readonly recover: Effect.Effect<number, SqlError>
  /** The `weft_schedule` job of a schedule: fires it when due, else moves the job to its due time. */
  readonly runJob: (scheduleId: string) => Effect.Effect<void, SqlError | StoreError | PresetNotFound>
  /**
   * The worker mode's safety net, run by every worker now and then: gives a job to every schedule overdue by
   * more than `graceMillis` (its job was lost, or is held by a worker that died), or to every schedule with
   * `graceMillis` undefined (a worker starting: schedules created by a host without workers have none), and
   * starts unsettled fires again.
   */
  readonly sweep: (graceMillis?: number) => Effect.Effect<void, SqlError>
}

/**
 * The idempotency key of a schedule's run for one due time.
 *
 * @category constructors
 */
export const idempotencyKey = (scheduleId: string, due: number): string =>
  `weft:schedule:${scheduleId}:${new Date(due).toISOString()}`

/**
 * What a schedule starts: its graph, its version (else its preset's), its inputs merged over its preset's,
 * and its preset's credential references.
 *
 * @category constructors
 */
export const templateOf = (
  schedule: {
    readonly graphId: string
    readonly version?: number
    readonly inputs: Readonly<Record<string, unknown>>
  },
  preset: Preset | undefined,
): RunTemplate => {
  const version = schedule.version ?? preset?.version
  return {
    graphId: schedule.graphId,
    ...(version === undefined ? {} : { version }),
    inputs: { ...preset?.inputs, ...schedule.inputs },
    credentials: preset?.credentials ?? {},
  }
}

/**
 * The rule of a stored schedule (`H` fields are seeded by its id).
 *
 * @category constructors
 */
export const ruleOf = (schedule: {
  readonly id: string
  readonly cron: string
  readonly timezone: string
}): Cron.CronRule => ({ cron: schedule.cron, timezone: schedule.timezone, seed: schedule.id })

const make = (options: SchedulerOptions) =>
  Effect.gen(function* () {
    const store = yield* ScheduleStore
    const presets = yield* PresetStore
    const runs = yield* RunService
    const sql = yield* Sql
    const jobs = Option.isSome(yield* Effect.serviceOption(RunQueue))
    const credentials = yield* credentialLookup
    const now = options.now ?? Date.now
    const retryAfter = Duration.toMillis(Duration.fromInputUnsafe(options.retryAfter ?? Duration.seconds(30)))

    type Started = Extract<FireOutcome, { readonly _tag: "Started" }>
    type Refused = Extract<FireOutcome, { readonly _tag: "Refused" }>
    type Refusal = GraphNotFound | GraphInvalid | RunInputInvalid | PresetNotFound | CredentialRefsInvalid

    /** Starts the run of a claimed due time and settles the fire. */
    const start = (schedule: OwnedSchedule, due: number) => {
      const scheduleId = schedule.id
      const refused = (error: Refusal): Effect.Effect<Started | Refused> =>
        Effect.succeed({ _tag: "Refused", scheduleId, error: error.message })
      const when = new Date(due).toISOString()
      return Effect.gen(function* () {
        const preset =
          schedule.presetId === undefined ? undefined : yield* presets.get(schedule.owner, schedule.presetId)
        const template = templateOf(schedule, preset)
        const request = yield* startRequest(
          credentials,
          schedule.owner,
          template,
          idempotencyKey(scheduleId, due),
        )
        const started = yield* runs.start(schedule.owner, template.graphId, request)
        return { _tag: "Started", scheduleId, runId: started.runId, existing: started.existing } as Started
      }).pipe(
        Effect.catchTags({
          // The key was used with other inputs (the schedule changed since the first try): that run stands.
          IdempotencyKeyReused: (error: IdempotencyKeyReused): Effect.Effect<Started | Refused> =>
            Effect.succeed({ _tag: "Started", scheduleId, runId: error.runId, existing: true }),
          GraphNotFound: refused,
          GraphInvalid: refused,
          RunInputInvalid: refused,
          PresetNotFound: refused,
          CredentialRefsInvalid: refused,
        }),
        Effect.tap((outcome) =>
          store.settle(
            scheduleId,
            due,
            outcome._tag === "Started" ? { runId: outcome.runId } : { error: outcome.error },
            now(),
          ),
        ),
        Effect.tap((outcome) =>
          outcome._tag === "Started"
            ? Effect.logInfo(`schedule ${scheduleId}: due ${when} started run ${outcome.runId}`).pipe(
                Effect.annotateLogs({ scheduleId, dueAt: when, runId: outcome.runId }),
              )
            : Effect.logWarning(`schedule ${scheduleId}: due ${when} started no run: ${outcome.error}`).pipe(
                Effect.annotateLogs({ scheduleId, dueAt: when }),
              ),
        ),
      )
    }

    const fire: SchedulerShape["fire"] = (scheduleId, due) =>
      Effect.gen(function* () {
        const skipped: FireOutcome = { _tag: "Skipped", scheduleId }
        const at = now()
        if (due > at) return skipped
        const schedule = yield* store.find(scheduleId)
        if (schedule === undefined || schedule.paused || schedule.nextFireAt !== due) return skipped
        // The first due time after now: missed ones are coalesced into this fire.
        const next = Cron.nextAfter(ruleOf(schedule), Math.max(at, due))
        const claimed = yield* store.claim(
          scheduleId,
          due,
          next,
          at,
          jobs && next !== undefined ? (tx) => ScheduleJobs.add(tx, scheduleId, next) : undefined,
        )
        if (claimed === undefined) return skipped
        return yield* start(claimed, due)
      })

    const fireDue: SchedulerShape["fireDue"] = Effect.gen(function* () {
      const due = yield* store.due(now(), 100)
      const outcomes = yield* Effect.forEach(
        due,
        (entry) =>
          fire(entry.id, entry.nextFireAt).pipe(
            Effect.map(Option.some),
            Effect.catchCause((cause) =>
              Effect.as(
                Effect.logWarning(`schedule ${entry.id}: the fire failed, it is retried`, cause),
                Option.none(),
              ),
            ),
          ),
        { concurrency: 4 },
      )
      return outcomes.flatMap((outcome) => (Option.isSome(outcome) ? [outcome.value] : []))
    })

    const recover: SchedulerShape["recover"] = Effect.gen(function* () {
      const unsettled = yield* store.unsettled(now() - retryAfter, 20)
      let started = 0
      for (const entry of unsettled) {
        const schedule = yield* store.find(entry.scheduleId)
        if (schedule === undefined) continue
        const outcome = yield* Effect.result(start(schedule, entry.dueAt))
        if (outcome._tag === "Success") started++
        else
          yield* Effect.logWarning(
            `schedule ${entry.scheduleId}: the fire could not be started again`,
            outcome.failure,
          )
      }
      return started
    })

    const runJob: SchedulerShape["runJob"] = (scheduleId) =>
      Effect.gen(function* () {
        const schedule = yield* store.find(scheduleId)
        if (schedule === undefined || schedule.paused || schedule.nextFireAt === undefined) return
        const due = schedule.nextFireAt
        if (due > now()) {
          // An early or duplicate job: the schedule's job waits for its due time.
          yield* sql.transaction((tx) => ScheduleJobs.add(tx, scheduleId, due))
          return
        }
        yield* fire(scheduleId, due)
      })

    const sweep: SchedulerShape["sweep"] = (graceMillis) =>
      Effect.andThen(
        ScheduleJobs.ensure(sql, graceMillis === undefined ? undefined : now() - graceMillis),
        recover,
      )

    return { now, jobs, fire, fireDue, recover, runJob, sweep } satisfies SchedulerShape
  })

/**
 * The scheduler.
 *
 * @category services
 */
export class Scheduler extends Context.Service<Scheduler, SchedulerShape>()("@weft/host-node/Scheduler") {
  /**
   * The scheduler over the stores and the run service. With a `RunQueue` (the Postgres worker mode), every
   * claim also moves the schedule's graphile-worker job to the following due time.
   *
   * @category layers
   */
  static readonly layer = (
    options: SchedulerOptions = {},
  ): Layer.Layer<Scheduler, never, ScheduleStore | PresetStore | RunService | Sql> =>
    Layer.effect(Scheduler, make(options))
}
