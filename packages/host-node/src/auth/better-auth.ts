/**
 * better-auth on the host's own database (through a Kysely dialect on the same driver): email and
 * password sign-in, sessions in SQL, its tables created by its own migrations at start-up.
 */
import { type BetterAuthOptions, betterAuth } from "better-auth"
import { getMigrations } from "better-auth/db/migration"
import type { Dialect } from "kysely"
import { PGliteDialect } from "kysely-pglite-dialect"
import { PostgresJSDialect } from "kysely-postgres-js"
import type { SqlRaw } from "../Sql.js"

/** The request header that carries the client's socket address to better-auth (set by the host only). */
export const CLIENT_IP_HEADER = "x-weft-client-ip"

/** Where better-auth is mounted. */
export const AUTH_BASE_PATH = "/api/auth"

/** Sign-in and sign-up attempts allowed per client address and window. */
export interface RateLimit {
  /** The window, in seconds. */
  readonly window: number
  /** Requests allowed in one window. */
  readonly max: number
}

/** What the host configures. */
export interface BetterAuthConfig {
  readonly raw: SqlRaw
  readonly secret: string
  readonly baseUrl: string
  readonly trustedOrigins: ReadonlyArray<string>
  readonly signInRateLimit: RateLimit
}

/** The part of better-auth the host uses. */
export interface BetterAuthHandle {
  /** Answers a request under `/api/auth`. */
  readonly handler: (request: Request) => Promise<Response>
  /** The user id of the session in these headers' cookie, if it is valid. */
  readonly userId: (headers: Headers) => Promise<string | undefined>
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
 * A fixed-window rate-limit store owned by one host (better-auth's "memory" store is one map shared by every
 * instance in the process).
 */
const windowStore = () => {
  const windows = new Map<string, { count: number; resetAt: number }>()
  return {
    consume: async (key: string, rule: { readonly window: number; readonly max: number }) => {
      const now = Date.now()
      for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k)
      const current = windows.get(key) ?? { count: 0, resetAt: now + rule.window * 1000 }
      if (current.count >= rule.max) {
        return { allowed: false, retryAfter: Math.max(1, Math.ceil((current.resetAt - now) / 1000)) }
      }
      windows.set(key, { count: current.count + 1, resetAt: current.resetAt })
      return { allowed: true, retryAfter: null }
    },
  }
}

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
      customStorage: windowStore(),
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
    telemetry: { enabled: false },
    logger: { level: "error" },
  } satisfies BetterAuthOptions
  await migrate(options, config.raw)
  const auth = betterAuth(options)
  return {
    handler: (request) => auth.handler(request),
    userId: async (headers) => {
      const session = await auth.api.getSession({ headers })
      return session?.user.id
    },
  }
}
