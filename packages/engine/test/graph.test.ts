import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { decodeGraph, decodeGraphSync, encodeGraph, Graph, Link, Node } from "../src/index.js"

/** A graph with every optional field present. */
const full = {
  id: "g-full",
  version: 3,
  name: "Full",
  description: "Every optional field",
  nodes: [
    {
      id: "in",
      blockId: "t/input",
      inputDefault: { name: "x", value: { nested: [1, "two", null, true] } },
      metadata: { position: { x: 10, y: -2.5 } },
    },
    { id: "out", blockId: "t/output", inputDefault: {}, metadata: {} },
  ],
  links: [
    { id: "l1", sourceId: "in", sourceName: "result", sinkId: "out", sinkName: "value", isStatic: false },
    { sourceId: "in", sourceName: "result_#_a", sinkId: "out", sinkName: "value", isStatic: true },
  ],
}

/** A graph with every optional field absent. */
const minimal = {
  id: "g-min",
  version: 1,
  name: "",
  nodes: [{ id: "a", blockId: "t/pass" }],
  links: [{ sourceId: "a", sourceName: "value", sinkId: "a", sinkName: "value" }],
}

const schemaErrorOf = (json: unknown): Promise<Schema.SchemaError> =>
  Effect.runPromise(Effect.flip(decodeGraph(json)))

describe("Graph schemas", () => {
  it("R4: a graph decodes to the same plain data and encodes back deep-equal, optional fields present", () => {
    const decoded = decodeGraphSync(full)
    expect(decoded).toEqual(full)
    const encoded = encodeGraph(decoded)
    expect(encoded).toEqual(full)
    expect(JSON.parse(JSON.stringify(encoded))).toEqual(full)
  })

  it("R4: optional fields that are absent stay absent through decode and encode (no undefined keys)", () => {
    const encoded = encodeGraph(decodeGraphSync(minimal))
    expect(encoded).toStrictEqual(minimal)
    expect(Object.keys(encoded).sort()).toEqual(["id", "links", "name", "nodes", "version"])
    expect(Object.keys(encoded.nodes[0] ?? {}).sort()).toEqual(["blockId", "id"])
    expect(Object.keys(encoded.links[0] ?? {}).sort()).toEqual([
      "sinkId",
      "sinkName",
      "sourceId",
      "sourceName",
    ])
  })

  it("R4: the effectful decoder round-trips through JSON text losslessly", async () => {
    for (const json of [full, minimal]) {
      const text = JSON.stringify(json)
      const graph = await Effect.runPromise(decodeGraph(JSON.parse(text)))
      expect(JSON.stringify(encodeGraph(graph))).toBe(text)
    }
  })

  it("R4: Node and Link schemas accept their own fields and reject missing or empty required ones", () => {
    const decodeNode = Schema.decodeUnknownSync(Node)
    const decodeLink = Schema.decodeUnknownSync(Link)
    expect(decodeNode({ id: "n", blockId: "b", inputDefault: { k: 1 } })).toEqual({
      id: "n",
      blockId: "b",
      inputDefault: { k: 1 },
    })
    expect(() => decodeNode({ id: "", blockId: "b" })).toThrow(/length of at least 1/)
    expect(() => decodeNode({ id: "n" })).toThrow(/blockId/)
    expect(() => decodeNode({ id: "n", blockId: "b", inputDefault: [1] })).toThrow(/inputDefault/)
    expect(decodeLink({ sourceId: "a", sourceName: "x", sinkId: "b", sinkName: "y" })).toEqual({
      sourceId: "a",
      sourceName: "x",
      sinkId: "b",
      sinkName: "y",
    })
    expect(() => decodeLink({ sourceId: "a", sourceName: "x", sinkId: "b" })).toThrow(/sinkName/)
    expect(() =>
      decodeLink({ sourceId: "a", sourceName: "x", sinkId: "b", sinkName: "y", isStatic: "yes" }),
    ).toThrow(/isStatic/)
  })

  it("R4: a bad graph fails with a SchemaError whose message names the path of the bad value", async () => {
    const badBlockId = await schemaErrorOf({
      ...minimal,
      nodes: [
        { id: "a", blockId: "t/pass" },
        { id: "b", blockId: "" },
      ],
    })
    expect(badBlockId).toBeInstanceOf(Schema.SchemaError)
    expect(badBlockId.message).toContain('["nodes"][1]["blockId"]')

    const badLink = await schemaErrorOf({
      ...minimal,
      links: [{ sourceId: "a", sourceName: 1, sinkId: "a", sinkName: "v" }],
    })
    expect(badLink.message).toContain('["links"][0]["sourceName"]')

    const badVersion = await schemaErrorOf({ ...minimal, version: 0 })
    expect(badVersion.message).toContain('["version"]')
    const fractionalVersion = await schemaErrorOf({ ...minimal, version: 1.5 })
    expect(fractionalVersion.message).toContain('["version"]')

    const missingNodes = await schemaErrorOf({ id: "g", version: 1, name: "g", links: [] })
    expect(missingNodes.message).toContain('["nodes"]')

    expect(() => decodeGraphSync({ ...minimal, id: "" })).toThrow(/\["id"\]/)
  })

  it("R4: Graph is an Effect Schema whose encoded and decoded sides are the same JSON", () => {
    const decoded = Schema.decodeUnknownSync(Graph)(full)
    expect(Schema.encodeSync(Graph)(decoded)).toEqual(full)
    expect(Schema.is(Graph)(full)).toBe(true)
    expect(Schema.is(Graph)({ ...full, version: "3" })).toBe(false)
  })
})
