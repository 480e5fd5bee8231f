/**
 * The schedules routes (declared in `triggers/schedules/SchedulesApi.ts`): create, list, read (with the
 * next due time and the latest fires), change (pause, resume, rule, inputs) and delete. A schedule is
 * checked in full before it is stored: a bad cron expression, time zone, graph or input is a 400 naming the
 * field (`cron`, `timezone`, `nodes.<node>.<field>`, `inputs.<name>`). Another user's ids answer 404 like
 * unknown ones.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import type { Schedule, ScheduleFire } from "../triggers/schedules/ScheduleStore.js"
import { type ScheduleRefused, Schedules } from "../triggers/schedules/Schedules.js"
import { WeftApi } from "./Api.js"
import { badRequest, NotFound } from "./Errors.js"
import { credentialsInvalid, graphInvalid, graphNotFound, inputsInvalid } from "./Presets.js"

/** The answer's shape. */
const view = (schedule: Schedule) => ({
  id: schedule.id,
  graphId: schedule.graphId,
  ...(schedule.version === undefined ? {} : { version: schedule.version }),
  ...(schedule.presetId === undefined ? {} : { presetId: schedule.presetId }),
  name: schedule.name,
  cron: schedule.cron,
  timezone: schedule.timezone,
  inputs: schedule.inputs,
  paused: schedule.paused,
  ...(schedule.nextFireAt === undefined ? {} : { nextFireAt: schedule.nextFireAt }),
  createdAt: schedule.createdAt,
  updatedAt: schedule.updatedAt,
})

const fireView = (fire: ScheduleFire) => ({
  dueAt: fire.dueAt,
  ...(fire.runId === undefined ? {} : { runId: fire.runId }),
  ...(fire.status === undefined ? {} : { status: fire.status }),
  ...(fire.error === undefined ? {} : { error: fire.error }),
  claimedAt: fire.claimedAt,
  ...(fire.startedAt === undefined ? {} : { startedAt: fire.startedAt }),
})

const scheduleNotFound = (id: string) => new NotFound({ error: `No schedule ${id}` })

/** The answer to a schedule that cannot be saved. */
const refusal = (error: ScheduleRefused) => {
  switch (error._tag) {
    case "CronInvalid":
      return badRequest("Invalid schedule", { cron: error.reason })
    case "TimeZoneInvalid":
      return badRequest("Invalid schedule", { timezone: error.message })
    case "PresetGraphMismatch":
      return badRequest("Invalid schedule", { presetId: error.message })
    case "PresetNotFound":
      return new NotFound({ error: `No preset ${error.presetId}` })
    case "GraphNotFound":
      return graphNotFound(error)
    case "GraphInvalid":
      return graphInvalid(error)
    case "RunInputInvalid":
      return inputsInvalid(error)
    case "CredentialRefsInvalid":
      return credentialsInvalid(error)
  }
}

/**
 * The schedules handlers.
 *
 * @category handlers
 */
export const SchedulesLive = HttpApiBuilder.group(WeftApi, "schedules", (handlers) =>
  Effect.gen(function* () {
    const schedules = yield* Schedules

    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const schedule = yield* schedules.create(owner, payload).pipe(Effect.mapError(refusal))
          return view(schedule)
        }),
      )
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const list = yield* schedules.list(
            owner,
            query.graphId === undefined ? {} : { graphId: query.graphId },
          )
          return list.map(view)
        }),
      )
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const detail = yield* schedules
            .get(owner, params.id)
            .pipe(Effect.catchTag("ScheduleNotFound", () => Effect.fail(scheduleNotFound(params.id))))
          return { ...view(detail), lastRuns: detail.fires.map(fireView) }
        }),
      )
      .handle("update", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const schedule = yield* schedules
            .update(owner, params.id, payload)
            .pipe(
              Effect.mapError((error) =>
                error._tag === "ScheduleNotFound" ? scheduleNotFound(params.id) : refusal(error),
              ),
            )
          return view(schedule)
        }),
      )
      .handle("delete", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* schedules
            .remove(owner, params.id)
            .pipe(Effect.catchTag("ScheduleNotFound", () => Effect.fail(scheduleNotFound(params.id))))
        }),
      )
  }),
)
