/**
 * One WebSocket connection: it reads client messages one after another, holds the socket's subscriptions
 * (each a fiber), and writes events, replies and heartbeats. Everything it started ends with the socket.
 *
 * A run subscription is `RunService.events` (stored events after the client's seq, then live ones until the
 * final status, whichever process drives the run). A graph subscription follows every run of the graph that
 * it must (see `SubscribeGraph`) the same way, one follower per run, and adds the runs that start later as
 * `GraphRuns` hears of them. Within a run, events arrive in seq order with no gap and no duplicate.
 *
 * @since 0.1.0
 */
import { isFinal, type RunEvent, type StoreError } from "@weft/engine"
import { Deferred, type Duration, Effect, FiberMap, FiberSet, Stream } from "effect"
import { Socket } from "effect/socket"
import { GraphStore } from "../../GraphStore.js"
import { RunQueries } from "../../RunQueries.js"
import { RunService } from "../../RunService.js"
import { GraphRuns } from "./graph-runs.js"
import { tracked, type WsGauges } from "./metrics.js"
import {
  type ClientRef,
  decodeClientMessage,
  encodeServerMessage,
  type ServerMessage,
  type SubscribeGraph,
  type SubscribeRun,
} from "./protocol.js"

/**
 * How sessions behave.
 *
 * @category models
 */
export interface SessionConfig {
  /** How often a `{"type":"heartbeat"}` message is sent. */
  readonly heartbeat: Duration.Input
  /** The largest client message answered; a larger one gets an error naming the field `message`. */
  readonly maxMessageBytes: number
  /** How many subscriptions one socket may hold at once. */
  readonly maxSubscriptions: number
  readonly gauges: WsGauges
}

/** The close code of a socket whose server is shutting down: going away. */
const CLOSE_GOING_AWAY = 1001

/** The close code of a socket whose session ended (signed out, expired): policy violation. */
export const CLOSE_SESSION_ENDED = 1008

const SESSION_ENDED = "the session ended: sign in again"

/** How many runs of a graph are listed when a graph subscription starts. */
const LIST_LIMIT = 1000

const withId = (id: ClientRef | undefined) => (id === undefined ? {} : { id })

/** Whether an event is a run's last. */
const isEnd = (event: RunEvent) => event.type === "RunStatus" && isFinal(event.status)

/**
 * Serves sockets: `serve(socket, owner, signedIn)` runs one connection for `owner` until it closes, or until
 * `signedIn` (asked before every heartbeat) answers false: then the socket is closed with code 1008.
 *
 * @category constructors
 */
export const make = (config: SessionConfig) =>
  Effect.gen(function* () {
    const service = yield* RunService
    const queries = yield* RunQueries
    const graphs = yield* GraphStore
    const feed = yield* GraphRuns
    const { gauges } = config

    const serve = (
      socket: Socket.Socket,
      owner: string,
      signedIn: Effect.Effect<boolean>,
    ): Effect.Effect<void> =>
      Effect.gen(function* () {
        // Acquiring the reader completes the WebSocket handshake.
        const pull = yield* Socket.readerString(socket)
        const writer = yield* socket.writer
        const send = (message: ServerMessage) => Effect.ignore(writer.write(encodeServerMessage(message)))
        const subscriptions = yield* FiberMap.make<string>()

        const refuse = (
          id: ClientRef | undefined,
          field: string,
          message: string,
          about: { readonly runId?: string; readonly graphId?: string } = {},
        ) => send({ type: "error", field, message, ...about, ...withId(id) })

        /** Sends a run's events to the end of the stream; answers whether its final status was among them. */
        const relay = (runId: string, events: Stream.Stream<RunEvent, StoreError>, graphId?: string) =>
          Effect.gen(function* () {
            let finished = false
            yield* Stream.runForEach(events, (event) => {
              if (isEnd(event)) finished = true
              return send({ type: "event", runId, ...(graphId === undefined ? {} : { graphId }), event })
            })
            return finished
          }).pipe(
            Effect.catch((error) =>
              Effect.logWarning(`the events of run ${runId} could not be read: ${error.message}`).pipe(
                Effect.andThen(
                  send({
                    type: "error",
                    message: "the run's events could not be read; subscribe again with the last seq",
                    runId,
                    ...(graphId === undefined ? {} : { graphId }),
                  }),
                ),
                Effect.as(false),
              ),
            ),
            (effect) => tracked(gauges.followers, effect),
          )

        /** Room for one more subscription under `key`, or why not. */
        const roomFor = (key: string) =>
          Effect.gen(function* () {
            if (yield* FiberMap.has(subscriptions, key)) return "already subscribed"
            if ((yield* FiberMap.size(subscriptions)) >= config.maxSubscriptions) {
              return `at most ${config.maxSubscriptions} subscriptions per connection; unsubscribe first`
            }
            return undefined
          })

        const subscribeRun = (message: typeof SubscribeRun.Type) =>
          Effect.gen(function* () {
            const { runId, id } = message
            const key = `run:${runId}`
            const full = yield* roomFor(key)
            if (full !== undefined) return yield* refuse(id, "runId", full, { runId })
            const after = message.after ?? 0
            const opened = yield* Effect.result(service.events(owner, runId, after))
            if (opened._tag === "Failure") {
              // Another owner's run is answered exactly like a missing one.
              return yield* opened.failure._tag === "RunNotFound"
                ? refuse(id, "runId", "run not found", { runId })
                : send({ type: "error", message: "the run could not be read", runId, ...withId(id) })
            }
            yield* send({ type: "subscribed", runId, after, ...withId(id) })
            yield* FiberMap.run(
              subscriptions,
              key,
            )(
              tracked(
                gauges.subscriptions,
                Effect.flatMap(relay(runId, opened.success), (finished) =>
                  send({ type: "unsubscribed", runId, reason: finished ? "finished" : "stopped" }),
                ),
              ),
            )
          })

        /** The error that refuses `after`, or undefined when every run it names is a run of the graph. */
        const checkAfter = (graphId: string, after: Readonly<Record<string, number>>) =>
          Effect.gen(function* () {
            const named = Object.keys(after)
            if (named.length === 0) return undefined
            const recent = new Set(
              (yield* queries.list(owner, { graphId, limit: LIST_LIMIT })).map((r) => r.id),
            )
            for (const runId of named) {
              if (recent.has(runId)) continue
              const view = yield* queries
                .get(owner, runId)
                .pipe(Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)))
              if (view?.run.graphId !== graphId || view.run.parentRunId !== undefined) return runId
            }
            return undefined
          })

        const subscribeGraph = (message: typeof SubscribeGraph.Type) =>
          Effect.gen(function* () {
            const { graphId, id } = message
            const key = `graph:${graphId}`
            const full = yield* roomFor(key)
            if (full !== undefined) return yield* refuse(id, "graphId", full, { graphId })
            const owned = yield* graphs.versions(owner, graphId).pipe(
              Effect.as(true),
              Effect.catchTag("GraphNotFound", () => Effect.succeed(false)),
            )
            if (!owned) return yield* refuse(id, "graphId", "graph not found", { graphId })
            const after = message.after ?? {}
            const stranger = yield* checkAfter(graphId, after)
            if (stranger !== undefined) {
              return yield* refuse(id, `after.${stranger}`, "run not found in this graph", { graphId })
            }
            const since = message.since === undefined ? undefined : Date.parse(message.since)
            const ready = yield* Deferred.make<void>()
            yield* FiberMap.run(
              subscriptions,
              key,
            )(
              tracked(gauges.subscriptions, followGraph(graphId, after, since, id, ready)).pipe(
                Effect.onExit(() => Deferred.succeed(ready, undefined)),
              ),
            )
            // The next client message is read once `subscribed` is sent, so replies keep their order.
            yield* Deferred.await(ready)
          }).pipe(
            Effect.catchTag("SqlError", () =>
              send({ type: "error", message: "the graph could not be read", graphId: message.graphId }),
            ),
          )

        /**
         * A graph subscription: watch for new runs first, then list the runs to follow, so that no run
         * starting meanwhile is missed (a run found twice is followed once). Followers wait for `ready`,
         * done once `subscribed` is sent.
         */
        const followGraph = (
          graphId: string,
          after: Readonly<Record<string, number>>,
          since: number | undefined,
          id: ClientRef | undefined,
          ready: Deferred.Deferred<void>,
        ) =>
          Effect.gen(function* () {
            const followers = yield* FiberSet.make()
            const followed = new Map<string, number>()
            const follow = (runId: string) =>
              Effect.suspend(() => {
                if (followed.has(runId)) return Effect.void
                const from = Object.hasOwn(after, runId) ? (after[runId] ?? 0) : 0
                followed.set(runId, from)
                const run = Effect.gen(function* () {
                  yield* Deferred.await(ready)
                  const events = yield* service.events(owner, runId, from)
                  yield* relay(runId, events, graphId)
                }).pipe(Effect.catch(() => Effect.void))
                return Effect.asVoid(FiberSet.run(followers, run))
              })
            yield* feed.watch(owner, graphId, follow)
            const listed = yield* queries.list(owner, { graphId, limit: LIST_LIMIT })
            // Oldest first.
            for (const run of [...listed].reverse()) {
              if (!isFinal(run.status) || (since !== undefined && run.createdAt >= since))
                yield* follow(run.id)
            }
            for (const runId of Object.keys(after)) yield* follow(runId)
            const runs = [...followed].map(([runId, from]) => ({ runId, after: from }))
            yield* send({ type: "subscribed", graphId, runs, ...withId(id) })
            yield* Deferred.succeed(ready, undefined)
            return yield* Effect.never
          }).pipe(
            Effect.scoped,
            Effect.catch(() =>
              Effect.andThen(
                send({ type: "error", message: "the graph's runs could not be read", graphId }),
                send({ type: "unsubscribed", graphId, reason: "stopped" }),
              ),
            ),
          )

        const unsubscribe = (
          target: { readonly runId: string } | { readonly graphId: string },
          id?: ClientRef,
        ) =>
          Effect.gen(function* () {
            const [field, value] = "runId" in target ? ["runId", target.runId] : ["graphId", target.graphId]
            const key = `${field === "runId" ? "run" : "graph"}:${value}`
            if (!(yield* FiberMap.has(subscriptions, key))) {
              return yield* refuse(id, field, "not subscribed", target)
            }
            yield* FiberMap.remove(subscriptions, key)
            yield* send({ type: "unsubscribed", ...target, reason: "requested", ...withId(id) })
          })

        const onText = (text: string): Effect.Effect<void> => {
          if (Buffer.byteLength(text, "utf8") > config.maxMessageBytes) {
            return refuse(undefined, "message", `larger than ${config.maxMessageBytes} bytes`)
          }
          const decoded = decodeClientMessage(text)
          if ("field" in decoded) return send({ type: "error", ...decoded })
          const message = decoded.message
          switch (message.type) {
            case "ping":
              return send({ type: "pong", ...withId(message.id) })
            case "subscribe":
              return "runId" in message ? subscribeRun(message) : subscribeGraph(message)
            case "unsubscribe":
              return "runId" in message
                ? unsubscribe({ runId: message.runId }, message.id)
                : unsubscribe({ graphId: message.graphId }, message.id)
          }
        }

        // The server is shutting down: close at once (1001) rather than hold the shutdown.
        yield* Effect.forkScoped(
          Effect.andThen(
            service.closing,
            Effect.ignore(
              writer.write(new Socket.CloseEvent(CLOSE_GOING_AWAY, "the server is shutting down")),
            ),
          ),
        )
        // Heartbeats; each first checks that the session is still valid (a signed-out user's socket closes).
        yield* Effect.forkScoped(
          Effect.gen(function* () {
            for (;;) {
              yield* Effect.sleep(config.heartbeat)
              if (!(yield* signedIn)) {
                yield* FiberMap.clear(subscriptions)
                yield* Effect.ignore(writer.write(new Socket.CloseEvent(CLOSE_SESSION_ENDED, SESSION_ENDED)))
                return
              }
              yield* send({ type: "heartbeat", at: Date.now() })
            }
          }),
        )
        for (;;) {
          const frames = yield* pull
          for (const text of frames) yield* onText(text)
        }
      }).pipe(
        Effect.scoped,
        // Every end of the connection, a clean close included, is a socket error.
        Effect.catchTag("SocketError", () => Effect.void),
        (effect) => tracked(gauges.sockets, effect),
      )

    return { serve }
  })
