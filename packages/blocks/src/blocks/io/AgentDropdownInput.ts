import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

/**
 * Dropdown input: a text input of the graph chosen from a list of options. Emits the chosen text on
 * `result`, nothing when there is none. The options are `options`, or `placeholder_values` in older
 * AutoGPT exports; like AutoGPT, the block passes the value through without checking it against them
 * (AutoGPT offers them to users as an enum of the graph's input schema, which Weft derives from the
 * block's `value` pin alone). AutoGPT: AgentDropdownInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-dropdown-input",
  title: "Dropdown input",
  description: "A text input of the agent chosen from a list of options: emits the chosen option.",
  categories: ["io"],
  aliases: ["655d6fdf-a334-421c-b733-520549c07cd1"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Default value",
      description: "The chosen option: the run's value, or this default when the run gives none.",
    }),
    ...inputSettings,
    options: Schema.optional(Schema.Array(Schema.Unknown)).annotate({
      title: "Dropdown options",
      description: "The values to choose from. Leave empty for free text.",
    }),
  }),
  output: Schema.Struct({
    result: Schema.String.annotate({ title: "Result", description: "The chosen option." }),
  }),
  examples: [
    {
      description: "emits the chosen option",
      input: { name: "tone", value: "Casual", options: ["Formal", "Casual"] },
      output: [["result", "Casual"]],
    },
    {
      description: "older exports list the options in placeholder_values",
      input: { name: "tone", value: "Formal", placeholder_values: ["Formal", "Casual"] },
      output: [["result", "Formal"]],
    },
    { description: "no choice, no output", input: { name: "tone", value: null }, output: [] },
  ],
  run: ({ value }) => emitValue(value),
})
