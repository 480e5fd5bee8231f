/**
 * Imports an AutoGPT Platform export as Weft graphs.
 *
 * Node ids, block ids (AutoGPT UUIDs, which the registry resolves through block aliases), input defaults,
 * metadata, link ids and pin names (dynamic suffixes `_#_`, `_$_`, `_@_` and smart-decision-maker
 * `tools_^_…_~_…` pins included) are kept as they are. Sub-graphs are converted too, and agent-executor
 * nodes are pointed at the sub-graph they run (see `subgraphs.ts`). Unknown blocks are reported per node,
 * never thrown.
 *
 * @since 0.1.0
 */
import {
  type AnyBlock,
  type BlockRegistryShape,
  type Graph,
  type Link,
  makeRegistry,
  type Node,
  type ValidationErrors,
  validateGraph,
} from "@weft/engine"
import { Effect } from "effect"
import { allBlocks } from "../blocks/index.generated.js"
import { missingCredentials, providerOf, withCredentials } from "./credentials.js"
import { type AutoGPTGraph, type AutoGPTLink, type AutoGPTNode, decodeAutoGPT } from "./format.js"
import { isAgentExecutor, resolveSubGraph, type SubGraphResolution } from "./subgraphs.js"

/**
 * AutoGPT block names by block UUID: either `{ uuid: "StoreValueBlock" }` or the shape of AutoGPT's
 * block list (`{ uuid: { name: "StoreValueBlock", … } }`).
 *
 * @category models
 */
export type BlockNames = Readonly<Record<string, string | { readonly name: string }>>

/**
 * Options of `importAutoGPT`.
 *
 * @category models
 */
export interface ImportOptions {
  /** The registry that resolves block ids and validates the graphs; the core blocks by default. */
  readonly registry?: Pick<BlockRegistryShape, "get">
  /** AutoGPT block names by UUID, so that a report can name the blocks it lacks. */
  readonly blockNames?: BlockNames
}

/**
 * One imported node in the report.
 *
 * @category models
 */
export interface NodeReport {
  /** The graph (main graph or sub-graph) that holds the node. */
  readonly graphId: string
  readonly nodeId: string
  /** The block id as the export wrote it (an AutoGPT UUID). */
  readonly blockId: string
  /** The AutoGPT block name, when `blockNames` knows it. */
  readonly blockName?: string
  /** The Weft block the registry resolved the id to. */
  readonly weftBlockId?: string
  readonly status: "ok" | "missing-block"
}

/**
 * A block the registry lacks, with the number of nodes (in all graphs) that use it.
 *
 * @category models
 */
export interface MissingBlock {
  readonly blockId: string
  readonly blockName?: string
  readonly nodes: number
}

/**
 * The validation errors of one imported graph (R4), `{ nodeId: { field: message } }`.
 *
 * @category models
 */
export interface GraphValidation {
  readonly graphId: string
  readonly version: number
  readonly errors: ValidationErrors
}

/**
 * A credential field the export leaves empty (AutoGPT exports never carry credentials): the host fills it
 * when the agent runs (see `withCredentials`).
 *
 * @category models
 */
export interface NeededCredentials {
  readonly graphId: string
  readonly nodeId: string
  readonly field: string
  readonly provider: string
  readonly type: string
}

/**
 * What an import found.
 *
 * @category models
 */
export interface ImportReport {
  /** `graph` for the current export format, `template` for the older one (`is_template`, no `sub_graphs`). */
  readonly format: "graph" | "template"
  readonly graph: {
    readonly id: string
    readonly version: number
    readonly name: string
    readonly nodes: number
    readonly links: number
    readonly subGraphs: number
  }
  /** Every node of the graph and its sub-graphs, in order. */
  readonly nodes: ReadonlyArray<NodeReport>
  readonly missingBlocks: ReadonlyArray<MissingBlock>
  /** One entry per agent-executor node. */
  readonly subGraphs: ReadonlyArray<SubGraphResolution>
  /**
   * Graphs that fail validation against the registry; empty when all are valid. Empty credential fields
   * are not counted here: they are listed in `credentials`.
   */
  readonly validation: ReadonlyArray<GraphValidation>
  /** Credential fields the host must fill when the agent runs. */
  readonly credentials: ReadonlyArray<NeededCredentials>
  readonly warnings: ReadonlyArray<string>
  /** No missing block, no unresolved or ambiguous sub-graph, no validation error. */
  readonly ok: boolean
}

/**
 * The imported graphs and the report.
 *
 * @category models
 */
export interface ImportResult {
  readonly graph: Graph
  readonly subGraphs: ReadonlyArray<Graph>
  readonly report: ImportReport
}

let coreRegistryCache: BlockRegistryShape | undefined

/** A registry of the core blocks, built on first use. */
export const coreBlockRegistry = (): BlockRegistryShape => {
  coreRegistryCache ??= Effect.runSync(makeRegistry([{ name: "weft-core", blocks: allBlocks }]))
  return coreRegistryCache
}

const nameOf = (names: BlockNames | undefined, blockId: string): string | undefined => {
  const entry = names?.[blockId]
  if (typeof entry === "string") return entry
  if (typeof entry === "object" && entry !== null && typeof entry.name === "string") return entry.name
  return undefined
}

const toLink = (l: AutoGPTLink): Link => ({
  ...(l.id === undefined ? {} : { id: l.id }),
  sourceId: l.source_id,
  sourceName: l.source_name,
  sinkId: l.sink_id,
  sinkName: l.sink_name,
  ...(l.is_static === undefined ? {} : { isStatic: l.is_static }),
})

const toNode = (n: AutoGPTNode, inputDefault: Readonly<Record<string, unknown>>): Node => ({
  id: n.id,
  blockId: n.block_id,
  inputDefault: { ...inputDefault },
  metadata: { ...n.metadata },
})

/**
 * Imports an AutoGPT export (the current format or the older template format). Throws
 * `AutoGPTFormatError` naming the JSON path when the input is not an AutoGPT export; everything else
 * (unknown blocks, unresolved sub-graphs, invalid graphs) goes into the report.
 *
 * @example
 * ```ts
 * const { graph, subGraphs, report } = importAutoGPT(JSON.parse(text))
 * const result = await runGraph(graph, { blocks: [coreBlocks], graphs: subGraphs })
 * ```
 *
 * @category importing
 */
export const importAutoGPT = (json: unknown, options: ImportOptions = {}): ImportResult => {
  const { graph: source, format, warnings } = decodeAutoGPT(json)
  const registry = options.registry ?? coreBlockRegistry()
  const aliasesOf = (blockId: string): ReadonlyArray<string> => {
    const block: AnyBlock | undefined = registry.get(blockId)
    return block === undefined ? [] : [block.id, ...(block.aliases ?? [])]
  }
  const sources = source.sub_graphs ?? []
  const nodeReports: Array<NodeReport> = []
  const missing = new Map<string, { blockName?: string; nodes: number }>()
  const resolutions: Array<SubGraphResolution> = []

  const convert = (g: AutoGPTGraph): Graph => {
    const nodes = g.nodes.map((n) => {
      const block = registry.get(n.block_id)
      const blockName = nameOf(options.blockNames, n.block_id)
      nodeReports.push({
        graphId: g.id,
        nodeId: n.id,
        blockId: n.block_id,
        ...(blockName === undefined ? {} : { blockName }),
        ...(block === undefined ? {} : { weftBlockId: block.id }),
        status: block === undefined ? "missing-block" : "ok",
      })
      if (block === undefined) {
        const entry = missing.get(n.block_id) ?? {
          ...(blockName === undefined ? {} : { blockName }),
          nodes: 0,
        }
        entry.nodes += 1
        missing.set(n.block_id, entry)
      }
      let inputDefault = n.input_default
      if (isAgentExecutor(n, aliasesOf)) {
        const { resolution, inputDefault: rewritten } = resolveSubGraph(g.id, n, sources)
        resolutions.push(resolution)
        if (rewritten !== undefined) inputDefault = rewritten
      }
      return toNode(n, inputDefault)
    })
    return {
      id: g.id,
      version: g.version,
      name: g.name,
      ...(g.description === undefined ? {} : { description: g.description }),
      nodes,
      links: g.links.map(toLink),
    }
  }

  const graph = convert(source)
  const subGraphs = sources.map(convert)
  const validation: Array<GraphValidation> = []
  const credentials: Array<NeededCredentials> = []
  for (const g of [graph, ...subGraphs]) {
    for (const slot of missingCredentials(g, registry))
      credentials.push({
        graphId: g.id,
        nodeId: slot.nodeId,
        field: slot.field,
        provider: providerOf(slot.requirement),
        type: slot.requirement.type,
      })
    // Validated as the host will run it: with its credential fields filled.
    const filled = withCredentials(g, registry, ({ requirement }) => ({
      id: "supplied-at-run-time",
      provider: providerOf(requirement),
      type: requirement.type,
    }))
    const errors = validateGraph(filled, registry)
    if (Object.keys(errors).length > 0) validation.push({ graphId: g.id, version: g.version, errors })
  }
  const missingBlocks = [...missing].map(([blockId, entry]) => ({ blockId, ...entry }))
  const report: ImportReport = {
    format,
    graph: {
      id: graph.id,
      version: graph.version,
      name: graph.name,
      nodes: graph.nodes.length,
      links: graph.links.length,
      subGraphs: subGraphs.length,
    },
    nodes: nodeReports,
    missingBlocks,
    subGraphs: resolutions,
    validation,
    credentials,
    warnings,
    ok:
      missingBlocks.length === 0 &&
      validation.length === 0 &&
      resolutions.every((r) => r.status === "exact" || r.status === "matched"),
  }
  return { graph, subGraphs, report }
}
