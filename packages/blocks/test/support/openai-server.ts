/**
 * A small OpenAI-compatible server for tests, on 127.0.0.1 and a free port. It speaks the real chat
 * completions protocol (`POST /v1/chat/completions`): JSON responses, JSON mode (`response_format:
 * {type: "json_object"}`, which like OpenAI requires the word "json" in the messages), and streaming as
 * server-sent events (`chat.completion.chunk` objects, `stream_options.include_usage`, then `[DONE]`).
 *
 * What it answers is scripted per test: a queue of replies, or a function of the request; failures (HTTP
 * 500/429 for the next N calls) and delays can be injected. Every request is recorded, headers included,
 * with a promise telling whether the client read the response to its end or hung up.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** A chat message as a client sends it. */
export interface ChatMessage {
  readonly role: string
  readonly content: unknown
  readonly [key: string]: unknown
}

/** The body of a chat completions request (the fields the tests look at; the rest is kept as sent). */
export interface ChatRequestBody {
  readonly model: string
  readonly messages: ReadonlyArray<ChatMessage>
  readonly stream?: boolean
  readonly stream_options?: { readonly include_usage?: boolean }
  readonly response_format?: { readonly type: string }
  readonly max_tokens?: number
  readonly max_completion_tokens?: number
  readonly temperature?: number
  readonly [key: string]: unknown
}

/** One request the server received. */
export interface RecordedRequest {
  /** 0 for the first request, 1 for the second, … */
  readonly index: number
  readonly method: string
  readonly path: string
  /** Lower-case header names, as Node parses them. */
  readonly headers: IncomingHttpHeaders
  /** The parsed JSON body (`undefined` when it was not JSON). */
  readonly body: ChatRequestBody
  /** The raw body text. */
  readonly raw: string
  /** Resolves with `completed` once the response was sent in full, or `aborted` when the client hung up first. */
  readonly closed: Promise<"completed" | "aborted">
  /** The status the server answered. */
  status: number
}

/** What the server answers to one request. A string is shorthand for `{ content }`. */
export type Reply =
  | string
  | {
      /** The assistant message's content. */
      readonly content?: string
      /** Streaming: the content deltas, in order (default: `content` split after each space). */
      readonly chunks?: ReadonlyArray<string>
      /** An error status (e.g. 500, 429, 401): answered with an OpenAI-style error body. */
      readonly status?: number
      /** The error message (with `status`). */
      readonly error?: string
      /** Extra response headers (e.g. `retry-after-ms`). */
      readonly headers?: Readonly<Record<string, string>>
      /** Wait this long before answering. */
      readonly delayMs?: number
      /** Streaming: wait this long between chunks. */
      readonly chunkDelayMs?: number
      /** Streaming: after the chunks, keep the connection open (no finish, no `[DONE]`) until the client hangs up. */
      readonly hang?: boolean
      /**
       * Streaming: after the chunks, keep the connection open until this promise settles (or the client
       * hangs up), then finish the answer as usual. Lets a test act while the answer is still being written.
       */
      readonly holdUntil?: Promise<unknown>
      readonly finishReason?: string
      readonly usage?: { readonly prompt_tokens: number; readonly completion_tokens: number }
    }

/** Scripts replies as a function of the request (called when the queue is empty). */
export type ReplyFunction = (request: RecordedRequest) => Reply | Promise<Reply>

/** Options of `startOpenAIServer`. */
export interface OpenAIServerOptions {
  /** Replies to send, in order, one per request. */
  readonly replies?: ReadonlyArray<Reply>
  /** Answers requests once the queue is empty. Without it, an empty queue answers 500 "no scripted reply". */
  readonly handler?: ReplyFunction
  /** When set, requests must carry `Authorization: Bearer <apiKey>`; others get a 401 like OpenAI's. */
  readonly apiKey?: string
}

/** A running server. */
export interface OpenAIServer {
  /** The base URL to give a client, e.g. `http://127.0.0.1:41234/v1`. */
  readonly baseURL: string
  /** Every request received, in order. */
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Adds replies to the queue. */
  readonly enqueue: (...replies: ReadonlyArray<Reply>) => void
  /** Replaces the function that answers once the queue is empty. */
  readonly setHandler: (handler: ReplyFunction | undefined) => void
  /** Fails the next `count` requests with `status` (default 500), before any queued reply is used. */
  readonly failNext: (count: number, status?: number, headers?: Readonly<Record<string, string>>) => void
  /** Resolves when the server has received `count` requests in all. */
  readonly waitForRequests: (count: number) => Promise<void>
  readonly close: () => Promise<void>
}

const noop = () => {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const errorType = (status: number): string =>
  status === 401
    ? "invalid_request_error"
    : status === 429
      ? "rate_limit_exceeded"
      : status >= 500
        ? "server_error"
        : "invalid_request_error"

const sendError = (
  res: ServerResponse,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify({ error: { message, type: errorType(status), param: null, code: null } }))
}

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string"
          ? (part as { text: string }).text
          : "",
      )
      .join(" ")
  }
  return ""
}

const countTokens = (text: string): number => text.split(/\s+/).filter((w) => w.length > 0).length

/** Splits content into streaming deltas: each word with the space that follows it. */
const defaultChunks = (content: string): ReadonlyArray<string> => content.match(/\S+\s*|\s+/g) ?? []

/**
 * Starts a server on 127.0.0.1 and a free port.
 *
 * @example
 * ```ts
 * const server = await startOpenAIServer({ replies: ["Hello!"] })
 * // … point a client at server.baseURL …
 * expect(server.requests[0]?.body.messages).toEqual([{ role: "user", content: "Hi" }])
 * await server.close()
 * ```
 */
export const startOpenAIServer = async (options: OpenAIServerOptions = {}): Promise<OpenAIServer> => {
  const queue: Array<Reply> = [...(options.replies ?? [])]
  let handler = options.handler
  const failures: Array<{ status: number; headers: Readonly<Record<string, string>> }> = []
  const requests: Array<RecordedRequest> = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  let ids = 0

  const notify = () => {
    for (const waiter of [...waiters]) {
      if (requests.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  }

  const answer = async (req: IncomingMessage, res: ServerResponse, record: RecordedRequest) => {
    const body = record.body
    const path = record.path
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      return sendError(res, 404, `Unknown request URL: ${req.method} ${path}`)
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, "Incorrect API key provided.")
    }
    if (typeof body !== "object" || body === null)
      return sendError(res, 400, "We could not parse the JSON body.")
    if (typeof body.model !== "string" || body.model === "") {
      return sendError(res, 400, "you must provide a model parameter")
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return sendError(res, 400, "'messages' must contain at least one message")
    }
    if (
      body.response_format?.type === "json_object" &&
      !body.messages.some((m) => /json/i.test(textOf(m.content)))
    ) {
      return sendError(
        res,
        400,
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      )
    }
    const failure = failures.shift()
    if (failure !== undefined) {
      return sendError(res, failure.status, `injected failure ${failure.status}`, failure.headers)
    }
    const next = queue.shift()
    let reply: Reply
    if (next !== undefined) reply = next
    else if (handler !== undefined) reply = await handler(record)
    else return sendError(res, 500, "no scripted reply")
    const r = typeof reply === "string" ? { content: reply } : reply
    if (r.delayMs !== undefined) await sleep(r.delayMs)
    if (res.destroyed) return
    if (r.status !== undefined && r.status >= 400) {
      return sendError(res, r.status, r.error ?? `error ${r.status}`, r.headers)
    }
    const content = r.content ?? (r.chunks ?? []).join("")
    const id = `chatcmpl-${++ids}`
    const created = Math.floor(Date.now() / 1000)
    const usage = r.usage ?? {
      prompt_tokens: body.messages.reduce((n, m) => n + countTokens(textOf(m.content)), 0),
      completion_tokens: countTokens(content),
    }
    const fullUsage = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }
    const finishReason = r.finishReason ?? "stop"
    if (body.stream !== true) {
      res.writeHead(200, { "content-type": "application/json", ...r.headers })
      res.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: "assistant", content, refusal: null },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage: fullUsage,
        }),
      )
      return
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      ...r.headers,
    })
    const send = (data: unknown) => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`)
    }
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model: body.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    })
    send(chunk({ role: "assistant", content: "", refusal: null }, null))
    for (const piece of r.chunks ?? defaultChunks(content)) {
      if (r.chunkDelayMs !== undefined) await sleep(r.chunkDelayMs)
      if (res.destroyed) return
      send(chunk({ content: piece }, null))
    }
    if (r.hang === true) {
      await record.closed
      return
    }
    if (r.holdUntil !== undefined) {
      await Promise.race([r.holdUntil.then(noop, noop), record.closed])
      if (res.destroyed) return
    }
    send(chunk({}, finishReason))
    if (body.stream_options?.include_usage === true) {
      send({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage: fullUsage })
    }
    if (!res.destroyed) res.end("data: [DONE]\n\n")
  }

  const server = createServer((req, res) => {
    let settle: (how: "completed" | "aborted") => void = () => {}
    const closed = new Promise<"completed" | "aborted">((resolve) => {
      settle = resolve
    })
    res.on("close", () => settle(res.writableFinished ? "completed" : "aborted"))
    void (async () => {
      const raw = await readBody(req)
      let body: ChatRequestBody
      try {
        body = JSON.parse(raw) as ChatRequestBody
      } catch {
        body = undefined as unknown as ChatRequestBody
      }
      const record: RecordedRequest = {
        index: requests.length,
        method: req.method ?? "",
        path: (req.url ?? "").split("?")[0] ?? "",
        headers: req.headers,
        body,
        raw,
        closed,
        status: 0,
      }
      requests.push(record)
      notify()
      try {
        await answer(req, res, record)
      } catch (error) {
        if (!res.headersSent) sendError(res, 500, `test server error: ${String(error)}`)
        else res.destroy()
      }
      record.status = res.statusCode
    })()
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...replies) => {
      queue.push(...replies)
    },
    setHandler: (next) => {
      handler = next
    },
    failNext: (count, status = 500, headers = {}) => {
      for (let i = 0; i < count; i++) failures.push({ status, headers })
    },
    waitForRequests: (count) =>
      requests.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiters.push({ count, resolve })
          }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
