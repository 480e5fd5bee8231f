/**
 * Pieces the AI blocks share: their common input fields (model, credentials, AutoGPT's Ollama host) and how
 * a failed generation becomes the block's error.
 *
 * @since 0.1.0
 */
import { Block, type BlockContext, BlockError } from "@weft/engine"
import { Effect, Schema } from "effect"
import { TemplateError } from "../templates/index.js"
import { LlmCallError, type LlmClient, llmClientFor } from "./client.js"
import { GenerationFailed } from "./structured.js"

/** AutoGPT's default model (`DEFAULT_LLM_MODEL`), used when a graph names none. */
export const DEFAULT_MODEL = "gpt-5.2-2025-12-11"

/** The reference the blocks' examples use: present, but never resolved outside a graph. */
export const EXAMPLE_CREDENTIALS = { id: "example-openai-key", provider: "openai", type: "api_key" } as const

/** What a block run with `EXAMPLE_CREDENTIALS` and no resolved secret fails with. */
export const UNRESOLVED_EXAMPLE_ERROR =
  'The credentials "example-openai-key" were not resolved to a secret. Run the block in a graph whose ' +
  "executor has a credential resolver, or pass the resolved credentials to runBlock."

/** The `model` input: any name the endpoint (or the host's model map) knows, AutoGPT's names included. */
export const modelField = (description: string, advanced = false) =>
  Schema.String.pipe(Schema.withDecodingDefault(Effect.succeed(DEFAULT_MODEL))).annotate({
    title: "LLM Model",
    description: `${description} Any name the configured endpoint serves; AutoGPT's model names can be mapped by the host.`,
    ...(advanced ? { advanced: true } : {}),
  })

/**
 * The `credentials` input: a stored API key for the OpenAI-compatible endpoint. It is optional, so that
 * imported AutoGPT agents (which carry no credentials) run on the host's LLM settings. AutoGPT's other LLM
 * providers are accepted too: the host's endpoint serves whichever model the graph names.
 */
export const credentialsField = () =>
  Schema.optional(
    Block.credentials({
      provider: ["openai", "anthropic", "groq", "ollama", "open_router", "llama_api", "aiml_api", "v0"],
      type: "api_key",
    }),
  ).annotate({
    title: "Credentials",
    description:
      "The stored API key for the OpenAI-compatible endpoint. When none is set, or its secret is empty, the host's LLM settings apply.",
  })

/** AutoGPT's `ollama_host`: accepted so that imported agents load, never used as an address. */
export const ollamaHostField = () =>
  Schema.optional(Schema.String).annotate({
    title: "Ollama Host",
    description:
      "Kept for AutoGPT compatibility and ignored: the endpoint (Ollama included) is set by the host's LLM settings, not by a graph.",
    advanced: true,
  })

/** AutoGPT's optional `max_tokens`. */
export const maxTokensField = () =>
  Schema.optional(Schema.NullOr(Schema.Number)).annotate({
    title: "Max Tokens",
    description: "The most tokens the model may generate in one answer. Empty: the model's own limit.",
    advanced: true,
  })

/** A `max_tokens` value as the client takes it. */
export const maxTokensOf = (value: number | null | undefined): number | undefined =>
  value === null || value === undefined || !Number.isFinite(value)
    ? undefined
    : Math.max(1, Math.floor(value))

/** The `prompt` output: the messages sent to the model on the last call. */
export const promptOutput = () =>
  Schema.Array(Schema.Unknown).annotate({
    title: "Prompt",
    description: "The messages sent to the model on the final call (role and content of each).",
  })

/** The client of one execution, made lazily so that input problems are reported first. */
export const clientFor =
  (ctx: BlockContext, credentials: { readonly id: string } | undefined): (() => LlmClient) =>
  () =>
    llmClientFor(ctx, credentials === undefined ? {} : { credentialsRef: credentials })

/**
 * The block's error for a failed generation: the message as it is, never retried by the executor (the
 * blocks retry on their own, as `retry` says).
 */
export const asBlockError = (error: unknown): unknown => {
  if (error instanceof BlockError) return error
  if (error instanceof GenerationFailed || error instanceof LlmCallError || error instanceof TemplateError) {
    return new BlockError({ message: error.message, retryable: false })
  }
  return error
}
