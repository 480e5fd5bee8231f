/**
 * The WebSocket API at `/api/ws`: subscribe to the events of one run, or of every run of a graph, on one
 * connection, from any host process (events cross processes by LISTEN/NOTIFY). A client that reconnects with
 * the last seq it saw of each run loses nothing and receives nothing twice.
 *
 * The upgrade request is authenticated like the HTTP routes (the session cookie, or the development user with
 * sign-in off), and refused when a page on another origin opens it. Messages are JSON text frames:
 *
 * - client → server: `subscribe` / `unsubscribe` (`runId`, or `graphId`), `ping`; an optional `id` is echoed;
 * - server → client: `subscribed`, `event`, `unsubscribed`, `error` (naming the field), `pong`, `heartbeat`.
 *
 * See `ws/protocol.ts` for every message, `ws/session.ts` for one connection.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { Auth } from "../Auth.js"
import { GraphRuns } from "./ws/graph-runs.js"
import { admit } from "./ws/handshake.js"
import { gaugesOf } from "./ws/metrics.js"
import * as Session from "./ws/session.js"

export { GraphRuns, type GraphRunsShape } from "./ws/graph-runs.js"
export { followers, gaugesOf, sockets, subscriptions, type WsGauges } from "./ws/metrics.js"
export type { ClientMessage, Refusal, ServerMessage } from "./ws/protocol.js"

/** The WebSocket's path. */
export const WS_PATH = "/api/ws"

/**
 * How the WebSocket API behaves.
 *
 * @category models
 */
export interface WsOptions {
  /**
   * How often each connection is sent `{"type":"heartbeat","at":<epoch ms>}`; before each, the session is
   * checked again, and a socket whose session ended is closed (code 1008). Default 15 s.
   */
  readonly heartbeat?: Duration.Input
  /** The largest client message answered; a larger one gets an `error` (field `message`). Default 64 KiB. */
  readonly maxMessageBytes?: number
  /**
   * The largest WebSocket message accepted at all: a larger one closes the connection (code 1009). Default
   * 1 MiB, and never below `maxMessageBytes`.
   */
  readonly maxFrameBytes?: number
  /** How many subscriptions one connection may hold at once. Default 100. */
  readonly maxSubscriptions?: number
}

/** The default heartbeat interval: 15 s. */
export const DEFAULT_HEARTBEAT = Duration.seconds(15)

/** The default largest client message: 64 KiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

/** The default largest WebSocket message: 1 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024

/** The default subscription limit per connection. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 100

/**
 * The largest WebSocket message the server's socket layer accepts for these options.
 *
 * @category utilities
 */
export const maxFrameBytesOf = (options: WsOptions = {}): number =>
  Math.max(
    options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
  )

/**
 * The `/api/ws` route: needs `Auth`, the run service, the run queries, the graph store and the `Sql` service
 * (it listens for commits). The server passes `maxFrameBytesOf(options)` to its WebSocket layer.
 *
 * @category layers
 */
export const routes = (options: WsOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const auth = yield* Auth
      const server = yield* HttpServer.HttpServer
      const sessions = yield* Session.make({
        heartbeat: options.heartbeat ?? DEFAULT_HEARTBEAT,
        maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        maxSubscriptions: options.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS,
        gauges: gaugesOf(HttpServer.formatAddress(server.address)),
      })
      return HttpRouter.add("GET", WS_PATH, (request) =>
        Effect.gen(function* () {
          const admitted = yield* admit(auth, request)
          if ("refused" in admitted) return admitted.refused
          const socket = yield* Effect.result(request.upgrade)
          if (socket._tag === "Failure") {
            return HttpServerResponse.jsonUnsafe(
              {
                _tag: "UpgradeRequired",
                error: "This route is a WebSocket: connect with Upgrade: websocket",
              },
              { status: 426, headers: { upgrade: "websocket" } },
            )
          }
          // Asked before every heartbeat. A failing lookup (the database is down) is no reason to close.
          const signedIn = auth.ownerOf(request).pipe(
            Effect.map((owner) => owner === admitted.owner),
            Effect.catch(() => Effect.succeed(false)),
            Effect.catchCause(() => Effect.succeed(true)),
          )
          yield* sessions.serve(socket.success, admitted.owner, signedIn)
          return HttpServerResponse.empty()
        }),
      )
    }),
  ).pipe(Layer.provide(GraphRuns.layer))
