/**
 * Host-level settings of the LLM client: which OpenAI-compatible endpoint the AI blocks call (OpenAI,
 * Ollama, vLLM, a gateway…), with which key, and how AutoGPT model names map to the endpoint's names.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { SafeHttpClient } from "../http/index.js"

/**
 * A `fetch`-compatible function: what the OpenAI client sends its requests through.
 *
 * @category models
 */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * Token counts of one call, for `LlmConfigShape.cost`.
 *
 * @category models
 */
export interface LlmUsage {
  /** The model name sent to the endpoint (after mapping). */
  readonly model: string
  readonly promptTokens: number
  readonly completionTokens: number
}

/**
 * What a host configures. Every field is optional.
 *
 * @category models
 */
export interface LlmConfigShape {
  /** The endpoint's base URL, e.g. `http://ollama.internal:11434/v1`. Default: OpenAI's. */
  readonly baseURL?: string
  /** The key used when a block's credentials resolve to an empty secret. */
  readonly apiKey?: string
  /**
   * Maps model names as graphs give them (AutoGPT's names such as `gpt-4o`) to the names the endpoint
   * knows. The key `"*"` maps every name that has no entry of its own.
   */
  readonly models?: Readonly<Record<string, string>>
  /**
   * The HTTP client requests go through. Default: the safe client in `ctx.resources` (`SafeHttp`), or a
   * default safe client. Its allow-list must admit a private endpoint (e.g. Ollama on a LAN address).
   */
  readonly http?: SafeHttpClient
  /**
   * Replaces the HTTP transport altogether (no safe-client checks): for hosts with their own egress
   * control. Takes precedence over `http`.
   */
  readonly fetch?: FetchLike
  /** Retries of one request on 408/409/429/5xx and connection failures, with backoff. Default 2. */
  readonly maxRetries?: number
  /** Time limit of one request, in milliseconds. Default 10 minutes. */
  readonly timeoutMs?: number
  /** Stream the text blocks' answers token by token (`ctx.progress`). Default true. */
  readonly stream?: boolean
  /** Extra headers sent with every request (e.g. a gateway's routing header). */
  readonly headers?: Readonly<Record<string, string>>
  /** Prices a call: the result is added to the execution's cost (`ctx.reportCost`). */
  readonly cost?: (usage: LlmUsage) => number
}

/**
 * The service key of the LLM settings in `ExecutorConfig.resources`.
 *
 * @example
 * ```ts
 * const resources = Context.make(LlmConfig, { baseURL: "http://10.0.0.5:11434/v1", models: { "*": "llama3.2" },
 *   http: new SafeHttpClient({ allow: ["10.0.0.5"] }) })
 * await runGraph(graph, { blocks: [coreBlocks], resources, credentials })
 * ```
 *
 * @category services
 */
export class LlmConfig extends Context.Service<LlmConfig, LlmConfigShape>()("@weft/blocks/LlmConfig") {}

const readEnv = (name: string): string | undefined => {
  if (typeof process === "undefined" || typeof process.env !== "object") return undefined
  const value = process.env[name]?.trim()
  return value === undefined || value === "" ? undefined : value
}

/**
 * LLM settings from the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`), as the blocks use them when
 * the host configured no `LlmConfig`. A host that does configure one decides itself whether to include
 * these (`{ ...llmConfigFromEnv(), models }`).
 *
 * @category services
 */
export const llmConfigFromEnv = (): LlmConfigShape => {
  const baseURL = readEnv("OPENAI_BASE_URL")
  const apiKey = readEnv("OPENAI_API_KEY")
  return { ...(baseURL === undefined ? {} : { baseURL }), ...(apiKey === undefined ? {} : { apiKey }) }
}

/**
 * The model name to send: the graph's name mapped through `models` (its own entry, else `"*"`).
 *
 * @category services
 */
export const mapModel = (config: LlmConfigShape | undefined, model: string): string => {
  const models = config?.models
  if (models === undefined) return model
  return (Object.hasOwn(models, model) ? models[model] : models["*"]) ?? model
}
