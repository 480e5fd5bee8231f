/**
 * The `/collab` route: WebSocket connections of collaboration providers, on the host's own HTTP server.
 *
 * The upgraded socket (effect's `Socket`) is bridged to the collaboration server: binary frames go to the
 * connection in order, what the server sends is written at once (in order), and the end of the socket,
 * whatever its cause, closes the connection. Access is decided per document by the token each provider
 * sends (see `Collab.ts`), not by cookies, so pages of other origins (an app embedding Weft's components)
 * may connect with a token; no session is taken from the upgrade request.
 *
 * @since 0.1.0
 */
import type { CollabSocket } from "@weft/collab-server"
import { Cause, Effect, Layer, Option, Queue } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { Socket } from "effect/socket"
import { RunService } from "../RunService.js"
import { Collab } from "./Collab.js"

/** The collaboration WebSocket's path. */
export const COLLAB_PATH = "/collab"

const OPEN = 1
const CLOSING = 2
const CLOSED = 3

/** Close code when the host shuts down. */
const GOING_AWAY = 1001

type Outgoing = Socket.CloseEvent

/** The request as the collaboration server's hooks see it (a Fetch `Request`: URL and headers). */
const webRequestOf = (request: HttpServerRequest.HttpServerRequest): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string") headers.set(name, value)
  }
  return new Request(new URL(request.url, `http://${request.headers.host ?? "localhost"}`), { headers })
}

const bridge = (socket: Socket.Socket, request: Request) =>
  Effect.gen(function* () {
    const { server } = yield* Collab
    const { closing } = yield* RunService
    // Acquiring the reader completes the WebSocket handshake.
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    const outgoing = yield* Queue.unbounded<Outgoing>()
    let state = OPEN
    const collabSocket: CollabSocket = {
      get readyState() {
        return state
      },
      // Written at once: the socket is open, so the write is synchronous (a queue and a fiber per frame cost a
      // scheduler turn each, 49 of them per edit with 50 clients). Only the close goes through the queue.
      send: (data) => {
        if (state === OPEN) Effect.runSyncExit(Effect.ignore(writer.write(data)))
      },
      close: (code, reason) => {
        if (state !== OPEN) return
        state = CLOSING
        Queue.offerUnsafe(outgoing, new Socket.CloseEvent(code ?? 1000, reason))
      },
    }
    yield* Effect.forkScoped(
      Effect.forever(Effect.flatMap(Queue.take(outgoing), (chunk) => Effect.ignore(writer.write(chunk)))),
    )
    yield* Effect.forkScoped(
      Effect.andThen(
        closing,
        Effect.sync(() => collabSocket.close(GOING_AWAY, "the server is shutting down")),
      ),
    )
    const connection = server.accept(collabSocket, request)
    const encoder = new TextEncoder()
    yield* Effect.forever(
      Effect.flatMap(reader.pull, (chunks) =>
        Effect.sync(() => {
          for (const chunk of chunks) {
            connection.message(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
          }
        }),
      ),
    ).pipe(
      // However the socket ends (closed, lost, or this fiber interrupted when the client goes away), the
      // connection is closed once, so its documents can unload.
      Effect.onExit((exit) =>
        Effect.sync(() => {
          state = CLOSED
          const reason =
            exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : Option.none<Socket.SocketError>()
          if (Option.isSome(reason) && reason.value.reason._tag === "SocketCloseError") {
            connection.closed(reason.value.reason.code, reason.value.reason.closeReason)
          } else {
            connection.closed(1006, "connection lost")
          }
        }),
      ),
      Effect.ignore,
    )
  }).pipe(Effect.scoped)

/**
 * The `/collab` route: needs `Collab` and the run service (whose `closing` ends every connection at
 * shutdown).
 *
 * @category layers
 */
export const routes = Layer.unwrap(
  Effect.gen(function* () {
    const collab = yield* Collab
    const runs = yield* RunService
    return HttpRouter.add("GET", COLLAB_PATH, (request) =>
      Effect.gen(function* () {
        if (request.headers.upgrade?.toLowerCase() !== "websocket") {
          return HttpServerResponse.jsonUnsafe(
            {
              _tag: "UpgradeRequired",
              error: "This route is a WebSocket for collaboration providers: connect with Upgrade: websocket",
            },
            { status: 426, headers: { upgrade: "websocket" } },
          )
        }
        const socket = yield* Effect.result(request.upgrade)
        if (socket._tag === "Failure") {
          return HttpServerResponse.jsonUnsafe(
            { _tag: "BadRequest", error: "The WebSocket upgrade failed" },
            { status: 400 },
          )
        }
        yield* bridge(socket.success, webRequestOf(request)).pipe(
          Effect.provideService(Collab, collab),
          Effect.provideService(RunService, runs),
          Effect.catch(() => Effect.void),
        )
        return HttpServerResponse.empty()
      }),
    )
  }),
)
