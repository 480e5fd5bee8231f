import { Block } from "@weft/engine"
import { Schema } from "effect"
import {
  asBlockError,
  clientFor,
  credentialsField,
  EXAMPLE_CREDENTIALS,
  modelField,
  ollamaHostField,
  promptOutput,
  UNRESOLVED_EXAMPLE_ERROR,
} from "../../ai/fields.js"
import { generateStructured, type StructuredResult } from "../../ai/structured.js"
import { jsonDumps } from "../../internal/python.js"

/** AutoGPT's limits on what one summary reads. */
const MAX_TEXT_LENGTH = 1_000_000
const MAX_CHUNKS = 100
/** How many times summaries of summaries are summarized again before the final summary is asked for anyway. */
const MAX_DEPTH = 5

const STYLES = ["concise", "detailed", "bullet points", "numbered list"] as const

/**
 * Splits a text into chunks of `maxTokens` words that start every `maxTokens - overlap` words (at least 1),
 * at most 100 chunks, from at most the first million characters (AutoGPT counts words as tokens here).
 */
export const splitText = (text: string, maxTokens: number, overlap: number): Array<string> => {
  const words = text
    .slice(0, MAX_TEXT_LENGTH)
    .split(/\s+/)
    .filter((w) => w.length > 0)
  const step = Math.max(1, maxTokens - overlap)
  const chunks: Array<string> = []
  for (let i = 0; i < words.length && chunks.length < MAX_CHUNKS; i += step) {
    chunks.push(words.slice(i, i + maxTokens).join(" "))
  }
  return chunks
}

const wordCount = (text: string): number => text.split(/\s+/).filter((w) => w.length > 0).length

const stringAt = (result: StructuredResult, key: string, what: string): string => {
  const value = (result.response as Record<string, unknown>)[key]
  if (typeof value !== "string") {
    const shown = jsonDumps(value)
    throw new Error(
      `The model answered the ${what} with ${Array.isArray(value) ? "a list" : `a ${typeof value}`}, not a string: ${
        shown.length > 500 ? `${shown.slice(0, 500)}…` : shown
      }`,
    )
  }
  return value
}

/**
 * AI text summarizer: summarizes a long text in chunks of `max_tokens` words overlapping by
 * `chunk_overlap`, one call per chunk, then asks for a final summary of the chunk summaries (summarizing
 * them again first while they are still longer than `max_tokens` words). Each call asks for a JSON answer
 * and is retried up to 3 times. `style` and `focus` shape the summary. AutoGPT: AITextSummarizerBlock.
 *
 * Weft differs in that summaries of summaries keep the block's focus and style (AutoGPT falls back to the
 * defaults there), at most 5 levels deep; `ollama_host` is ignored.
 */
export default Block.make({
  id: "weft/ai/text-summarizer",
  title: "AI Text Summarizer",
  description:
    "Summarizes a long text with a large language model, chunk by chunk, in the style and with the focus you choose.",
  categories: ["ai", "text"],
  aliases: ["a0a69be1-4528-491c-a85a-a4ab6873e3f0"],
  input: Schema.Struct({
    text: Schema.String.annotate({ title: "Text", description: "The text to summarize." }),
    model: modelField("The language model that summarizes."),
    focus: Schema.optional(Schema.String).annotate({
      title: "Focus",
      description: "The topic the summary should concentrate on. Default 'general information'.",
    }),
    style: Schema.optional(Schema.Literals(STYLES)).annotate({
      title: "Summary Style",
      description: "concise (default), detailed, bullet points or numbered list.",
    }),
    credentials: credentialsField(),
    max_tokens: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(1))).annotate({
      title: "Max Tokens",
      description: "The size of one chunk of the text, in words. Default 4096.",
    }),
    chunk_overlap: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))).annotate({
      title: "Chunk Overlap",
      description: "How many words consecutive chunks share, to keep context across them. Default 100.",
    }),
    ollama_host: ollamaHostField(),
  }),
  output: Schema.Struct({
    summary: Schema.String.annotate({ title: "Summary", description: "The final summary of the text." }),
    prompt: promptOutput(),
  }),
  examples: [
    {
      description: "needs resolved credentials (or host LLM settings) to reach a model",
      input: { text: "A long report. ".repeat(50), credentials: EXAMPLE_CREDENTIALS },
      output: [["error", UNRESOLVED_EXAMPLE_ERROR]],
    },
  ],
  run: async (input, ctx) => {
    const style = input.style ?? "concise"
    const focus = input.focus ?? "general information"
    const maxTokens = Math.floor(input.max_tokens ?? 4096)
    const overlap = Math.floor(input.chunk_overlap ?? 100)
    const getClient = clientFor(ctx, input.credentials)
    let lastPrompt: ReadonlyArray<unknown> = []
    const ask = async (prompt: string, key: string, description: string): Promise<StructuredResult> => {
      const result = await generateStructured(
        getClient,
        { prompt, expectedFormat: { [key]: description }, model: input.model },
        ctx.signal,
      )
      lastPrompt = result.prompt
      return result
    }
    const summarize = async (text: string, depth: number): Promise<string> => {
      const summaries: Array<string> = []
      for (const chunk of splitText(text, maxTokens, overlap)) {
        const result = await ask(
          `Summarize the text below in a ${style} form. Concentrate on \`${focus}\` if the text covers it; ` +
            `otherwise give a general summary:\n\n\`\`\`${chunk}\`\`\``,
          "summary",
          "The summary of the text.",
        )
        summaries.push(stringAt(result, "summary", "summary"))
      }
      const combined = summaries.join("\n\n")
      if (wordCount(combined) > maxTokens && depth < MAX_DEPTH) return summarize(combined, depth + 1)
      const result = await ask(
        `Write a final summary, in a ${style} form, of the section summaries below. Concentrate on \`${focus}\` ` +
          `if they cover it:\n\n\`\`\`${combined}\`\`\`\n\nAnswer with the final_summary in the requested format.`,
        "final_summary",
        "The final summary of all the section summaries.",
      )
      return stringAt(result, "final_summary", "final summary")
    }
    try {
      const summary = await summarize(input.text, 0)
      return { summary, prompt: lastPrompt }
    } catch (error) {
      throw asBlockError(error)
    }
  },
})
