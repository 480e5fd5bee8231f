import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyRound } from "../../internal/logic-compare.js"
import { NumberLike, toFloat } from "../../internal/logic-convert.js"

const OPERATIONS = ["Add", "Subtract", "Multiply", "Divide", "Power"] as const

const apply = (operation: (typeof OPERATIONS)[number], a: number, b: number): number => {
  switch (operation) {
    case "Add":
      return a + b
    case "Subtract":
      return a - b
    case "Multiply":
      return a * b
    case "Divide":
      return a / b
    case "Power":
      return a ** b
  }
}

/**
 * Calculator: applies an operation to `a` and `b` and emits `result`, rounded to a whole number (halves to
 * even, as Python's `round`) when `round_result` is set. Numeric text is accepted for `a` and `b`.
 * AutoGPT: CalculatorBlock.
 *
 * Where AutoGPT emits infinity (division by zero) or NaN (overflow, a fractional power of a negative
 * number), Weft emits `null`: JSON has no such numbers.
 */
export default Block.make({
  id: "weft/logic/calculator",
  title: "Calculator",
  description: "Adds, subtracts, multiplies, divides or raises to a power two numbers.",
  categories: ["logic"],
  aliases: ["b1ab9b19-67a6-406d-abf5-2dba76d00c79"],
  deterministic: true,
  input: Schema.Struct({
    operation: Schema.Literals(OPERATIONS).annotate({
      title: "Operation",
      description: "Add, Subtract, Multiply, Divide or Power.",
    }),
    a: NumberLike.annotate({ title: "A", description: "The first number." }),
    b: NumberLike.annotate({ title: "B", description: "The second number." }),
    round_result: Schema.optional(Schema.Boolean).annotate({
      title: "Round result",
      description: "Round the result to a whole number.",
    }),
  }),
  output: Schema.Struct({
    result: Schema.NullOr(Schema.Number).annotate({
      title: "Result",
      description: "The result; null when it is not a finite number (e.g. a division by zero).",
    }),
  }),
  examples: [
    {
      description: "adds",
      input: { operation: "Add", a: 10, b: 5, round_result: false },
      output: [["result", 15]],
    },
    { description: "divides", input: { operation: "Divide", a: 7, b: 2 }, output: [["result", 3.5]] },
    {
      description: "rounds halves to even",
      input: { operation: "Divide", a: 5, b: 2, round_result: true },
      output: [["result", 2]],
    },
    {
      description: "numeric text",
      input: { operation: "Power", a: "2", b: "10" },
      output: [["result", 1024]],
    },
    {
      description: "division by zero",
      input: { operation: "Divide", a: 1, b: 0 },
      output: [["result", null]],
    },
    {
      description: "text that is not a number fails",
      input: { operation: "Add", a: "ten", b: 1 },
      output: [["error", "a: Input should be a valid number, unable to parse string as a number"]],
    },
  ],
  run: ({ operation, a, b, round_result }) => {
    const x = toFloat("a", a)
    const y = toFloat("b", b)
    let result = operation === "Divide" && y === 0 ? Number.POSITIVE_INFINITY : apply(operation, x, y)
    if (round_result === true) result = pyRound(result)
    return { result: Number.isFinite(result) ? result : null }
  },
})
