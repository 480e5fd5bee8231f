import { runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import { blocks, graph } from "./support/graphs.js"

/** A graph input `in` → find-in-dictionary (key `key`) → outputs `found`, `missing` and `error`. */
const finder = (key: unknown) =>
  graph(
    [
      ["in", "test/input", { name: "data" }],
      ["find", "0e50422c-6dee-4145-83d6-3a5a392f65de", { key }],
      ["found", "test/output", { name: "found" }],
      ["missing", "test/output", { name: "missing" }],
      ["error", "test/output", { name: "error" }],
    ],
    [
      "in.result -> find.input",
      "find.output -> found.value",
      "find.missing -> missing.value",
      "find.error -> error.value",
    ],
  )

const find = async (data: unknown, key: unknown) => {
  const result = await runGraph(finder(key), { blocks, inputs: { data } })
  expect(result.status).toBe("COMPLETED")
  return result.outputs
}

describe("FindInDictionary in a graph", () => {
  it("finds a dictionary key, and routes a missing one to `missing` unchanged", async () => {
    expect(await find({ title: "Weft", n: 0 }, "n")).toEqual({ found: [0] })
    expect(await find({ title: "Weft" }, "author")).toEqual({ missing: [{ title: "Weft" }] })
  })

  it("a key whose value is null or false is still found", async () => {
    expect(await find({ a: null }, "a")).toEqual({ found: [null] })
    expect(await find({ a: false }, "a")).toEqual({ found: [false] })
  })

  it("indexes a list with an integer or a numeric string, within range only", async () => {
    expect(await find(["a", "b", "c"], 2)).toEqual({ found: ["c"] })
    expect(await find(["a", "b", "c"], "0")).toEqual({ found: ["a"] })
    expect(await find(["a", "b", "c"], 3)).toEqual({ missing: [["a", "b", "c"]] })
    expect(await find(["a", "b", "c"], -1)).toEqual({ missing: [["a", "b", "c"]] })
    // A string key on a list of plain values finds nothing to project: AutoGPT emits an empty list.
    expect(await find(["a", "b", "c"], "7")).toEqual({ found: [[]] })
    expect(await find(["a", "b", "c"], "x")).toEqual({ found: [[]] })
    expect(await find([], "x")).toEqual({ found: [[]] })
  })

  it("projects a key across a list of dictionaries, skipping those without it", async () => {
    const people = [{ name: "Ada", age: 36 }, { age: 41 }, { name: "Grace" }]
    expect(await find(people, "name")).toEqual({ found: [["Ada", "Grace"]] })
    // AutoGPT only projects when the first item holds the key.
    expect(await find(people.slice(1), "name")).toEqual({ found: [[]] })
  })

  it("reads nested objects key by key", async () => {
    expect(await find({ user: { profile: { city: "Lyon" } } }, "user")).toEqual({
      found: [{ profile: { city: "Lyon" } }],
    })
    expect(await find({ 1: "one" }, 1)).toEqual({ found: ["one"] })
  })

  it("parses JSON text first, and routes the original text to `missing`", async () => {
    expect(await find('{"title": "Weft"}', "title")).toEqual({ found: ["Weft"] })
    expect(await find("[10, 20, 30]", 1)).toEqual({ found: [20] })
    expect(await find('[{"id": 1}, {"id": 2}]', "id")).toEqual({ found: [[1, 2]] })
    expect(await find('{"title": "Weft"}', "author")).toEqual({ missing: ['{"title": "Weft"}'] })
    expect(await find("42", "x")).toEqual({ missing: ["42"] })
  })

  it("fails on text that is not JSON, routing the message on `error`", async () => {
    const outputs = await find("{title: Weft}", "title")
    expect(outputs.error).toEqual(["input is not valid JSON: {title: Weft}"])
    expect(outputs.found).toBeUndefined()
  })

  it("a number or null input is missing the key", async () => {
    expect(await find(5, "x")).toEqual({ missing: [5] })
    expect(await find(null, "x")).toEqual({ missing: [null] })
  })
})

describe("dictionary blocks in a graph", () => {
  it("CreateDictionary assembles `values` from dynamic pins, AddToDictionary extends it", async () => {
    const g = graph(
      [
        ["name", "test/input", { name: "name" }],
        ["age", "test/input", { name: "age" }],
        ["create", "b924ddf4-de4f-4b56-9a85-358930dcbc91", { values: {} }],
        [
          "add",
          "31d1064e-7446-4693-a7d4-65e5ca1180d1",
          { key: "role", value: "admin", entries: { team: "core" } },
        ],
        ["out", "test/output", { name: "profile" }],
      ],
      [
        "name.result -> create.values_#_name",
        "age.result -> create.values_#_age",
        "create.dictionary -> add.dictionary",
        "add.updated_dictionary -> out.value",
      ],
    )
    const result = await runGraph(g, { blocks, inputs: { name: "Ada", age: 36 } })
    expect(result.outputs).toEqual({ profile: [{ name: "Ada", age: 36, role: "admin", team: "core" }] })
  })

  it("AddToDictionary does not change the dictionary it was given", async () => {
    const original = { a: 1 }
    const g = graph(
      [
        ["in", "test/input", { name: "d" }],
        ["add", "31d1064e-7446-4693-a7d4-65e5ca1180d1", { key: "b", value: 2 }],
        ["out", "test/output", { name: "d" }],
      ],
      ["in.result -> add.dictionary", "add.updated_dictionary -> out.value"],
    )
    const result = await runGraph(g, { blocks, inputs: { d: original } })
    expect(result.outputs).toEqual({ d: [{ a: 1, b: 2 }] })
    expect(original).toEqual({ a: 1 })
  })

  it("Remove and Replace fail on a missing key through the error pin; IsEmpty tells empty from not", async () => {
    const g = graph(
      [
        [
          "remove",
          "46afe2ea-c613-43f8-95ff-6692c3ef6876",
          { dictionary: { a: 1, b: 2 }, key: "a", return_value: true },
        ],
        ["replace", "27e31876-18b6-44f3-ab97-f6226d8b3889", { key: "zzz", value: 1 }],
        ["empty", "a3cf3f64-6bb9-4cc6-9900-608a0b3359b0"],
        ["rest", "test/output", { name: "rest" }],
        ["removed", "test/output", { name: "removed" }],
        ["error", "test/output", { name: "error" }],
        ["isEmpty", "test/output", { name: "isEmpty" }],
      ],
      [
        "remove.updated_dictionary -> rest.value",
        "remove.removed_value -> removed.value",
        "remove.updated_dictionary -> replace.dictionary",
        "replace.error -> error.value",
        "remove.updated_dictionary -> empty.dictionary",
        "empty.is_empty -> isEmpty.value",
      ],
    )
    const result = await runGraph(g, { blocks })
    expect(result.outputs).toEqual({
      rest: [{ b: 2 }],
      removed: [1],
      error: ["Key 'zzz' not found in dictionary"],
      isEmpty: [false],
    })
  })
})
