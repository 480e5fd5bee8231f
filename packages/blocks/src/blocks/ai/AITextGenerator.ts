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
import { generateStructured } from "../../ai/structured.js"

/**
 * AI text generator: sends a prompt (and an optional system prompt) to a language model and emits its
 * answer. `prompt_values` fill `{{ name }}` placeholders in both prompts, rendered as Jinja, only when
 * there is at least one value (as in AutoGPT, a prompt without values is sent as written). A failed call
 * is attempted again, `retry` attempts in all; rate limits and bad keys are not. The answer streams as
 * `NodeProgress` deltas while it is generated. AutoGPT: AITextGeneratorBlock.
 *
 * Weft differs in that `ollama_host` is ignored (the host configures endpoints), and an empty prompt fails
 * at once instead of after a rejected call.
 */
export default Block.make({
  id: "weft/ai/text-generator",
  title: "AI Text Generator",
  description:
    "Asks a large language model to answer a prompt, with an optional system prompt and placeholders filled from prompt values.",
  categories: ["ai"],
  aliases: ["1f292d4a-41a4-4977-9684-7c8d560b9f91"],
  input: Schema.Struct({
    prompt: Schema.String.annotate({
      title: "Prompt",
      description: "What to ask the model. {{ name }} placeholders are filled from the prompt values.",
    }),
    model: modelField("The language model that answers."),
    credentials: credentialsField(),
    sys_prompt: Schema.optional(Schema.String).annotate({
      title: "System Prompt",
      description: "Instructions that frame the model's answer (its role, tone, rules). Empty by default.",
    }),
    retry: Schema.optional(Schema.Number).annotate({
      title: "Retry Count",
      description: "How many attempts to make when a call fails. Default 3.",
    }),
    prompt_values: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Prompt Values",
      description:
        "Values for the {{ name }} placeholders of the prompt and system prompt; non-text values are inserted as JSON.",
    }),
    ollama_host: ollamaHostField(),
    max_tokens: maxTokensField(),
  }),
  output: Schema.Struct({
    response: Schema.String.annotate({ title: "Response", description: "The model's answer." }),
    prompt: promptOutput(),
  }),
  examples: [
    {
      description: "needs resolved credentials (or host LLM settings) to reach a model",
      input: { prompt: "Say hello", credentials: EXAMPLE_CREDENTIALS },
      output: [["error", UNRESOLVED_EXAMPLE_ERROR]],
    },
    {
      description: "a placeholder that does not parse fails before any call",
      input: { prompt: "Hello {{ name", prompt_values: { name: "Ada" }, credentials: EXAMPLE_CREDENTIALS },
      output: [["error", "template error: Unexpected end of input"]],
    },
    {
      description: "nothing to send",
      input: { prompt: "", credentials: EXAMPLE_CREDENTIALS },
      output: [
        ["error", "Nothing to send: the prompt, the system prompt and the conversation are all empty."],
      ],
    },
    {
      description: "at least one attempt is needed",
      input: { prompt: "Say hello", retry: 0, credentials: EXAMPLE_CREDENTIALS },
      output: [["error", "retry is 0: at least 1 attempt is needed."]],
    },
  ],
  run: async (input, ctx) => {
    try {
      const result = await generateStructured(
        clientFor(ctx, input.credentials),
        {
          prompt: input.prompt,
          sysPrompt: input.sys_prompt ?? "",
          retry: input.retry ?? 3,
          promptValues: input.prompt_values ?? {},
          maxTokens: maxTokensOf(input.max_tokens),
          model: input.model,
          onToken: ctx.progress,
        },
        ctx.signal,
      )
      const response = result.response as { readonly response: string }
      return { response: response.response, prompt: result.prompt }
    } catch (error) {
      throw asBlockError(error)
    }
  },
})
