/**
 * The presets and schedules of one process, as one layer: their stores and services, the scheduler, and
 * the schedule timer when this process fires schedules itself (a host that drives its runs: PGlite, or
 * Postgres without workers). In the Postgres worker mode the host runs no timer: the workers' `weft_schedule`
 * jobs fire the schedules.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import type { GraphStore } from "../../GraphStore.js"
import type { RunService } from "../../RunService.js"
import type { Sql } from "../../Sql.js"
import { PresetStore } from "../presets/PresetStore.js"
import { Presets } from "../presets/Presets.js"
import { Scheduler, type SchedulerOptions } from "./Scheduler.js"
import { ScheduleStore } from "./ScheduleStore.js"
import { Schedules } from "./Schedules.js"
import * as ScheduleTimer from "./ScheduleTimer.js"

/**
 * How schedules run in a process.
 *
 * @category models
 */
export interface ScheduleOptions extends SchedulerOptions, ScheduleTimerOptions {}

/** @category models */
export type ScheduleTimerOptions = ScheduleTimer.ScheduleTimerOptions

/**
 * The presets and schedules services (and the stores and the scheduler they use); with `timer`, the
 * schedule timer too. Needs the run service, the graph store and `Sql` (migrated).
 *
 * @category layers
 */
export const layer = (
  options: ScheduleOptions & { readonly timer: boolean },
): Layer.Layer<
  Presets | Schedules | Scheduler | PresetStore | ScheduleStore,
  never,
  RunService | GraphStore | Sql
> => {
  const stores = Layer.mergeAll(PresetStore.layer, ScheduleStore.layer)
  const scheduler = Scheduler.layer(options).pipe(Layer.provideMerge(stores))
  const services = Layer.mergeAll(Presets.layer, Schedules.layer).pipe(Layer.provideMerge(scheduler))
  return options.timer ? ScheduleTimer.layer(options).pipe(Layer.provideMerge(services)) : services
}
