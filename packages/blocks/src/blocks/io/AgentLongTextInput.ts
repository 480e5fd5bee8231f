import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

/**
 * Long text input: a multi-line text input of the graph. Emits the text on `result`, nothing when there
 * is none. AutoGPT: AgentLongTextInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-long-text-input",
  title: "Long text input",
  description: "A multi-line text input of the agent: emits the text given for it.",
  categories: ["io"],
  aliases: ["90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Default value",
      description: "The text, possibly over several lines: the run's value, or this default.",
      format: "long-text",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.String.annotate({ title: "Result", description: "The text given for the input." }),
  }),
  examples: [
    {
      description: "emits the text",
      input: { name: "notes", value: "line one\nline two" },
      output: [["result", "line one\nline two"]],
    },
    { description: "no text, no output", input: { name: "notes", value: null }, output: [] },
  ],
  run: ({ value }) => emitValue(value),
})
