import { type Graph, runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import { blocks, graph, type NodeSpec } from "./support/graphs.js"

const run = async (g: Graph, inputs: Record<string, unknown> = {}) => {
  const result = await runGraph(g, { blocks, inputs })
  expect(result.status).toBe("COMPLETED")
  return result.outputs
}

/** One block fed by input `x` (on `pin`), with each of `pins` collected as an output of the same name. */
const single = (
  blockId: string,
  pin: string,
  defaults: Record<string, unknown>,
  pins: ReadonlyArray<string>,
) =>
  graph(
    [
      ["x", "test/input", { name: "x" }],
      ["block", blockId, defaults],
      ...pins.map((p): NodeSpec => [`out_${p}`, "test/output", { name: p }]),
    ],
    [`x.result -> block.${pin}`, ...pins.map((p) => `block.${p} -> out_${p}.value`)],
  )

const CREATE_LIST = "a912d5c7-6e00-4542-b2a9-8034136930e4"
const ADD_TO_LIST = "aeb08fc1-2fc1-4141-bc8e-f758f183a822"
const FIND_IN_LIST = "5e2c6d0a-1e37-489f-b1d0-8e1812b23333"
const GET_ITEM = "262ca24c-1025-43cf-a578-534e23234e97"
const REMOVE = "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826"
const REPLACE = "fbf62922-bea1-4a3d-8bac-23587f810b38"
const CONCAT = "3cf9298b-5817-4141-9d80-7c2cc5199c8e"
const COUNT = "3c9c2f42-b0c3-435f-ba35-05f7a25c772a"
const REVERSE = "422cb708-3109-4277-bfe3-bc2ae5812777"

describe("list blocks in a graph", () => {
  it("CreateList assembles `values` from indexed dynamic pins; AddToList and ReverseListOrder chain", async () => {
    const g = graph(
      [
        ["a", "test/input", { name: "a" }],
        ["b", "test/input", { name: "b" }],
        ["create", CREATE_LIST, { values: [] }],
        ["add", ADD_TO_LIST, { entry: "z", position: 0 }],
        ["reverse", REVERSE],
        ["out", "test/output", { name: "list" }],
      ],
      [
        "a.result -> create.values_$_0",
        "b.result -> create.values_$_1",
        "create.list -> add.list",
        "add.updated_list -> reverse.input_list",
        "reverse.reversed_list -> out.value",
      ],
    )
    expect(await run(g, { a: "first", b: "second" })).toEqual({ list: [["second", "first", "z"]] })
  })

  it("CreateList chunks run the next block once per chunk", async () => {
    const g = single(CREATE_LIST, "values", { max_size: "2" }, ["list"])
    expect(await run(g, { x: [1, 2, 3, 4, 5] })).toEqual({ list: [[1, 2], [3, 4], [5]] })
  })

  it("AddToList accepts a numeric-text position and clamps it like a Python slice", async () => {
    const g = single(ADD_TO_LIST, "position", { list: ["a", "b"], entry: "x" }, ["updated_list"])
    expect(await run(g, { x: "1" })).toEqual({ updated_list: [["a", "x", "b"]] })
    expect(await run(g, { x: 99 })).toEqual({ updated_list: [["a", "b", "x"]] })
    expect(await run(g, { x: -99 })).toEqual({ updated_list: [["x", "a", "b"]] })
  })

  it("FindInList uses Python equality: 1 == 1.0 == true, dictionaries by content", async () => {
    const g = single(FIND_IN_LIST, "value", { list: ["1", true, { a: [1, 2] }] }, [
      "index",
      "found",
      "not_found_value",
    ])
    expect(await run(g, { x: 1 })).toEqual({ index: [1], found: [true] })
    expect(await run(g, { x: { a: [1, 2] } })).toEqual({ index: [2], found: [true] })
    expect(await run(g, { x: 2 })).toEqual({ found: [false], not_found_value: [2] })
  })

  it("GetListItem, RemoveFromList and ReplaceListItem take negative indices and fail out of range", async () => {
    const get = single(GET_ITEM, "index", { list: ["a", "b", "c"] }, ["item", "error"])
    expect(await run(get, { x: -3 })).toEqual({ item: ["a"] })
    expect(await run(get, { x: -4 })).toEqual({ error: ["Index out of range"] })
    expect(await run(get, { x: "1.5" })).toEqual({
      error: ["index: Input should be a valid integer, got a number with a fractional part"],
    })

    const remove = single(REMOVE, "index", { list: ["a", "b", "c"], return_item: true }, [
      "updated_list",
      "removed_item",
      "error",
    ])
    expect(await run(remove, { x: -1 })).toEqual({ updated_list: [["a", "b"]], removed_item: ["c"] })
    expect(await run(remove, { x: 3 })).toEqual({ error: ["Index or value not found"] })

    const byValue = single(REMOVE, "value", { list: [1, 2, 1] }, ["updated_list", "removed_item", "error"])
    expect(await run(byValue, { x: 1 })).toEqual({ updated_list: [[2, 1]] })
    expect(await run(byValue, { x: null })).toEqual({ error: ["Index or value not found"] })

    const replace = single(REPLACE, "index", { list: [1, 2, 3], value: "x" }, [
      "updated_list",
      "old_item",
      "error",
    ])
    expect(await run(replace, { x: -1 })).toEqual({ updated_list: [[1, 2, "x"]], old_item: [3] })
    expect(await run(replace, { x: 3 })).toEqual({ error: ["Index out of range"] })
  })

  it("ConcatenateLists skips nulls and de-duplicates like Python: 1 and 1.0 are one, true and 1 are two", async () => {
    const g = single(CONCAT, "lists", { deduplicate: true, remove_none: true }, [
      "concatenated_list",
      "length",
      "error",
    ])
    expect(
      await run(g, { x: [[1, true, null], null, [1.0, { b: 1, a: 2 }, { a: 2, b: 1 }, [1, 2], [1, 2]]] }),
    ).toEqual({
      concatenated_list: [[1, true, { b: 1, a: 2 }, [1, 2]]],
      length: [4],
    })
    expect(await run(g, { x: [[1], { a: 1 }] })).toEqual({
      error: [
        "Invalid input at index 1: expected a list, got dict. All items in 'lists' must be lists (e.g., [[1, 2], [3, 4]]).",
      ],
    })
  })

  it("CountItems counts list items, dictionary keys and text characters; -1 otherwise", async () => {
    const g = single(COUNT, "collection", {}, ["count"])
    expect(await run(g, { x: [1, [2, 3]] })).toEqual({ count: [2] })
    expect(await run(g, { x: { a: 1 } })).toEqual({ count: [1] })
    expect(await run(g, { x: "😀é" })).toEqual({ count: [2] })
    expect(await run(g, { x: true })).toEqual({ count: [-1] })
    expect(await run(g, { x: null })).toEqual({ count: [-1] })
  })

  it("ListIsEmpty", async () => {
    const g = single("896ed73b-27d0-41be-813c-c1c1dc856c03", "list", {}, ["is_empty"])
    expect(await run(g, { x: [] })).toEqual({ is_empty: [true] })
    expect(await run(g, { x: [null] })).toEqual({ is_empty: [false] })
  })
})
