import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

/**
 * Number input: a whole-number input of the graph (AutoGPT types it `int`). Emits the number on
 * `result`, nothing when there is none. AutoGPT: AgentNumberInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-number-input",
  title: "Number input",
  description: "A whole-number input of the agent: emits the number given for it.",
  categories: ["io"],
  aliases: ["96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(Schema.Int)).annotate({
      title: "Default value",
      description: "The whole number: the run's value, or this default when the run gives none.",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.Int.annotate({ title: "Result", description: "The number given for the input." }),
  }),
  examples: [
    { description: "emits the number", input: { name: "results", value: 3 }, output: [["result", 3]] },
    { description: "zero is a value", input: { name: "results", value: 0 }, output: [["result", 0]] },
    { description: "no number, no output", input: { name: "results" }, output: [] },
  ],
  run: ({ value }) => emitValue(value),
})
