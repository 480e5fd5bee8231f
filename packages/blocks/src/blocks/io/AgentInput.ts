import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

/**
 * Agent input: one input of the graph, of any type. A run's value for `name` arrives on `value` (R6) and
 * is emitted on `result`; with no value (or `null`) nothing is emitted. Its output is static (R9).
 * AutoGPT: AgentInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-input",
  title: "Agent input",
  description: "An input of the agent: emits the value given for it when the agent runs.",
  categories: ["io"],
  aliases: ["c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.Unknown).annotate({
      title: "Value",
      description: "The value of the input: the run's value, or this default when the run gives none.",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.Unknown.annotate({ title: "Result", description: "The value given for the input." }),
  }),
  examples: [
    { description: "emits a text", input: { name: "topic", value: "owls" }, output: [["result", "owls"]] },
    { description: "emits a number", input: { name: "count", value: 42 }, output: [["result", 42]] },
    {
      description: "emits structured data",
      input: { name: "cfg", value: { a: [1, 2] }, title: null, placeholder_values: [] },
      output: [["result", { a: [1, 2] }]],
    },
    { description: "no value, no output", input: { name: "topic", value: null }, output: [] },
  ],
  run: ({ value }) => emitValue(value),
})
