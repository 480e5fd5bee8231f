/**
 * Graph validation (R4) and a graph's input and output schemas (R5).
 *
 * @since 0.1.0
 */
import { Effect, Exit, Schema, SchemaAST, SchemaIssue } from "effect"
import type { AnyBlock } from "./Block.js"
import type { BlockRegistryShape } from "./BlockRegistry.js"
import { baseName, parsePin } from "./DynamicPins.js"
import { GraphInvalid, RunInputInvalid, type ValidationErrors } from "./Errors.js"
import { type Graph, Graph as GraphSchema, type Node } from "./Graph.js"

/** The pin every block has: a failed execution's message is routed on it (R2). */
export const ERROR_PIN = "error"

/** The key under which graph-level problems are reported. */
export const GRAPH_KEY = "$graph"

const put = (errors: ValidationErrors, node: string, field: string, message: string) => {
  const entry = errors[node] ?? {}
  if (entry[field] === undefined) entry[field] = message
  errors[node] = entry
}

/**
 * Checks a graph against R4. Returns `{ nodeId: { field: message } }`; an empty object means valid.
 * Cycles are allowed.
 *
 * @category validation
 */
export const validateGraph = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get"> & Partial<Pick<BlockRegistryShape, "disabled">>,
): ValidationErrors => {
  const errors: ValidationErrors = {}
  const nodes = new Map<string, { node: Node; block: AnyBlock | undefined }>()
  for (const node of graph.nodes) {
    if (nodes.has(node.id)) put(errors, node.id, "id", `duplicate node id ${node.id}`)
    const block = registry.get(node.blockId)
    if (block === undefined) put(errors, node.id, "blockId", `unknown block ${node.blockId}`)
    else {
      const disabled = registry.disabled?.(node.blockId) ?? block.disabled
      if (disabled !== undefined)
        put(errors, node.id, "blockId", `block ${node.blockId} is disabled: ${disabled}`)
    }
    nodes.set(node.id, { node, block })
  }

  const linked = new Map<string, Set<string>>()
  for (const link of graph.links) {
    const source = nodes.get(link.sourceId)
    const sink = nodes.get(link.sinkId)
    if (source === undefined && sink === undefined) {
      put(
        errors,
        GRAPH_KEY,
        `link ${link.sourceId}.${link.sourceName}→${link.sinkId}.${link.sinkName}`,
        "neither node exists",
      )
      continue
    }
    if (source === undefined) {
      put(errors, link.sinkId, link.sinkName, `linked from node ${link.sourceId}, which does not exist`)
      continue
    }
    if (sink === undefined) {
      put(errors, link.sourceId, link.sourceName, `linked to node ${link.sinkId}, which does not exist`)
      continue
    }
    const sourcePin = parsePin(link.sourceName)
    if (typeof sourcePin === "string") put(errors, link.sourceId, link.sourceName, sourcePin)
    else if (
      source.block !== undefined &&
      source.block.openOutputs !== true &&
      sourcePin.base !== ERROR_PIN &&
      !source.block.outputPins.has(sourcePin.base)
    ) {
      put(
        errors,
        link.sourceId,
        link.sourceName,
        `block ${source.block.id} has no output pin "${sourcePin.base}"`,
      )
    }
    const sinkPin = parsePin(link.sinkName)
    if (typeof sinkPin === "string") put(errors, link.sinkId, link.sinkName, sinkPin)
    else if (
      sink.block !== undefined &&
      sink.block.openInputs !== true &&
      !sink.block.inputPins.has(sinkPin.base)
    ) {
      put(errors, link.sinkId, link.sinkName, `block ${sink.block.id} has no input pin "${sinkPin.base}"`)
    }
    const set = linked.get(link.sinkId) ?? new Set<string>()
    set.add(baseName(link.sinkName))
    linked.set(link.sinkId, set)
  }

  const inputNames = new Map<string, string>()
  for (const { node, block } of nodes.values()) {
    if (block === undefined || block.kind === "note") continue
    const defaults = node.inputDefault ?? {}
    const links = linked.get(node.id)
    for (const pin of block.inputPins.values()) {
      if (!pin.required) continue
      if (block.kind === "input" && pin.name === "value") continue // supplied by the run's inputs (R6)
      if (defaults[pin.name] !== undefined || links?.has(pin.name) === true) continue
      put(errors, node.id, pin.name, "required input has no default and no link")
    }
    // Two input nodes cannot share a name: the run's input would be ambiguous. Output nodes may (AutoGPT
    // allows it): their values are collected under that one name, in the order they arrive (R14).
    if (block.kind === "input") {
      const name = defaults.name
      if (typeof name === "string" && name !== "") {
        const other = inputNames.get(name)
        if (other !== undefined)
          put(errors, node.id, "name", `input name "${name}" is also used by node ${other}`)
        else inputNames.set(name, node.id)
      }
    }
  }
  return errors
}

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)
const isOptional = (u: unknown, check: (u: unknown) => boolean) => u === undefined || check(u)
const isString = (u: unknown) => typeof u === "string"

/** A fast structural check of the Graph schema, so that valid graphs skip a full schema decode. */
const looksLikeGraph = (g: unknown): boolean => {
  if (!isObject(g) || typeof g.id !== "string" || g.id === "" || !Number.isInteger(g.version)) return false
  if ((g.version as number) < 1 || typeof g.name !== "string" || !isOptional(g.description, isString))
    return false
  if (!Array.isArray(g.nodes) || !Array.isArray(g.links)) return false
  for (const n of g.nodes as ReadonlyArray<unknown>) {
    if (
      !isObject(n) ||
      typeof n.id !== "string" ||
      n.id === "" ||
      typeof n.blockId !== "string" ||
      n.blockId === ""
    )
      return false
    if (!isOptional(n.inputDefault, isObject) || !isOptional(n.metadata, isObject)) return false
  }
  for (const l of g.links as ReadonlyArray<unknown>) {
    if (!isObject(l) || typeof l.sourceId !== "string" || typeof l.sourceName !== "string") return false
    if (typeof l.sinkId !== "string" || typeof l.sinkName !== "string") return false
    if (!isOptional(l.id, isString) || !isOptional(l.isStatic, (u) => typeof u === "boolean")) return false
  }
  return true
}

/**
 * Checks that a value has the shape of a `Graph` (for callers that pass plain JSON). Returns `undefined`
 * when it does, else `{ path: message }` for every problem, e.g. `{ "nodes.1.blockId": "Expected string" }`.
 *
 * @category validation
 */
export const shapeErrors = (graph: unknown): Record<string, string> | undefined => {
  if (looksLikeGraph(graph)) return undefined
  const result = Schema.decodeUnknownExit(GraphSchema)(graph, { errors: "all" })
  if (Exit.isSuccess(result)) return undefined
  const out: Record<string, string> = {}
  const reason = result.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") return { graph: "is not a graph" }
  for (const issue of formatIssues(reason.error.issue).issues) {
    const path = (issue.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")
    out[path === "" ? "graph" : path] = issue.message
  }
  return out
}

/**
 * Validates a graph, failing with `GraphInvalid` (R4).
 *
 * @category validation
 */
export const checkGraph = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
): Effect.Effect<void, GraphInvalid> =>
  Effect.suspend(() => {
    const shape = shapeErrors(graph)
    if (shape !== undefined) {
      const graphId = typeof (graph as { id?: unknown } | null)?.id === "string" ? graph.id : "(unknown)"
      return Effect.fail(new GraphInvalid({ graphId, errors: { [GRAPH_KEY]: shape } }))
    }
    const errors = validateGraph(graph, registry)
    return Object.keys(errors).length === 0
      ? Effect.void
      : Effect.fail(new GraphInvalid({ graphId: graph.id, errors }))
  })

/**
 * A graph's input and output schemas (R5): one property per input (or output) node, keyed by the node's
 * `name`, typed by that node's `value` schema, and required when the node has no default.
 *
 * @category models
 */
export interface GraphIO {
  readonly inputs: Schema.Struct<Schema.Struct.Fields>
  readonly outputs: Schema.Struct<Schema.Struct.Fields>
  readonly inputJsonSchema: Record<string, unknown>
  readonly outputJsonSchema: Record<string, unknown>
}

const ioFields = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
  kind: "input" | "output",
): Schema.Struct.Fields => {
  const fields: Record<string, Schema.Top> = {}
  for (const node of graph.nodes) {
    const block = registry.get(node.blockId)
    if (block?.kind !== kind) continue
    const name = node.inputDefault?.name
    if (typeof name !== "string" || name === "") continue
    const valueField = block.input.fields.value ?? Schema.Unknown
    const base = Schema.toType(withoutOptionalKey(valueField as Schema.Top)) as Schema.Top
    // AutoGPT exports write `null` for "no default": it does not make the input optional.
    const hasDefault = node.inputDefault?.value !== undefined && node.inputDefault.value !== null
    const annotated =
      typeof node.inputDefault?.description === "string"
        ? base.annotate({ description: node.inputDefault.description })
        : base
    fields[name] = hasDefault ? Schema.optionalKey(annotated) : annotated
  }
  return fields
}

/**
 * A field schema without its optional-key marker (`optionalKey(S)` and `optional(S)` keep the wrapped schema
 * in `schema`): whether a graph input or output is required depends on the node's default alone (R5), not on
 * whether the block's `value` pin is optional.
 */
const withoutOptionalKey = (field: Schema.Top): Schema.Top => {
  let schema = field
  while (SchemaAST.isOptional(schema.ast) && "schema" in schema) {
    schema = (schema as { readonly schema: Schema.Top }).schema
  }
  return schema
}

const jsonSchema = (schema: Schema.Top): Record<string, unknown> =>
  Schema.toJsonSchemaDocument(schema).schema as Record<string, unknown>

/**
 * Derives a graph's input and output schemas (R5).
 *
 * @category validation
 */
export const graphIO = (graph: Graph, registry: Pick<BlockRegistryShape, "get">): GraphIO => {
  const inputs = Schema.Struct(ioFields(graph, registry, "input"))
  const outputs = Schema.Struct(ioFields(graph, registry, "output"))
  let inputJson: Record<string, unknown> | undefined
  let outputJson: Record<string, unknown> | undefined
  return {
    inputs,
    outputs,
    get inputJsonSchema() {
      inputJson ??= jsonSchema(inputs)
      return inputJson
    },
    get outputJsonSchema() {
      outputJson ??= jsonSchema(outputs)
      return outputJson
    },
  }
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Turns a schema failure into `{ field: message }`, keyed by the first path segment.
 *
 * @category validation
 */
export const issuesByField = (error: Schema.SchemaError): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const issue of formatIssues(error.issue).issues) {
    const path = issue.path ?? []
    const head = path[0]
    const key = head === undefined ? GRAPH_KEY : String(typeof head === "object" ? head.key : head)
    const rest = path.slice(1).map((p) => String(typeof p === "object" ? p.key : p))
    const message = rest.length > 0 ? `${issue.message} at ${rest.join(".")}` : issue.message
    out[key] = out[key] === undefined ? message : `${out[key]}; ${message}`
  }
  return out
}

/**
 * Decodes a run's inputs against the graph's input schema (R5).
 *
 * @category validation
 */
export const decodeRunInputs = (
  graph: Graph,
  io: GraphIO,
  inputs: unknown,
): Effect.Effect<Record<string, unknown>, RunInputInvalid> =>
  Schema.decodeUnknownEffect(io.inputs as unknown as Schema.Codec<Record<string, unknown>>)(inputs ?? {}, {
    errors: "all",
    onExcessProperty: "error",
  }).pipe(
    Effect.map((decoded) => ({ ...(decoded as Record<string, unknown>) })),
    Effect.mapError((error) => new RunInputInvalid({ graphId: graph.id, errors: issuesByField(error) })),
  )
