/**
 * Who is calling: the owner every API route acts for.
 *
 * Until sign-in lands, the owner comes from the `x-weft-user` header and defaults to `"local"` (a
 * single-user host on 127.0.0.1). `ownerOf` is the one place that decides it; better-auth will replace it
 * with the session's user.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiMiddleware } from "effect/http-api"
import { BadRequest, badRequest } from "./api/Errors.js"

/**
 * The owner of the current request: the user id every store call is scoped to.
 *
 * @category services
 */
export class CurrentOwner extends Context.Service<CurrentOwner, string>()("@weft/host-node/CurrentOwner") {}

/** The owner used when a request names none. */
export const DEFAULT_OWNER = "local"

/** The request header that names the owner (until sign-in replaces it). */
export const OWNER_HEADER = "x-weft-user"

const OWNER_PATTERN = /^[A-Za-z0-9._@-]{1,128}$/

/**
 * Decides the owner of a request from its headers: the `x-weft-user` header, else `"local"`. Returns
 * `undefined` for a header that is not a plausible user id (the request is then refused).
 *
 * @category authentication
 */
export const ownerOf = (headers: Readonly<Record<string, string | undefined>>): string | undefined => {
  const value = headers[OWNER_HEADER]
  if (value === undefined || value === "") return DEFAULT_OWNER
  return OWNER_PATTERN.test(value) ? value : undefined
}

/**
 * The API middleware that provides `CurrentOwner` to every endpoint.
 *
 * @category middleware
 */
export class Authentication extends HttpApiMiddleware.Service<Authentication, { provides: CurrentOwner }>()(
  "@weft/host-node/Authentication",
  { error: BadRequest },
) {}

/**
 * Its implementation: a malformed owner header is refused with 400.
 *
 * @category layers
 */
export const AuthenticationLive: Layer.Layer<Authentication> = Layer.succeed(Authentication, (httpEffect) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const owner = ownerOf(request.headers)
    if (owner === undefined) {
      return yield* Effect.fail(
        badRequest("Invalid request header", { [OWNER_HEADER]: "must be 1 to 128 of A-Z a-z 0-9 . _ @ -" }),
      )
    }
    return yield* Effect.provideService(httpEffect, CurrentOwner, owner)
  }),
)
