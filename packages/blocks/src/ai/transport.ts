/**
 * The bridge between the OpenAI client, which sends requests through a `fetch`-compatible function, and
 * Weft's safe HTTP client, which every outbound request must go through.
 *
 * @since 0.1.0
 */
import { type HttpStreamResponse, isHttpError, type SafeHttpClient } from "../http/index.js"
import type { FetchLike } from "./config.js"

/** Response headers that describe the encoding on the wire, which the safe client has already undone. */
const WIRE_HEADERS = new Set(["content-encoding", "content-length", "transfer-encoding", "connection"])

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304])

const headerRecord = (headers: RequestInit["headers"] | Headers): Record<string, string> => {
  const out: Record<string, string> = {}
  new Headers(headers).forEach((value, name) => {
    out[name] = value
  })
  return out
}

const bodyBytes = async (body: RequestInit["body"]): Promise<string | Uint8Array | undefined> => {
  if (body === undefined || body === null) return undefined
  if (typeof body === "string") return body
  if (body instanceof Uint8Array) return body
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  // Anything else (a stream, a form): let the platform encode it to bytes.
  return new Uint8Array(await new Response(body).arrayBuffer())
}

const abortError = (): Error => {
  const error = new Error("The request was aborted")
  error.name = "AbortError"
  return error
}

/**
 * A `fetch`-compatible function that sends every request through `client` (its scheme and address checks,
 * allow-list, redirect and size limits), with `timeoutMs` as the time limit of each request. The response
 * is returned as soon as its headers arrive and its body streams through as the server writes it, so a
 * streamed answer (server-sent events) reaches the caller token by token. The size limit, the time limit
 * and the request's signal keep covering the body until it ends; cancelling the body closes the
 * connection.
 *
 * @category transport
 */
export const fetchThroughSafeClient =
  (client: SafeHttpClient, timeoutMs: number): FetchLike =>
  async (input, init) => {
    const request = input instanceof Request ? input : undefined
    const url = request?.url ?? (input instanceof URL ? input.href : String(input))
    const signal = init?.signal ?? request?.signal ?? undefined
    const method = init?.method ?? request?.method ?? "GET"
    const headers = headerRecord(init?.headers ?? request?.headers)
    const body = await bodyBytes(
      init?.body ?? (request === undefined ? undefined : await request.arrayBuffer()),
    )
    let response: HttpStreamResponse
    try {
      response = await client.stream({
        url,
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(signal === undefined || signal === null ? {} : { signal }),
        timeoutMs,
      })
    } catch (error) {
      // The OpenAI client tells a cancellation from a failure by the error's name.
      if (signal?.aborted === true) throw abortError()
      throw error
    }
    const responseHeaders = new Headers()
    for (const [name, value] of Object.entries(response.headers)) {
      if (!WIRE_HEADERS.has(name)) responseHeaders.set(name, value)
    }
    const status = response.status
    let responseBody: ReadableStream<Uint8Array> | null = response.body
    if (NULL_BODY_STATUSES.has(status)) {
      // A Response with such a status cannot have a body: close the connection and stop the timer.
      void response.body.cancel().catch(() => {})
      responseBody = null
    }
    return new Response(responseBody, {
      status,
      statusText: response.statusText,
      headers: responseHeaders,
    })
  }

/**
 * Whether an error (or its cause) is the safe client refusing a request: a blocked address, a bad scheme.
 * Such a request fails the same way every time, so it is not worth retrying.
 *
 * @category transport
 */
export const isRefusal = (error: unknown): boolean => {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (isHttpError(e) && e._tag === "HttpRefused") return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/**
 * The safe client's error inside an error, if any: its message is the clearest explanation of a failed
 * connection ("Refused to request …: … is loopback; it is not on the allow-list").
 *
 * @category transport
 */
export const httpCause = (error: unknown): Error | undefined => {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (isHttpError(e)) return e
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}
