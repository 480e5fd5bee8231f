import { Block, BlockError } from "@weft/engine"
import { Schema } from "effect"
import { LlmCallError } from "../../ai/client.js"
import {
  asBlockError,
  clientFor,
  credentialsField,
  EXAMPLE_CREDENTIALS,
  modelField,
  UNRESOLVED_EXAMPLE_ERROR,
} from "../../ai/fields.js"
import { pyStr } from "../../internal/python.js"

/** Enough for a one-word answer; AutoGPT's smallest output budget. */
const ANSWER_TOKENS = 16

const SYSTEM_PROMPT =
  "You decide whether an input value meets a condition. Reply with just 'true' or 'false', in lower " +
  "case, to say whether the condition holds for the input. Take into account what both the input and " +
  "the condition mean."

/**
 * Reads the model's reply as a boolean: exactly `true`/`false`, or else the only one of the words
 * true/false, yes/no, 1/0 that it contains. Anything else is unclear.
 */
export const parseAnswer = (reply: string): boolean | undefined => {
  const text = reply.trim().toLowerCase()
  if (text === "true") return true
  if (text === "false") return false
  const tokens = new Set(text.match(/\b(?:true|false|yes|no|1|0)\b/g) ?? [])
  if (tokens.size !== 1) return undefined
  const [only] = tokens
  if (only === "true" || only === "yes" || only === "1") return true
  if (only === "false" || only === "no" || only === "0") return false
  return undefined
}

/**
 * AI condition: asks a language model whether `input_value` meets a condition written in plain language
 * ("the input is an email address") and routes like the Condition block: `result`, then `yes_output`
 * (`yes_value`, or the input itself) when it holds, else `no_output` (`no_value`, or the input). A reply
 * that is neither clearly true nor clearly false fails with the reply quoted. One call, no retry beyond the
 * client's own retries of rate limits and server errors. AutoGPT: AIConditionBlock.
 *
 * The input is shown to the model as Python's `str()` would print it, as in AutoGPT.
 */
export default Block.make({
  id: "weft/ai/condition",
  title: "AI Condition",
  description:
    "Uses a large language model to decide whether a value meets a condition described in plain language, and routes it.",
  categories: ["ai", "logic"],
  aliases: ["553ec5b8-6c45-4299-8d75-b394d05f72ff"],
  input: Schema.Struct({
    input_value: Schema.Unknown.annotate({
      title: "Input Value",
      description: "The value to judge: text, a number or any data.",
    }),
    condition: Schema.String.annotate({
      title: "Condition",
      description: "The condition in plain language, e.g. 'the input is a city in the USA'.",
    }),
    yes_value: Schema.optional(Schema.Unknown).annotate({
      title: "Yes Value",
      description: "What to emit when the condition holds. Empty: the input value.",
    }),
    no_value: Schema.optional(Schema.Unknown).annotate({
      title: "No Value",
      description: "What to emit when the condition does not hold. Empty: the input value.",
    }),
    model: modelField("The language model that judges the condition."),
    credentials: credentialsField(),
  }),
  output: Schema.Struct({
    result: Schema.Boolean.annotate({ title: "Result", description: "Whether the condition holds." }),
    yes_output: Schema.Unknown.annotate({
      title: "Yes Output",
      description: "The yes value (or the input), when the condition holds.",
    }),
    no_output: Schema.Unknown.annotate({
      title: "No Output",
      description: "The no value (or the input), when the condition does not hold.",
    }),
  }),
  examples: [
    {
      description: "needs resolved credentials (or host LLM settings) to reach a model",
      input: {
        input_value: "ada@example.com",
        condition: "the input is an email address",
        yes_value: "valid",
        no_value: "not an email",
        credentials: EXAMPLE_CREDENTIALS,
      },
      output: [["error", UNRESOLVED_EXAMPLE_ERROR]],
    },
  ],
  async *run(input, ctx) {
    const yes = input.yes_value ?? input.input_value ?? null
    const no = input.no_value ?? input.input_value ?? null
    let reply: string
    try {
      const client = clientFor(ctx, input.credentials)()
      const answer = await client.chat({
        model: input.model,
        maxTokens: ANSWER_TOKENS,
        messages: [
          { role: "system", content: SYSTEM_PROMPT },
          {
            role: "user",
            content:
              `Input value: ${pyStr(input.input_value)}\nCondition to evaluate: ${input.condition}\n\n` +
              "Does the input value meet the condition? Reply with just 'true' or 'false'.",
          },
        ],
      })
      reply = answer.text
    } catch (error) {
      throw error instanceof LlmCallError
        ? new BlockError({ message: `Error calling LLM: ${error.message}`, retryable: false })
        : asBlockError(error)
    }
    const result = parseAnswer(reply)
    if (result === undefined) {
      yield ["error", `Unclear AI response: '${reply}'`] as const
      return
    }
    yield ["result", result] as const
    if (result) yield ["yes_output", yes] as const
    else yield ["no_output", no] as const
  },
})
