/**
 * Errors of the safe HTTP client. Every failure of a request is one of these tagged errors, with a
 * message that a block can show as it is (URLs in them never carry a user name or password).
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * The request was refused before anything was sent: a scheme other than http/https, an invalid URL, or a
 * host that is (or resolves to) an address outside the public internet and not on the allow-list.
 *
 * @category errors
 */
export class HttpRefused extends Data.TaggedError("HttpRefused")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `Refused to request ${this.url}: ${this.reason}`
  }
}

/**
 * The request could not be completed: the name did not resolve, the connection failed or broke, or the
 * server sent something that is not HTTP.
 *
 * @category errors
 */
export class HttpFailed extends Data.TaggedError("HttpFailed")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `Request to ${this.url} failed: ${this.reason}`
  }
}

/**
 * The request, redirects and body included, took longer than its time limit.
 *
 * @category errors
 */
export class HttpTimeout extends Data.TaggedError("HttpTimeout")<{
  readonly url: string
  readonly timeoutMs: number
}> {
  override get message(): string {
    return `Request to ${this.url} timed out after ${this.timeoutMs} ms`
  }
}

/**
 * The response body was larger than the size limit; reading stopped there.
 *
 * @category errors
 */
export class HttpTooLarge extends Data.TaggedError("HttpTooLarge")<{
  readonly url: string
  readonly maxBytes: number
}> {
  override get message(): string {
    return `Response from ${this.url} is larger than ${this.maxBytes} bytes`
  }
}

/**
 * The server redirected more often than allowed (or at all, when redirects are not followed).
 *
 * @category errors
 */
export class TooManyRedirects extends Data.TaggedError("TooManyRedirects")<{
  readonly url: string
  readonly maxRedirects: number
}> {
  override get message(): string {
    return `Too many redirects (more than ${this.maxRedirects}) from ${this.url}`
  }
}

/**
 * The caller's AbortSignal cancelled the request.
 *
 * @category errors
 */
export class HttpAborted extends Data.TaggedError("HttpAborted")<{
  readonly url: string
}> {
  override get message(): string {
    return `Request to ${this.url} was cancelled`
  }
}

/**
 * Any error of the safe HTTP client.
 *
 * @category errors
 */
export type HttpError = HttpRefused | HttpFailed | HttpTimeout | HttpTooLarge | TooManyRedirects | HttpAborted

const TAGS: ReadonlySet<string> = new Set([
  "HttpRefused",
  "HttpFailed",
  "HttpTimeout",
  "HttpTooLarge",
  "TooManyRedirects",
  "HttpAborted",
])

/**
 * Whether a value is one of the safe HTTP client's errors.
 *
 * @category errors
 */
export const isHttpError = (value: unknown): value is HttpError =>
  value instanceof Error && "_tag" in value && typeof value._tag === "string" && TAGS.has(value._tag)
