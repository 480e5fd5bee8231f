/**
 * Gauges of the WebSocket API, per server (attribute `server`, its base URL): open sockets, active
 * subscriptions, and active run followers (one per run a socket is being sent the events of). A closed socket
 * takes all of its subscriptions and followers down with it, so on an idle server all three are 0.
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"

/**
 * Open sockets.
 *
 * @category metrics
 */
export const sockets = Metric.gauge("weft_ws_sockets", { description: "Open WebSocket connections" })

/**
 * Subscriptions held by open sockets (a run, or all runs of a graph).
 *
 * @category metrics
 */
export const subscriptions = Metric.gauge("weft_ws_subscriptions", {
  description: "Active WebSocket subscriptions",
})

/**
 * Run event followers serving open sockets (one per followed run).
 *
 * @category metrics
 */
export const followers = Metric.gauge("weft_ws_followers", {
  description: "Run event streams being sent to WebSocket clients",
})

/**
 * The three gauges of one server.
 *
 * @category models
 */
export interface WsGauges {
  readonly sockets: Metric.Gauge<number>
  readonly subscriptions: Metric.Gauge<number>
  readonly followers: Metric.Gauge<number>
}

/**
 * The gauges of the server at `server` (its base URL, e.g. `http://127.0.0.1:8787`).
 *
 * @category metrics
 */
export const gaugesOf = (server: string): WsGauges => ({
  sockets: Metric.withAttributes(sockets, { server }),
  subscriptions: Metric.withAttributes(subscriptions, { server }),
  followers: Metric.withAttributes(followers, { server }),
})

/**
 * Counts `effect` in `gauge` while it runs.
 *
 * @category metrics
 */
export const tracked = <A, E, R>(gauge: Metric.Gauge<number>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Metric.modify(gauge, 1),
    () => effect,
    () => Metric.modify(gauge, -1),
  )
