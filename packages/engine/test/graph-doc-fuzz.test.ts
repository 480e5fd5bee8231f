/**
 * Fuzz test of `GraphDoc`: 5 in-memory peers make seeded random edits (add, move and remove nodes, connect
 * and disconnect, set inputs, rename) while split into random partitions that only exchange updates
 * within a group. After a full sync every replica reads the same graph, and every graph read on the way
 * validates against the test blocks.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as Y from "yjs"
import { type AnyBlock, type Graph, GraphDoc, makeRegistry, validateGraph } from "../src/index.js"
import { testBlocks } from "./support.js"

const registry = Effect.runSync(makeRegistry([testBlocks]))

/**
 * Blocks the fuzzer may place: input blocks are left out, since two of them may not share a name and two
 * peers could pick one concurrently.
 */
const blocks: ReadonlyArray<AnyBlock> = registry
  .list()
  .filter((b) => b.kind !== "input" && registry.disabled(b.id) === undefined)

/** A small seeded PRNG (mulberry32): a float in [0, 1). */
const mulberry32 = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Random = ReturnType<typeof mulberry32>
const int = (random: Random, n: number): number => Math.floor(random() * n)
const pick = <A>(random: Random, items: ReadonlyArray<A>): A | undefined =>
  items.length === 0 ? undefined : items[int(random, items.length)]

/** Sends every update `from` has and `to` lacks. */
const push = (from: Y.Doc, to: Y.Doc): void => {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))
}

const base: Graph = {
  id: "fuzz",
  version: 1,
  name: "fuzz",
  nodes: [
    { id: "c", blockId: "t/const", inputDefault: { value: 1 } },
    { id: "p", blockId: "t/pass", inputDefault: { value: 0 } },
  ],
  links: [{ id: "cp", sourceId: "c", sourceName: "value", sinkId: "p", sinkName: "value" }],
}

interface Peer {
  readonly doc: Y.Doc
  readonly origin: string
}

const blockOf = (g: Graph, nodeId: string): AnyBlock | undefined => {
  const node = g.nodes.find((n) => n.id === nodeId)
  return node === undefined ? undefined : registry.get(node.blockId)
}

/** One random edit by `peer`, chosen against the graph it currently reads. */
const edit = (random: Random, peer: Peer): void => {
  const { doc, origin } = peer
  const g = GraphDoc.toGraph(doc)
  const node = pick(random, g.nodes)
  const roll = random()
  if (roll < 0.2 || node === undefined) {
    const block = pick(random, blocks)
    if (block === undefined) return
    const inputDefault: Record<string, unknown> = {}
    for (const pin of block.inputPins.values()) if (pin.required) inputDefault[pin.name] = int(random, 100)
    GraphDoc.addNode(
      doc,
      {
        id: GraphDoc.newId(doc),
        blockId: block.id,
        inputDefault,
        metadata: { position: { x: int(random, 500), y: int(random, 500) } },
      },
      origin,
    )
  } else if (roll < 0.32) {
    GraphDoc.moveNode(doc, node.id, { x: int(random, 500), y: int(random, 500) }, origin)
  } else if (roll < 0.42) {
    GraphDoc.removeNode(doc, node.id, origin)
  } else if (roll < 0.62) {
    const sink = pick(random, g.nodes)
    const sourcePin = pick(random, [...(blockOf(g, node.id)?.outputPins.keys() ?? [])])
    const sinkPin = pick(random, [
      ...(sink === undefined ? [] : (blockOf(g, sink.id)?.inputPins.keys() ?? [])),
    ])
    if (sink === undefined || sourcePin === undefined || sinkPin === undefined) return
    GraphDoc.connect(
      doc,
      {
        sourceId: node.id,
        sourceName: sourcePin,
        sinkId: sink.id,
        sinkName: sinkPin,
        isStatic: random() < 0.2,
      },
      origin,
    )
  } else if (roll < 0.72) {
    const link = pick(random, g.links)
    if (link?.id !== undefined) GraphDoc.disconnect(doc, link.id, origin)
  } else if (roll < 0.9) {
    const field = pick(random, [...(blockOf(g, node.id)?.inputPins.keys() ?? [])])
    if (field !== undefined) GraphDoc.setInput(doc, node.id, field, int(random, 1000), origin)
  } else {
    GraphDoc.setName(doc, `name ${int(random, 1000)}`, origin)
  }
}

/** Splits peer indexes into 1 to 3 random groups. */
const partition = (random: Random, n: number): ReadonlyArray<number> => {
  const groups = 1 + int(random, 3)
  return Array.from({ length: n }, () => int(random, groups))
}

const run = (seed: number, ops: number) => {
  const random = mulberry32(seed)
  const origin = GraphDoc.fromGraph(base)
  const state = Y.encodeStateAsUpdate(origin)
  const peers: ReadonlyArray<Peer> = Array.from({ length: 5 }, (_, i) => {
    const doc = new Y.Doc()
    // fixed client ids make a seed's run (ids and conflict winners) reproducible
    doc.clientID = seed * 10 + i + 1
    Y.applyUpdate(doc, state)
    return { doc, origin: `peer-${i}` }
  })
  let groups = partition(random, peers.length)
  const invalid: Array<unknown> = []
  for (let op = 0; op < ops; op++) {
    if (op % 25 === 0) groups = partition(random, peers.length)
    const i = int(random, peers.length)
    const peer = peers[i] as Peer
    edit(random, peer)
    if (random() < 0.4) {
      const j = int(random, peers.length)
      if (j !== i && groups[j] === groups[i]) {
        const other = peers[j] as Peer
        push(peer.doc, other.doc)
        push(other.doc, peer.doc)
        for (const d of [peer.doc, other.doc]) {
          const errors = validateGraph(GraphDoc.toGraph(d), registry)
          if (Object.keys(errors).length > 0) invalid.push({ op, errors: JSON.stringify(errors) })
        }
      }
    }
  }
  for (let round = 0; round < 2; round++) {
    for (const a of peers) for (const b of peers) if (a !== b) push(a.doc, b.doc)
  }
  const graphs = peers.map((p) => GraphDoc.toGraph(p.doc))
  return { graphs, invalid }
}

describe("GraphDoc fuzz", () => {
  const seeds = Array.from({ length: 20 }, (_, i) => i + 1)
  it.each(seeds)("seed %i: 5 partitioned peers converge to one valid graph", (seed) => {
    const { graphs, invalid } = run(seed, 200)
    expect(invalid).toEqual([])
    const first = graphs[0] as Graph
    for (const g of graphs.slice(1)) expect(g).toEqual(first)
    expect(validateGraph(first, registry)).toEqual({})
    // the run did something: the graph grew beyond the base
    expect(first.nodes.length + first.links.length).toBeGreaterThan(0)
  })

  it("is deterministic for one seed", () => {
    expect(run(7, 120).graphs[0]).toEqual(run(7, 120).graphs[0])
  })
})
