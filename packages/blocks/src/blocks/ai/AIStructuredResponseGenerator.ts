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

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

/**
 * AI structured response generator: asks a language model for a JSON object with the keys of
 * `expected_format` (or a list of such objects with `list_result`), checks the answer and asks again, up to
 * `retry` attempts, when the JSON does not parse or keys are missing; each correction is added to the
 * conversation. By default the model may reason in free text and must put the JSON between
 * `<json_output id="…">` tags with a random id; `force_json_output` switches to the endpoint's JSON mode
 * (`response_format: json_object`) and takes the whole answer as the JSON. With an empty `expected_format`
 * the answer is returned as `{response: text}`. AutoGPT: AIStructuredResponseGeneratorBlock.
 *
 * Weft differs in that `ollama_host` and `compress_prompt_to_fit` are accepted but ignored (Weft does not
 * know arbitrary models' context windows; a context-length error lowers `max_tokens` and tries again), and
 * the instructions sent to the model are worded by Weft.
 */
export default Block.make({
  id: "weft/ai/structured-response-generator",
  title: "AI Structured Response Generator",
  description:
    "Asks a large language model for a JSON answer with the keys you list, checking it and asking again until it fits.",
  categories: ["ai"],
  aliases: ["ed55ac19-356e-4243-a6cb-bc599e9b716f"],
  input: Schema.Struct({
    prompt: Schema.String.annotate({
      title: "Prompt",
      description: "What to ask the model. {{ name }} placeholders are filled from the prompt values.",
    }),
    expected_format: JsonObject.annotate({
      title: "Expected Format",
      description:
        "The keys the JSON answer must have, each mapped to a description of what it should hold. Empty: a plain-text answer.",
    }),
    list_result: Schema.optional(Schema.Boolean).annotate({
      title: "List Result",
      description: "Expect a list of objects in that format instead of one object. Default false.",
    }),
    model: modelField("The language model that answers."),
    force_json_output: Schema.optional(Schema.Boolean).annotate({
      title: "Restrict LLM to pure JSON output",
      description:
        "Use the endpoint's JSON mode: more reliable JSON, but the model cannot reason in text before answering. Default false.",
    }),
    credentials: credentialsField(),
    sys_prompt: Schema.optional(Schema.String).annotate({
      title: "System Prompt",
      description: "Instructions that frame the model's answer. Empty by default.",
    }),
    conversation_history: Schema.optional(Schema.NullOr(Schema.Array(Schema.Unknown))).annotate({
      title: "Conversation History",
      description: "Earlier messages ({role, content}) sent before the prompt, for context.",
    }),
    retry: Schema.optional(Schema.Number).annotate({
      title: "Retry Count",
      description: "How many attempts to make until the answer fits the expected format. Default 3.",
    }),
    prompt_values: Schema.optional(JsonObject).annotate({
      title: "Prompt Values",
      description:
        "Values for the {{ name }} placeholders of the prompt and system prompt; non-text values are inserted as JSON.",
    }),
    max_tokens: maxTokensField(),
    compress_prompt_to_fit: Schema.optional(Schema.Boolean).annotate({
      title: "Compress Prompt To Fit",
      description: "Kept for AutoGPT compatibility and ignored.",
      advanced: true,
    }),
    ollama_host: ollamaHostField(),
  }),
  output: Schema.Struct({
    response: Schema.Union([JsonObject, Schema.Array(JsonObject)]).annotate({
      title: "Response",
      description: "The JSON answer: an object with the expected keys, or a list of them.",
    }),
    prompt: promptOutput(),
  }),
  examples: [
    {
      description: "needs resolved credentials (or host LLM settings) to reach a model",
      input: {
        prompt: "Describe Paris",
        expected_format: { city: "the city's name", country: "its country" },
        credentials: EXAMPLE_CREDENTIALS,
      },
      output: [["error", UNRESOLVED_EXAMPLE_ERROR]],
    },
    {
      description: "at least one attempt is needed",
      input: {
        prompt: "Describe Paris",
        expected_format: { city: "the city's name" },
        retry: 0,
        credentials: EXAMPLE_CREDENTIALS,
      },
      output: [["error", "retry is 0: at least 1 attempt is needed."]],
    },
  ],
  run: async (input, ctx) => {
    try {
      const expected = Object.fromEntries(
        Object.entries(input.expected_format).map(([key, value]) => [key, toStrField(value)]),
      )
      const result = await generateStructured(
        clientFor(ctx, input.credentials),
        {
          prompt: input.prompt,
          sysPrompt: input.sys_prompt ?? "",
          expectedFormat: expected,
          listResult: input.list_result ?? false,
          forceJsonOutput: input.force_json_output ?? false,
          conversationHistory: input.conversation_history ?? [],
          retry: input.retry ?? 3,
          promptValues: input.prompt_values ?? {},
          maxTokens: maxTokensOf(input.max_tokens),
          model: input.model,
        },
        ctx.signal,
      )
      return {
        response: result.response as Record<string, unknown> | ReadonlyArray<Record<string, unknown>>,
        prompt: result.prompt,
      }
    } catch (error) {
      throw asBlockError(error)
    }
  },
})
