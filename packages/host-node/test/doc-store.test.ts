/**
 * `DocStore` on Postgres and PGlite: a process that holds the stored revision replaces it; a process whose
 * revision is stale merges, so two processes storing the same document never drop each other's edits; a
 * document of a missing graph is not stored.
 */
import { GraphDoc } from "@weft/engine"
import { Effect, type ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Y from "yjs"
import { DocStore, type DocStoreShape } from "../src/collab/DocStore.js"
import { GraphStore } from "../src/GraphStore.js"
import { createDatabase, drivers, rows, type Stores, storesRuntime, type TestDatabase } from "./support/db.js"

const graph = (id: string) => ({
  id,
  version: 1,
  name: "Doc",
  nodes: [{ id: "a", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } }],
  links: [],
})

describe.each(drivers)("DocStore on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Stores, never>
  /** A store of its own, as another process would have (its own record of the revisions it holds). */
  const process = () =>
    runtime.runPromise(DocStore.use((store) => Effect.succeed(store)).pipe(Effect.provide(DocStore.layer)))
  const run = <A>(effect: Effect.Effect<A, unknown>) => runtime.runPromise(Effect.orDie(effect))
  const revisionOf = async (graphId: string) =>
    (
      await rows<{ revision: string }>(
        runtime,
        "SELECT revision::text AS revision FROM graph_docs WHERE graph_id = $1",
        [graphId],
      )
    )[0]?.revision
  const storedDoc = async (store: DocStoreShape, graphId: string) => {
    const doc = new Y.Doc()
    const state = await run(store.load(graphId))
    if (state !== undefined) Y.applyUpdate(doc, state)
    return doc
  }

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = storesRuntime(db)
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  it("replaces the revision it holds, and merges when another process wrote since", async () => {
    const { id } = await runtime.runPromise(GraphStore.use((s) => s.create("alice", graph("doc-merge"))))
    const one = await process()
    const two = await process()

    const docOne = GraphDoc.fromGraph(graph(id))
    await run(one.store(id, Y.encodeStateAsUpdate(docOne)))
    expect(await revisionOf(id)).toBe("1")
    GraphDoc.setName(docOne, "renamed by one")
    await run(one.store(id, Y.encodeStateAsUpdate(docOne)))
    expect(await revisionOf(id)).toBe("2")
    // Holding revision 1 → 2, process one replaced the state: it is exactly its document's.
    const raw = await rows<{ state: Uint8Array }>(
      runtime,
      "SELECT state FROM graph_docs WHERE graph_id = $1",
      [id],
    )
    expect(Buffer.from(raw[0]?.state ?? []).equals(Buffer.from(Y.encodeStateAsUpdate(docOne)))).toBe(true)

    const docTwo = await storedDoc(two, id)
    expect(GraphDoc.toGraph(docTwo).name).toBe("renamed by one")
    // Both edit, without hearing of each other (no Redis), and both store.
    GraphDoc.addNode(docOne, { id: "x", blockId: "weft/io/agent-output", inputDefault: { name: "x" } })
    GraphDoc.addNode(docTwo, { id: "y", blockId: "weft/io/agent-output", inputDefault: { name: "y" } })
    await run(one.store(id, Y.encodeStateAsUpdate(docOne)))
    await run(two.store(id, Y.encodeStateAsUpdate(docTwo)))
    GraphDoc.setDescription(docOne, "one again")
    await run(one.store(id, Y.encodeStateAsUpdate(docOne)))

    const final = GraphDoc.toGraph(await storedDoc(await process(), id))
    expect(final.nodes.map((n) => n.id).sort()).toEqual(["a", "x", "y"])
    expect(final.description).toBe("one again")
    expect(final.name).toBe("renamed by one")
  })

  it("concurrent first stores of two processes keep both", async () => {
    const { id } = await runtime.runPromise(GraphStore.use((s) => s.create("alice", graph("doc-race"))))
    const [one, two] = [await process(), await process()]
    const docOne = new Y.Doc()
    docOne.getMap("meta").set("name", "one")
    const docTwo = new Y.Doc()
    docTwo.getMap("nodes").set("n2", new Y.Map())
    await Promise.all([
      run(one.store(id, Y.encodeStateAsUpdate(docOne))),
      run(two.store(id, Y.encodeStateAsUpdate(docTwo))),
    ])
    const stored = await storedDoc(await process(), id)
    expect(stored.getMap("meta").get("name")).toBe("one")
    expect(stored.getMap("nodes").has("n2")).toBe(true)
  })

  it("of two seeds created at once one is stored, and both processes get it and hold its revision", async () => {
    const { id } = await runtime.runPromise(GraphStore.use((s) => s.create("alice", graph("doc-seed"))))
    const [one, two] = [await process(), await process()]
    const seedOne = Y.encodeStateAsUpdate(GraphDoc.fromGraph(graph(id)))
    const seedTwo = Y.encodeStateAsUpdate(GraphDoc.fromGraph(graph(id)))
    expect(Buffer.from(seedOne).equals(Buffer.from(seedTwo))).toBe(false)
    const [gotOne, gotTwo] = await Promise.all([run(one.create(id, seedOne)), run(two.create(id, seedTwo))])
    expect(Buffer.from(gotOne).equals(Buffer.from(gotTwo))).toBe(true)
    expect([seedOne, seedTwo].some((seed) => Buffer.from(seed).equals(Buffer.from(gotOne)))).toBe(true)
    expect(await revisionOf(id)).toBe("1")
    // Each holds the stored revision, so its next store replaces the state (no merge, revision 2 then 3).
    const docOne = new Y.Doc()
    Y.applyUpdate(docOne, gotOne)
    GraphDoc.setName(docOne, "one")
    await run(one.store(id, Y.encodeStateAsUpdate(docOne)))
    expect(await revisionOf(id)).toBe("2")
    // A create after the first finds the stored state and leaves it.
    const late = await run((await process()).create(id, seedTwo))
    expect(Buffer.from(late).equals(Buffer.from(Y.encodeStateAsUpdate(docOne)))).toBe(true)
    expect(await revisionOf(id)).toBe("2")
    // Of a missing graph nothing is stored.
    expect(await run(one.create("no-such-graph", seedOne))).toEqual(seedOne)
    expect(await run(one.exists("no-such-graph"))).toBe(false)
  })

  it("does not store the document of a graph that does not exist", async () => {
    const one = await process()
    const doc = new Y.Doc()
    doc.getMap("meta").set("name", "orphan")
    await run(one.store("no-such-graph", Y.encodeStateAsUpdate(doc)))
    expect(await run(one.exists("no-such-graph"))).toBe(false)
    expect(await run(one.load("no-such-graph"))).toBeUndefined()
  })
})
