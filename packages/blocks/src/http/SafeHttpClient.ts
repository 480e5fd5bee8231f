/**
 * The one safe outbound HTTP client of Weft (Node only). Every block that makes a request goes through it.
 *
 * - Only `http:` and `https:` URLs.
 * - It resolves the host name itself, refuses when any address is outside the public internet (loopback,
 *   private, link-local and metadata, CGNAT, multicast, reserved, IPv6 equivalents and IPv4 embedded in
 *   IPv6), and connects to exactly the address it checked: there is no second lookup, so DNS rebinding
 *   cannot move the connection.
 * - Redirects are followed up to a limit and every hop is checked again; credentials headers are dropped
 *   when the origin changes.
 * - The response size, the total time and the caller's AbortSignal are all enforced.
 *
 * An allow-list opens chosen private hosts, addresses or ranges for self-hosters.
 *
 * @since 0.1.0
 */
import { lookup as dnsLookup } from "node:dns"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import { pipeline, type Readable } from "node:stream"
import * as zlib from "node:zlib"
import { Effect } from "effect"
import {
  type AllowList,
  blockedReason,
  formatIp,
  type IpAddress,
  isLocalhostName,
  makeAllowList,
  normalizeHostname,
  parseIp,
  unmap,
} from "./address.js"
import {
  HttpAborted,
  type HttpError,
  HttpFailed,
  HttpRefused,
  HttpTimeout,
  HttpTooLarge,
  isHttpError,
  TooManyRedirects,
} from "./errors.js"

/**
 * Resolves a host name to all its addresses. The default uses the system resolver (`dns.lookup` with
 * `all: true`); tests and hosts may inject their own.
 *
 * @category models
 */
export type Resolver = (
  hostname: string,
) => Promise<ReadonlyArray<{ readonly address: string; readonly family: number }>>

/**
 * Settings of a client.
 *
 * @category models
 */
export interface SafeHttpClientOptions {
  /**
   * Host names (`internal.example`, `*.corp.example`), IP addresses and CIDR ranges (`10.0.0.0/8`) that
   * may be requested even though they are private. Empty by default.
   */
  readonly allow?: ReadonlyArray<string>
  /** Resolves host names; the system resolver by default. */
  readonly lookup?: Resolver
  /** Redirects followed per request. Default 5. */
  readonly maxRedirects?: number
  /** Largest response body, in bytes (after decompression). Default 10 MB. */
  readonly maxBytes?: number
  /** Time limit of a whole request, redirects and body included, in milliseconds. Default 30 s. */
  readonly timeoutMs?: number
  /** The `User-Agent` sent when a request sets none. */
  readonly userAgent?: string
  /**
   * Called with the checked address right before each connection (every redirect hop included); throwing
   * refuses the request with that message. For audit logs and for stricter host policies, and for tests
   * that must never open a socket beyond loopback even if a check regressed.
   */
  readonly beforeConnect?: (connection: ConnectionInfo) => void
}

/**
 * What `beforeConnect` sees: the URL (without user name and password) and the address it will connect to.
 *
 * @category models
 */
export interface ConnectionInfo {
  readonly url: string
  readonly hostname: string
  readonly address: string
  readonly family: 4 | 6
  readonly port: number
}

/**
 * A JSON value, as a request body.
 *
 * @category models
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<unknown>
  | { readonly [k: string]: unknown }

/**
 * One request.
 *
 * @category models
 */
export interface HttpRequest {
  /** Default `GET`. */
  readonly method?: string
  readonly url: string | URL
  readonly headers?: Readonly<Record<string, string>>
  /**
   * A string or bytes are sent as they are; any other value is sent as JSON (with `Content-Type:
   * application/json` unless a content type is set). With `json: true` a string is JSON-encoded too.
   */
  readonly body?: string | Uint8Array | JsonValue
  readonly json?: boolean
  readonly signal?: AbortSignal
  /** Overrides the client's time limit for this request. */
  readonly timeoutMs?: number
  /** Overrides the client's size limit for this request. */
  readonly maxBytes?: number
  /** Overrides the client's redirect limit for this request. */
  readonly maxRedirects?: number
  /** `follow` (default) follows redirects; `manual` returns the 3xx response as it is. */
  readonly redirect?: "follow" | "manual"
}

/**
 * A response, its body read in full.
 *
 * @category models
 */
export interface HttpResponse {
  readonly status: number
  readonly statusText: string
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  /** The final URL, after redirects (without user name or password). */
  readonly url: string
  /** How many redirects were followed. */
  readonly redirects: number
  /** The body decoded as UTF-8. */
  readonly text: () => string
  /** The body parsed as JSON; throws a `SyntaxError` when it is not JSON. */
  readonly json: () => unknown
}

/**
 * A response whose body is read as it arrives: what `stream` resolves with as soon as the final response's
 * headers are in (after redirects).
 *
 * @category models
 */
export interface HttpStreamResponse {
  readonly status: number
  readonly statusText: string
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  /**
   * The body, decompressed, chunk by chunk as it comes off the connection. It errors with `HttpTooLarge`
   * once more than the size limit has arrived, with `HttpTimeout` or `HttpAborted` when the time limit or
   * the caller's signal ends the request, and with `HttpFailed` when the connection breaks. Cancelling it
   * closes the connection. Read it or cancel it: until then the request's timer keeps running.
   */
  readonly body: ReadableStream<Uint8Array>
  /** The final URL, after redirects (without user name or password). */
  readonly url: string
  /** How many redirects were followed. */
  readonly redirects: number
}

const DEFAULT_MAX_REDIRECTS = 5
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024
const DEFAULT_TIMEOUT_MS = 30_000
const DEFAULT_USER_AGENT = "Weft/0.1 (+safe-http)"
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])
/** Headers that carry credentials: dropped when a redirect changes the origin. */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"]
/** Headers that describe a body: dropped when a redirect turns the request into a body-less GET. */
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
]

const defaultResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error)
      else resolve(addresses)
    })
  })

const MAX_SHOWN_URL = 300

const shorten = (text: string): string =>
  text.length > MAX_SHOWN_URL ? `${text.slice(0, MAX_SHOWN_URL)}…` : text

/**
 * A URL as it may appear in messages: without user name and password, and cut to 300 characters (a
 * `data:` URL may be megabytes long).
 *
 * @category client
 */
export const displayUrl = (url: URL | string): string => {
  if (typeof url === "string") {
    try {
      return displayUrl(new URL(url))
    } catch {
      return shorten(url)
    }
  }
  if (url.username === "" && url.password === "") return shorten(url.href)
  const copy = new URL(url.href)
  copy.username = ""
  copy.password = ""
  return shorten(copy.href)
}

const errorMessage = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === "string" && !error.message.includes(code)
      ? `${error.message} (${code})`
      : error.message
  }
  return String(error)
}

const portOf = (url: URL): number =>
  url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port)

/** The final response of a request (after redirects), its body not read yet. */
interface Final {
  readonly response: http.IncomingMessage
  readonly url: URL
  readonly method: string
  readonly redirects: number
}

/** The address a request will connect to, after it was checked. */
interface Target {
  readonly address: string
  readonly family: 4 | 6
}

/**
 * A `lookup` for `http.request` that answers the checked address and never asks a resolver again. Node
 * calls it with `all: true` when it may try several addresses (happy eyeballs), and without otherwise.
 *
 * @internal
 */
export const pinnedLookup = (target: Target): LookupFunction =>
  ((_hostname: string, options: { all?: boolean }, callback: (...args: Array<unknown>) => void) => {
    if (options?.all === true) callback(null, [{ address: target.address, family: target.family }])
    else callback(null, target.address, target.family)
  }) as LookupFunction

/** Waits for a promise, or rejects with the signal's reason when it aborts first. */
const raceSignal = <A>(promise: Promise<A>, signal: AbortSignal): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => reject(signal.reason)
    signal.addEventListener("abort", onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort)
        reject(error)
      },
    )
  })

const encoder = new TextEncoder()

const encodeBody = (
  body: HttpRequest["body"],
  json: boolean | undefined,
): { readonly bytes: Uint8Array; readonly contentType?: string } | undefined => {
  if (body === undefined) return undefined
  if (body instanceof Uint8Array && json !== true) return { bytes: body }
  if (typeof body === "string" && json !== true) return { bytes: encoder.encode(body) }
  return { bytes: encoder.encode(JSON.stringify(body)), contentType: "application/json" }
}

/**
 * The safe outbound HTTP client. Create one per configuration and share it; it keeps no connections
 * (every request opens its own, so a connection checked for one client is never reused by another).
 *
 * @example
 * ```ts
 * const client = new SafeHttpClient({ allow: ["10.0.0.0/8", "internal.example"] })
 * const response = await client.request({ url: "https://api.example.com/items", method: "GET" })
 * console.log(response.status, response.json())
 * ```
 *
 * @category client
 */
export class SafeHttpClient {
  readonly #allow: AllowList
  readonly #lookup: Resolver
  readonly #maxRedirects: number
  readonly #maxBytes: number
  readonly #timeoutMs: number
  readonly #userAgent: string
  readonly #beforeConnect: ((connection: ConnectionInfo) => void) | undefined

  constructor(options: SafeHttpClientOptions = {}) {
    this.#allow = makeAllowList(options.allow ?? [])
    this.#lookup = options.lookup ?? defaultResolver
    this.#maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT
    this.#beforeConnect = options.beforeConnect
  }

  /**
   * Sends a request and reads the whole response. Rejects with an `HttpError` (`HttpRefused`,
   * `HttpFailed`, `HttpTimeout`, `HttpTooLarge`, `TooManyRedirects` or `HttpAborted`).
   */
  async request(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.stream(request)
    const reader = response.body.getReader()
    const chunks: Array<Uint8Array> = []
    let size = 0
    try {
      for (;;) {
        const next = await reader.read()
        if (next.done) break
        chunks.push(next.value)
        size += next.value.byteLength
      }
    } catch (error) {
      if (isHttpError(error)) throw error
      throw new HttpFailed({
        url: response.url,
        reason: `reading the response failed: ${errorMessage(error)}`,
      })
    } finally {
      reader.releaseLock()
    }
    const body = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      body.set(chunk, offset)
      offset += chunk.byteLength
    }
    const decoder = new TextDecoder()
    return {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      body,
      url: response.url,
      redirects: response.redirects,
      text: () => decoder.decode(body),
      json: () => JSON.parse(decoder.decode(body)),
    }
  }

  /**
   * Sends a request and resolves as soon as the final response's headers arrive (after redirects), with
   * the body as a stream that delivers each chunk as it comes: for server-sent events and other answers
   * written bit by bit. The same checks, redirect handling and decompression as `request`; the size limit
   * is enforced as the body streams, and the time limit and the caller's signal go on covering the body
   * until it ends: either errors the stream and closes the connection. Rejects with an `HttpError` when
   * no response arrives (`HttpRefused`, `HttpFailed`, `HttpTimeout`, `TooManyRedirects`, `HttpAborted`,
   * or `HttpTooLarge` for a declared length over the limit).
   *
   * @example
   * ```ts
   * const response = await client.stream({ url: "https://api.example.com/events", signal })
   * for await (const chunk of response.body) process.stdout.write(chunk)
   * ```
   */
  async stream(request: HttpRequest): Promise<HttpStreamResponse> {
    const shown = displayUrl(request.url)
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs
    const maxBytes = request.maxBytes ?? this.#maxBytes
    const userSignal = request.signal
    if (userSignal?.aborted === true) throw new HttpAborted({ url: shown })
    const controller = new AbortController()
    const signal = controller.signal
    const timer = setTimeout(() => controller.abort(new HttpTimeout({ url: shown, timeoutMs })), timeoutMs)
    const onUserAbort = () => controller.abort(new HttpAborted({ url: shown }))
    userSignal?.addEventListener("abort", onUserAbort, { once: true })
    // The timer and the caller's signal cover the request until its body has ended or was cancelled.
    const release = () => {
      clearTimeout(timer)
      userSignal?.removeEventListener("abort", onUserAbort)
    }
    let final: Final | undefined
    try {
      final = await this.#follow(request, signal)
      if (signal.aborted) throw signal.reason
      return {
        status: final.response.statusCode ?? 0,
        statusText: final.response.statusMessage ?? "",
        headers: headerRecord(final.response),
        body: bodyStream(final, maxBytes, signal, release),
        url: displayUrl(final.url),
        redirects: final.redirects,
      }
    } catch (error) {
      release()
      final?.response.destroy()
      if (signal.aborted && isHttpError(signal.reason)) throw signal.reason
      if (isHttpError(error)) throw error
      throw new HttpFailed({ url: shown, reason: errorMessage(error) })
    }
  }

  /**
   * `request` as an Effect: interrupting the fiber cancels the request.
   */
  requestEffect(request: HttpRequest): Effect.Effect<HttpResponse, HttpError> {
    return Effect.tryPromise({
      try: (signal) =>
        this.request({
          ...request,
          signal: request.signal === undefined ? signal : AbortSignal.any([request.signal, signal]),
        }),
      catch: (error) =>
        isHttpError(error)
          ? error
          : new HttpFailed({ url: displayUrl(request.url), reason: errorMessage(error) }),
    })
  }

  /**
   * Checks a URL without sending anything: resolves its host and returns the address a request would
   * connect to, or rejects with `HttpRefused` / `HttpFailed`.
   */
  async check(
    url: string | URL,
    signal?: AbortSignal,
  ): Promise<{ readonly address: string; readonly family: 4 | 6 }> {
    const parsed = this.#parseUrl(url)
    return this.#resolve(parsed, signal ?? new AbortController().signal)
  }

  #parseUrl(url: string | URL): URL {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new HttpRefused({ url: displayUrl(String(url)), reason: "not a valid absolute URL" })
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new HttpRefused({
        url: displayUrl(parsed),
        reason: `the scheme ${parsed.protocol} is not allowed (only http: and https:)`,
      })
    }
    if (parsed.hostname === "")
      throw new HttpRefused({ url: displayUrl(parsed), reason: "the URL has no host" })
    return parsed
  }

  /** Resolves the URL's host once and checks every address; returns the one to connect to. */
  async #resolve(url: URL, signal: AbortSignal): Promise<Target> {
    const shown = displayUrl(url)
    const hostname = normalizeHostname(url.hostname)
    const literal = parseIp(hostname)
    const hostAllowed = literal === undefined && this.#allow.allowsHost(hostname)
    let addresses: ReadonlyArray<IpAddress>
    if (literal !== undefined) {
      addresses = [literal]
    } else {
      if (isLocalhostName(hostname) && !hostAllowed) {
        throw new HttpRefused({ url: shown, reason: `${hostname} is this machine (loopback)` })
      }
      let answers: ReadonlyArray<{ readonly address: string; readonly family: number }>
      try {
        answers = await raceSignal(this.#lookup(hostname), signal)
      } catch (error) {
        if (signal.aborted) throw signal.reason
        throw new HttpFailed({ url: shown, reason: `could not resolve ${hostname}: ${errorMessage(error)}` })
      }
      const parsed: Array<IpAddress> = []
      for (const answer of answers) {
        const ip = parseIp(answer.address)
        if (ip === undefined) {
          throw new HttpFailed({
            url: shown,
            reason: `the resolver answered an invalid address for ${hostname}`,
          })
        }
        parsed.push(ip)
      }
      if (parsed.length === 0) {
        throw new HttpFailed({ url: shown, reason: `could not resolve ${hostname}: no address` })
      }
      addresses = parsed
    }
    if (!hostAllowed) {
      for (const ip of addresses) {
        const reason = blockedReason(ip)
        if (reason !== undefined && !this.#allow.allowsAddress(ip)) {
          const address = formatIp(ip)
          const what =
            literal === undefined
              ? `${hostname} resolves to ${address}, ${reason}`
              : `${address} is ${reason}`
          throw new HttpRefused({ url: shown, reason: `${what}; it is not on the allow-list` })
        }
      }
    }
    const chosen = unmap(addresses[0] as IpAddress)
    return { address: formatIp(chosen), family: chosen.family }
  }

  /** Sends the request and follows its redirects, checking every hop; returns the final response unread. */
  async #follow(request: HttpRequest, signal: AbortSignal): Promise<Final> {
    const maxRedirects = request.maxRedirects ?? this.#maxRedirects
    let url = this.#parseUrl(request.url)
    let method = (request.method ?? "GET").toUpperCase()
    const headers = new Map<string, string>()
    for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name.toLowerCase(), value)
    headers.delete("host")
    let body = encodeBody(request.body, request.json)
    if (body?.contentType !== undefined && !headers.has("content-type"))
      headers.set("content-type", body.contentType)
    if (!headers.has("user-agent")) headers.set("user-agent", this.#userAgent)
    if (!headers.has("accept-encoding")) headers.set("accept-encoding", "gzip, deflate, br")
    for (let redirects = 0; ; redirects++) {
      const target = await this.#resolve(url, signal)
      if (this.#beforeConnect !== undefined) {
        try {
          this.#beforeConnect({
            url: displayUrl(url),
            hostname: normalizeHostname(url.hostname),
            address: target.address,
            family: target.family,
            port: portOf(url),
          })
        } catch (error) {
          throw new HttpRefused({ url: displayUrl(url), reason: errorMessage(error) })
        }
      }
      const response = await this.#send(url, target, method, headers, body?.bytes, signal)
      const location = response.headers.location
      if (
        request.redirect !== "manual" &&
        REDIRECT_STATUSES.has(response.statusCode ?? 0) &&
        location !== undefined
      ) {
        response.destroy()
        if (redirects >= maxRedirects) throw new TooManyRedirects({ url: displayUrl(url), maxRedirects })
        let resolved: URL
        try {
          resolved = new URL(location, url)
        } catch {
          throw new HttpFailed({ url: displayUrl(url), reason: "the redirect location is not a valid URL" })
        }
        // Every hop goes through the same scheme check as the first URL (and `#resolve` below checks its host).
        const next = this.#parseUrl(resolved)
        if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name)
        const status = response.statusCode ?? 0
        if (
          (status === 303 && method !== "GET" && method !== "HEAD") ||
          ((status === 301 || status === 302) && method === "POST")
        ) {
          method = "GET"
          body = undefined
          for (const name of BODY_HEADERS) headers.delete(name)
        }
        next.hash = ""
        url = next
        continue
      }
      return { response, url, method, redirects }
    }
  }

  #send(
    url: URL,
    target: Target,
    method: string,
    headers: ReadonlyMap<string, string>,
    body: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<http.IncomingMessage> {
    const hostname = normalizeHostname(url.hostname)
    const isName = parseIp(hostname) === undefined
    const outgoing: Record<string, string> = { host: url.host }
    for (const [name, value] of headers) outgoing[name] = value
    if (url.username !== "" && !headers.has("authorization")) {
      const user = decodeURIComponent(url.username)
      const password = decodeURIComponent(url.password)
      outgoing.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`
    }
    if (body !== undefined) outgoing["content-length"] = String(body.byteLength)
    const options: https.RequestOptions = {
      method,
      // A name keeps its name (for TLS: SNI and certificate checks) but resolves only to the checked address.
      hostname: isName ? hostname : target.address,
      port: portOf(url),
      path: `${url.pathname}${url.search}`,
      headers: outgoing,
      agent: false,
      lookup: pinnedLookup(target),
      signal,
      ...(url.protocol === "https:" && isName ? { servername: hostname } : {}),
    }
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest
      try {
        req = url.protocol === "https:" ? https.request(options) : http.request(options)
      } catch (error) {
        reject(new HttpFailed({ url: displayUrl(url), reason: errorMessage(error) }))
        return
      }
      req.once("response", resolve)
      // Kept for the request's whole life: a later socket error must not become an uncaught exception.
      req.on("error", (error) => {
        reject(
          signal.aborted
            ? signal.reason
            : new HttpFailed({ url: displayUrl(url), reason: errorMessage(error) }),
        )
      })
      req.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength))
    })
  }
}

const headerRecord = (response: http.IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

const decoderFor = (
  encoding: string | undefined,
): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined => {
  switch ((encoding ?? "").trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip()
    case "deflate":
      return zlib.createInflate()
    case "br":
      return zlib.createBrotliDecompress()
    default:
      return undefined
  }
}

/**
 * The body of a final response as a web stream: decompressed, capped at `maxBytes`, and read from the
 * connection only as fast as the stream is read. `release` (which stops the request's timer and
 * forgets the caller's signal) is called once, when the body has ended, failed or been cancelled; until
 * then an abort of `signal` (time limit or caller) errors the stream and closes the connection. Throws
 * `HttpTooLarge` at once when an uncompressed body declares a length over the limit.
 */
const bodyStream = (
  final: Final,
  maxBytes: number,
  signal: AbortSignal,
  release: () => void,
): ReadableStream<Uint8Array> => {
  const { response, method, url } = final
  const shown = displayUrl(url)
  const status = response.statusCode ?? 0
  if (method === "HEAD" || status === 204 || status === 304) {
    response.resume()
    release()
    return new ReadableStream<Uint8Array>({ start: (controller) => controller.close() })
  }
  const declared = Number(response.headers["content-length"])
  if (
    Number.isFinite(declared) &&
    declared > maxBytes &&
    response.headers["content-encoding"] === undefined
  ) {
    throw new HttpTooLarge({ url: shown, maxBytes })
  }
  const decoder = decoderFor(response.headers["content-encoding"])
  const source: Readable = decoder === undefined ? response : pipeline(response, decoder, () => {})
  // Errors reach the reader through the iterator; these listeners keep one that comes after the end (or
  // after a cancellation) from becoming an uncaught exception.
  response.on("error", () => {})
  source.on("error", () => {})
  const chunks: AsyncIterator<unknown> = source[Symbol.asyncIterator]()
  let size = 0
  let settled = false
  let web: ReadableStreamDefaultController<Uint8Array> | undefined
  /** Marks the body finished; false when it already was. */
  function settle(): boolean {
    if (settled) return false
    settled = true
    signal.removeEventListener("abort", onAbort)
    release()
    return true
  }
  function hangUp(): void {
    source.destroy()
    response.destroy()
  }
  function fail(error: HttpError): void {
    if (!settle()) return
    hangUp()
    web?.error(error)
  }
  function onAbort(): void {
    fail(isHttpError(signal.reason) ? signal.reason : new HttpAborted({ url: shown }))
  }
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        web = controller
        if (signal.aborted) onAbort()
        else signal.addEventListener("abort", onAbort, { once: true })
      },
      async pull(controller) {
        let next: IteratorResult<unknown>
        try {
          next = await chunks.next()
        } catch (error) {
          fail(
            signal.aborted && isHttpError(signal.reason)
              ? signal.reason
              : isHttpError(error)
                ? error
                : new HttpFailed({
                    url: shown,
                    reason: `reading the response failed: ${errorMessage(error)}`,
                  }),
          )
          return
        }
        if (settled) return
        if (next.done === true) {
          settle()
          controller.close()
          return
        }
        const chunk = next.value as Uint8Array
        size += chunk.byteLength
        if (size > maxBytes) {
          fail(new HttpTooLarge({ url: shown, maxBytes }))
          return
        }
        // A copy: Node may hand out views into a buffer it reuses.
        controller.enqueue(new Uint8Array(chunk))
      },
      cancel() {
        if (settle()) hangUp()
      },
    },
    // Nothing is read ahead of the reader: the connection's own flow control holds back the server.
    { highWaterMark: 0 },
  )
}
