/**
 * The HTTP server: the `WeftApi` routes, `/api/openapi.json`, the WebSocket at `/api/ws`, and JSON errors,
 * on Node's `http` server.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { ByteSize, Layer } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { NetAddress } from "effect/net"
import { Auth, AuthenticationLive, type AuthOptions, authRoutes } from "./Auth.js"
import { OPENAPI_PATH, WeftApi } from "./api/Api.js"
import { ApiKeysLive } from "./api/ApiKeysLive.js"
import { BlocksLive } from "./api/Blocks.js"
import { CredentialsLive } from "./api/Credentials.js"
import { JsonErrors, RequestValidationLive } from "./api/Errors.js"
import { GraphsLive } from "./api/Graphs.js"
import { LiveLive } from "./api/Live.js"
import * as Ops from "./api/Ops.js"
import { PresetsLive } from "./api/Presets.js"
import { RunsLive } from "./api/Runs.js"
import { SchedulesLive } from "./api/Schedules.js"
import { SharingLive } from "./api/Sharing.js"
import { WebhooksLive } from "./api/Webhooks.js"
import * as Ws from "./api/Ws.js"
import { type Limits, RunStartLimit } from "./auth/rate-limit-runs.js"
import { Collab, type CollabOptions } from "./collab/Collab.js"
import * as CollabRoute from "./collab/route.js"
import type { LoggingOptions } from "./ops/Logging.js"
import { receiverRoute, type WebhookOptions } from "./triggers/webhooks/Receiver.js"

/**
 * Where and how the server listens.
 *
 * @category models
 */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8787. */
  readonly port?: number
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string
  /** Largest request body accepted, in bytes (413 above). Default 5 MiB. */
  readonly maxBodyBytes?: number
  /** How long shutdown waits for open requests before closing their connections. Default 2 s. */
  readonly shutdownTimeoutMs?: number
  /** Sign-in (better-auth sessions by default; see `AuthOptions`). */
  readonly auth?: AuthOptions
  /** Request limits: run starts per user (sign-in limits are in `auth`). */
  readonly limits?: Limits
  /** The WebSocket API at `/api/ws`: heartbeat interval and limits. */
  readonly ws?: Ws.WsOptions
  /** Webhook deliveries (`POST /api/webhooks/:id`): body cap (default 256 KiB) and signature tolerance. */
  readonly webhooks?: WebhookOptions
  /** `GET /metrics` (Prometheus text): an optional bearer token, see `Ops.MetricsOptions`. */
  readonly metrics?: Ops.MetricsOptions
  /** Co-editing at `/collab`: Redis for several processes, message and document limits. */
  readonly collab?: CollabOptions
  /** Structured logs (`ops/Logging.ts`); when set, every HTTP request is logged too (`accessLog`). */
  readonly logging?: LoggingOptions
}

/** The default port of `weft serve`. */
export const DEFAULT_PORT = 8787

/** The default interface of `weft serve`. */
export const DEFAULT_HOST = "127.0.0.1"

/** The default request body limit: 5 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024

/**
 * The API's routes and middleware, and better-auth's routes at `/api/auth/*`, without a server: needs
 * `Auth`, the run service, the graph store and the run queries.
 *
 * @category layers
 */
export const apiLayer = Layer.mergeAll(
  HttpApiBuilder.layer(WeftApi, { openapiPath: OPENAPI_PATH }).pipe(
    Layer.provide([
      GraphsLive,
      RunsLive,
      BlocksLive,
      ApiKeysLive,
      CredentialsLive,
      WebhooksLive,
      PresetsLive,
      SchedulesLive,
      SharingLive,
      LiveLive,
    ]),
    Layer.provide([AuthenticationLive, RequestValidationLive]),
  ),
  authRoutes,
  JsonErrors,
)

/**
 * The API served over HTTP.
 *
 * @category layers
 */
export const layer = (options: ServerOptions = {}) =>
  HttpRouter.serve(
    Layer.provide(
      Layer.mergeAll(
        apiLayer,
        Ws.routes(options.ws),
        CollabRoute.routes,
        receiverRoute(options.webhooks),
        Ops.routes({
          ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
          accessLog: options.logging !== undefined && options.logging.accessLog !== false,
        }),
      ),
      Collab.layer(options.collab).pipe(
        Layer.provideMerge(RunStartLimit.layer(options.limits?.runStarts)),
        Layer.provideMerge(Auth.layer(options.auth)),
      ),
    ),
    {
      disableLogger: true,
      disableListenLog: true,
    },
  ).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(() => createServer(), {
        port: options.port ?? DEFAULT_PORT,
        host: options.host ?? DEFAULT_HOST,
        gracefulShutdownTimeout: `${options.shutdownTimeoutMs ?? 2000} millis`,
        websocket: { maxPayload: Ws.maxFrameBytesOf(options.ws) },
      }),
    ),
    Layer.provide(
      Layer.succeed(HttpIncomingMessage.MaxBodySize)(
        ByteSize.bytes(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
      ),
    ),
  )

/**
 * The address a server layer is bound to, as a base URL (`http://127.0.0.1:8787`).
 *
 * @category utilities
 */
export const urlOf = (address: NetAddress.SocketAddress): string => HttpServer.formatAddress(address)
