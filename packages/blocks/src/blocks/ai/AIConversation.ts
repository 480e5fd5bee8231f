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

const NOTHING_TO_SEND =
  "Cannot call the model with no messages and no prompt: give at least one message with text content, or a non-empty prompt."

const hasContent = (message: unknown): boolean =>
  typeof message === "object" &&
  message !== null &&
  typeof (message as { content?: unknown }).content === "string" &&
  (message as { content: string }).content.trim() !== ""

/**
 * AI conversation: sends a conversation (a list of `{role, content}` messages, e.g. system, user,
 * assistant, user) and then the optional prompt as a last user message, and emits the model's reply. A
 * failed call is attempted again, 3 attempts in all; the reply streams as `NodeProgress` deltas. AutoGPT:
 * AIConversationBlock.
 *
 * Weft differs in that a message that is a plain string is sent as a user message; `ollama_host` is
 * ignored.
 */
export default Block.make({
  id: "weft/ai/conversation",
  title: "AI Conversation",
  description:
    "Continues a multi-turn conversation with a large language model: sends the message history and emits the reply.",
  categories: ["ai"],
  aliases: ["32a87eab-381e-4dd4-bdb8-4c47151be35a"],
  input: Schema.Struct({
    prompt: Schema.optional(Schema.String).annotate({
      title: "Prompt",
      description: "A last user message sent after the conversation. Empty by default.",
    }),
    messages: Schema.Array(Schema.Unknown).annotate({
      title: "Messages",
      description: "The conversation so far: messages with a role (system, user, assistant) and a content.",
    }),
    model: modelField("The language model that replies."),
    credentials: credentialsField(),
    max_tokens: maxTokensField(),
    ollama_host: ollamaHostField(),
  }),
  output: Schema.Struct({
    response: Schema.String.annotate({ title: "Response", description: "The model's reply." }),
    prompt: promptOutput(),
  }),
  examples: [
    {
      description: "needs resolved credentials (or host LLM settings) to reach a model",
      input: {
        messages: [
          { role: "system", content: "You are a helpful assistant." },
          { role: "user", content: "Which planet is the largest?" },
        ],
        credentials: EXAMPLE_CREDENTIALS,
      },
      output: [["error", UNRESOLVED_EXAMPLE_ERROR]],
    },
    {
      description: "an empty conversation and no prompt",
      input: { messages: [{ role: "user", content: "  " }], credentials: EXAMPLE_CREDENTIALS },
      output: [["error", NOTHING_TO_SEND]],
    },
  ],
  run: async (input, ctx) => {
    const prompt = input.prompt ?? ""
    if (!input.messages.some(hasContent) && prompt.trim() === "") throw new Error(NOTHING_TO_SEND)
    try {
      const result = await generateStructured(
        clientFor(ctx, input.credentials),
        {
          prompt,
          conversationHistory: input.messages,
          maxTokens: maxTokensOf(input.max_tokens),
          model: input.model,
          onToken: ctx.progress,
        },
        ctx.signal,
      )
      return { response: (result.response as { readonly response: string }).response, prompt: result.prompt }
    } catch (error) {
      throw asBlockError(error)
    }
  },
})
