import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

/**
 * Short text input: a single-line text input of the graph. Emits the text on `result`, nothing when
 * there is none. AutoGPT: AgentShortTextInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-short-text-input",
  title: "Short text input",
  description: "A single-line text input of the agent: emits the text given for it.",
  categories: ["io"],
  aliases: ["7fcd3bcb-8e1b-4e69-903d-32d3d4a92158"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Default value",
      description: "The text: the run's value, or this default when the run gives none.",
      format: "short-text",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.String.annotate({ title: "Result", description: "The text given for the input." }),
  }),
  examples: [
    {
      description: "emits the text",
      input: { name: "email", value: "a@b.co" },
      output: [["result", "a@b.co"]],
    },
    { description: "no text, no output", input: { name: "email" }, output: [] },
  ],
  run: ({ value }) => emitValue(value),
})
