import { Block } from "@weft/engine"
import { Schema } from "effect"
import {
  asBlockError,
  clientFor,
  credentialsField,
  EXAMPLE_CREDENTIALS,
  maxTokensField,
  maxTokensOf,
  modelField,
  ollamaHostField,
  promptOutput,
  UNRESOLVED_EXAMPLE_ERROR,
} from "../../ai/fields.js"
import { toStrField } from "../../ai/python.js"
import { generateStructured } from "../../ai/structured.js"

const SYSTEM_PROMPT = [
  "You produce JSON arrays of strings from what the user asks for.",
  "",
  "Put the array under the key 'list'. Every element of the array must be a string, for example:",
  '["first", "second", "third"]',
  "",
  "Make sure the 'list' key holds a proper JSON array whose elements are all strings.",
].join("\n")

/** The user prompt: what to list, and the data to take it from (or a request to invent it). */
const listPrompt = (focus: string | null | undefined, sourceData: string | null | undefined): string => {
  let prompt: string
  if (focus) prompt = `Make a list on this focus:\n<focus>\n\n${focus}</focus>`
  else if (sourceData) {
    prompt =
      "Turn the main subject of the source data into a list.\n" +
      "For example, for a news page the list holds the news stories, not the links in its footer."
  } else prompt = "Make up a list of anything."
  if (sourceData) {
    prompt +=
      `\n\nTake the list from this source data:\n\n<source_data>\n\n${sourceData}</source_data>\n\n` +
      "Do not add items that the source data does not contain."
  } else prompt += "\n\nInvent the data the list is made from."
  return prompt
}

/**
 * AI list generator: asks a language model for a list of strings on a focus, taken from `source_data` when
 * given, and emits the list, the prompt, then each item on `list_item`. The answer is checked (a JSON object
 * with a `list` key) and asked for again up to `max_retries` attempts. AutoGPT: AIListGeneratorBlock.
 *
 * Weft differs in that items that are not strings are emitted as their JSON text, so that `list_item` is
 * always a string; `ollama_host` is ignored.
 */
export default Block.make({
  id: "weft/ai/list-generator",
  title: "AI List Generator",
  description:
    "Asks a large language model for a list of items on a focus, optionally taken from source data, and emits each item.",
  categories: ["ai", "text"],
  aliases: ["9c0b0450-d199-458b-a731-072189dd6593"],
  input: Schema.Struct({
    focus: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Focus",
      description: "What the list should be about, e.g. 'the five most interesting stories in the data'.",
    }),
    source_data: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Source Data",
      description: "The text to take the list from. Empty: the model invents the items.",
    }),
    model: modelField("The language model that writes the list.", true),
    credentials: credentialsField(),
    max_retries: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 1, maximum: 5 }))).annotate({
      title: "Max Retries",
      description: "How many attempts (1 to 5) to make until the answer is a valid list. Default 3.",
    }),
    force_json_output: Schema.optional(Schema.Boolean).annotate({
      title: "Restrict LLM to pure JSON output",
      description:
        "Use the endpoint's JSON mode: more reliable JSON, but the model cannot reason in text before answering. Default false.",
    }),
    max_tokens: maxTokensField(),
    ollama_host: ollamaHostField(),
  }),
  output: Schema.Struct({
    generated_list: Schema.Array(Schema.String).annotate({
      title: "Generated List",
      description: "The whole list.",
    }),
    list_item: Schema.String.annotate({
      title: "List Item",
      description: "Each item of the list, one value per item, in order.",
    }),
    prompt: promptOutput(),
  }),
  examples: [
    {
      description: "needs resolved credentials (or host LLM settings) to reach a model",
      input: { focus: "planets of the solar system", credentials: EXAMPLE_CREDENTIALS },
      output: [["error", UNRESOLVED_EXAMPLE_ERROR]],
    },
  ],
  async *run(input, ctx) {
    const expected: Record<string, string> = {
      ...(input.force_json_output === true ? { reasoning: "... (optional)" } : {}),
      list: "A JSON array of the generated strings",
    }
    let items: ReadonlyArray<unknown>
    let prompt: ReadonlyArray<unknown>
    try {
      const result = await generateStructured(
        clientFor(ctx, input.credentials),
        {
          sysPrompt: SYSTEM_PROMPT,
          prompt: listPrompt(input.focus, input.source_data),
          expectedFormat: expected,
          forceJsonOutput: input.force_json_output ?? false,
          retry: input.max_retries ?? 3,
          maxTokens: maxTokensOf(input.max_tokens),
          model: input.model,
        },
        ctx.signal,
      )
      const response = result.response
      const list =
        typeof response === "object" && response !== null && !Array.isArray(response) && "list" in response
          ? (response as { readonly list: unknown }).list
          : response
      if (!Array.isArray(list)) {
        throw new Error(
          `Expected a list, but got ${typeof list === "string" ? "str" : typeof list}: ${toStrField(list)}`,
        )
      }
      items = list
      prompt = result.prompt
    } catch (error) {
      throw asBlockError(error)
    }
    const strings = items.map(toStrField)
    yield ["generated_list", strings] as const
    yield ["prompt", prompt] as const
    for (const item of strings) yield ["list_item", item] as const
  },
})
