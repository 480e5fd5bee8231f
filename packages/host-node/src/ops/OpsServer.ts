/**
 * A small HTTP listener with the operations routes of a process that has no API server: a `weft worker`
 * (`--metrics-port`). It answers `GET /metrics` (this process's metrics: node execution histograms, run
 * status changes, plus the worker's own gauges), `GET /healthz` and `GET /readyz` (the database and the
 * graphile-worker queue answer, and the worker is not stopping). Anything else is 404.
 *
 * The deployment-wide gauges read from the database (runs by status, queue depth) are the API server's: a
 * worker does not repeat them, so that summing over processes counts each run once.
 *
 * @since 0.1.0
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { Sql, type SqlShape } from "../Sql.js"
import { bearerMatches } from "./Exposition.js"
import * as Health from "./Health.js"
import { CONTENT_TYPE, type Family, render } from "./Prometheus.js"

/**
 * Where the operations listener binds, and who may scrape it.
 *
 * @category models
 */
export interface OpsServerOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string
  /** When set, `GET /metrics` needs `Authorization: Bearer <token>`. */
  readonly metricsToken?: string
}

/**
 * A running operations listener.
 *
 * @category models
 */
export interface OpsServer {
  /** Its base URL, e.g. `http://127.0.0.1:9464`. */
  readonly url: string
  readonly close: () => Promise<void>
}

/**
 * What the listener reports on.
 *
 * @category models
 */
export interface OpsSource {
  readonly sql: SqlShape
  /** `workers`: the graphile-worker queue is part of readiness. */
  readonly queue: "inline" | "workers"
  /** Whether the process is stopping (then not ready). */
  readonly stopping: () => boolean
  /** Gauges of this process computed at scrape time (e.g. the runs a worker holds). */
  readonly gauges?: () => ReadonlyArray<Family>
  /** Runs the effects of the routes (with the process's logger). */
  readonly run: <A>(effect: Effect.Effect<A>) => Promise<A>
}

const send = (response: ServerResponse, status: number, contentType: string, body: string, extra = {}) => {
  response.writeHead(status, { "content-type": contentType, "cache-control": "no-store", ...extra })
  response.end(body)
}

const sendJson = (response: ServerResponse, status: number, body: unknown, extra = {}) =>
  send(response, status, "application/json", JSON.stringify(body), extra)

/**
 * Starts the listener; resolves once it is bound.
 *
 * @category constructors
 */
export const startOpsServer = async (options: OpsServerOptions, source: OpsSource): Promise<OpsServer> => {
  const readiness = await source.run(
    Effect.provideService(
      Health.make({ queue: source.queue, shuttingDown: Effect.sync(source.stopping) }),
      Sql,
      source.sql,
    ),
  )
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0]
    if (request.method !== "GET" && request.method !== "HEAD") {
      return sendJson(response, 405, { _tag: "MethodNotAllowed", error: "Only GET" }, { allow: "GET" })
    }
    if (path === "/healthz") return sendJson(response, 200, Health.LIVE)
    if (path === "/readyz") {
      const answer = await source.run(readiness)
      return sendJson(response, answer.status === "ready" ? 200 : 503, answer)
    }
    if (path === "/metrics") {
      const token = options.metricsToken
      if (token !== undefined && token !== "" && !bearerMatches(request.headers.authorization, token)) {
        return sendJson(
          response,
          401,
          { _tag: "Unauthorized", error: "GET /metrics needs Authorization: Bearer <metrics token>" },
          { "www-authenticate": 'Bearer realm="weft-metrics"' },
        )
      }
      const own = render(source.gauges?.() ?? [])
      const registry = await source.run(Effect.map(Effect.context<never>(), PrometheusMetrics.formatUnsafe))
      return send(response, 200, CONTENT_TYPE, own + registry)
    }
    return sendJson(response, 404, { _tag: "NotFound", error: "No such route" })
  }
  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) sendJson(response, 500, { _tag: "InternalError", error: "Internal error" })
      else response.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
