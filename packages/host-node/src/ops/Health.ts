/**
 * Liveness and readiness. Liveness (`GET /healthz`) is the process answering at all. Readiness
 * (`GET /readyz`) is what a load balancer or an orchestrator asks before sending work:
 *
 * - `database`: the database answers `SELECT 1` within the timeout (2 s by default);
 * - `queue` (worker mode only): graphile-worker's `graphile_worker.jobs` can be read, so runs can be
 *   enqueued and taken;
 * - `shutdown`: the process is not shutting down.
 *
 * The answer names every check with `"ok"` or `"fail"` and, for a failure, a short reason (never the
 * database's own message, which stays in the logs: these routes need no session).
 *
 * @since 0.1.0
 */
import { Duration, Effect } from "effect"
import { Sql } from "../Sql.js"

/**
 * The outcome of one check.
 *
 * @category models
 */
export interface CheckResult {
  readonly status: "ok" | "fail"
  readonly reason?: string
}

/**
 * What `GET /readyz` answers (with 200 when `status` is `ready`, else 503).
 *
 * @category models
 */
export interface Readiness {
  readonly status: "ready" | "unavailable"
  readonly checks: Readonly<Record<string, CheckResult>>
}

/**
 * What `GET /healthz` answers, always with 200.
 *
 * @category models
 */
export const LIVE = { status: "ok" } as const

/**
 * How readiness is checked.
 *
 * @category models
 */
export interface HealthOptions {
  /** `workers`: the graphile-worker queue is checked too. */
  readonly queue: "inline" | "workers"
  /** How long each check may take. Default 2 s. */
  readonly timeout?: Duration.Input
  /** Whether the process is shutting down (then not ready). */
  readonly shuttingDown?: Effect.Effect<boolean>
}

/**
 * The readiness check, on the `Sql` service. A check that changes from ok to failed (or back) is logged
 * once, with its cause.
 *
 * @category constructors
 */
export const make = (options: HealthOptions): Effect.Effect<Effect.Effect<Readiness>, never, Sql> =>
  Effect.gen(function* () {
    const sql = yield* Sql
    const timeout = Duration.fromInputUnsafe(options.timeout ?? Duration.seconds(2))
    const failing = new Set<string>()

    const check = (name: string, query: string): Effect.Effect<readonly [string, CheckResult]> =>
      sql.query(query).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail("timeout" as const),
        }),
        Effect.matchCauseEffect({
          onSuccess: () =>
            Effect.gen(function* () {
              if (failing.delete(name)) yield* Effect.logInfo(`readiness: ${name} check passes again`)
              return [name, { status: "ok" }] as const
            }),
          onFailure: (cause) =>
            Effect.gen(function* () {
              const timedOut = cause.reasons.some((r) => r._tag === "Fail" && r.error === "timeout")
              if (!failing.has(name)) {
                failing.add(name)
                yield* Effect.logWarning(`readiness: ${name} check fails`, cause)
              }
              const reason = timedOut
                ? `no answer within ${Duration.toMillis(timeout)} ms`
                : name === "queue"
                  ? "the graphile_worker queue could not be read"
                  : "the database query failed"
              return [name, { status: "fail", reason }] as const
            }),
        }),
      )

    return Effect.gen(function* () {
      const shuttingDown = options.shuttingDown === undefined ? false : yield* options.shuttingDown
      const queries: Array<Effect.Effect<readonly [string, CheckResult]>> = [
        check("database", "SELECT 1 AS ok"),
      ]
      if (options.queue === "workers") {
        queries.push(check("queue", "SELECT 1 AS ok FROM graphile_worker.jobs LIMIT 1"))
      }
      const results = yield* Effect.all(queries, { concurrency: "unbounded" })
      const checks: Record<string, CheckResult> = Object.fromEntries(results)
      checks.shutdown = shuttingDown
        ? { status: "fail", reason: "the server is shutting down" }
        : { status: "ok" }
      const ready = Object.values(checks).every((c) => c.status === "ok")
      return { status: ready ? "ready" : "unavailable", checks } satisfies Readiness
    })
  })
