import { Block } from "@weft/engine"
import { Schema } from "effect"
import { inputName, inputSettings } from "../../internal/io-input.js"

/**
 * Toggle input: a yes/no input of the graph, `false` unless set. Always emits on `result`.
 * AutoGPT: AgentToggleInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-toggle-input",
  title: "Toggle input",
  description: "A yes/no input of the agent: emits true or false (false unless set).",
  categories: ["io"],
  aliases: ["cbf36ab5-df4a-43b6-8a7f-f7ed8652116e"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(Schema.Boolean)).annotate({
      title: "Default value",
      description: "On or off: the run's value, or this default (off when unset).",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.Boolean.annotate({ title: "Result", description: "Whether the toggle is on." }),
  }),
  examples: [
    { description: "on", input: { name: "dry_run", value: true }, output: [["result", true]] },
    { description: "off unless set", input: { name: "dry_run" }, output: [["result", false]] },
  ],
  run: ({ value }) => ({ result: value ?? false }),
})
