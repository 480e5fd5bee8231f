/**
 * Who is calling: sign-in with better-auth (email and password, sessions in the host's database, mounted
 * at `/api/auth/*`), and the owner every API route acts for, the user of the session or of the API key.
 *
 * Every `/api/*` route except `/api/auth/*`, `/api/openapi.json` and the public ones (`GET /api/blocks`)
 * needs a session cookie or an API key (`Authorization: Bearer weft_…`, see `auth/api-keys.ts`); 401
 * otherwise. A key acts for its user with only its scopes: each route declares the scope it needs
 * (`auth/scopes.ts`), and a key without it is refused with 403 naming the scope. State-changing requests
 * sent with the cookie by a page on another origin are refused (403), and no CORS headers are ever granted
 * (so no page on another origin can send an `Authorization` header either). Session cookies are `HttpOnly`,
 * `SameSite=Lax`, and `Secure` when the server's public URL is https.
 *
 * Sign-in is rate-limited per client address (sign-in and sign-up attempts) and per account (failed
 * sign-ins for one email address, from any address); a refusal is a 429 with `Retry-After`.
 *
 * The development mode (`mode: "off"`, `weft serve --auth off`) signs nobody in: every request acts for
 * the single user `"local"`.
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer, Option } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiMiddleware } from "effect/http-api"
import { Forbidden, Unauthorized } from "./api/Errors.js"
import { API_KEY_PREFIX, type ApiKeysHandle } from "./auth/api-keys.js"
import {
  AUTH_BASE_PATH,
  type BetterAuthHandle,
  CLIENT_IP_HEADER,
  makeBetterAuth,
} from "./auth/better-auth.js"
import { crossSiteRefusal, trustedOriginsOf } from "./auth/origin.js"
import {
  memoryRateLimitStore,
  type RateLimit,
  type RateLimitStore,
  ruleProblem,
  sqlRateLimitStore,
  tooManyRequestsResponse,
} from "./auth/rate-limit.js"
import {
  accountKeyOf,
  clientAddress,
  DEFAULT_SIGN_IN_ACCOUNT_RATE_LIMIT,
  DEFAULT_SIGN_IN_RATE_LIMIT,
  SIGN_IN_EMAIL_PATH,
} from "./auth/rate-limit-sign-in.js"
import {
  type ApiScope,
  accessOf,
  InsufficientScope,
  missingScopes,
  type RouteAccess,
  SESSION_ONLY,
} from "./auth/scopes.js"
import { MIN_SECRET_LENGTH, secretFromFile } from "./auth/secret.js"
import { Sql } from "./Sql.js"

export { API_KEY_PREFIX, type ApiKeyInfo, type CreatedApiKey } from "./auth/api-keys.js"
export { AUTH_BASE_PATH } from "./auth/better-auth.js"
export { type RateLimit, RateLimited, TooManyRequests } from "./auth/rate-limit.js"
export { DEFAULT_SIGN_IN_ACCOUNT_RATE_LIMIT, DEFAULT_SIGN_IN_RATE_LIMIT } from "./auth/rate-limit-sign-in.js"
export {
  API_SCOPES,
  type ApiScope,
  InsufficientScope,
  PublicRoute,
  RequiredScope,
  type RouteAccess,
} from "./auth/scopes.js"
export { SECRET_FILE } from "./auth/secret.js"

/**
 * The owner of the current request: the user id every store call is scoped to.
 *
 * @category services
 */
export class CurrentOwner extends Context.Service<CurrentOwner, string>()("@weft/host-node/CurrentOwner") {}

/** The single user of a host with sign-in off. */
export const LOCAL_OWNER = "local"

/**
 * How a host signs users in.
 *
 * @category models
 */
export interface AuthOptions {
  /**
   * `"session"` (default): better-auth sessions. `"off"`: development only, every request acts for the
   * single user `"local"`.
   */
  readonly mode?: "session" | "off"
  /** The secret that signs sessions (at least 32 characters), e.g. `BETTER_AUTH_SECRET`. */
  readonly secret?: string
  /**
   * Where to keep a generated secret when none is given (created once, mode 0600). The embedded host uses
   * `<dataDir>/weft-auth-secret`; without a secret or a file the host refuses to start.
   */
  readonly secretFile?: string
  /** The URL browsers reach the server at (its origin is trusted). Default: the address it listens on. */
  readonly publicUrl?: string
  /** More origins whose pages may call the API with the session cookie. */
  readonly trustedOrigins?: ReadonlyArray<string>
  /** Sign-in and sign-up attempts allowed per client address. Default 10 per 60 s. */
  readonly signInRateLimit?: RateLimit
  /** Failed sign-ins allowed per account (email address), from any address. Default 10 per 900 s. */
  readonly signInAccountRateLimit?: RateLimit
  /**
   * Addresses of reverse proxies whose `X-Forwarded-For` names the client (for the per-address limit).
   * Default none: the socket's address is the client's.
   */
  readonly trustedProxies?: ReadonlyArray<string>
}

/**
 * The sign-in configuration cannot work: no secret on Postgres, a short secret, a bad public URL.
 *
 * @category errors
 */
export class AuthConfigError extends Data.TaggedError("AuthConfigError")<{
  readonly field: string
  readonly message: string
}> {}

/**
 * Who sent a request: the user it acts for, and the API key it came with (none for a session).
 *
 * @category models
 */
export interface Caller {
  readonly owner: string
  readonly apiKey?: { readonly id: string; readonly scopes: ReadonlyArray<ApiScope> }
}

/**
 * The service's interface.
 *
 * @category models
 */
export interface AuthShape {
  readonly mode: "session" | "off"
  /** The server's public URL, whose origin (with the trusted ones) may send state-changing requests. */
  readonly baseUrl: string
  readonly trustedOrigins: ReadonlyArray<string>
  /**
   * Who sent a request: the API key's user for `Authorization: Bearer <key>` (401 for a bad key), else the
   * session's user (401 without one; 403 for a state-changing request from a page on another origin), or
   * `"local"` with sign-in off.
   */
  readonly callerOf: (
    request: HttpServerRequest.HttpServerRequest,
  ) => Effect.Effect<Caller, Unauthorized | Forbidden>
  /**
   * The owner of a request to a route with `access` (default: sessions only): `callerOf`, then 403 for an API
   * key without the scope.
   */
  readonly ownerOf: (
    request: HttpServerRequest.HttpServerRequest,
    access?: RouteAccess,
  ) => Effect.Effect<string, Unauthorized | Forbidden>
  /**
   * Who holds a token sent outside HTTP headers (a collaboration connection's): an API key (`weft_…`) acts
   * for its user with its scopes, anything else is taken as a session token (the session cookie's value or
   * the bare token of `GET /api/auth/get-session`). `undefined` for an unknown, expired or revoked token;
   * with sign-in off, every non-empty token is the local user.
   */
  readonly callerOfToken: (token: string) => Effect.Effect<Caller | undefined>
  /** API keys; `undefined` with sign-in off. */
  readonly apiKeys: ApiKeysHandle | undefined
  /** The rate-limit buckets: the database's, or this process's memory with sign-in off. */
  readonly rateLimits: RateLimitStore
  /** Answers a request under `/api/auth`. */
  readonly handle: (
    request: HttpServerRequest.HttpServerRequest,
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>
}

const forbidden = (reason: string) =>
  new Forbidden({ error: `Cross-site request refused: ${reason} (CSRF protection)` })

const unauthorized = new Unauthorized({
  error:
    "Sign in first: this route needs a session cookie (POST /api/auth/sign-in/email or /api/auth/sign-up/email) or an API key (Authorization: Bearer <key>)",
})

const badKey = new Unauthorized({
  error: "The API key is not valid: unknown, revoked or expired (Authorization: Bearer <key>)",
})

const badScheme = new Unauthorized({
  error: "Unsupported Authorization header: send an API key as Authorization: Bearer <key>",
})

/** The route of a request, for messages: `POST /api/graphs/:id/runs`. */
const routeName = (request: HttpServerRequest.HttpServerRequest, path?: string) =>
  `${request.method} ${path ?? new URL(request.url, "http://host").pathname}`

/** Why `caller` may not call a route with `access`, as the error to answer, or `undefined`. */
const refusalOf = (
  caller: Caller,
  access: RouteAccess,
  route: string,
): Forbidden | InsufficientScope | undefined => {
  if (caller.apiKey === undefined || access._tag === "Public") return undefined
  if (access._tag === "SessionOnly") {
    return new Forbidden({ error: `API keys cannot call ${route}: sign in with a session (cookie) instead` })
  }
  const missing = missingScopes(caller.apiKey.scopes, access.anyOf)
  if (missing.length === 0) return undefined
  return new InsufficientScope({
    error: `This API key lacks the scope ${missing.join(" or ")}, which ${route} needs`,
    scopes: [...missing],
  })
}

/** The API key of an `Authorization` header, `null` for another scheme, `undefined` without the header. */
const bearerOf = (request: HttpServerRequest.HttpServerRequest): string | null | undefined => {
  const header = request.headers.authorization
  if (header === undefined || header === "") return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1] ?? null
}

/**
 * better-auth's own API-key routes are not exposed: keys are managed at `/api/api-keys`. The path is compared
 * decoded, without repeated slashes and in lower case, as a router might read it.
 */
const isHiddenAuthRoute = (path: string): boolean => {
  let plain: string
  try {
    plain = decodeURIComponent(path)
  } catch {
    return true
  }
  return plain.replace(/\/+/g, "/").toLowerCase().startsWith(`${AUTH_BASE_PATH}/api-key`)
}

const notFoundJson = (error: string) =>
  HttpServerResponse.jsonUnsafe({ _tag: "NotFound", error }, { status: 404 })

/** Headers that describe one hop of the connection, never passed on. */
const HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "expect",
  "upgrade",
])

const resolveSecret = (options: AuthOptions): Effect.Effect<string, AuthConfigError> =>
  Effect.gen(function* () {
    const secret =
      options.secret !== undefined && options.secret !== ""
        ? options.secret
        : options.secretFile !== undefined
          ? yield* Effect.try({
              try: () => secretFromFile(options.secretFile ?? ""),
              catch: (error) =>
                new AuthConfigError({
                  field: "secretFile",
                  message: `cannot keep the session secret in ${options.secretFile}: ${String(error)}`,
                }),
            })
          : undefined
    if (secret === undefined) {
      return yield* new AuthConfigError({
        field: "secret",
        message:
          "sign-in needs a secret on Postgres: set BETTER_AUTH_SECRET (or WEFT_AUTH_SECRET) to 32 or more random characters",
      })
    }
    if (secret.length < MIN_SECRET_LENGTH) {
      return yield* new AuthConfigError({
        field: "secret",
        message: `the session secret must be at least ${MIN_SECRET_LENGTH} characters`,
      })
    }
    return secret
  })

const baseUrlOf = (
  options: AuthOptions,
  server: HttpServer.HttpServer["Service"],
): Effect.Effect<string, AuthConfigError> =>
  Effect.try({
    try: () => new URL(options.publicUrl ?? HttpServer.formatAddress(server.address)).origin,
    catch: () => new AuthConfigError({ field: "publicUrl", message: `not a URL: ${options.publicUrl}` }),
  })

/**
 * Sign-in: better-auth and the owner of each request.
 *
 * @category services
 */
export class Auth extends Context.Service<Auth, AuthShape>()("@weft/host-node/Auth") {
  /**
   * Sign-in on the host's database (better-auth's tables are created at start-up), for the server it is
   * built with.
   *
   * @category layers
   */
  static readonly layer = (
    options: AuthOptions = {},
  ): Layer.Layer<Auth, AuthConfigError, Sql | HttpServer.HttpServer> =>
    Layer.effect(
      Auth,
      Effect.gen(function* () {
        const server = yield* HttpServer.HttpServer
        const baseUrl = yield* baseUrlOf(options, server)
        const trustedOrigins = yield* Effect.try({
          try: () => trustedOriginsOf(baseUrl, options.trustedOrigins),
          catch: () => new AuthConfigError({ field: "trustedOrigins", message: "each must be a URL" }),
        })
        const signInRateLimit = options.signInRateLimit ?? DEFAULT_SIGN_IN_RATE_LIMIT
        const accountRateLimit = options.signInAccountRateLimit ?? DEFAULT_SIGN_IN_ACCOUNT_RATE_LIMIT
        for (const [field, rule] of [
          ["signInRateLimit", signInRateLimit],
          ["signInAccountRateLimit", accountRateLimit],
        ] as const) {
          const problem = ruleProblem(rule)
          if (problem !== undefined) return yield* new AuthConfigError({ field, message: problem })
        }
        const refuseCrossSite = (request: HttpServerRequest.HttpServerRequest) => {
          const reason = crossSiteRefusal(request.method, request.headers, trustedOrigins)
          return reason === undefined ? Effect.void : Effect.fail(forbidden(reason))
        }
        const ownerOfCaller =
          (callerOf: AuthShape["callerOf"]): AuthShape["ownerOf"] =>
          (request, access = SESSION_ONLY) =>
            Effect.flatMap(callerOf(request), (caller) => {
              const refusal = refusalOf(caller, access, routeName(request))
              if (refusal === undefined) return Effect.succeed(caller.owner)
              return Effect.fail(
                refusal instanceof Forbidden ? refusal : new Forbidden({ error: refusal.error }),
              )
            })
        if (options.mode === "off") {
          const callerOf: AuthShape["callerOf"] = (request) =>
            Effect.as(refuseCrossSite(request), { owner: LOCAL_OWNER })
          return {
            mode: "off",
            baseUrl,
            trustedOrigins,
            callerOf,
            ownerOf: ownerOfCaller(callerOf),
            callerOfToken: (token) => Effect.succeed(token === "" ? undefined : { owner: LOCAL_OWNER }),
            apiKeys: undefined,
            rateLimits: memoryRateLimitStore(),
            handle: () =>
              Effect.succeed(
                HttpServerResponse.jsonUnsafe(
                  { _tag: "NotFound", error: "Sign-in is off on this server (development mode, --auth off)" },
                  { status: 404 },
                ),
              ),
          } satisfies AuthShape
        }
        const secret = yield* resolveSecret(options)
        const sql = yield* Sql
        const rateLimits = sqlRateLimitStore(sql)
        const auth: BetterAuthHandle = yield* Effect.tryPromise({
          try: () =>
            makeBetterAuth({
              raw: sql.raw,
              secret,
              baseUrl,
              trustedOrigins,
              signInRateLimit,
              rateLimits,
            }),
          catch: (error) =>
            new AuthConfigError({
              field: "database",
              message: `better-auth did not start: ${String(error)}`,
            }),
        })
        const callerOf: AuthShape["callerOf"] = (request) =>
          Effect.gen(function* () {
            const bearer = bearerOf(request)
            if (bearer === null) return yield* Effect.fail(badScheme)
            if (bearer !== undefined) {
              // No cookie is involved, and no page on another origin can set the header (no CORS is
              // granted), so a key needs no cross-site check.
              const key = yield* Effect.promise(() => auth.apiKeys.verify(bearer))
              if (key === undefined) return yield* Effect.fail(badKey)
              return { owner: key.owner, apiKey: { id: key.id, scopes: key.scopes } }
            }
            yield* refuseCrossSite(request)
            const cookie = request.headers.cookie
            if (cookie === undefined || cookie === "") return yield* Effect.fail(unauthorized)
            const userId = yield* Effect.promise(() => auth.userId(new Headers({ cookie })))
            return userId === undefined ? yield* Effect.fail(unauthorized) : { owner: userId }
          })
        const tooMany = (what: string, retryAfter: number) =>
          tooManyRequestsResponse(`Too many ${what}; retry in ${retryAfter} s`, retryAfter)
        return {
          mode: "session",
          baseUrl,
          trustedOrigins,
          callerOf,
          ownerOf: ownerOfCaller(callerOf),
          callerOfToken: (token) =>
            Effect.promise(async (): Promise<Caller | undefined> => {
              if (token === "") return undefined
              if (token.startsWith(API_KEY_PREFIX)) {
                const key = await auth.apiKeys.verify(token)
                return key === undefined
                  ? undefined
                  : { owner: key.owner, apiKey: { id: key.id, scopes: key.scopes } }
              }
              const user = await auth.userOfToken(token)
              return user === undefined ? undefined : { owner: user.id }
            }),
          apiKeys: auth.apiKeys,
          rateLimits,
          handle: (request) =>
            Effect.gen(function* () {
              const refusal = crossSiteRefusal(request.method, request.headers, trustedOrigins)
              if (refusal !== undefined) {
                const { error } = forbidden(refusal)
                return HttpServerResponse.jsonUnsafe({ _tag: "Forbidden", error }, { status: 403 })
              }
              const url = new URL(request.url, baseUrl)
              if (isHiddenAuthRoute(url.pathname)) {
                return notFoundJson("No such route: API keys are managed at /api/api-keys")
              }
              const headers = new Headers()
              for (const [name, value] of Object.entries(request.headers)) {
                if (!HOP_HEADERS.has(name) && name !== CLIENT_IP_HEADER) headers.set(name, value)
              }
              // better-auth keys its rate limit on this header, which only the host sets: the socket address
              // (or, from a trusted proxy, the client it forwards for).
              const ip = clientAddress(
                Option.getOrUndefined(request.remoteAddress),
                request.headers["x-forwarded-for"],
                options.trustedProxies ?? [],
              )
              if (ip !== undefined) headers.set(CLIENT_IP_HEADER, ip)
              const hasBody = request.method !== "GET" && request.method !== "HEAD"
              const body = hasBody ? yield* request.arrayBuffer : undefined
              // A password sign-in takes one attempt from the account's bucket, given back unless it fails.
              const account =
                request.method === "POST" && url.pathname === `${AUTH_BASE_PATH}${SIGN_IN_EMAIL_PATH}`
                  ? accountKeyOf(body)
                  : undefined
              if (account !== undefined) {
                const decision = yield* Effect.orDie(rateLimits.take(account, accountRateLimit))
                if (!decision.allowed) {
                  return tooMany("failed sign-ins for this account", decision.retryAfter)
                }
              }
              const web = new Request(url, {
                method: request.method,
                headers,
                ...(body === undefined ? {} : { body }),
              })
              const response = yield* Effect.promise(() => auth.handler(web))
              if (account !== undefined && response.status !== 401) {
                yield* Effect.orDie(rateLimits.refund(account, accountRateLimit))
              }
              if (response.status === 429) {
                const retryAfter = Math.max(1, Number(response.headers.get("x-retry-after") ?? "") || 60)
                return tooMany("sign-in attempts from this address", retryAfter)
              }
              return HttpServerResponse.fromWeb(response)
            }),
        } satisfies AuthShape
      }),
    )
}

/**
 * The API middleware that provides `CurrentOwner` to every endpoint: the session's or the API key's user,
 * 401 without one, 403 for a cross-site state-changing request with the cookie, and 403 for an API key
 * without the scope the endpoint declares (`RequiredScope`; none declared: sessions only). Endpoints
 * annotated `PublicRoute` need no caller.
 *
 * @category middleware
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentOwner }>()(
  "@weft/host-node/Authentication",
  { error: [Unauthorized, Forbidden, InsufficientScope] },
) {}

/** The owner given to public routes; they never read or write owned data. */
const PUBLIC_OWNER = ""

/**
 * Its implementation, on `Auth`.
 *
 * @category layers
 */
export const AuthenticationLive: Layer.Layer<Authentication, never, Auth> = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const auth = yield* Auth
    return (httpEffect, { endpoint, group }) =>
      Effect.gen(function* () {
        const access = accessOf(endpoint, group)
        if (access._tag === "Public")
          return yield* Effect.provideService(httpEffect, CurrentOwner, PUBLIC_OWNER)
        const request = yield* HttpServerRequest.HttpServerRequest
        const caller = yield* auth.callerOf(request)
        const refusal = refusalOf(caller, access, routeName(request, endpoint.path))
        if (refusal !== undefined) return yield* Effect.fail(refusal)
        return yield* Effect.provideService(httpEffect, CurrentOwner, caller.owner)
      })
  }),
)

/**
 * better-auth's routes, `/api/auth/*`.
 *
 * @category layers
 */
export const authRoutes = Layer.unwrap(
  Effect.gen(function* () {
    const auth = yield* Auth
    return HttpRouter.add("*", `${AUTH_BASE_PATH}/*`, (request) => auth.handle(request))
  }),
)
