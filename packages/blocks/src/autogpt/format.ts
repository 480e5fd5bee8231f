/**
 * The AutoGPT Platform's graph export format, as plain types, and a defensive decoder for it.
 *
 * Two shapes are accepted: the current export (a graph with `nodes`, `links` and `sub_graphs`) and the older
 * template format (top-level `is_template`, no `sub_graphs`; some carry an unrelated `subgraphs` map). Fields
 * Weft does not use (`input_links`, `webhook`, `created_at`, …) are ignored. Bad input fails with an
 * `AutoGPTFormatError` naming the JSON path of the first problem.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * A link of an AutoGPT graph: `source_id.source_name → sink_id.sink_name`.
 *
 * @category models
 */
export interface AutoGPTLink {
  readonly id?: string
  readonly source_id: string
  readonly sink_id: string
  readonly source_name: string
  readonly sink_name: string
  readonly is_static?: boolean
}

/**
 * A node of an AutoGPT graph.
 *
 * @category models
 */
export interface AutoGPTNode {
  readonly id: string
  readonly block_id: string
  readonly input_default: Readonly<Record<string, unknown>>
  readonly metadata: Readonly<Record<string, unknown>>
}

/**
 * An AutoGPT graph (a sub-graph has the same shape, without `sub_graphs`).
 *
 * @category models
 */
export interface AutoGPTGraph {
  readonly id: string
  readonly version: number
  readonly is_active?: boolean
  readonly is_template?: boolean
  readonly name: string
  readonly description?: string
  readonly nodes: ReadonlyArray<AutoGPTNode>
  readonly links: ReadonlyArray<AutoGPTLink>
  readonly input_schema?: Readonly<Record<string, unknown>>
  readonly output_schema?: Readonly<Record<string, unknown>>
  readonly sub_graphs?: ReadonlyArray<AutoGPTGraph>
}

/**
 * The input is not an AutoGPT export. `path` is the JSON path of the problem (`nodes.3.block_id`), or
 * `(root)` for the document itself.
 *
 * @category errors
 */
export class AutoGPTFormatError extends Data.TaggedError("AutoGPTFormatError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `Not a valid AutoGPT export: ${this.path}: ${this.reason}`
  }
}

/** What the decoder found besides the graph: which format, and anything it set aside. */
export interface DecodedExport {
  readonly graph: AutoGPTGraph
  readonly format: "graph" | "template"
  readonly warnings: ReadonlyArray<string>
}

type Path = ReadonlyArray<string | number>

const at = (path: Path): string => (path.length === 0 ? "(root)" : path.join("."))

const fail = (path: Path, reason: string): never => {
  throw new AutoGPTFormatError({ path: at(path), reason })
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const kindOf = (u: unknown): string =>
  u === null ? "null" : Array.isArray(u) ? "an array" : typeof u === "object" ? "an object" : typeof u

const record = (u: unknown, path: Path): Record<string, unknown> =>
  isRecord(u) ? u : fail(path, `expected an object, got ${kindOf(u)}`)

const array = (u: unknown, path: Path): ReadonlyArray<unknown> =>
  Array.isArray(u) ? u : fail(path, `expected an array, got ${kindOf(u)}`)

const nonEmptyString = (u: unknown, path: Path): string =>
  typeof u === "string" && u !== "" ? u : fail(path, `expected a non-empty string, got ${kindOf(u)}`)

const string = (u: unknown, path: Path): string =>
  typeof u === "string" ? u : fail(path, `expected a string, got ${kindOf(u)}`)

/** An optional object field: absent or `null` becomes `{}`. */
const optionalRecord = (u: unknown, path: Path): Record<string, unknown> =>
  u === undefined || u === null ? {} : record(u, path)

const decodeLink = (u: unknown, path: Path): AutoGPTLink => {
  const l = record(u, path)
  const id = l.id === undefined || l.id === null ? undefined : string(l.id, [...path, "id"])
  const isStatic = l.is_static
  if (isStatic !== undefined && isStatic !== null && typeof isStatic !== "boolean")
    fail([...path, "is_static"], `expected a boolean, got ${kindOf(isStatic)}`)
  return {
    ...(id === undefined ? {} : { id }),
    source_id: nonEmptyString(l.source_id, [...path, "source_id"]),
    sink_id: nonEmptyString(l.sink_id, [...path, "sink_id"]),
    source_name: nonEmptyString(l.source_name, [...path, "source_name"]),
    sink_name: nonEmptyString(l.sink_name, [...path, "sink_name"]),
    ...(typeof isStatic === "boolean" ? { is_static: isStatic } : {}),
  }
}

const decodeNode = (u: unknown, path: Path): AutoGPTNode => {
  const n = record(u, path)
  return {
    id: nonEmptyString(n.id, [...path, "id"]),
    block_id: nonEmptyString(n.block_id, [...path, "block_id"]),
    input_default: optionalRecord(n.input_default, [...path, "input_default"]),
    metadata: optionalRecord(n.metadata, [...path, "metadata"]),
  }
}

/**
 * Links of a graph whose top-level `links` list is missing, gathered from its nodes' `input_links` and
 * `output_links` (each link once).
 */
const linksFromNodes = (nodes: ReadonlyArray<unknown>, path: Path): Array<AutoGPTLink> => {
  const links: Array<AutoGPTLink> = []
  const seen = new Set<string>()
  nodes.forEach((node, i) => {
    if (!isRecord(node)) return
    for (const key of ["input_links", "output_links"] as const) {
      const list = node[key]
      if (list === undefined || list === null) continue
      array(list, [...path, "nodes", i, key]).forEach((raw, j) => {
        const link = decodeLink(raw, [...path, "nodes", i, key, j])
        const identity = link.id ?? `${link.source_id}.${link.source_name}>${link.sink_id}.${link.sink_name}`
        if (seen.has(identity)) return
        seen.add(identity)
        links.push(link)
      })
    }
  })
  return links
}

const decodeGraph = (u: unknown, path: Path, warnings: Array<string>, nested: boolean): AutoGPTGraph => {
  const g = record(u, path)
  const where = path.length === 0 ? "" : ` (${at(path)})`
  const id = nonEmptyString(g.id, [...path, "id"])
  let version = 1
  if (g.version === undefined || g.version === null) warnings.push(`graph ${id} has no version: using 1`)
  else if (typeof g.version === "number" && Number.isInteger(g.version) && g.version >= 1) version = g.version
  else fail([...path, "version"], `expected an integer of at least 1, got ${JSON.stringify(g.version)}`)
  const name = g.name === undefined || g.name === null ? "" : string(g.name, [...path, "name"])
  const description =
    g.description === undefined || g.description === null
      ? undefined
      : string(g.description, [...path, "description"])
  if (g.nodes === undefined) fail([...path, "nodes"], "missing: an AutoGPT graph lists its nodes")
  const rawNodes = array(g.nodes, [...path, "nodes"])
  const nodes = rawNodes.map((n, i) => decodeNode(n, [...path, "nodes", i]))
  let links: Array<AutoGPTLink>
  if (g.links === undefined || g.links === null) {
    links = linksFromNodes(rawNodes, path)
    if (links.length > 0) warnings.push(`graph ${id}${where} has no links list: links taken from its nodes`)
  } else {
    links = array(g.links, [...path, "links"]).map((l, i) => decodeLink(l, [...path, "links", i]))
  }
  let subGraphs: Array<AutoGPTGraph> | undefined
  if (!nested && g.sub_graphs !== undefined && g.sub_graphs !== null) {
    subGraphs = array(g.sub_graphs, [...path, "sub_graphs"]).map((s, i) =>
      decodeGraph(s, [...path, "sub_graphs", i], warnings, true),
    )
  } else if (nested && Array.isArray(g.sub_graphs) && g.sub_graphs.length > 0) {
    warnings.push(`sub-graph ${id}${where} lists sub-graphs of its own: they are ignored`)
  }
  if (isRecord(g.subgraphs) && Object.keys(g.subgraphs).length > 0)
    warnings.push(`graph ${id}${where} has a legacy "subgraphs" map: it is ignored`)
  return {
    id,
    version,
    ...(typeof g.is_active === "boolean" ? { is_active: g.is_active } : {}),
    ...(typeof g.is_template === "boolean" ? { is_template: g.is_template } : {}),
    name,
    ...(description === undefined ? {} : { description }),
    nodes,
    links,
    ...(isRecord(g.input_schema) ? { input_schema: g.input_schema } : {}),
    ...(isRecord(g.output_schema) ? { output_schema: g.output_schema } : {}),
    ...(subGraphs === undefined ? {} : { sub_graphs: subGraphs }),
  }
}

/**
 * Decodes an AutoGPT export (current or template format). Throws `AutoGPTFormatError` naming the path
 * of the first problem.
 *
 * @category decoding
 */
export const decodeAutoGPT = (json: unknown): DecodedExport => {
  const warnings: Array<string> = []
  const graph = decodeGraph(json, [], warnings, false)
  const format =
    isRecord(json) && json.is_template === true && json.sub_graphs === undefined ? "template" : "graph"
  return { graph, format, warnings }
}

/**
 * Whether a JSON value looks like an AutoGPT export rather than a Weft graph: its nodes carry `block_id`,
 * its links `source_id`, or it has `sub_graphs` or `is_template`.
 *
 * @category predicates
 */
export const isAutoGPTExport = (json: unknown): boolean => {
  if (!isRecord(json)) return false
  const nodes = Array.isArray(json.nodes) ? json.nodes : []
  const links = Array.isArray(json.links) ? json.links : []
  if (nodes.some((n) => isRecord(n) && "block_id" in n)) return true
  if (nodes.some((n) => isRecord(n) && "blockId" in n)) return false
  if (links.some((l) => isRecord(l) && "source_id" in l)) return true
  if (links.some((l) => isRecord(l) && "sourceId" in l)) return false
  return "sub_graphs" in json || "is_template" in json
}
