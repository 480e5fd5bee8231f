/**
 * The operations routes, at the server's root and without a session: `GET /metrics` (Prometheus text;
 * behind `Authorization: Bearer <token>` when `metrics.token` is set), `GET /healthz` (the process answers)
 * and `GET /readyz` (the database, and in the worker mode the queue, answer). Also the access log: one
 * entry per HTTP request when logging is configured.
 *
 * @since 0.1.0
 */
import { type Duration, Effect, Layer, LogLevel, Option, References } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Exposition from "../ops/Exposition.js"
import * as Health from "../ops/Health.js"
import { CONTENT_TYPE } from "../ops/Prometheus.js"
import { redactText } from "../ops/Redact.js"
import { RunQueue } from "../Queue.js"
import { RunService } from "../RunService.js"

/** The path of the metrics. */
export const METRICS_PATH = "/metrics"
/** The path of the liveness check. */
export const HEALTHZ_PATH = "/healthz"
/** The path of the readiness check. */
export const READYZ_PATH = "/readyz"

/**
 * The metrics endpoint's options.
 *
 * @category models
 */
export interface MetricsOptions {
  /**
   * When set, `GET /metrics` needs `Authorization: Bearer <token>` (401 otherwise). Default: none, the
   * endpoint is open like `/healthz` (`weft serve` reads `WEFT_METRICS_TOKEN`).
   */
  readonly token?: string
  /** How long database gauges are reused between scrapes. Default 5 s. */
  readonly databaseTtl?: Duration.Input
}

/**
 * The operations routes' options.
 *
 * @category models
 */
export interface OpsOptions {
  readonly metrics?: MetricsOptions
  /** How long each readiness check may take. Default 2 s. */
  readonly readinessTimeout?: Duration.Input
  /** Log every request (method, URL with secret parameters masked, status, duration). Default false. */
  readonly accessLog?: boolean
}

const json = (body: unknown, status = 200) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store" } })

/** Requests polled by machines: logged at the debug level only. */
const PROBES = new Set([METRICS_PATH, HEALTHZ_PATH, READYZ_PATH])

/**
 * The access log: one entry per request, `request` with `method`, `url` (secret query parameters masked),
 * `status` and `durationMs`, and the request headers (redacted) when the level is `Debug` or lower. Probes
 * (`/metrics`, `/healthz`, `/readyz`) are logged at `Debug`, server errors at `Warn`.
 *
 * @category middleware
 */
export const AccessLog = HttpRouter.middleware(
  (httpEffect) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const started = Date.now()
      const exit = yield* Effect.exit(httpEffect)
      const status = HttpServerError.exitResponse(exit).status
      const path = request.url.split("?")[0] ?? request.url
      const level = status >= 500 ? "Warn" : PROBES.has(path) ? "Debug" : "Info"
      const minimum = yield* References.MinimumLogLevel
      const fields: Record<string, unknown> = {
        method: request.method,
        url: redactText(request.url),
        status,
        durationMs: Date.now() - started,
      }
      const remote = request.remoteAddress
      if (Option.isSome(remote)) fields.remoteAddress = remote.value
      if (LogLevel.isLessThanOrEqualTo(minimum, "Debug")) fields.headers = { ...request.headers }
      yield* Effect.logWithLevel(level)("request").pipe(Effect.annotateLogs(fields))
      return yield* exit
    }),
  { global: true },
)

/**
 * The routes: need the `Sql` service and the run service (a server that is shutting down is not ready);
 * the queue is checked when the `RunQueue` service is present (the worker mode).
 *
 * @category layers
 */
export const routes = (options: OpsOptions = {}) => {
  const endpoints = Layer.effectDiscard(
    Effect.gen(function* () {
      const router = yield* HttpRouter.HttpRouter
      const runs = yield* RunService
      const queue = Option.isSome(yield* Effect.serviceOption(RunQueue)) ? "workers" : "inline"
      let closing = false
      yield* Effect.forkScoped(
        Effect.andThen(
          runs.closing,
          Effect.sync(() => {
            closing = true
          }),
        ),
      )
      const scrape = yield* Exposition.make({
        queue,
        ...(options.metrics?.databaseTtl === undefined ? {} : { databaseTtl: options.metrics.databaseTtl }),
      })
      const readiness = yield* Health.make({
        queue,
        ...(options.readinessTimeout === undefined ? {} : { timeout: options.readinessTimeout }),
        shuttingDown: Effect.sync(() => closing),
      })
      const token = options.metrics?.token
      yield* router.add("GET", METRICS_PATH, (request) =>
        token !== undefined && token !== "" && !Exposition.bearerMatches(request.headers.authorization, token)
          ? Effect.succeed(
              HttpServerResponse.jsonUnsafe(
                { _tag: "Unauthorized", error: "GET /metrics needs Authorization: Bearer <metrics token>" },
                { status: 401, headers: { "www-authenticate": 'Bearer realm="weft-metrics"' } },
              ),
            )
          : Effect.map(scrape, (body) =>
              HttpServerResponse.text(body, {
                contentType: CONTENT_TYPE,
                headers: { "cache-control": "no-store" },
              }),
            ),
      )
      yield* router.add(
        "GET",
        HEALTHZ_PATH,
        Effect.sync(() => json(Health.LIVE)),
      )
      yield* router.add(
        "GET",
        READYZ_PATH,
        Effect.map(readiness, (answer) => json(answer, answer.status === "ready" ? 200 : 503)),
      )
    }),
  )
  return options.accessLog === true ? Layer.merge(endpoints, AccessLog) : endpoints
}
