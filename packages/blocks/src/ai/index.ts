/**
 * The LLM client of the AI blocks: an OpenAI-compatible endpoint (OpenAI, Ollama, vLLM…) configured by the
 * host (`LlmConfig` in the executor's resources), the block's credentials or the environment, with every
 * request sent through the safe HTTP client.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { LlmConfig, SafeHttpClient, coreBlocks } from "@weft/blocks"
 *
 * const resources = Context.make(LlmConfig, {
 *   baseURL: "http://10.0.0.5:11434/v1", // Ollama on the LAN
 *   models: { "*": "llama3.2" }, // every model name a graph uses → llama3.2
 *   http: new SafeHttpClient({ allow: ["10.0.0.5"] }), // private address: must be allowed
 * })
 * await runGraph(graph, { blocks: [coreBlocks], resources, credentials: resolver })
 * ```
 *
 * @since 0.1.0
 */
export {
  type ChatMessage,
  type ChatRequest,
  type ChatResult,
  LlmCallError,
  type LlmClient,
  llmClientFor,
  NOT_CONFIGURED,
} from "./client.js"
export {
  type FetchLike,
  LlmConfig,
  type LlmConfigShape,
  type LlmUsage,
  llmConfigFromEnv,
  mapModel,
} from "./config.js"
export {
  GenerationFailed,
  generateStructured,
  type StructuredRequest,
  type StructuredResult,
} from "./structured.js"
export { fetchThroughSafeClient } from "./transport.js"
