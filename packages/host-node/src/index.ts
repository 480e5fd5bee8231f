/**
 * `@weft/host-node`: the Weft host. One SQL store on Postgres or PGlite, durable runs, the HTTP API with
 * live events, and sign-in.
 *
 * @since 0.1.0
 */

export * from "./Auth.js"
export * as Api from "./api/Api.js"
export * as Ops from "./api/Ops.js"
export * as Ws from "./api/Ws.js"
export * from "./auth/rate-limit-runs.js"
export * as Credentials from "./credentials/index.js"
export * from "./GraphStore.js"
export * from "./Host.js"
export * as Migrations from "./Migrations.js"
export * as Logging from "./ops/Logging.js"
export * as Metrics from "./ops/Metrics.js"
export { type CommitNotice, PgRunStore } from "./PgRunStore.js"
export * as Queue from "./Queue.js"
export * from "./RunQueries.js"
export * from "./RunService.js"
export * as Server from "./Server.js"
export * from "./Sql.js"
export * as Presets from "./triggers/presets/index.js"
export * as Schedules from "./triggers/schedules/index.js"
export * as Webhooks from "./triggers/webhooks/index.js"
export { type RunningWorker, startWorker, type WorkerOptions } from "./Worker.js"
