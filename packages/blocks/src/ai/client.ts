/**
 * The LLM client shared by the AI blocks: the official `openai` package pointed at any OpenAI-compatible
 * endpoint (OpenAI, Ollama, vLLM, a gateway), sending every request through Weft's safe HTTP client.
 *
 * Where the settings come from, first match wins:
 * - the API key: the secret behind the block's `credentials` field, else `LlmConfig.apiKey`;
 * - the endpoint: `LlmConfig.baseURL`, else OpenAI's;
 * - when the host put no `LlmConfig` in `ctx.resources`, the environment (`OPENAI_BASE_URL`,
 *   `OPENAI_API_KEY`) stands in for it.
 *
 * @since 0.1.0
 */
import { type BlockContext, BlockError } from "@weft/engine"
import { Context } from "effect"
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from "openai"
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions"
import { httpClientFor, type SafeHttpClient } from "../http/index.js"
import { type FetchLike, LlmConfig, type LlmConfigShape, llmConfigFromEnv, mapModel } from "./config.js"
import { fetchThroughSafeClient, httpCause, isRefusal } from "./transport.js"

/**
 * One chat message as sent to the endpoint.
 *
 * @category models
 */
export type ChatMessage = ChatCompletionMessageParam

/**
 * One call.
 *
 * @category models
 */
export interface ChatRequest {
  readonly messages: ReadonlyArray<ChatMessage>
  /** The model as the graph names it; mapped through `LlmConfig.models`. */
  readonly model: string
  readonly maxTokens?: number | undefined
  /** Asks for a JSON object (`response_format: {type: "json_object"}`). */
  readonly json?: boolean
  /** Streams the answer, calling this with each piece of text as it arrives. */
  readonly onToken?: (token: string) => void
}

/**
 * The answer to a call.
 *
 * @category models
 */
export interface ChatResult {
  readonly text: string
  /** The model name sent to the endpoint. */
  readonly model: string
  readonly promptTokens: number
  readonly completionTokens: number
}

/**
 * Why a call failed, as the retry logic of the blocks needs to know it.
 * - `fatal`: retrying cannot help (bad key, no access, rate limit after the client's own retries, unknown
 *   model, request refused by the safe HTTP client);
 * - `context`: the prompt plus the answer do not fit the model's context window;
 * - `aborted`: the run was cancelled;
 * - `transient`: anything else (server errors, broken connections).
 *
 * @category errors
 */
export class LlmCallError extends Error {
  override readonly name = "LlmCallError"
  constructor(
    message: string,
    readonly kind: "fatal" | "context" | "aborted" | "transient",
    readonly status?: number,
  ) {
    super(message)
  }
}

/**
 * A configured client for one block execution.
 *
 * @category models
 */
export interface LlmClient {
  /** The endpoint's base URL. */
  readonly baseURL: string
  readonly chat: (request: ChatRequest) => Promise<ChatResult>
}

/** The default endpoint when none is configured but a key is. */
export const OPENAI_BASE_URL = "https://api.openai.com/v1"

/** Sent as the key to endpoints that need none (Ollama, vLLM without auth); the header is then dropped. */
const NO_KEY = "weft-no-api-key"

/** The message of a block run with no key and no endpoint anywhere. */
export const NOT_CONFIGURED =
  "No LLM endpoint is configured. Give the block credentials holding an API key for an OpenAI-compatible " +
  "endpoint, or have the host configure one (the LlmConfig resource: base URL, API key, model names), " +
  "or set OPENAI_API_KEY (and OPENAI_BASE_URL for a server other than OpenAI, such as Ollama or vLLM) in " +
  "the environment."

const MASK = "********"

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value

/** Reasoning models (o1, o3, o4…, gpt-5…) take `max_completion_tokens`; others take `max_tokens`. */
const usesCompletionTokens = (model: string): boolean => /^(?:[\w-]+\/)?(?:o\d|gpt-5)/i.test(model)

const CONTEXT_PATTERNS = /maximum context length|context length|token limit|context window/i
const MODEL_PATTERNS =
  /model not found|model.*not.*(?:available|supported)|model.*(?:deprecated|retired)|no.*such.*model|invalid.*model|model.*does not exist|is not a valid model/i

/**
 * Makes the client for one block execution from its context: the secret behind `credentialsField`, the
 * host's `LlmConfig`, and the environment. Throws a `BlockError` that says what to configure when there is
 * neither a key nor an endpoint.
 *
 * @category client
 */
export const llmClientFor = (
  ctx: Pick<BlockContext, "credentials" | "resources" | "signal" | "reportCost" | "log">,
  options: { readonly credentialsField?: string; readonly credentialsRef?: { readonly id: string } } = {},
): LlmClient => {
  const field = options.credentialsField ?? "credentials"
  const resolved = ctx.credentials[field]
  if (options.credentialsRef !== undefined && resolved === undefined) {
    throw new BlockError({
      message:
        `The credentials "${options.credentialsRef.id}" were not resolved to a secret. Run the block in a ` +
        "graph whose executor has a credential resolver, or pass the resolved credentials to runBlock.",
      retryable: false,
      field,
    })
  }
  const hostConfig = Context.getOrUndefined(ctx.resources, LlmConfig)
  const config: LlmConfigShape = hostConfig ?? llmConfigFromEnv()
  const apiKey = nonEmpty(resolved?.secret) ?? nonEmpty(config.apiKey)
  const configuredURL = nonEmpty(config.baseURL)
  if (apiKey === undefined && configuredURL === undefined) {
    throw new BlockError({ message: NOT_CONFIGURED, retryable: false, field })
  }
  const baseURL = configuredURL ?? OPENAI_BASE_URL
  const timeoutMs = config.timeoutMs ?? 600_000
  const safeClient: SafeHttpClient | undefined =
    config.fetch === undefined ? (config.http ?? httpClientFor(ctx)) : undefined
  const transport: FetchLike = config.fetch ?? fetchThroughSafeClient(safeClient!, timeoutMs)
  // Keyless endpoints: the OpenAI client insists on a key, so it gets a placeholder that never leaves.
  const send: FetchLike =
    apiKey === undefined
      ? (input, init) => {
          const headers = new Headers(init?.headers)
          headers.delete("authorization")
          return transport(input, { ...init, headers })
        }
      : transport
  const openai = new OpenAI({
    apiKey: apiKey ?? NO_KEY,
    baseURL,
    organization: null,
    project: null,
    adminAPIKey: null,
    maxRetries: config.maxRetries ?? 2,
    timeout: timeoutMs,
    fetch: send,
    logLevel: "off",
    dangerouslyAllowBrowser: true,
    ...(config.headers === undefined ? {} : { defaultHeaders: { ...config.headers } }),
  })
  const secrets = [apiKey].filter((s): s is string => s !== undefined && s.length >= 4)
  const redact = (text: string) => secrets.reduce((out, secret) => out.split(secret).join(MASK), text)

  let checked = false
  /**
   * Checks the endpoint with the safe client before the first call, so that a refused endpoint fails at
   * once instead of being retried by the OpenAI client. Only a successful check is remembered.
   */
  const precheck = async (): Promise<void> => {
    if (safeClient === undefined || checked) return
    await safeClient.check(`${baseURL.replace(/\/+$/, "")}/chat/completions`, ctx.signal)
    checked = true
  }

  const toCallError = (error: unknown): LlmCallError => {
    if (error instanceof LlmCallError) return error
    if (ctx.signal.aborted || error instanceof APIUserAbortError) {
      return new LlmCallError("the request was cancelled", "aborted")
    }
    if (isRefusal(error)) return new LlmCallError(redact(httpCause(error)?.message ?? String(error)), "fatal")
    if (error instanceof APIConnectionError) {
      const cause = httpCause(error)
      return new LlmCallError(redact(cause?.message ?? `${error.message} (${baseURL})`), "transient")
    }
    if (error instanceof APIError) {
      const status = error.status
      const message = redact(error.message)
      if (CONTEXT_PATTERNS.test(message)) return new LlmCallError(message, "context", status)
      if (status === 401 || status === 403 || status === 429)
        return new LlmCallError(message, "fatal", status)
      if ((status === 400 || status === 404) && MODEL_PATTERNS.test(message)) {
        return new LlmCallError(
          `${message}. The model name appears unknown to the endpoint: check the model, or map it to one the ` +
            "endpoint serves (LlmConfig.models).",
          "fatal",
          status,
        )
      }
      return new LlmCallError(message, "transient", status)
    }
    return new LlmCallError(redact(error instanceof Error ? error.message : String(error)), "transient")
  }

  const account = (result: ChatResult): ChatResult => {
    ctx.log.debug(
      `LLM call to ${result.model}: ${result.promptTokens} prompt and ${result.completionTokens} completion tokens`,
    )
    if (config.cost !== undefined) {
      ctx.reportCost(
        config.cost({
          model: result.model,
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
        }),
      )
    }
    return result
  }

  const chat = async (request: ChatRequest): Promise<ChatResult> => {
    const model = mapModel(config, request.model)
    const limit =
      request.maxTokens === undefined
        ? {}
        : usesCompletionTokens(model)
          ? { max_completion_tokens: request.maxTokens }
          : { max_tokens: request.maxTokens }
    const base = {
      model,
      messages: [...request.messages],
      ...limit,
      ...(request.json === true ? { response_format: { type: "json_object" as const } } : {}),
    }
    const onToken = request.onToken
    try {
      await precheck()
      if (onToken === undefined || config.stream === false) {
        const completion = await openai.chat.completions.create(base, { signal: ctx.signal })
        const text = completion.choices[0]?.message?.content ?? ""
        if (onToken !== undefined && text !== "") onToken(text)
        return account({
          text,
          model,
          promptTokens: completion.usage?.prompt_tokens ?? 0,
          completionTokens: completion.usage?.completion_tokens ?? 0,
        })
      }
      const stream = await openai.chat.completions.create(
        { ...base, stream: true, stream_options: { include_usage: true } },
        { signal: ctx.signal },
      )
      let text = ""
      let promptTokens = 0
      let completionTokens = 0
      for await (const chunk of stream) {
        const token = chunk.choices[0]?.delta?.content
        if (typeof token === "string" && token !== "") {
          text += token
          onToken(token)
        }
        if (chunk.usage !== undefined && chunk.usage !== null) {
          promptTokens = chunk.usage.prompt_tokens
          completionTokens = chunk.usage.completion_tokens
        }
      }
      // The OpenAI client ends a stream quietly when its request is aborted: a cut-off answer is no answer.
      if (ctx.signal.aborted) throw new LlmCallError("the request was cancelled", "aborted")
      return account({ text, model, promptTokens, completionTokens })
    } catch (error) {
      throw toCallError(error)
    }
  }

  return { baseURL, chat }
}
