/**
 * The schedule timer of a host that drives runs itself (PGlite, or Postgres without workers): one loop that
 * fires every due schedule (`Scheduler.fireDue`), then sleeps until the earliest due time, at most the poll
 * interval, or until a schedule changes (`NOTIFY weft_schedules`, from any process on Postgres). Several
 * hosts on one database may all run it: each due time is claimed by one of them.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Queue } from "effect"
import { Sql } from "../../Sql.js"
import { Scheduler } from "./Scheduler.js"
import { CHANGES_CHANNEL, ScheduleStore } from "./ScheduleStore.js"

/** How soon a round follows one that left something due. */
const RETRY_MILLIS = 250

/**
 * How the timer runs.
 *
 * @category models
 */
export interface ScheduleTimerOptions {
  /** The longest sleep between two looks at the schedules. Default 5 s. */
  readonly pollInterval?: Duration.Input
}

/**
 * The timer, running while the layer is alive.
 *
 * @category layers
 */
export const layer = (
  options: ScheduleTimerOptions = {},
): Layer.Layer<never, never, Scheduler | ScheduleStore | Sql> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const scheduler = yield* Scheduler
      const store = yield* ScheduleStore
      const sql = yield* Sql
      const poll = Duration.toMillis(Duration.fromInputUnsafe(options.pollInterval ?? Duration.seconds(5)))
      // One pending wake-up is enough: the next look sees every change.
      const changes = yield* Queue.dropping<void>(1)
      yield* sql
        .listen(CHANGES_CHANNEL, () => {
          Queue.offerUnsafe(changes, undefined)
        })
        .pipe(
          Effect.catchCause((cause) => Effect.logWarning("schedule changes cannot be heard: polling", cause)),
        )

      /** Fires what is due and answers how long to sleep. */
      const tick = Effect.gen(function* () {
        yield* scheduler.fireDue
        yield* scheduler.recover
        const earliest = yield* store.earliest
        if (earliest === undefined) return poll
        // Still due after the round: more than one round's worth, or a fire that failed (retried shortly).
        const wait = earliest - scheduler.now()
        return Math.min(poll, wait > 0 ? wait : RETRY_MILLIS)
      }).pipe(
        Effect.catchCause((cause) =>
          Effect.as(Effect.logWarning("the schedule timer failed a round", cause), poll),
        ),
      )

      const loop = Effect.gen(function* () {
        while (true) {
          const sleep = yield* tick
          yield* Queue.take(changes).pipe(Effect.timeoutOption(Duration.millis(sleep)))
        }
      })
      yield* Effect.forkScoped(loop)
    }),
  )
