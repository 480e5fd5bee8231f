/**
 * Who may open the WebSocket: the upgrade request must come from a page on a trusted origin (or from a
 * client that is not a browser), carry a session (unless sign-in is off), and ask for a WebSocket.
 *
 * Browsers send cookies with WebSocket upgrades from any site and no CORS check applies to them, so a page on
 * another origin could otherwise open a socket with the user's session (cross-site WebSocket hijacking):
 * unlike HTTP `GET`s, the upgrade is always checked for its origin.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { type HttpServerRequest, HttpServerResponse } from "effect/http"
import type { AuthShape } from "../../Auth.js"

/**
 * Why an upgrade request is refused as cross-site, or `undefined`: a browser names the page in `Origin`
 * (always, on WebSocket upgrades) and may say whether the request is cross-site in `Sec-Fetch-Site`.
 *
 * @category handshake
 */
export const originRefusal = (
  headers: Readonly<Record<string, string | undefined>>,
  trusted: ReadonlyArray<string>,
): string | undefined => {
  const origin = headers.origin
  if (origin !== undefined && origin !== "") {
    return trusted.includes(origin) ? undefined : `WebSocket connections from ${origin} are not accepted`
  }
  const site = headers["sec-fetch-site"]
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return `${site} WebSocket connections are not accepted`
  }
  return undefined
}

/** Whether the request asks to switch to the WebSocket protocol. */
const asksForWebSocket = (request: HttpServerRequest.HttpServerRequest): boolean =>
  request.headers.upgrade?.toLowerCase() === "websocket"

const refuse = (status: number, tag: string, error: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.jsonUnsafe({ _tag: tag, error }, { status, headers })

/**
 * Checks an upgrade request: the owner the socket acts for, or the HTTP response that refuses it (403 for a
 * foreign origin, 401 without a session, 426 for a request that is not a WebSocket upgrade).
 *
 * @category handshake
 */
export const admit = (
  auth: AuthShape,
  request: HttpServerRequest.HttpServerRequest,
): Effect.Effect<{ readonly owner: string } | { readonly refused: HttpServerResponse.HttpServerResponse }> =>
  Effect.gen(function* () {
    const crossSite = originRefusal(request.headers, auth.trustedOrigins)
    if (crossSite !== undefined) {
      return {
        refused: refuse(403, "Forbidden", `Cross-site WebSocket refused: ${crossSite} (CSRF protection)`),
      }
    }
    const owner = yield* auth.ownerOf(request).pipe(
      Effect.map((value) => ({ owner: value })),
      Effect.catch((error) =>
        Effect.succeed({
          refused: refuse(error._tag === "Forbidden" ? 403 : 401, error._tag, error.error),
        }),
      ),
    )
    if ("refused" in owner) return owner
    if (!asksForWebSocket(request)) {
      return {
        refused: refuse(
          426,
          "UpgradeRequired",
          "This route is a WebSocket: connect with Upgrade: websocket",
          {
            upgrade: "websocket",
          },
        ),
      }
    }
    return owner
  })
