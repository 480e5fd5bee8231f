/**
 * Cross-site request refusal for state-changing API calls (CSRF): a browser names the page that sent a
 * request in `Origin` and says whether it is cross-site in `Sec-Fetch-Site`; a request from a page on another
 * origin is refused. Clients that are not browsers (curl, servers) send neither and are let through.
 */

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"])

/** The origins a server on `baseUrl` trusts: its own, and the `localhost` spelling of a loopback address. */
export const trustedOriginsOf = (
  baseUrl: string,
  extra: ReadonlyArray<string> = [],
): ReadonlyArray<string> => {
  const url = new URL(baseUrl)
  const origins = new Set([url.origin, ...extra.map((origin) => new URL(origin).origin)])
  if (url.hostname === "127.0.0.1" || url.hostname === "[::1]") {
    origins.add(`${url.protocol}//localhost${url.port === "" ? "" : `:${url.port}`}`)
  }
  return [...origins]
}

/**
 * Why a request must be refused as cross-site, or `undefined` when it may go on. Only methods that change
 * state are checked.
 */
export const crossSiteRefusal = (
  method: string,
  headers: Readonly<Record<string, string | undefined>>,
  trusted: ReadonlyArray<string>,
): string | undefined => {
  if (SAFE_METHODS.has(method.toUpperCase())) return undefined
  const origin = headers.origin
  if (origin !== undefined && origin !== "") {
    return trusted.includes(origin) ? undefined : `requests from ${origin} are not accepted`
  }
  const site = headers["sec-fetch-site"]
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return `${site} requests are not accepted`
  }
  return undefined
}
