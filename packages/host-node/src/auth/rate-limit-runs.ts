/**
 * The run-start limit: how many runs one user may start, whichever way (`POST /api/graphs/:id/runs`, a
 * preset, a webhook), by session or API key alike. Every path that starts a run takes one request from the
 * user's bucket first:
 *
 * ```ts
 * const limit = yield* RunStartLimit
 * yield* limit.take(owner) // fails with TooManyRequests: list `RateLimited` in the endpoint's errors
 * const started = yield* service.start(owner, graphId, { … })
 * if (started.existing) yield* limit.refund(owner) // an idempotent retry started nothing
 * ```
 *
 * The buckets are in the database (`weft_rate_limits`), shared by every process of the host; with sign-in
 * off, in this process's memory.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { Auth, AuthConfigError } from "../Auth.js"
import { type RateLimit, ruleProblem, TooManyRequests } from "./rate-limit.js"

/** The default: 60 run starts per minute per user, in bursts of up to 20. */
export const DEFAULT_RUN_START_LIMIT: RateLimit = { window: 60, max: 60, burst: 20 }

/**
 * The host's request limits (sign-in limits are in `AuthOptions`).
 *
 * @category models
 */
export interface Limits {
  /** Run starts per user. Default 60 per 60 s, bursts of 20. */
  readonly runStarts?: RateLimit
}

/**
 * The service's interface.
 *
 * @category models
 */
export interface RunStartLimitShape {
  readonly rule: RateLimit
  /** `shared` (the database) or `process` (memory, with sign-in off). */
  readonly scope: "shared" | "process"
  /** Takes one run start from `owner`'s bucket, or fails with how long to wait. */
  readonly take: (owner: string) => Effect.Effect<void, TooManyRequests>
  /**
   * Gives back a start taken for a request that started no run: a retry with an `Idempotency-Key` that
   * answered the run already started.
   */
  readonly refund: (owner: string) => Effect.Effect<void>
}

/**
 * The run-start limit per user.
 *
 * @category services
 */
export class RunStartLimit extends Context.Service<RunStartLimit, RunStartLimitShape>()(
  "@weft/host-node/RunStartLimit",
) {
  /**
   * The limit on the buckets of `Auth` (the database, or memory with sign-in off).
   *
   * @category layers
   */
  static readonly layer = (
    rule: RateLimit = DEFAULT_RUN_START_LIMIT,
  ): Layer.Layer<RunStartLimit, AuthConfigError, Auth> =>
    Layer.effect(
      RunStartLimit,
      Effect.gen(function* () {
        const problem = ruleProblem(rule)
        if (problem !== undefined) {
          return yield* new AuthConfigError({ field: "limits.runStarts", message: problem })
        }
        const { rateLimits } = yield* Auth
        const burst = rule.burst ?? rule.max
        return {
          rule,
          scope: rateLimits.scope,
          take: (owner) =>
            rateLimits.take(`run-start:${owner}`, rule).pipe(
              Effect.orDie,
              Effect.flatMap((decision) =>
                decision.allowed
                  ? Effect.void
                  : Effect.fail(
                      new TooManyRequests({
                        error: `Too many run starts: at most ${rule.max} per ${rule.window} s (bursts of ${burst}) per user; retry in ${decision.retryAfter} s`,
                        retryAfter: decision.retryAfter,
                      }),
                    ),
              ),
            ),
          refund: (owner) => Effect.orDie(rateLimits.refund(`run-start:${owner}`, rule)),
        }
      }),
    )
}
