/**
 * The schedules routes of the API: cron schedules in a time zone that start a graph as their owner.
 *
 * @since 0.1.0
 */
import { Status } from "@weft/engine"
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { BadRequest, NotFound } from "../../api/Errors.js"
import { Id, isStorableText, Version } from "../../api/fields.js"
import { RequiredScope } from "../../auth/scopes.js"

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

const Cron = Schema.String.check(Schema.isMaxLength(200), isStorableText).annotate({
  description:
    "5 fields (minute hour day-of-month month day-of-week), or 6 with a leading second field: `*/15 * * * *`, `0 9 * * MON-FRI`, `* * * * * *`.",
})

const TimeZone = Schema.String.check(Schema.isMaxLength(64), isStorableText).annotate({
  description: "An IANA time zone name, e.g. `Europe/Berlin` or `UTC`; daylight-saving time is followed.",
})

const Name = Schema.String.check(Schema.isMaxLength(200), isStorableText)

/**
 * A schedule.
 *
 * @category schemas
 */
export const ScheduleInfo = Schema.Struct({
  id: Schema.String,
  graphId: Schema.String,
  /** The pinned graph version; absent: the preset's, else the active version at each fire. */
  version: Schema.optionalKey(Schema.Number),
  presetId: Schema.optionalKey(Schema.String),
  name: Schema.String,
  cron: Schema.String,
  /** The canonical IANA name. */
  timezone: Schema.String,
  /** Merged over the preset's inputs at each fire. */
  inputs: JsonObject,
  paused: Schema.Boolean,
  /** The next due time, epoch milliseconds; absent while paused. */
  nextFireAt: Schema.optionalKey(Schema.Number),
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
}).annotate({ identifier: "Schedule" })

/**
 * One due time the schedule fired: the run it started, or why none could start.
 *
 * @category schemas
 */
export const ScheduleFireInfo = Schema.Struct({
  /** The due time, epoch milliseconds. */
  dueAt: Schema.Number,
  runId: Schema.optionalKey(Schema.String),
  /** The run's status now. */
  status: Schema.optionalKey(Status),
  error: Schema.optionalKey(Schema.String),
  /** When the due time was claimed, and when its run started (epoch milliseconds). */
  claimedAt: Schema.Number,
  startedAt: Schema.optionalKey(Schema.Number),
})

/**
 * A schedule with its latest fires (newest first, at most 10).
 *
 * @category schemas
 */
export const ScheduleDetail = Schema.Struct({
  ...ScheduleInfo.fields,
  lastRuns: Schema.Array(ScheduleFireInfo),
})

/**
 * The body of `POST /api/schedules`. The graph (at `version`, else the preset's, else the active one) must
 * validate, and the inputs (merged over the preset's) must be complete.
 *
 * @category schemas
 */
export const ScheduleCreateRequest = Schema.Struct({
  graphId: Id,
  cron: Cron,
  timezone: TimeZone,
  inputs: Schema.optionalKey(JsonObject),
  presetId: Schema.optionalKey(Id),
  version: Schema.optionalKey(Version),
  name: Schema.optionalKey(Name),
  paused: Schema.optionalKey(Schema.Boolean),
})

/**
 * The body of `PUT /api/schedules/:id`: pause or resume (`paused`), rename, or change the rule or the
 * inputs. A resumed schedule fires at its next due time after now; the times it missed are not fired.
 *
 * @category schemas
 */
export const ScheduleUpdateRequest = Schema.Struct({
  name: Schema.optionalKey(Name),
  cron: Schema.optionalKey(Cron),
  timezone: Schema.optionalKey(TimeZone),
  inputs: Schema.optionalKey(JsonObject),
  paused: Schema.optionalKey(Schema.Boolean),
})

/**
 * The schedules routes.
 *
 * @category api
 */
export class SchedulesApi extends HttpApiGroup.make("schedules")
  .add(
    HttpApiEndpoint.post("create", "/api/schedules", {
      payload: ScheduleCreateRequest,
      success: ScheduleInfo.pipe(HttpApiSchema.status(201)),
      error: [NotFound, BadRequest],
    }).annotate(RequiredScope, "graphs:execute"),
  )
  .add(
    HttpApiEndpoint.get("list", "/api/schedules", {
      query: { graphId: Schema.optionalKey(Id) },
      success: Schema.Array(ScheduleInfo),
    }),
  )
  .add(
    HttpApiEndpoint.get("get", "/api/schedules/:id", {
      params: { id: Id },
      success: ScheduleDetail,
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.put("update", "/api/schedules/:id", {
      params: { id: Id },
      payload: ScheduleUpdateRequest,
      success: ScheduleInfo,
      error: [NotFound, BadRequest],
    }).annotate(RequiredScope, "graphs:execute"),
  )
  .add(
    HttpApiEndpoint.delete("delete", "/api/schedules/:id", {
      params: { id: Id },
      success: HttpApiSchema.NoContent,
      error: NotFound,
    }).annotate(RequiredScope, "graphs:execute"),
  )
  // Reading schedules: what a key that reads graphs or runs them may see; changing them runs graphs.
  .annotate(RequiredScope, ["graphs:read", "graphs:execute"]) {}
