import { Block } from "@weft/engine"
import { Schema } from "effect"
import { type Comparison, PyTypeError, pyCompare, pyParseFloat } from "../../internal/logic-compare.js"

const OPERATORS = ["==", "!=", ">", "<", ">=", "<="] as const

/**
 * AutoGPT's coercion of a compared value: a string is stripped and read as a float when it is one
 * (`"10"` becomes 10), a string that is not stays as stripped text.
 */
const coerce = (value: unknown): unknown => {
  if (typeof value !== "string") return value ?? null
  const stripped = value.trim()
  const n = pyParseFloat(stripped)
  return n === undefined ? stripped : n
}

/** A coerced value as an output: `"inf"` or `"nan"` read as numbers, but JSON has no such numbers. */
const emitted = (value: unknown, original: unknown): unknown =>
  typeof value === "number" && !Number.isFinite(value) && typeof original === "string"
    ? original.trim()
    : value

/**
 * Condition: compares `value1` with `value2` and emits `result`, then `yes_output` (`yes_value`, or the
 * coerced `value1` when it is null) or `no_output` (`no_value`, or the coerced `value2`). Strings that hold
 * numbers compare as numbers, so `"10" > 9`. Other comparisons follow Python: strings order by code point,
 * lists element by element, and an impossible ordering (e.g. a text with a number) fails the execution
 * with `Comparison failed: …`. AutoGPT: ConditionBlock.
 */
export default Block.make({
  id: "weft/logic/condition",
  title: "Condition",
  description:
    "Compares two values with an operator and routes to a yes or a no output; numeric text compares as a number.",
  categories: ["logic"],
  aliases: ["715696a0-e1da-45c8-b209-c2fa9c3b0be6"],
  deterministic: true,
  input: Schema.Struct({
    value1: Schema.Unknown.annotate({
      title: "Value 1",
      description: "The left-hand value, e.g. 10, 'hello' or true.",
    }),
    operator: Schema.Literals(OPERATORS).annotate({
      title: "Operator",
      description: "The comparison: ==, !=, >, <, >= or <=.",
    }),
    value2: Schema.Unknown.annotate({
      title: "Value 2",
      description: "The right-hand value, e.g. 20, 'world' or false.",
    }),
    yes_value: Schema.optional(Schema.Unknown).annotate({
      title: "Yes value",
      description: "Emitted on `yes_output` when the comparison holds; value 1 when left empty.",
    }),
    no_value: Schema.optional(Schema.Unknown).annotate({
      title: "No value",
      description: "Emitted on `no_output` when the comparison fails; value 2 when left empty.",
    }),
  }),
  output: Schema.Struct({
    result: Schema.Boolean.annotate({ title: "Result", description: "Whether the comparison holds." }),
    yes_output: Schema.Unknown.annotate({
      title: "Yes output",
      description: "The yes value, when the comparison holds.",
    }),
    no_output: Schema.Unknown.annotate({
      title: "No output",
      description: "The no value, when the comparison does not hold.",
    }),
  }),
  examples: [
    {
      description: "greater than",
      input: { value1: 10, operator: ">", value2: 5, yes_value: "Greater", no_value: "Not greater" },
      output: [
        ["result", true],
        ["yes_output", "Greater"],
      ],
    },
    {
      description: "numeric text compares as a number; no value defaults to value 2",
      input: { value1: "10", operator: "<", value2: " 9 " },
      output: [
        ["result", false],
        ["no_output", 9],
      ],
    },
    {
      description: "yes value defaults to the coerced value 1",
      input: { value1: "10", operator: ">", value2: 9 },
      output: [
        ["result", true],
        ["yes_output", 10],
      ],
    },
    {
      description: "texts compare as texts",
      input: { value1: " apple ", operator: "==", value2: "apple", yes_value: "same" },
      output: [
        ["result", true],
        ["yes_output", "same"],
      ],
    },
    {
      description: "an impossible ordering fails",
      input: { value1: "hello", operator: ">", value2: 5 },
      output: [["error", "Comparison failed: '>' not supported between instances of 'str' and 'int'"]],
    },
  ],
  *run({ value1, operator, value2, yes_value, no_value }) {
    const a = coerce(value1)
    const b = coerce(value2)
    let result: boolean
    try {
      result = pyCompare(operator as Comparison, a, b)
    } catch (error) {
      if (error instanceof PyTypeError) {
        yield ["error", `Comparison failed: ${error.message}`] as const
        return
      }
      throw error
    }
    yield ["result", result] as const
    if (result) yield ["yes_output", yes_value ?? emitted(a, value1)] as const
    else yield ["no_output", no_value ?? emitted(b, value2)] as const
  },
})
