/**
 * `GraphDoc`: a graph as a Yjs document, so that many people can edit it at once.
 *
 * Layout of the `Y.Doc` (three top-level maps):
 *
 * - `meta`: `id`, `version`, `name` and (optionally) `description` of the graph.
 * - `nodes`: node id → `Y.Map` with `blockId`, `order` (a number that sorts the nodes), `inputDefault` (a
 *   `Y.Map` of field → value, so two people editing different fields both win) and `metadata` (a `Y.Map` of
 *   key → value; the position lives under `metadata.position` as `{ x, y }`).
 * - `links`: link key → `Y.Map` with `sourceId`, `sourceName`, `sinkId`, `sinkName`, `order` and optionally
 *   `id` and `isStatic`. The key is the link's id when it has one.
 *
 * Nested maps are created together with their node, never lazily: two peers creating the same nested map at
 * once would make one of them lose its edits. Each value is last-writer-wins, so a field edited by two people
 * converges. `toGraph` drops links whose source or sink node is missing (e.g. deleted concurrently), and sorts
 * nodes and links by `order` then key, so every replica reads the same graph.
 *
 * @since 0.1.0
 */
import * as Y from "yjs"
import { decodeGraphSync, type Graph, type Link, type Node } from "./Graph.js"

/** The top-level types of a graph document. */
interface Parts {
  readonly meta: Y.Map<unknown>
  readonly nodes: Y.Map<Y.Map<unknown>>
  readonly links: Y.Map<Y.Map<unknown>>
}

const parts = (doc: Y.Doc): Parts => ({
  meta: doc.getMap<unknown>("meta"),
  nodes: doc.getMap<Y.Map<unknown>>("nodes"),
  links: doc.getMap<Y.Map<unknown>>("links"),
})

/** A `Y.Map` holding the entries of a plain object (values stay plain JSON). */
const mapOf = (record: Readonly<Record<string, unknown>> | undefined): Y.Map<unknown> => {
  const map = new Y.Map<unknown>()
  for (const [key, value] of Object.entries(record ?? {})) if (value !== undefined) map.set(key, value)
  return map
}

/** The next `order` after every entry of `map` (as this replica sees it). */
const nextOrder = (map: Y.Map<Y.Map<unknown>>): number => {
  let max = -1
  for (const entry of map.values()) {
    const order = entry.get("order")
    if (typeof order === "number" && order > max) max = order
  }
  return max + 1
}

const nodeMap = (node: Node, order: number): Y.Map<unknown> => {
  const map = new Y.Map<unknown>()
  map.set("blockId", node.blockId)
  map.set("order", order)
  map.set("inputDefault", mapOf(node.inputDefault))
  map.set("metadata", mapOf(node.metadata))
  return map
}

const linkMap = (link: Link, order: number): Y.Map<unknown> => {
  const map = new Y.Map<unknown>()
  if (link.id !== undefined) map.set("id", link.id)
  map.set("sourceId", link.sourceId)
  map.set("sourceName", link.sourceName)
  map.set("sinkId", link.sinkId)
  map.set("sinkName", link.sinkName)
  if (link.isStatic !== undefined) map.set("isStatic", link.isStatic)
  map.set("order", order)
  return map
}

const issued = new WeakMap<Y.Doc, number>()

/** A key for a new entry that no other replica can pick: this client's id, its clock and a local counter. */
const freshKey = (doc: Y.Doc, prefix: string): string => {
  const count = (issued.get(doc) ?? 0) + 1
  issued.set(doc, count)
  const clock = Y.getState(doc.store, doc.clientID)
  return `${prefix}${doc.clientID.toString(36)}-${clock.toString(36)}-${count.toString(36)}`
}

/**
 * Writes `graph` into `doc` (which should be empty), in one transaction with `origin`.
 *
 * @category constructors
 */
export const into = (doc: Y.Doc, graph: Graph, origin?: unknown): Y.Doc => {
  const { meta, nodes, links } = parts(doc)
  doc.transact(() => {
    meta.set("id", graph.id)
    meta.set("version", graph.version)
    meta.set("name", graph.name)
    if (graph.description !== undefined) meta.set("description", graph.description)
    graph.nodes.forEach((node, i) => {
      nodes.set(node.id, nodeMap(node, i))
    })
    graph.links.forEach((link, i) => {
      links.set(link.id ?? `link-${i}`, linkMap(link, i))
    })
  }, origin)
  return doc
}

/**
 * A new document holding `graph`. Peers that will sync must all start from one such document (apply its
 * state as an update), not each call `fromGraph`: two independent copies each create their own nested maps,
 * and after a sync one copy's maps replace the other's wholesale.
 *
 * @category constructors
 */
export const fromGraph = (graph: Graph): Y.Doc => into(new Y.Doc(), graph)

/** A value as JSON: shared types a peer nested inside a value (a `Y.Text`, a `Y.Map`) become their JSON. */
const json = (value: unknown): unknown => (value instanceof Y.AbstractType ? value.toJSON() : value)

const plain = (map: unknown): Record<string, unknown> | undefined => {
  if (!(map instanceof Y.Map)) return undefined
  const out: Record<string, unknown> = {}
  for (const [key, value] of map.entries()) if (value !== undefined) out[key] = json(value)
  return Object.keys(out).length === 0 ? undefined : out
}

const byOrder = <A extends { readonly order: number; readonly key: string }>(a: A, b: A): number =>
  a.order - b.order || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

const orderOf = (map: Y.Map<unknown>): number => {
  const order = map.get("order")
  return typeof order === "number" ? order : Number.MAX_SAFE_INTEGER
}

const str = (u: unknown): u is string => typeof u === "string"

/**
 * Reads the graph held by `doc`. Entries that are not maps, nodes without a block id and malformed links are
 * skipped, shared types nested in values are read as their JSON, and links whose
 * source or sink node is missing are dropped. The result is decoded with the `Graph` schema (which throws
 * when the document's meta is not a graph's, e.g. an empty document).
 *
 * Empty `inputDefault` and `metadata` objects are left out.
 *
 * @category conversions
 */
export const toGraph = (doc: Y.Doc): Graph => {
  const { meta, nodes, links } = parts(doc)
  const nodeList: Array<{ order: number; key: string; node: Node }> = []
  for (const [id, map] of nodes.entries()) {
    if (!(map instanceof Y.Map)) continue
    const blockId = map.get("blockId")
    if (!str(blockId) || blockId === "" || id === "") continue
    const inputDefault = plain(map.get("inputDefault"))
    const metadata = plain(map.get("metadata"))
    nodeList.push({
      order: orderOf(map),
      key: id,
      node: {
        id,
        blockId,
        ...(inputDefault === undefined ? {} : { inputDefault }),
        ...(metadata === undefined ? {} : { metadata }),
      },
    })
  }
  const present = new Set(nodeList.map((n) => n.key))
  const linkList: Array<{ order: number; key: string; link: Link }> = []
  for (const [key, map] of links.entries()) {
    if (!(map instanceof Y.Map)) continue
    const id = map.get("id")
    const sourceId = map.get("sourceId")
    const sourceName = map.get("sourceName")
    const sinkId = map.get("sinkId")
    const sinkName = map.get("sinkName")
    const isStatic = map.get("isStatic")
    if (!str(sourceId) || !str(sourceName) || !str(sinkId) || !str(sinkName)) continue
    if (!present.has(sourceId) || !present.has(sinkId)) continue
    linkList.push({
      order: orderOf(map),
      key,
      link: {
        ...(str(id) ? { id } : {}),
        sourceId,
        sourceName,
        sinkId,
        sinkName,
        ...(typeof isStatic === "boolean" ? { isStatic } : {}),
      },
    })
  }
  const description = meta.get("description")
  const name = meta.get("name")
  return decodeGraphSync({
    id: meta.get("id"),
    version: meta.get("version"),
    // an undo racing a concurrent rename can leave the name unset (see `undoManager`)
    name: str(name) ? name : "",
    ...(str(description) ? { description } : {}),
    nodes: nodeList.sort(byOrder).map((n) => n.node),
    links: linkList.sort(byOrder).map((l) => l.link),
  })
}

/**
 * Adds a node (with its block id, input defaults and metadata). Replaces a node with the same id.
 *
 * @category edits
 */
export const addNode = (doc: Y.Doc, node: Node, origin?: unknown): void => {
  const { nodes } = parts(doc)
  doc.transact(() => {
    nodes.set(node.id, nodeMap(node, nextOrder(nodes)))
  }, origin)
}

/**
 * Moves a node: sets `metadata.position` to `{ x, y }`. Does nothing when the node is gone.
 *
 * @category edits
 */
export const moveNode = (
  doc: Y.Doc,
  nodeId: string,
  position: { readonly x: number; readonly y: number },
  origin?: unknown,
): void => {
  const node = parts(doc).nodes.get(nodeId)
  const metadata = node?.get("metadata")
  if (!(metadata instanceof Y.Map)) return
  doc.transact(() => {
    metadata.set("position", { x: position.x, y: position.y })
  }, origin)
}

/**
 * Removes a node and every link from or to it (as this replica sees them; links added concurrently by others
 * are dropped by `toGraph`).
 *
 * @category edits
 */
export const removeNode = (doc: Y.Doc, nodeId: string, origin?: unknown): void => {
  const { nodes, links } = parts(doc)
  doc.transact(() => {
    nodes.delete(nodeId)
    for (const [key, link] of [...links.entries()]) {
      if (link.get("sourceId") === nodeId || link.get("sinkId") === nodeId) links.delete(key)
    }
  }, origin)
}

/**
 * Adds a link and returns its id (`link.id` when given, else a fresh one).
 *
 * @category edits
 */
export const connect = (doc: Y.Doc, link: Link, origin?: unknown): string => {
  const { links } = parts(doc)
  const id = link.id ?? freshKey(doc, "l")
  doc.transact(() => {
    links.set(id, linkMap({ ...link, id }, nextOrder(links)))
  }, origin)
  return id
}

/**
 * Removes a link by id.
 *
 * @category edits
 */
export const disconnect = (doc: Y.Doc, linkId: string, origin?: unknown): void => {
  const { links } = parts(doc)
  doc.transact(() => {
    links.delete(linkId)
  }, origin)
}

/**
 * Sets one input default of a node (`undefined` removes it). Does nothing when the node is gone.
 *
 * @category edits
 */
export const setInput = (
  doc: Y.Doc,
  nodeId: string,
  field: string,
  value: unknown,
  origin?: unknown,
): void => {
  const inputs = parts(doc).nodes.get(nodeId)?.get("inputDefault")
  if (!(inputs instanceof Y.Map)) return
  doc.transact(() => {
    if (value === undefined) inputs.delete(field)
    else inputs.set(field, value)
  }, origin)
}

/**
 * Renames the graph.
 *
 * @category edits
 */
export const setName = (doc: Y.Doc, name: string, origin?: unknown): void => {
  doc.transact(() => {
    parts(doc).meta.set("name", name)
  }, origin)
}

/**
 * Sets (or, with `undefined`, removes) the graph's description.
 *
 * @category edits
 */
export const setDescription = (doc: Y.Doc, description: string | undefined, origin?: unknown): void => {
  const { meta } = parts(doc)
  doc.transact(() => {
    if (description === undefined) meta.delete("description")
    else meta.set("description", description)
  }, origin)
}

/**
 * An undo manager over the whole graph that tracks only edits made with `origin`: each user undoes their own
 * edits, never another's. `options` pass on to `Y.UndoManager` (e.g. `captureTimeout`, which merges edits made
 * within that many milliseconds into one undo step; 500 by default).
 *
 * Known limit: undoing a value that another peer overwrote concurrently can leave that key unset (e.g. a
 * required input with no default), so a graph read after such an undo may fail `validateGraph`.
 *
 * @category undo
 */
export const undoManager = (
  doc: Y.Doc,
  origin: unknown,
  options: { readonly captureTimeout?: number } = {},
): Y.UndoManager => {
  const { meta, nodes, links } = parts(doc)
  return new Y.UndoManager([meta, nodes, links], {
    trackedOrigins: new Set([origin]),
    ...(options.captureTimeout === undefined ? {} : { captureTimeout: options.captureTimeout }),
  })
}

/**
 * A fresh id for a node or link, unique across replicas (client id, clock and a counter).
 *
 * @category constructors
 */
export const newId = (doc: Y.Doc, prefix = "n"): string => freshKey(doc, prefix)
