import { Block } from "@weft/engine"
import { Schema } from "effect"

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

/**
 * Webhook trigger: starts the graph when a webhook delivery arrives. It is an input of the graph (kind
 * `input`): a host that receives a delivery for the graph starts a run whose input named by this node's
 * `name` is the delivery's JSON body, and the engine hands that run input to `value` (R6), like any agent
 * input. The block emits the node's `constants`, then the payload: the delivery (`value`) or, when none
 * arrived, the node's own `payload` (a sample, or the empty object AutoGPT exports keep there). Its output
 * is static (R9). AutoGPT: GenericWebhookTriggerBlock (pins `payload` and `constants`).
 */
export default Block.make({
  id: "weft/io/webhook-trigger",
  title: "Webhook trigger",
  description:
    "Starts the agent from a webhook: emits the JSON body of each signed delivery on `payload`, with the constants set on the node.",
  categories: ["io", "trigger"],
  aliases: ["8fa8c167-2002-47ce-aba8-97572fc5d387"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: Schema.optional(Schema.String).annotate({
      title: "Name",
      description:
        "The graph input the delivery arrives in: a webhook run passes the JSON body under this key. A webhook needs it.",
    }),
    value: Schema.optional(Schema.Unknown).annotate({
      title: "Delivery",
      description: "The received payload: the run's value for this input (set by the webhook, not by hand).",
      advanced: true,
    }),
    payload: Schema.optional(Schema.Unknown).annotate({
      title: "Sample payload",
      description: "The payload emitted when the run carries no delivery, e.g. for a test run by hand.",
      advanced: true,
    }),
    constants: Schema.optional(JsonObject).annotate({
      title: "Constants",
      description: "Values set on the node, emitted with every delivery.",
    }),
  }),
  output: Schema.Struct({
    payload: Schema.Unknown.annotate({
      title: "Payload",
      description: "The complete JSON body of the webhook delivery.",
    }),
    constants: JsonObject.annotate({
      title: "Constants",
      description: "The constants set on the node.",
    }),
  }),
  examples: [
    {
      description: "emits the constants, then the delivery",
      input: { name: "event", value: { action: "opened", number: 7 }, constants: { repo: "weft" } },
      output: [
        ["constants", { repo: "weft" }],
        ["payload", { action: "opened", number: 7 }],
      ],
    },
    {
      description: "a delivery wins over the sample payload",
      input: { name: "event", value: [1, 2], payload: { sample: true } },
      output: [
        ["constants", {}],
        ["payload", [1, 2]],
      ],
    },
    {
      description: "an imported AutoGPT node emits its own payload",
      input: { constants: { key: "value" }, payload: { message: "Hello, World!" } },
      output: [
        ["constants", { key: "value" }],
        ["payload", { message: "Hello, World!" }],
      ],
    },
    {
      description: "no delivery and no sample: only the constants",
      input: { name: "event", value: null },
      output: [["constants", {}]],
    },
  ],
  run: ({ value, payload, constants }) => {
    const received = value ?? payload
    return received === undefined || received === null
      ? { constants: constants ?? {} }
      : { constants: constants ?? {}, payload: received }
  },
})
