/**
 * Who is calling: sign-in with better-auth (email and password, sessions in the host's database, mounted
 * at `/api/auth/*`), and the owner every API route acts for, the session's user id.
 *
 * Every `/api/*` route except `/api/auth/*`, `/api/openapi.json` and `GET /api/blocks` needs a session
 * cookie (401 otherwise). State-changing requests sent by a page on another origin are refused (403), and
 * no CORS headers are ever granted. Session cookies are `HttpOnly`, `SameSite=Lax`, and `Secure` when the
 * server's public URL is https.
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
import {
  AUTH_BASE_PATH,
  type BetterAuthHandle,
  CLIENT_IP_HEADER,
  makeBetterAuth,
  type RateLimit,
} from "./auth/better-auth.js"
import { crossSiteRefusal, trustedOriginsOf } from "./auth/origin.js"
import { MIN_SECRET_LENGTH, secretFromFile } from "./auth/secret.js"
import { Sql } from "./Sql.js"

export { AUTH_BASE_PATH, type RateLimit } from "./auth/better-auth.js"
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
}

/** The default sign-in rate limit: 10 attempts per minute per client address. */
export const DEFAULT_SIGN_IN_RATE_LIMIT: RateLimit = { window: 60, max: 10 }

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
 * The service's interface.
 *
 * @category models
 */
export interface AuthShape {
  readonly mode: "session" | "off"
  /** The server's public URL, whose origin (with the trusted ones) may send state-changing requests. */
  readonly baseUrl: string
  readonly trustedOrigins: ReadonlyArray<string>
  /** The owner of an API request: the session's user (or `"local"` with sign-in off). */
  readonly ownerOf: (
    request: HttpServerRequest.HttpServerRequest,
  ) => Effect.Effect<string, Unauthorized | Forbidden>
  /** Answers a request under `/api/auth`. */
  readonly handle: (
    request: HttpServerRequest.HttpServerRequest,
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>
}

const forbidden = (reason: string) =>
  new Forbidden({ error: `Cross-site request refused: ${reason} (CSRF protection)` })

const unauthorized = new Unauthorized({
  error:
    "Sign in first: this route needs a session cookie (POST /api/auth/sign-in/email or /api/auth/sign-up/email)",
})

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
        const refuseCrossSite = (request: HttpServerRequest.HttpServerRequest) => {
          const reason = crossSiteRefusal(request.method, request.headers, trustedOrigins)
          return reason === undefined ? Effect.void : Effect.fail(forbidden(reason))
        }
        if (options.mode === "off") {
          return {
            mode: "off",
            baseUrl,
            trustedOrigins,
            ownerOf: (request) => Effect.as(refuseCrossSite(request), LOCAL_OWNER),
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
        const auth: BetterAuthHandle = yield* Effect.tryPromise({
          try: () =>
            makeBetterAuth({
              raw: sql.raw,
              secret,
              baseUrl,
              trustedOrigins,
              signInRateLimit: options.signInRateLimit ?? DEFAULT_SIGN_IN_RATE_LIMIT,
            }),
          catch: (error) =>
            new AuthConfigError({
              field: "database",
              message: `better-auth did not start: ${String(error)}`,
            }),
        })
        return {
          mode: "session",
          baseUrl,
          trustedOrigins,
          ownerOf: (request) =>
            Effect.gen(function* () {
              yield* refuseCrossSite(request)
              const cookie = request.headers.cookie
              if (cookie === undefined || cookie === "") return yield* Effect.fail(unauthorized)
              const userId = yield* Effect.promise(() => auth.userId(new Headers({ cookie })))
              return userId === undefined ? yield* Effect.fail(unauthorized) : userId
            }),
          handle: (request) =>
            Effect.gen(function* () {
              const refusal = crossSiteRefusal(request.method, request.headers, trustedOrigins)
              if (refusal !== undefined) {
                const { error } = forbidden(refusal)
                return HttpServerResponse.jsonUnsafe({ _tag: "Forbidden", error }, { status: 403 })
              }
              const headers = new Headers()
              for (const [name, value] of Object.entries(request.headers)) {
                if (!HOP_HEADERS.has(name) && name !== CLIENT_IP_HEADER) headers.set(name, value)
              }
              // better-auth keys its rate limit on this header, which only the host sets: the socket address.
              const ip = Option.getOrUndefined(request.remoteAddress)
              if (ip !== undefined) headers.set(CLIENT_IP_HEADER, ip)
              const hasBody = request.method !== "GET" && request.method !== "HEAD"
              const body = hasBody ? yield* request.arrayBuffer : undefined
              const web = new Request(new URL(request.url, baseUrl), {
                method: request.method,
                headers,
                ...(body === undefined ? {} : { body }),
              })
              const response = yield* Effect.promise(() => auth.handler(web))
              return HttpServerResponse.fromWeb(response)
            }),
        } satisfies AuthShape
      }),
    )
}

/**
 * The API middleware that provides `CurrentOwner` to every endpoint: the session's user, 401 without one,
 * 403 for a cross-site state-changing request. `GET /api/blocks` (the shared catalogue) needs no session.
 *
 * @category middleware
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentOwner }>()(
  "@weft/host-node/Authentication",
  { error: [Unauthorized, Forbidden] },
) {}

/** Routes anyone may call: they read nothing that belongs to a user. */
const isPublic = (request: HttpServerRequest.HttpServerRequest): boolean =>
  request.method === "GET" && new URL(request.url, "http://host").pathname === "/api/blocks"

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
    return (httpEffect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const owner = isPublic(request) ? PUBLIC_OWNER : yield* auth.ownerOf(request)
        return yield* Effect.provideService(httpEffect, CurrentOwner, owner)
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
