/**
 * Rate limits as token buckets, kept in the host's database (one row per key in `weft_rate_limits`, so every
 * process of a host on one Postgres shares them) or, with sign-in off, in this process's memory.
 *
 * A rule allows `max` requests per `window` seconds with bursts of up to `burst` (default `max`). It is
 * enforced with the generic cell rate algorithm: each key keeps one timestamp, the theoretical arrival time
 * (`tat`) of its next request; a request is allowed when `max(tat, now) + interval - now <= burst * interval`
 * (interval = window / max), which moves `tat` on by one interval. One SQL statement decides and records,
 * so concurrent requests, from any process, never exceed the rule. Time is the database's clock.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { HttpServerRespondable, HttpServerResponse } from "effect/http"
import { HttpApiSchema } from "effect/http-api"
import type { SqlError, SqlShape } from "../Sql.js"

/**
 * A rate-limit rule: `max` requests per `window` seconds, in bursts of at most `burst` (default `max`).
 *
 * @category models
 */
export interface RateLimit {
  /** The window, in seconds. */
  readonly window: number
  /** Requests allowed per window, on average. */
  readonly max: number
  /** Requests allowed at once after a quiet spell. Default `max`. */
  readonly burst?: number
}

/**
 * What a store decided: allowed, or refused with the seconds to wait.
 *
 * @category models
 */
export type RateDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfter: number }

/**
 * Where the buckets are kept.
 *
 * @category models
 */
export interface RateLimitStore {
  /** `shared` (the database: every process of the host) or `process` (this process's memory). */
  readonly scope: "shared" | "process"
  /** Takes one request from `key`'s bucket under `rule`. */
  readonly take: (key: string, rule: RateLimit) => Effect.Effect<RateDecision, SqlError>
  /** Gives back one request taken from `key`'s bucket (a sign-in that did not fail). */
  readonly refund: (key: string, rule: RateLimit) => Effect.Effect<void, SqlError>
}

/** The table of the shared buckets (created with better-auth's tables at start-up). */
export const RATE_LIMIT_TABLE = "weft_rate_limits"

/**
 * Why a rule cannot work (a window or a maximum that is not a positive number), or `undefined`.
 *
 * @category validation
 */
export const ruleProblem = (rule: RateLimit): string | undefined => {
  const positive = (n: number | undefined) => n === undefined || (Number.isFinite(n) && n > 0)
  if (!positive(rule.window)) return "window must be a positive number of seconds"
  if (!positive(rule.max) || rule.max < 1) return "max must be a number of requests, at least 1"
  if (!positive(rule.burst) || (rule.burst !== undefined && rule.burst < 1)) {
    return "burst must be a number of requests, at least 1"
  }
  return undefined
}

/** The interval between two requests at the sustained rate, and the burst tolerance, in whole ms. */
const cellsOf = (rule: RateLimit) => {
  const interval = Math.max(1, Math.round((rule.window * 1000) / rule.max))
  const burst = Math.max(1, Math.floor(rule.burst ?? rule.max))
  return { interval, tolerance: interval * burst }
}

const retrySeconds = (tat: number, now: number, interval: number, tolerance: number): number =>
  Math.max(1, Math.ceil((Math.max(tat, now) + interval - tolerance - now) / 1000))

/** How often stale rows (buckets that are full again) are deleted. */
const PRUNE_EVERY_MS = 60_000

const NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/**
 * The buckets in the database, in `weft_rate_limits` (`id text primary key, tat bigint`).
 *
 * @category constructors
 */
export const sqlRateLimitStore = (sql: Pick<SqlShape, "query">): RateLimitStore => {
  let prunedAt = 0
  const prune = Effect.suspend(() => {
    const now = Date.now()
    if (now - prunedAt < PRUNE_EVERY_MS) return Effect.void
    prunedAt = now
    return Effect.asVoid(sql.query(`DELETE FROM ${RATE_LIMIT_TABLE} WHERE tat < ${NOW_MS} - 1000`))
  })
  return {
    scope: "shared",
    take: (key, rule) =>
      Effect.gen(function* () {
        yield* prune
        const { interval, tolerance } = cellsOf(rule)
        // On conflict the update (and the row returned) happens only when the request fits the bucket.
        const taken = yield* sql.query(
          `INSERT INTO ${RATE_LIMIT_TABLE} (id, tat) VALUES ($1, ${NOW_MS} + $2::bigint)
           ON CONFLICT (id) DO UPDATE
             SET tat = GREATEST(${RATE_LIMIT_TABLE}.tat, EXCLUDED.tat - $2::bigint) + $2::bigint
             WHERE GREATEST(${RATE_LIMIT_TABLE}.tat, EXCLUDED.tat - $2::bigint) + $2::bigint
                   - (EXCLUDED.tat - $2::bigint) <= $3::bigint
           RETURNING tat`,
          [key, interval, tolerance],
        )
        if (taken.length > 0) return { allowed: true } as const
        const rows = yield* sql.query<{ tat: number | bigint; now: number | bigint }>(
          `SELECT tat, ${NOW_MS} AS now FROM ${RATE_LIMIT_TABLE} WHERE id = $1`,
          [key],
        )
        const row = rows[0]
        const retryAfter =
          row === undefined ? 1 : retrySeconds(Number(row.tat), Number(row.now), interval, tolerance)
        return { allowed: false, retryAfter } as const
      }),
    refund: (key, rule) =>
      Effect.asVoid(
        sql.query(`UPDATE ${RATE_LIMIT_TABLE} SET tat = tat - $2::bigint WHERE id = $1`, [
          key,
          cellsOf(rule).interval,
        ]),
      ),
  }
}

/**
 * The buckets in this process's memory (one map per store).
 *
 * @category constructors
 */
export const memoryRateLimitStore = (): RateLimitStore => {
  const tats = new Map<string, number>()
  let prunedAt = 0
  return {
    scope: "process",
    take: (key, rule) =>
      Effect.sync(() => {
        const now = Date.now()
        if (now - prunedAt >= PRUNE_EVERY_MS) {
          prunedAt = now
          for (const [k, tat] of tats) if (tat < now) tats.delete(k)
        }
        const { interval, tolerance } = cellsOf(rule)
        const tat = tats.get(key) ?? now
        const next = Math.max(tat, now) + interval
        if (next - now <= tolerance) {
          tats.set(key, next)
          return { allowed: true } as const
        }
        return { allowed: false, retryAfter: retrySeconds(tat, now, interval, tolerance) } as const
      }),
    refund: (key, rule) =>
      Effect.sync(() => {
        const tat = tats.get(key)
        if (tat !== undefined) tats.set(key, tat - cellsOf(rule).interval)
      }),
  }
}

/**
 * The JSON body of a 429 answer.
 *
 * @category schemas
 */
export const TooManyRequestsBody = Schema.Struct({
  _tag: Schema.Literal("TooManyRequests"),
  error: Schema.String,
  /** Seconds to wait, as the `Retry-After` header says. */
  retryAfter: Schema.Int,
}).annotate({ httpApiStatus: 429, identifier: "TooManyRequests" })

/**
 * Too many requests: retry after `retryAfter` seconds. Answered with status 429, the `Retry-After` header and
 * the body `{ _tag: "TooManyRequests", error, retryAfter }`, in an API route that lists {@link RateLimited}
 * among its errors or in a plain router route alike.
 *
 * @category errors
 */
export class TooManyRequests
  extends Schema.TaggedError<TooManyRequests>()(
    "TooManyRequests",
    { error: Schema.String, retryAfter: Schema.Int },
    { httpApiStatus: 429 },
  )
  implements HttpServerRespondable.Respondable
{
  [HttpServerRespondable.symbol]() {
    return Effect.succeed(tooManyRequestsResponse(this.error, this.retryAfter))
  }
}

/**
 * The error schema to list in an endpoint's `error` for {@link TooManyRequests}: it adds the `Retry-After`
 * header to the answer.
 *
 * @category schemas
 */
export const RateLimited = TooManyRequests.pipe(
  HttpApiSchema.encodeToWithHeaders(
    { body: TooManyRequestsBody, headers: { "retry-after": Schema.String } },
    {
      decode: ({ body }) => new TooManyRequests({ error: body.error, retryAfter: body.retryAfter }),
      encode: (error) => ({
        body: { _tag: "TooManyRequests" as const, error: error.error, retryAfter: error.retryAfter },
        headers: { "retry-after": String(error.retryAfter) },
      }),
    },
  ),
)

/**
 * A 429 answer with `Retry-After`, for routes outside the API declaration.
 *
 * @category constructors
 */
export const tooManyRequestsResponse = (error: string, retryAfter: number) =>
  HttpServerResponse.jsonUnsafe(
    { _tag: "TooManyRequests", error, retryAfter },
    { status: 429, headers: { "retry-after": String(retryAfter) } },
  )
