import { runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import { blocks, graph } from "./support/graphs.js"

const STEP = "f66a3543-28d3-4ab5-8945-9b336371e2ce"

/** Steps through input `items` (on pin `pin`); each (item, key) pair is rebuilt by a create-dictionary node. */
const stepper = (pin: string, defaults: Record<string, unknown> = {}) =>
  graph(
    [
      ["in", "test/input", { name: "items" }],
      ["step", STEP, defaults],
      ["pair", "b924ddf4-de4f-4b56-9a85-358930dcbc91", { values: {} }],
      ["out", "test/output", { name: "pairs" }],
      ["err", "test/output", { name: "error" }],
    ],
    [
      `in.result -> step.${pin}`,
      "step.item -> pair.values_#_item",
      "step.key -> pair.values_#_key",
      "pair.dictionary -> out.value",
      "step.error -> err.value",
    ],
  )

describe("StepThroughItems in a graph", () => {
  it("10,000 items make 10,000 executions downstream, in order, each item with its own index", async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => `item ${i}`)
    let completed = 0
    const result = await runGraph(stepper("items"), {
      blocks,
      inputs: { items },
      onEvent: (event) => {
        if (event.type === "NodeStatus" && event.nodeId === "pair" && event.status === "COMPLETED")
          completed++
      },
    })
    expect(result.status).toBe("COMPLETED")
    expect(completed).toBe(10_000)
    expect(result.outputs.pairs).toEqual(items.map((item, key) => ({ item, key })))
    expect(result.outputs.error).toBeUndefined()
  })

  it("more than 10,000 items fail before any item is emitted", async () => {
    const items = Array.from({ length: 10_001 }, (_, i) => i)
    const result = await runGraph(stepper("items"), { blocks, inputs: { items } })
    expect(result.outputs).toEqual({ error: ["Too many items: 10001 > 10000"] })
  })

  it("steps through a dictionary value by value, with its keys, in insertion order", async () => {
    const result = await runGraph(stepper("items_object"), {
      blocks,
      inputs: { items: { b: 1, a: [2], c: null } },
    })
    expect(result.outputs.pairs).toEqual([
      { item: 1, key: "b" },
      { item: [2], key: "a" },
      { item: null, key: "c" },
    ])
  })

  it("parses JSON text: a list, a dictionary, or a string (its characters)", async () => {
    const run = async (text: string) =>
      (await runGraph(stepper("items_str"), { blocks, inputs: { items: text } })).outputs
    expect((await run('[{"id": 1}, "two"]')).pairs).toEqual([
      { item: { id: 1 }, key: 0 },
      { item: "two", key: 1 },
    ])
    expect((await run('{"x": true}')).pairs).toEqual([{ item: true, key: "x" }])
    expect((await run('"hé"')).pairs).toEqual([
      { item: "h", key: 0 },
      { item: "é", key: 1 },
    ])
    expect(await run("null")).toEqual({ error: ["'NoneType' object is not iterable"] })
    expect((await run("[1, 2")).error?.[0]).toMatch(/^items_str is not valid JSON/)
    const big = JSON.stringify(["x".repeat(1024 * 1024)])
    expect(await run(big)).toEqual({ error: [`Input too large: ${big.length} bytes > 1048576 bytes`] })
  })

  it("empty sources are skipped; non-empty ones are stepped through one after the other", async () => {
    const g = graph(
      [
        ["step", STEP, { items: [], items_object: { k: "v" }, items_str: "[7]" }],
        ["items", "test/output", { name: "items" }],
        ["keys", "test/output", { name: "keys" }],
      ],
      ["step.item -> items.value", "step.key -> keys.value"],
    )
    const result = await runGraph(g, { blocks })
    expect(result.outputs).toEqual({ items: ["v", 7], keys: ["k", 0] })
  })

  it("nothing at all to step through emits nothing, and the run completes", async () => {
    const result = await runGraph(stepper("items"), { blocks, inputs: { items: [] } })
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({})
  })
})
