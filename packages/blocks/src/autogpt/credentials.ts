/**
 * Credential fields of imported agents.
 *
 * AutoGPT exports never carry credentials: the platform asks the user for them when an agent runs and
 * fills them into the nodes. An imported graph therefore has nodes whose required credential fields
 * (`Block.credentials`) are empty, and it does not validate until a host fills them in. These helpers find
 * those fields and fill them with references that the host's `CredentialResolver` understands.
 *
 * @since 0.1.0
 */
import type { BlockRegistryShape, CredentialsRequirement, Graph } from "@weft/engine"
import { DynamicPins } from "@weft/engine"

/**
 * A required credential field that a node leaves empty.
 *
 * @category models
 */
export interface CredentialSlot {
  readonly nodeId: string
  readonly field: string
  readonly requirement: CredentialsRequirement
}

/**
 * A reference to stored credentials, as a node holds it (`{ id, provider, type, title }`).
 *
 * @category models
 */
export interface CredentialsRefJson {
  readonly id: string
  readonly provider: string
  readonly type: string
  readonly title?: string
}

/**
 * The provider a reference for this requirement names: the provider, or the first of several.
 *
 * @category credentials
 */
export const providerOf = (requirement: CredentialsRequirement): string => {
  const provider: string | ReadonlyArray<string> = requirement.provider
  return typeof provider === "string" ? provider : (provider[0] ?? "unknown")
}

/**
 * The required credential fields of a graph's nodes that have neither a value nor a link.
 *
 * @category credentials
 */
export const missingCredentials = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
): ReadonlyArray<CredentialSlot> => {
  const linked = new Set(
    graph.links.map((link) => `${link.sinkId}\u0000${DynamicPins.baseName(link.sinkName)}`),
  )
  const slots: Array<CredentialSlot> = []
  for (const node of graph.nodes) {
    const block = registry.get(node.blockId)
    if (block === undefined) continue
    for (const pin of block.credentialPins) {
      if (!pin.required || pin.credentials === undefined) continue
      const value = node.inputDefault?.[pin.name]
      if (value !== undefined && value !== null) continue
      if (linked.has(`${node.id}\u0000${pin.name}`)) continue
      slots.push({ nodeId: node.id, field: pin.name, requirement: pin.credentials })
    }
  }
  return slots
}

/**
 * A copy of the graph whose empty required credential fields hold the reference `refFor` gives (a field
 * stays empty when it gives `undefined`). The graph itself is not changed.
 *
 * @example
 * ```ts
 * const runnable = withCredentials(graph, registry, ({ requirement }) => ({
 *   id: `default-${requirement.provider}`, provider: requirement.provider, type: requirement.type,
 * }))
 * ```
 *
 * @category credentials
 */
export const withCredentials = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
  refFor: (slot: CredentialSlot) => CredentialsRefJson | undefined,
): Graph => {
  const slots = missingCredentials(graph, registry)
  if (slots.length === 0) return graph
  const fills = new Map<string, Record<string, CredentialsRefJson>>()
  for (const slot of slots) {
    const ref = refFor(slot)
    if (ref === undefined) continue
    fills.set(slot.nodeId, { ...fills.get(slot.nodeId), [slot.field]: ref })
  }
  return {
    ...graph,
    nodes: graph.nodes.map((node) => {
      const fill = fills.get(node.id)
      return fill === undefined ? node : { ...node, inputDefault: { ...node.inputDefault, ...fill } }
    }),
  }
}
