/**
 * Which graph inputs a webhook delivery fills: the `name` of each webhook-trigger node (the block
 * `weft/io/webhook-trigger`, or its AutoGPT alias). The trigger is an input block, so the engine hands the
 * run input of that name to the node (R6): a delivery starts a run with `{ [name]: payload }`.
 *
 * @since 0.1.0
 */
import { type BlockRegistryShape, decodeRunInputs, type Graph, graphIO } from "@weft/engine"
import { Data, Effect } from "effect"

/** The id of the webhook-trigger block. */
export const WEBHOOK_TRIGGER_BLOCK = "weft/io/webhook-trigger"

/**
 * A graph a webhook cannot start: it has no webhook trigger, a trigger without a name, or another input
 * that a delivery cannot give. `fields` names each problem (`graph`, `nodes.<id>.name`, `inputs.<name>`).
 *
 * @category errors
 */
export class WebhookGraphInvalid extends Data.TaggedError("WebhookGraphInvalid")<{
  readonly graphId: string
  readonly fields: Readonly<Record<string, string>>
}> {
  override get message(): string {
    return `Graph ${this.graphId} cannot be started by a webhook`
  }
}

/**
 * The names of the graph inputs a delivery's payload goes to, or `WebhookGraphInvalid`.
 *
 * @category validation
 */
export const webhookInputs = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
): Effect.Effect<ReadonlyArray<string>, WebhookGraphInvalid> =>
  Effect.gen(function* () {
    const fields: Record<string, string> = {}
    const names = new Set<string>()
    let triggers = 0
    for (const node of graph.nodes) {
      if (registry.get(node.blockId)?.id !== WEBHOOK_TRIGGER_BLOCK) continue
      triggers++
      const name = node.inputDefault?.name
      if (typeof name === "string" && name !== "") names.add(name)
      else
        fields[`nodes.${node.id}.name`] =
          "a webhook trigger needs a name: the graph input its delivery arrives in"
    }
    if (triggers === 0) {
      fields.graph = `graph ${graph.id} has no webhook trigger: add a ${WEBHOOK_TRIGGER_BLOCK} node (AutoGPT: Generic Webhook Trigger) with a name`
    }
    if (Object.keys(fields).length > 0) {
      return yield* new WebhookGraphInvalid({ graphId: graph.id, fields })
    }
    // Every other input must have a default: a delivery gives only the triggers' inputs.
    const sample = Object.fromEntries([...names].map((name) => [name, {}]))
    yield* decodeRunInputs(graph, graphIO(graph, registry), sample).pipe(
      Effect.mapError((error) => {
        const problems: Record<string, string> = {}
        for (const [name, message] of Object.entries(error.errors)) {
          problems[`inputs.${name}`] =
            `${message}: a webhook delivery only gives the trigger's input, so this input needs a default`
        }
        return new WebhookGraphInvalid({ graphId: graph.id, fields: problems })
      }),
    )
    return [...names]
  })
