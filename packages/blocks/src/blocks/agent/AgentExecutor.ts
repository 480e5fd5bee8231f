import { Block } from "@weft/engine"
import { Schema } from "effect"
import { isDict } from "../../internal/logic-compare.js"

/** The pins the block itself reads; any other input pin is an input of the sub-graph. */
const OWN_PINS = new Set([
  "user_id",
  "graph_id",
  "graph_version",
  "agent_name",
  "inputs",
  "input_schema",
  "output_schema",
  "nodes_input_masks",
])

/**
 * Agent executor: runs another graph (an "agent") as a child run and re-emits each of its outputs, as it
 * is produced, on a pin named after the child's output. The child's inputs are `inputs` overlaid with every
 * other input pin of the node (AutoGPT links sub-graph inputs straight to pins named after them). When
 * `input_schema` lists properties, only those inputs are passed on, and its `required` inputs must be
 * present. A child run that does not complete fails the execution. Cancelling the parent cancels the
 * child. AutoGPT: AgentExecutorBlock.
 *
 * Weft differences: `user_id` is optional and unused (graphs are not owned by users), a missing
 * `graph_version` runs the latest version, and `nodes_input_masks` is accepted but ignored.
 */
export default Block.make({
  id: "weft/agent/agent-executor",
  title: "Agent executor",
  description: "Runs another agent graph inside this one and passes on its outputs as they come.",
  categories: ["agent"],
  aliases: ["e189baac-8c20-45a1-94a7-55177ea42565"],
  openInputs: true,
  openOutputs: true,
  input: Schema.Struct({
    user_id: Schema.optional(Schema.String).annotate({
      title: "User ID",
      description: "The AutoGPT user who owns the agent; kept for imported agents, unused by Weft.",
      advanced: true,
    }),
    graph_id: Schema.String.annotate({ title: "Graph ID", description: "The id of the graph to run." }),
    graph_version: Schema.optional(Schema.Number).annotate({
      title: "Graph version",
      description: "The version of the graph to run; the latest when left out.",
    }),
    agent_name: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Agent name",
      description: "The name to show for the agent in an editor.",
    }),
    inputs: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Inputs",
      description: "Inputs of the graph, by input name; linked pins of the same names take precedence.",
    }),
    input_schema: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Input schema",
      description: "The JSON Schema of the graph's inputs, as an editor shows them.",
      advanced: true,
    }),
    output_schema: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Output schema",
      description: "The JSON Schema of the graph's outputs, naming the pins this node emits.",
      advanced: true,
    }),
    nodes_input_masks: Schema.optional(Schema.NullOr(Schema.Unknown)).annotate({
      title: "Node input masks",
      description: "AutoGPT's per-node input overrides for the run; accepted and ignored by Weft.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({}),
  examples: [
    {
      description: "a required input of the sub-graph is missing",
      input: {
        graph_id: "summarise",
        graph_version: 1,
        input_schema: { type: "object", properties: { Text: { type: "string" } }, required: ["Text"] },
      },
      output: [["error", "missing inputs for graph summarise: Text"]],
    },
    {
      description: "run on its own, outside a graph, the block cannot start a child run",
      input: { graph_id: "summarise", inputs: { Text: "A long story." } },
      output: [["error", "sub-graphs need an executor: run this block inside a graph"]],
    },
  ],
  run: (input, ctx) => {
    const { graph_id, graph_version, inputs, input_schema } = input
    const merged: Record<string, unknown> = { ...inputs }
    for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
      if (!OWN_PINS.has(name)) merged[name] = value
    }
    const properties = input_schema?.properties
    const childInputs = isDict(properties)
      ? Object.fromEntries(Object.entries(merged).filter(([name]) => Object.hasOwn(properties, name)))
      : merged
    const required = Array.isArray(input_schema?.required) ? input_schema.required : []
    const missing = required.filter(
      (name): name is string => typeof name === "string" && !(name in childInputs),
    )
    if (missing.length > 0) throw new Error(`missing inputs for graph ${graph_id}: ${missing.join(", ")}`)
    return ctx.subgraph({
      graphId: graph_id,
      ...(graph_version === undefined ? {} : { version: graph_version }),
      inputs: childInputs,
    })
  },
})
