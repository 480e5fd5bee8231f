/**
 * The metrics this process records itself, as effect `Metric`s in the process's registry (the
 * WebSocket gauges of `api/ws/metrics.ts` are there too). `/metrics` renders them with the database gauges
 * (`Exposition.ts`):
 *
 * - `weft_node_execution_seconds{block}`: a histogram of node execution durations, from start to end, of
 *   the executions this process ran (recorded when the executor commits an execution's final status);
 * - `weft_node_executions_total{block,status}`: executions this process finished, by final status;
 * - `weft_run_status_changes_total{status}`: run status changes this process committed;
 * - `weft_sse_subscribers{server}`: open `GET /api/runs/:id/events` streams.
 *
 * In the worker mode runs execute in `weft worker` processes, which serve their own `/metrics`
 * (`weft worker --metrics-port`).
 *
 * @since 0.1.0
 */
import { Effect, Metric, Option, Stream } from "effect"
import { HttpServer } from "effect/http"

/**
 * The histogram's buckets, in seconds: from 5 ms (a pure transformation) to 10 minutes (a long model call).
 *
 * @category metrics
 */
export const NODE_EXECUTION_BUCKETS: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
]

/**
 * Node execution durations by block id.
 *
 * @category metrics
 */
export const nodeExecutionSeconds = Metric.histogram("weft_node_execution_seconds", {
  description: "Duration of node executions run by this process, from start to final status, by block id",
  boundaries: NODE_EXECUTION_BUCKETS,
})

/**
 * Finished node executions by block id and final status.
 *
 * @category metrics
 */
export const nodeExecutions = Metric.counter("weft_node_executions_total", {
  description: "Node executions run by this process that reached a final status, by block id and status",
  incremental: true,
})

/**
 * Run status changes committed by this process.
 *
 * @category metrics
 */
export const runStatusChanges = Metric.counter("weft_run_status_changes_total", {
  description: "Run status changes committed by this process, by new status",
  incremental: true,
})

/**
 * Open Server-Sent Events streams of run events.
 *
 * @category metrics
 */
export const sseSubscribers = Metric.gauge("weft_sse_subscribers", {
  description: "Open Server-Sent Events streams of run events",
})

/**
 * Records one finished node execution.
 *
 * @category metrics
 */
export const recordExecution = (blockId: string, status: string, seconds: number | undefined) =>
  Effect.andThen(
    Metric.update(Metric.withAttributes(nodeExecutions, { block: blockId, status }), 1),
    seconds === undefined
      ? Effect.void
      : Metric.update(Metric.withAttributes(nodeExecutionSeconds, { block: blockId }), seconds),
  )

/**
 * Counts a stream in `gauge` from its first pull until it ends, fails or is interrupted.
 *
 * @category combinators
 */
export const trackStream = <A, E, R>(
  gauge: Metric.Gauge<number>,
  stream: Stream.Stream<A, E, R>,
): Stream.Stream<A, E, R> =>
  Stream.unwrap(
    Effect.as(
      Effect.acquireRelease(Metric.modify(gauge, 1), () => Metric.modify(gauge, -1)),
      stream,
    ),
  )

/**
 * An SSE stream of run events, counted in `weft_sse_subscribers` (labelled with the server's base URL, as
 * the WebSocket gauges are) while a client reads it.
 *
 * @category combinators
 */
export const trackSse = <A, E, R>(stream: Stream.Stream<A, E, R>): Effect.Effect<Stream.Stream<A, E, R>> =>
  Effect.map(Effect.serviceOption(HttpServer.HttpServer), (server) =>
    trackStream(
      Option.isSome(server)
        ? Metric.withAttributes(sseSubscribers, { server: HttpServer.formatAddress(server.value.address) })
        : sseSubscribers,
      stream,
    ),
  )
