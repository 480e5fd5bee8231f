/**
 * Resolves the sub-graph an AutoGPT agent-executor node runs.
 *
 * An agent-executor node names its sub-graph by `input_default.graph_id` / `graph_version`, but in real
 * exports those ids often match no entry of `sub_graphs` (the store re-ids graphs when it publishes them).
 * A reference is resolved by exact id and version first; failing that, by the sub-graph whose version and
 * input and output schemas equal the copies kept in the node (`input_schema`, `output_schema`), with
 * `agent_name` breaking ties; failing that, by version and the names of the inputs and outputs.
 *
 * @since 0.1.0
 */
import type { AutoGPTGraph, AutoGPTNode } from "./format.js"

/** The AutoGPT block id of the agent executor (`AgentExecutorBlock`). */
export const AGENT_EXECUTOR_BLOCK_ID = "e189baac-8c20-45a1-94a7-55177ea42565"

/**
 * A sub-graph, as a report names it.
 *
 * @category models
 */
export interface SubGraphRef {
  readonly graphId: string
  readonly version: number
  readonly name: string
}

/**
 * How one agent-executor node's sub-graph reference was resolved.
 *
 * - `exact`: the id and version in the node name a sub-graph of the export;
 * - `matched`: found by version and schemas (see `note`); the node now names that sub-graph;
 * - `ambiguous`: several sub-graphs fit equally well (`candidates`); the node is left as it was;
 * - `unresolved`: no sub-graph fits; the node is left as it was.
 *
 * @category models
 */
export interface SubGraphResolution {
  /** The graph that holds the node. */
  readonly graphId: string
  readonly nodeId: string
  /** The reference as the export wrote it. */
  readonly reference: { readonly graphId?: string; readonly version?: number; readonly agentName?: string }
  readonly status: "exact" | "matched" | "ambiguous" | "unresolved"
  readonly resolved?: SubGraphRef
  readonly candidates?: ReadonlyArray<SubGraphRef>
  readonly note: string
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Annotations that exports write inconsistently (`secret: false` present or not): ignored when false. */
const FALSE_BY_DEFAULT = new Set(["secret", "advanced", "hidden"])

/** A JSON Schema in a canonical form: keys sorted, `required` sorted, default-false annotations dropped. */
const normalize = (u: unknown, key?: string): unknown => {
  if (Array.isArray(u)) {
    const items = u.map((item) => normalize(item))
    return key === "required" ? items.map((item) => JSON.stringify(item)).sort() : items
  }
  if (!isRecord(u)) return u
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(u).sort()) {
    const v = u[k]
    if (FALSE_BY_DEFAULT.has(k) && v === false) continue
    out[k] = normalize(v, k)
  }
  return out
}

const sameSchema = (a: unknown, b: unknown): boolean =>
  a !== undefined && b !== undefined && JSON.stringify(normalize(a)) === JSON.stringify(normalize(b))

const propertyNames = (schema: unknown): string | undefined => {
  if (!isRecord(schema) || !isRecord(schema.properties)) return undefined
  return JSON.stringify(Object.keys(schema.properties).sort())
}

const sameNames = (a: unknown, b: unknown): boolean => {
  const left = propertyNames(a)
  return left !== undefined && left === propertyNames(b)
}

const refOf = (graph: AutoGPTGraph): SubGraphRef => ({
  graphId: graph.id,
  version: graph.version,
  name: graph.name,
})

/** Whether a node runs a sub-graph: the AutoGPT agent executor, or a block that aliases it. */
export const isAgentExecutor = (node: AutoGPTNode, aliasesOf: (blockId: string) => ReadonlyArray<string>) =>
  node.block_id === AGENT_EXECUTOR_BLOCK_ID || aliasesOf(node.block_id).includes(AGENT_EXECUTOR_BLOCK_ID)

/**
 * Resolves one agent-executor node against the export's sub-graphs. Returns the resolution and, when the
 * node must now name a different sub-graph, its rewritten `input_default`.
 *
 * @category resolving
 */
export const resolveSubGraph = (
  graphId: string,
  node: AutoGPTNode,
  subGraphs: ReadonlyArray<AutoGPTGraph>,
): { readonly resolution: SubGraphResolution; readonly inputDefault?: Record<string, unknown> } => {
  const defaults = node.input_default
  const refId = typeof defaults.graph_id === "string" ? defaults.graph_id : undefined
  const refVersion = typeof defaults.graph_version === "number" ? defaults.graph_version : undefined
  const agentName = typeof defaults.agent_name === "string" ? defaults.agent_name : undefined
  const reference = {
    ...(refId === undefined ? {} : { graphId: refId }),
    ...(refVersion === undefined ? {} : { version: refVersion }),
    ...(agentName === undefined ? {} : { agentName }),
  }
  const base = { graphId, nodeId: node.id, reference }

  const exact = subGraphs.find(
    (s) => s.id === refId && (refVersion === undefined ? true : s.version === refVersion),
  )
  if (exact !== undefined)
    return {
      resolution: {
        ...base,
        status: "exact",
        resolved: refOf(exact),
        note: "the node names a sub-graph of the export",
      },
    }

  const pool = refVersion === undefined ? subGraphs : subGraphs.filter((s) => s.version === refVersion)
  const tiers: ReadonlyArray<readonly [string, (s: AutoGPTGraph) => boolean]> = [
    [
      "version and input/output schemas",
      (s) =>
        sameSchema(s.input_schema, defaults.input_schema) &&
        sameSchema(s.output_schema, defaults.output_schema),
    ],
    [
      "version and input/output names",
      (s) =>
        sameNames(s.input_schema, defaults.input_schema) &&
        sameNames(s.output_schema, defaults.output_schema),
    ],
  ]
  for (const [how, fits] of tiers) {
    let found = pool.filter(fits)
    let by = refVersion === undefined ? how.replace("version and ", "") : how
    if (found.length > 1 && agentName !== undefined) {
      const named = found.filter((s) => s.name === agentName)
      if (named.length > 0) {
        found = named
        by = `${by} and agent name`
      }
    }
    if (found.length === 1) {
      const sub = found[0]!
      return {
        resolution: {
          ...base,
          status: "matched",
          resolved: refOf(sub),
          note: `matched by ${by}`,
        },
        inputDefault: { ...defaults, graph_id: sub.id, graph_version: sub.version },
      }
    }
    if (found.length > 1)
      return {
        resolution: {
          ...base,
          status: "ambiguous",
          candidates: found.map(refOf),
          note: `${found.length} sub-graphs fit by ${by}`,
        },
      }
  }
  return {
    resolution: {
      ...base,
      status: "unresolved",
      note:
        refId === undefined
          ? "the node names no graph_id"
          : subGraphs.length === 0
            ? "the export has no sub-graphs"
            : "no sub-graph has the same version and input/output schemas",
    },
  }
}
