/**
 * What `GET /metrics` answers, in the Prometheus text format: gauges read from the database at scrape time,
 * which hold for the whole deployment whichever process drives the runs, then the metrics of this process
 * (effect's registry: node execution histograms, SSE and WebSocket gauges; see `Metrics.ts`).
 *
 * Database gauges (one cheap query each; cached for `databaseTtl`, 5 s by default, so that frequent scrapes
 * cost one round of queries):
 *
 * - `weft_runs{status}`: runs by status, every status listed (0 included). A gauge counted from the `runs`
 *   table, not counters of transitions: it is right across processes and restarts.
 * - `weft_queue_depth{queue}`: runs waiting to be driven. `queue="graphile_worker"` in the worker mode (the
 *   `weft_run` jobs not taken by a worker, delayed ones included); `queue="inline"` otherwise (runs QUEUED).
 * - worker mode only: `weft_queue_jobs{state}` (`ready`, `scheduled`, `locked`, `failed`),
 *   `weft_runs_leased` (runs a worker holds), `weft_workers{state}` (`live`: heartbeat within 30 s, `stale`).
 * - `weft_database_up`: 1 when these queries answered, else 0 (and the gauges above are left out).
 *
 * @since 0.1.0
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Duration, Effect, Exit } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TASK } from "../Queue.js"
import { Sql, type SqlShape } from "../Sql.js"
import { type Family, render } from "./Prometheus.js"

/**
 * How the database gauges are gathered.
 *
 * @category models
 */
export interface ExpositionOptions {
  /** `workers` when `weft worker` processes drive the runs (graphile-worker queue gauges). */
  readonly queue: "inline" | "workers"
  /** How long database gauges are reused between scrapes. Default 5 s. */
  readonly databaseTtl?: Duration.Input
  /** How long the database may take to answer before `weft_database_up` is 0. Default 5 s. */
  readonly databaseTimeout?: Duration.Input
}

/** Every run status, so that each has a sample (0 when no run has it). */
const STATUSES = ["INCOMPLETE", "QUEUED", "RUNNING", "REVIEW", "COMPLETED", "FAILED", "TERMINATED"] as const

/** How old a worker's heartbeat may be for `weft_workers{state="live"}` (the default `--stale-after`). */
const LIVE_WORKER_SECONDS = 30

const count = (value: unknown): number => {
  const n = Number(value)
  return Number.isFinite(n) ? n : 0
}

/** The database gauges, read now. */
const databaseFamilies = (sql: SqlShape, queue: "inline" | "workers") =>
  Effect.gen(function* () {
    const rows = yield* sql.query<{ status: string; n: unknown }>(
      "SELECT status, count(*) AS n FROM runs GROUP BY status",
    )
    const byStatus = new Map(rows.map((row) => [row.status, count(row.n)]))
    const families: Array<Family> = [
      {
        name: "weft_runs",
        help: "Runs by status (counted in the database)",
        type: "gauge",
        samples: STATUSES.map((status) => ({ labels: { status }, value: byStatus.get(status) ?? 0 })),
      },
    ]
    if (queue === "inline") {
      families.push({
        name: "weft_queue_depth",
        help: "Runs waiting to be driven: graphile-worker jobs not taken (worker mode), or runs QUEUED (inline)",
        type: "gauge",
        samples: [{ labels: { queue: "inline" }, value: byStatus.get("QUEUED") ?? 0 }],
      })
      return families
    }
    const [jobs] = yield* sql.query<Record<"ready" | "scheduled" | "locked" | "failed", unknown>>(
      `SELECT
         count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now()) AS ready,
         count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at > now()) AS scheduled,
         count(*) FILTER (WHERE locked_at IS NOT NULL) AS locked,
         count(*) FILTER (WHERE locked_at IS NULL AND attempts >= max_attempts) AS failed
       FROM graphile_worker.jobs WHERE task_identifier = $1`,
      [TASK],
    )
    const [leases] = yield* sql.query<{ n: unknown }>("SELECT count(*) AS n FROM run_leases")
    const [workers] = yield* sql.query<{ live: unknown; stale: unknown }>(
      `SELECT count(*) FILTER (WHERE heartbeat_at >= now() - make_interval(secs => $1::float8)) AS live,
              count(*) FILTER (WHERE heartbeat_at < now() - make_interval(secs => $1::float8)) AS stale
       FROM weft_workers`,
      [LIVE_WORKER_SECONDS],
    )
    families.push(
      {
        name: "weft_queue_depth",
        help: "Runs waiting to be driven: graphile-worker jobs not taken (worker mode), or runs QUEUED (inline)",
        type: "gauge",
        samples: [
          { labels: { queue: "graphile_worker" }, value: count(jobs?.ready) + count(jobs?.scheduled) },
        ],
      },
      {
        name: "weft_queue_jobs",
        help: "graphile-worker jobs of runs by state: ready, scheduled (delayed), locked (being taken), failed",
        type: "gauge",
        samples: (["ready", "scheduled", "locked", "failed"] as const).map((state) => ({
          labels: { state },
          value: count(jobs?.[state]),
        })),
      },
      {
        name: "weft_runs_leased",
        help: "Runs held by a worker (a lease in run_leases)",
        type: "gauge",
        samples: [{ value: count(leases?.n) }],
      },
      {
        name: "weft_workers",
        help: `Registered workers: live (heartbeat within ${LIVE_WORKER_SECONDS} s) or stale`,
        type: "gauge",
        samples: [
          { labels: { state: "live" }, value: count(workers?.live) },
          { labels: { state: "stale" }, value: count(workers?.stale) },
        ],
      },
    )
    return families
  })

const databaseUp = (up: boolean): Family => ({
  name: "weft_database_up",
  help: "Whether the database answered the metric queries of this scrape",
  type: "gauge",
  samples: [{ value: up ? 1 : 0 }],
})

/**
 * A scrape: the database gauges (cached), then this process's metrics. Never fails: a database that does not
 * answer gives `weft_database_up 0`.
 *
 * @category constructors
 */
export const make = (options: ExpositionOptions): Effect.Effect<Effect.Effect<string>, never, Sql> =>
  Effect.gen(function* () {
    const sql = yield* Sql
    const ttl = Duration.fromInputUnsafe(options.databaseTtl ?? Duration.seconds(5))
    const gauges = yield* Effect.cachedWithTTL(
      databaseFamilies(sql, options.queue).pipe(
        Effect.timeout(options.databaseTimeout ?? Duration.seconds(5)),
        Effect.map((families) => [...families, databaseUp(true)]),
        Effect.catchCause((cause) =>
          Effect.as(Effect.logWarning("metrics: the database gauges could not be read", cause), [
            databaseUp(false),
          ]),
        ),
      ),
      (exit) =>
        Exit.isSuccess(exit) && exit.value.some((f) => f.name === "weft_runs") ? ttl : Duration.zero,
    )
    return Effect.gen(function* () {
      const families = yield* gauges
      const context = yield* Effect.context<never>()
      return render(families) + PrometheusMetrics.formatUnsafe(context)
    })
  })

const digest = (text: string) => createHash("sha256").update(text).digest()

/**
 * Whether an `Authorization` header carries the metrics bearer token (compared in constant time).
 *
 * @category utilities
 */
export const bearerMatches = (header: string | undefined, token: string): boolean => {
  const match = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? "")
  if (match?.[1] === undefined) return false
  return timingSafeEqual(digest(match[1].trim()), digest(token))
}
