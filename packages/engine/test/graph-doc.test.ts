/**
 * `GraphDoc`: the Yjs layout of a graph round-trips, concurrent edits converge, dangling links are dropped
 * when read, and each user's undo manager undoes only that user's edits.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { type Graph, GraphDoc, makeRegistry, validateGraph } from "../src/index.js"
import { graph, testBlocks } from "./support.js"

const registry = Effect.runSync(makeRegistry([testBlocks]))

/** Sends every update either doc lacks to the other. */
const sync = (a: Y.Doc, b: Y.Doc): void => {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)))
}

/** A replica of `doc`, started from its full state. */
const replica = (doc: Y.Doc): Y.Doc => {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  return copy
}

const adder: Graph = {
  ...graph(
    [
      ["a", "t/number-input", { name: "a" }],
      ["b", "t/const", { value: 2 }],
      {
        id: "sum",
        blockId: "t/add",
        inputDefault: { a: 1, b: { nested: [1, 2, { deep: true }] } },
        metadata: { position: { x: 10, y: -4 }, color: "red" },
      },
      ["out", "t/output", { name: "sum" }],
    ],
    [
      "a.result -> sum.a",
      "b.value => sum.b",
      { id: "l-out", sourceId: "sum", sourceName: "sum", sinkId: "out", sinkName: "value" },
    ],
    "adder",
  ),
  description: "Adds two numbers.",
}

const loop = graph(
  [
    ["n", "t/note", { text: "a loop" }],
    ["p", "t/pass", { value: 0 }],
    ["q", "t/pass", { value: 1 }],
  ],
  ["p.value -> q.value", "q.value -> p.value"],
  "loop",
)

const empty = graph([], [], "empty")

describe("GraphDoc mapping", () => {
  it.each([adder, loop, empty])("round-trips graph $id through a doc", (g) => {
    expect(validateGraph(g, registry)).toEqual({})
    const doc = GraphDoc.fromGraph(g)
    expect(GraphDoc.toGraph(doc)).toEqual(g)
    // and through a replica built from the encoded state
    expect(GraphDoc.toGraph(replica(doc))).toEqual(g)
  })

  it("applies the edit helpers", () => {
    const doc = GraphDoc.fromGraph(loop)
    GraphDoc.addNode(doc, { id: "c", blockId: "t/const", inputDefault: { value: "x" } })
    GraphDoc.moveNode(doc, "c", { x: 3, y: 4 })
    const id = GraphDoc.connect(doc, { sourceId: "c", sourceName: "value", sinkId: "p", sinkName: "value" })
    GraphDoc.setInput(doc, "p", "value", 42)
    GraphDoc.setName(doc, "renamed")
    GraphDoc.setDescription(doc, "described")
    const g = GraphDoc.toGraph(doc)
    expect(g.name).toBe("renamed")
    expect(g.description).toBe("described")
    expect(g.nodes.at(-1)).toEqual({
      id: "c",
      blockId: "t/const",
      inputDefault: { value: "x" },
      metadata: { position: { x: 3, y: 4 } },
    })
    expect(g.nodes.find((n) => n.id === "p")?.inputDefault).toEqual({ value: 42 })
    expect(g.links.at(-1)).toEqual({ id, sourceId: "c", sourceName: "value", sinkId: "p", sinkName: "value" })
    expect(validateGraph(g, registry)).toEqual({})

    GraphDoc.disconnect(doc, id)
    expect(GraphDoc.toGraph(doc).links.some((l) => l.id === id)).toBe(false)
    GraphDoc.removeNode(doc, "p")
    const after = GraphDoc.toGraph(doc)
    expect(after.nodes.map((n) => n.id)).toEqual(["n", "q", "c"])
    expect(after.links).toEqual([])
    // the links are gone from the doc itself, not only hidden when read
    expect(doc.getMap("links").size).toBe(0)
    expect(validateGraph(after, registry)).toEqual({})
  })

  it("runs each edit in one transaction with the given origin", () => {
    const doc = GraphDoc.fromGraph(loop)
    const origins: Array<unknown> = []
    doc.on("afterTransaction", (tr: Y.Transaction) => {
      origins.push(tr.origin)
    })
    GraphDoc.removeNode(doc, "p", "alice")
    GraphDoc.setInput(doc, "q", "value", 5, "bob")
    expect(origins).toEqual(["alice", "bob"])
  })

  it("gives fresh ids that differ across calls and replicas", () => {
    const a = GraphDoc.fromGraph(loop)
    const b = replica(a)
    const ids = new Set([GraphDoc.newId(a), GraphDoc.newId(a), GraphDoc.newId(b), GraphDoc.newId(b)])
    expect(ids.size).toBe(4)
  })

  it("skips malformed entries when reading", () => {
    const doc = GraphDoc.fromGraph(loop)
    doc.transact(() => {
      const bad = new Y.Map<unknown>()
      bad.set("blockId", 7)
      doc.getMap<Y.Map<unknown>>("nodes").set("bad", bad)
      const link = new Y.Map<unknown>()
      link.set("sourceId", "p")
      doc.getMap<Y.Map<unknown>>("links").set("half", link)
    })
    expect(GraphDoc.toGraph(doc)).toEqual(loop)
  })
})

describe("GraphDoc concurrent edits", () => {
  it("keeps concurrent edits of different input fields of one node", () => {
    const a = GraphDoc.fromGraph(adder)
    const b = replica(a)
    GraphDoc.setInput(a, "sum", "a", 100, "alice")
    GraphDoc.setInput(b, "sum", "b", 200, "bob")
    sync(a, b)
    for (const doc of [a, b]) {
      expect(GraphDoc.toGraph(doc).nodes.find((n) => n.id === "sum")?.inputDefault).toEqual({
        a: 100,
        b: 200,
      })
    }
  })

  it("converges concurrent edits of one field to one value", () => {
    const a = GraphDoc.fromGraph(adder)
    const b = replica(a)
    GraphDoc.setInput(a, "sum", "a", "from a")
    GraphDoc.setInput(b, "sum", "a", "from b")
    GraphDoc.moveNode(a, "sum", { x: 1, y: 1 })
    GraphDoc.moveNode(b, "sum", { x: 2, y: 2 })
    GraphDoc.setName(a, "name a")
    GraphDoc.setName(b, "name b")
    sync(a, b)
    const ga = GraphDoc.toGraph(a)
    expect(GraphDoc.toGraph(b)).toEqual(ga)
    expect(["from a", "from b"]).toContain(ga.nodes.find((n) => n.id === "sum")?.inputDefault?.a)
    expect(["name a", "name b"]).toContain(ga.name)
  })

  it("drops a link to a node deleted concurrently, on both replicas", () => {
    const a = GraphDoc.fromGraph(loop)
    const b = replica(a)
    GraphDoc.addNode(a, { id: "c", blockId: "t/const", inputDefault: { value: 1 } })
    sync(a, b)
    GraphDoc.removeNode(a, "c", "alice")
    const linkId = GraphDoc.connect(b, { sourceId: "c", sourceName: "value", sinkId: "q", sinkName: "value" })
    expect(GraphDoc.toGraph(b).links.map((l) => l.id)).toContain(linkId)
    sync(a, b)
    for (const doc of [a, b]) {
      const g = GraphDoc.toGraph(doc)
      expect(g.nodes.map((n) => n.id)).toEqual(["n", "p", "q"])
      expect(g.links.some((l) => l.sourceId === "c")).toBe(false)
      expect(validateGraph(g, registry)).toEqual({})
    }
    // the link is still stored (another peer added it), only not read
    expect(b.getMap("links").has(linkId)).toBe(true)
    expect(GraphDoc.toGraph(a)).toEqual(GraphDoc.toGraph(b))
  })

  it("undoes only the local user's edits", () => {
    const a = GraphDoc.fromGraph(adder)
    const b = replica(a)
    const undoA = GraphDoc.undoManager(a, "alice", { captureTimeout: 0 })
    const undoB = GraphDoc.undoManager(b, "bob", { captureTimeout: 0 })
    GraphDoc.setInput(a, "sum", "a", 100, "alice")
    GraphDoc.moveNode(a, "b", { x: 9, y: 9 }, "alice")
    GraphDoc.setInput(b, "sum", "b", 200, "bob")
    GraphDoc.addNode(b, { id: "extra", blockId: "t/note" }, "bob")
    sync(a, b)
    // an edit with another origin on a's replica is not a's to undo
    GraphDoc.setName(a, "untracked", "someone-else")
    expect(undoA.undoStack.length).toBe(2)

    undoA.undo() // the move
    undoA.undo() // the input edit
    sync(a, b)
    for (const doc of [a, b]) {
      const g = GraphDoc.toGraph(doc)
      const sum = g.nodes.find((n) => n.id === "sum")
      expect(sum?.inputDefault).toEqual({ a: 1, b: 200 })
      expect(g.nodes.find((n) => n.id === "b")?.metadata).toBeUndefined()
      expect(g.nodes.some((n) => n.id === "extra")).toBe(true)
      expect(g.name).toBe("untracked")
    }
    undoB.undo() // removes "extra"
    sync(a, b)
    expect(GraphDoc.toGraph(a).nodes.some((n) => n.id === "extra")).toBe(false)
    expect(GraphDoc.toGraph(a).nodes.find((n) => n.id === "sum")?.inputDefault).toEqual({ a: 1, b: 200 })
    undoA.redo()
    sync(a, b)
    expect(GraphDoc.toGraph(b).nodes.find((n) => n.id === "sum")?.inputDefault).toEqual({ a: 100, b: 200 })
  })
})

describe("toGraph of a document a peer wrote odd values into", () => {
  const base = () =>
    GraphDoc.fromGraph({
      id: "g",
      version: 1,
      name: "odd",
      nodes: [
        { id: "n", blockId: "b", inputDefault: { text: "plain" }, metadata: { position: { x: 1, y: 2 } } },
      ],
      links: [],
    })

  it("reads shared types nested in values as their JSON", () => {
    const doc = base()
    const node = doc.getMap<Y.Map<Y.Map<unknown>>>("nodes").get("n")
    const text = new Y.Text("typed")
    node?.get("inputDefault")?.set("text", text)
    const position = new Y.Map<unknown>()
    node?.get("metadata")?.set("position", position)
    position.set("x", 5)
    const g = GraphDoc.toGraph(doc)
    expect(g.nodes[0]?.inputDefault).toEqual({ text: "typed" })
    expect(g.nodes[0]?.metadata).toEqual({ position: { x: 5 } })
    expect(JSON.parse(JSON.stringify(g))).toEqual(g)
  })

  it("skips node and link entries that are not maps", () => {
    const doc = base()
    doc.getMap<unknown>("nodes").set("junk", "not a node")
    doc.getMap<unknown>("nodes").set("nothing", null)
    doc.getMap<unknown>("links").set("l", 42)
    const g = GraphDoc.toGraph(doc)
    expect(g.nodes.map((n) => n.id)).toEqual(["n"])
    expect(g.links).toEqual([])
  })
})
