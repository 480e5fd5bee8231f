import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyEquals } from "../../internal/logic-compare.js"
import { convertLike } from "../../internal/logic-convert.js"

/**
 * If input matches: emits `result`, then `yes_output` (`yes_value`) when `input` equals `value`, or
 * `no_output` (`no_value`) otherwise. When they differ at first, `value` is converted to the type of
 * `input` (so `"10"` matches 10, `"true"` matches true, `"[1, 2]"` matches [1, 2]) before comparing again;
 * a null on either side is never converted. AutoGPT: IfInputMatchesBlock.
 */
export default Block.make({
  id: "weft/logic/if-input-matches",
  title: "If input matches",
  description:
    "Checks whether an input equals a value, after bringing the value to the input's type, and routes on it.",
  categories: ["logic"],
  aliases: ["6dbbc4b3-ca6c-42b6-b508-da52d23e13f2"],
  deterministic: true,
  input: Schema.Struct({
    input: Schema.Unknown.annotate({ title: "Input", description: "The value to test." }),
    value: Schema.Unknown.annotate({ title: "Value", description: "The value the input must equal." }),
    yes_value: Schema.optional(Schema.Unknown).annotate({
      title: "Yes value",
      description: "Emitted on `yes_output` when the input matches; null when left empty.",
    }),
    no_value: Schema.optional(Schema.Unknown).annotate({
      title: "No value",
      description: "Emitted on `no_output` when the input does not match; null when left empty.",
    }),
  }),
  output: Schema.Struct({
    result: Schema.Boolean.annotate({ title: "Result", description: "Whether the input matches." }),
    yes_output: Schema.Unknown.annotate({ title: "Yes output", description: "The yes value, on a match." }),
    no_output: Schema.Unknown.annotate({ title: "No output", description: "The no value, otherwise." }),
  }),
  examples: [
    {
      description: "equal numbers",
      input: { input: 10, value: 10, yes_value: "Greater", no_value: "Not greater" },
      output: [
        ["result", true],
        ["yes_output", "Greater"],
      ],
    },
    {
      description: "different numbers",
      input: { input: 10, value: 20, yes_value: "Greater", no_value: "Not greater" },
      output: [
        ["result", false],
        ["no_output", "Not greater"],
      ],
    },
    {
      description: "a null value never matches a number",
      input: { input: 10, value: null, yes_value: "Yes", no_value: "No" },
      output: [
        ["result", false],
        ["no_output", "No"],
      ],
    },
    {
      description: "the value is converted to the input's type",
      input: { input: 10, value: "10", yes_value: "Yes" },
      output: [
        ["result", true],
        ["yes_output", "Yes"],
      ],
    },
    {
      description: "text to boolean",
      input: { input: true, value: "TRUE" },
      output: [
        ["result", true],
        ["yes_output", null],
      ],
    },
  ],
  *run({ input, value, yes_value, no_value }) {
    let candidate: unknown = value ?? null
    const subject: unknown = input ?? null
    if (!pyEquals(subject, candidate) && subject !== null && candidate !== null) {
      candidate = convertLike(candidate, subject)
    }
    if (pyEquals(subject, candidate)) {
      yield ["result", true] as const
      yield ["yes_output", yes_value ?? null] as const
    } else {
      yield ["result", false] as const
      yield ["no_output", no_value ?? null] as const
    }
  },
})
