/**
 * Schedules: cron expressions in a time zone that start a graph as their owner, exactly once per due time
 * across processes (a host's timer, or the workers' graphile-worker jobs).
 *
 * @since 0.1.0
 */
export * as Cron from "./Cron.js"
export * as ScheduleJobs from "./ScheduleJobs.js"
export * from "./Scheduler.js"
export * from "./ScheduleStore.js"
export * from "./Schedules.js"
export { SchedulesApi } from "./SchedulesApi.js"
export * as ScheduleTimer from "./ScheduleTimer.js"
export * as Triggers from "./Triggers.js"
