/**
 * Exports Weft graphs in the AutoGPT Platform's graph format.
 *
 * A node whose block has an AutoGPT alias is written with that alias (the AutoGPT block UUID) as its
 * `block_id`; other block ids are written as they are. Importing an export gives back the same nodes and
 * links.
 *
 * @since 0.1.0
 */
import type { BlockRegistryShape, Graph } from "@weft/engine"
import { coreBlockRegistry } from "./import.js"

/**
 * A node as the AutoGPT format writes it.
 *
 * @category models
 */
export interface AutoGPTNodeJson {
  readonly id: string
  readonly block_id: string
  readonly input_default: Record<string, unknown>
  readonly metadata: Record<string, unknown>
}

/**
 * A link as the AutoGPT format writes it.
 *
 * @category models
 */
export interface AutoGPTLinkJson {
  readonly id?: string
  readonly source_id: string
  readonly sink_id: string
  readonly source_name: string
  readonly sink_name: string
  readonly is_static?: boolean
}

/**
 * A graph as the AutoGPT format writes it; only the top-level graph has `sub_graphs`.
 *
 * @category models
 */
export interface AutoGPTGraphJson {
  readonly id: string
  readonly version: number
  readonly is_active: boolean
  readonly name: string
  readonly description?: string
  readonly nodes: ReadonlyArray<AutoGPTNodeJson>
  readonly links: ReadonlyArray<AutoGPTLinkJson>
  readonly sub_graphs?: ReadonlyArray<AutoGPTGraphJson>
}

/**
 * Options of `exportAutoGPT`.
 *
 * @category models
 */
export interface ExportOptions {
  /** Graphs that the graph's agent-executor nodes run; written as `sub_graphs`. */
  readonly subGraphs?: ReadonlyArray<Graph>
  /** Resolves block ids to blocks (for their AutoGPT aliases); the core blocks by default. */
  readonly registry?: Pick<BlockRegistryShape, "get">
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The AutoGPT block id for a Weft block id: the id itself when it already is an AutoGPT UUID, else the
 * block's first UUID alias, else the id unchanged.
 *
 * @category exporting
 */
export const autoGPTBlockId = (blockId: string, registry: Pick<BlockRegistryShape, "get">): string => {
  if (UUID.test(blockId)) return blockId
  return registry.get(blockId)?.aliases?.find((alias) => UUID.test(alias)) ?? blockId
}

const exportOne = (graph: Graph, registry: Pick<BlockRegistryShape, "get">): AutoGPTGraphJson => {
  return {
    id: graph.id,
    version: graph.version,
    is_active: true,
    name: graph.name,
    ...(graph.description === undefined ? {} : { description: graph.description }),
    nodes: graph.nodes.map((node) => ({
      id: node.id,
      block_id: autoGPTBlockId(node.blockId, registry),
      input_default: { ...(node.inputDefault ?? {}) },
      metadata: { ...(node.metadata ?? {}) },
    })),
    links: graph.links.map((link) => ({
      ...(link.id === undefined ? {} : { id: link.id }),
      source_id: link.sourceId,
      sink_id: link.sinkId,
      source_name: link.sourceName,
      sink_name: link.sinkName,
      // Left out when unknown: AutoGPT sets it for links out of static-output blocks when it loads a graph.
      ...(link.isStatic === undefined ? {} : { is_static: link.isStatic }),
    })),
  }
}

/**
 * Writes a graph (and the sub-graphs it runs) in the AutoGPT export format.
 *
 * @example
 * ```ts
 * const json = exportAutoGPT(graph, { subGraphs })
 * writeFileSync("agent.json", JSON.stringify(json, null, 2))
 * ```
 *
 * @category exporting
 */
export const exportAutoGPT = (graph: Graph, options: ExportOptions = {}): AutoGPTGraphJson => {
  const registry = options.registry ?? coreBlockRegistry()
  return {
    ...exportOne(graph, registry),
    sub_graphs: (options.subGraphs ?? []).map((sub) => exportOne(sub, registry)),
  }
}
