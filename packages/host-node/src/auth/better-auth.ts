/**
 * better-auth on the host's own database (through a Kysely dialect on the same driver): email and
 * password sign-in, sessions and API keys in SQL, its tables (and the host's rate-limit buckets) created by
 * its own migrations at start-up.
 */
import { apiKey } from "@better-auth/api-key"
import { type BetterAuthOptions, type BetterAuthPlugin, betterAuth } from "better-auth"
import { getMigrations } from "better-auth/db/migration"
import { bearer } from "better-auth/plugins"
import { Effect } from "effect"
import type { Dialect } from "kysely"
import { PGliteDialect } from "kysely-pglite-dialect"
import { PostgresJSDialect } from "kysely-postgres-js"
import type { SqlRaw } from "../Sql.js"
import { API_KEY_OPTIONS, type ApiKeysHandle, makeApiKeys } from "./api-keys.js"
import { RATE_LIMIT_TABLE, type RateLimit, type RateLimitStore } from "./rate-limit.js"

/** The request header that carries the client's socket address to better-auth (set by the host only). */
export const CLIENT_IP_HEADER = "x-weft-client-ip"

/** Where better-auth is mounted. */
export const AUTH_BASE_PATH = "/api/auth"

export type { RateLimit } from "./rate-limit.js"

/** What the host configures. */
export interface BetterAuthConfig {
  readonly raw: SqlRaw
  readonly secret: string
  readonly baseUrl: string
  readonly trustedOrigins: ReadonlyArray<string>
  readonly signInRateLimit: RateLimit
  /** Where better-auth keeps its per-address request counts. */
  readonly rateLimits: RateLimitStore
}

/** The part of better-auth the host uses. */
export interface BetterAuthHandle {
  /** Answers a request under `/api/auth`. */
  readonly handler: (request: Request) => Promise<Response>
  /** The user id of the session in these headers' cookie, if it is valid. */
  readonly userId: (headers: Headers) => Promise<string | undefined>
  /**
   * The user of a session token (the session cookie's value, or the bare token `get-session` answers), if the
   * session is valid: for clients that cannot send the cookie, like collaboration connections.
   */
  readonly userOfToken: (token: string) => Promise<{ readonly id: string; readonly name: string } | undefined>
  /** API keys: create, list, revoke, verify. */
  readonly apiKeys: ApiKeysHandle
}

const dialectOf = (raw: SqlRaw): Dialect =>
  raw.kind === "postgres" ? new PostgresJSDialect({ postgres: raw.sql }) : new PGliteDialect(raw.db)

/** A fixed advisory lock key, so that hosts starting together on one Postgres migrate one at a time. */
const MIGRATION_LOCK = 0x77656674

const migrate = async (options: BetterAuthOptions, raw: SqlRaw): Promise<void> => {
  if (raw.kind === "pglite") {
    await (await getMigrations(options)).runMigrations()
    return
  }
  const lock = await raw.sql.reserve()
  try {
    await lock`SELECT pg_advisory_lock(${MIGRATION_LOCK})`
    await (await getMigrations(options)).runMigrations()
  } finally {
    await lock`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => undefined)
    lock.release()
  }
}

/**
 * better-auth's request counts in the host's rate-limit buckets (shared by every process on the database;
 * better-auth's "memory" store would be one map shared by every instance in the process).
 */
const bucketStorage = (store: RateLimitStore) => ({
  consume: (key: string, rule: { readonly window: number; readonly max: number }) =>
    Effect.runPromise(
      Effect.map(store.take(`auth:${key}`, rule), (decision) =>
        decision.allowed
          ? { allowed: true, retryAfter: null }
          : { allowed: false, retryAfter: decision.retryAfter },
      ),
    ),
})

/** The host's rate-limit buckets, a table created with better-auth's (see `rate-limit.ts`). */
const rateLimitTable = {
  id: "weft-rate-limits",
  schema: {
    weftRateLimit: {
      modelName: RATE_LIMIT_TABLE,
      fields: { tat: { type: "number", bigint: true, required: true } },
    },
  },
} satisfies BetterAuthPlugin

/** Refusals that are expected (a revoked or unknown API key) are answered, not logged. */
const QUIET_ERRORS = ["Failed to validate API key"]

/** Builds better-auth and runs its migrations. */
export const makeBetterAuth = async (config: BetterAuthConfig): Promise<BetterAuthHandle> => {
  const secure = new URL(config.baseUrl).protocol === "https:"
  const options = {
    appName: "Weft",
    baseURL: config.baseUrl,
    basePath: AUTH_BASE_PATH,
    secret: config.secret,
    database: { dialect: dialectOf(config.raw), type: "postgres" },
    emailAndPassword: { enabled: true },
    trustedOrigins: [...config.trustedOrigins],
    rateLimit: {
      enabled: true,
      customStorage: bucketStorage(config.rateLimits),
      window: 60,
      max: 100,
      customRules: {
        "/sign-in/*": { window: config.signInRateLimit.window, max: config.signInRateLimit.max },
        "/sign-up/*": { window: config.signInRateLimit.window, max: config.signInRateLimit.max },
      },
    },
    advanced: {
      useSecureCookies: secure,
      defaultCookieAttributes: { sameSite: "lax", httpOnly: true, secure },
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
    },
    plugins: [apiKey(API_KEY_OPTIONS), bearer(), rateLimitTable],
    telemetry: { enabled: false },
    logger: {
      level: "error",
      log: (level, message, ...args) => {
        if (QUIET_ERRORS.some((quiet) => message.includes(quiet))) return
        console.error(`[better-auth] ${level}: ${message}`, ...args)
      },
    },
  } satisfies BetterAuthOptions
  await migrate(options, config.raw)
  const auth = betterAuth(options)
  return {
    handler: (request) => auth.handler(request),
    userId: async (headers) => {
      const session = await auth.api.getSession({ headers })
      return session?.user.id
    },
    userOfToken: async (token) => {
      const session = await auth.api.getSession({
        headers: new Headers({ authorization: `Bearer ${token}` }),
      })
      return session === null ? undefined : { id: session.user.id, name: session.user.name }
    },
    apiKeys: makeApiKeys(auth),
  }
}
