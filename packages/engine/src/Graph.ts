/**
 * The graph model: graphs, nodes and links as Effect Schemas.
 *
 * A graph is plain JSON. Decoding and encoding it round-trips losslessly:
 * `encode(decode(json))` deep-equals `json` for every valid graph.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Free-form JSON object, used for node defaults and metadata.
 *
 * @category models
 */
export const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

/**
 * A node: one instance of a block in a graph.
 *
 * - `inputDefault` holds the values of unlinked input pins (and defaults of linked ones, which a linked
 *   value always overrides, R8).
 * - `metadata` is UI data such as `{ position: { x, y } }`; the engine never reads it.
 *
 * @category models
 */
export const Node = Schema.Struct({
  id: Schema.String.check(Schema.isNonEmpty()),
  blockId: Schema.String.check(Schema.isNonEmpty()),
  inputDefault: Schema.optionalKey(JsonObject),
  metadata: Schema.optionalKey(JsonObject),
})
/** @category models */
export interface Node extends Schema.Schema.Type<typeof Node> {}

/**
 * A link: `sourceId.sourceName → sinkId.sinkName`. Pin names may carry dynamic suffixes (R11).
 * A static link's value is reused by every execution of the sink (R9).
 *
 * @category models
 */
export const Link = Schema.Struct({
  id: Schema.optionalKey(Schema.String),
  sourceId: Schema.String,
  sourceName: Schema.String,
  sinkId: Schema.String,
  sinkName: Schema.String,
  isStatic: Schema.optionalKey(Schema.Boolean),
})
/** @category models */
export interface Link extends Schema.Schema.Type<typeof Link> {}

/**
 * A graph: a versioned set of nodes and the links between them. Cycles are allowed (R4).
 *
 * @category models
 */
export const Graph = Schema.Struct({
  id: Schema.String.check(Schema.isNonEmpty()),
  version: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  name: Schema.String,
  description: Schema.optionalKey(Schema.String),
  nodes: Schema.Array(Node),
  links: Schema.Array(Link),
})
/** @category models */
export interface Graph extends Schema.Schema.Type<typeof Graph> {}

/**
 * Decodes unknown JSON into a `Graph`, failing with a `SchemaError` that names the path.
 *
 * @category constructors
 */
export const decodeGraph = Schema.decodeUnknownEffect(Graph)

/**
 * Decodes unknown JSON into a `Graph`, throwing on bad input. For plain-TS callers.
 *
 * @category constructors
 */
export const decodeGraphSync = Schema.decodeUnknownSync(Graph)

/**
 * Encodes a `Graph` back to JSON.
 *
 * @category constructors
 */
export const encodeGraph = Schema.encodeSync(Graph)
