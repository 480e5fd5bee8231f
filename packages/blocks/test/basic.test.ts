import { type Graph, GraphInvalid, type RunEvent, runBlock, runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import UniversalTypeConverter from "../src/blocks/basic/UniversalTypeConverter.js"
import { coreBlocks } from "../src/index.js"
import { floatRepr, jsonDumps, parseFloatText, pyRepr, pyStr } from "../src/internal/python.js"

const blocks = [coreBlocks]

describe("StoreValue", () => {
  it("its static output feeds every execution downstream (R9)", async () => {
    const graph: Graph = {
      id: "store-static",
      version: 1,
      name: "store static",
      nodes: [
        { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "letters" } },
        {
          id: "each",
          blockId: "weft/text/extract-text-information",
          inputDefault: { pattern: "\\w", find_all: true },
        },
        { id: "store", blockId: "1ff065e9-88e8-4358-9d82-8dc91f622ba9", inputDefault: { data: ">" } },
        {
          id: "fill",
          blockId: "weft/text/fill-text-template",
          inputDefault: { values: {}, format: "{{ p }}{{ x }}" },
        },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "lines" } },
      ],
      links: [
        { sourceId: "in", sourceName: "result", sinkId: "each", sinkName: "text" },
        { sourceId: "in", sourceName: "result", sinkId: "store", sinkName: "input" },
        { sourceId: "each", sourceName: "positive", sinkId: "fill", sinkName: "values_#_x" },
        { sourceId: "store", sourceName: "output", sinkId: "fill", sinkName: "values_#_p" },
        { sourceId: "fill", sourceName: "output", sinkId: "out", sinkName: "value" },
      ],
    }
    const result = await runGraph(graph, { blocks, inputs: { letters: "a b c" } })
    expect(result.outputs).toEqual({ lines: [">a", ">b", ">c"] })
  })

  it("its input is required, as in AutoGPT: a graph that leaves it unset is invalid (R4)", async () => {
    const graph: Graph = {
      id: "store-missing-input",
      version: 1,
      name: "store missing input",
      nodes: [{ id: "store", blockId: "weft/basic/store-value", inputDefault: { data: 1 } }],
      links: [],
    }
    const error = await runGraph(graph, { blocks }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(GraphInvalid)
    expect(Object.keys((error as GraphInvalid).errors.store ?? {})).toEqual(["input"])
  })
})

describe("UniversalTypeConverter", () => {
  // Expected values computed with AutoGPT's conversion rules in CPython (1.0 and 1 are the same in JSON).
  const cases: Array<[unknown, string, unknown]> = [
    [null, "string", "null"],
    [true, "string", "true"],
    [[1, "é", { k: 1.5 }], "string", '[1, "\\u00e9", {"k": 1.5}]'],
    [3, "string", "3"],
    ["1e3", "number", 1000],
    [true, "number", 1],
    [null, "number", 0],
    [{ a: 1, b: 2 }, "number", 2],
    [" -2.5 ", "number", -2.5],
    ["TRUE", "boolean", true],
    ["0", "boolean", false],
    [0, "boolean", false],
    [{ a: 1 }, "boolean", true],
    [null, "boolean", false],
    ["[1, 2", "list", ["[1, 2"]],
    [5, "list", [5]],
    [null, "list", [null]],
    ["[1,2]", "dictionary", { value: [1, 2] }],
    ["{bad", "dictionary", { value: "{bad" }],
    [7, "dictionary", { value: 7 }],
  ]
  it.each(cases)("%j to %s", async (value, type, expected) => {
    expect(await runBlock(UniversalTypeConverter, { value, type })).toEqual([["value", expected]])
  })

  it("infinite or not-a-number results become null, since JSON cannot hold them", async () => {
    expect(await runBlock(UniversalTypeConverter, { value: "-inf", type: "number" })).toEqual([
      ["value", null],
    ])
    expect(await runBlock(UniversalTypeConverter, { value: "NaN", type: "number" })).toEqual([
      ["value", null],
    ])
  })

  it("an unknown type is an invalid input", async () => {
    await expect(runBlock(UniversalTypeConverter, { value: 1, type: "float" })).rejects.toThrow(/type/)
  })
})

describe("PrintToConsole", () => {
  it("writes the value to the run's log and passes it on", async () => {
    const events: Array<RunEvent> = []
    const graph: Graph = {
      id: "print",
      version: 1,
      name: "print",
      nodes: [
        { id: "p", blockId: "weft/basic/print-to-console", inputDefault: { text: { n: [1, null] } } },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "status" } },
      ],
      links: [{ sourceId: "p", sourceName: "status", sinkId: "out", sinkName: "value" }],
    }
    const result = await runGraph(graph, { blocks, onEvent: (e) => events.push(e) })
    expect(result.outputs).toEqual({ status: ["printed"] })
    const logs = events.flatMap((e) => (e.type === "NodeLog" ? [[e.nodeId, e.level, e.message]] : []))
    expect(logs).toEqual([["p", "info", "Print: {'n': [1, None]}"]])
  })
})

describe("Python semantics helpers", () => {
  it("floatRepr writes floats as Python's repr()", () => {
    const pairs: Array<[number, string]> = [
      [1.5, "1.5"],
      [0.1, "0.1"],
      [1e16, "1e+16"],
      [1.5e-7, "1.5e-07"],
      [1e-5, "1e-05"],
      [0.0001, "0.0001"],
      [2.5e15, "2500000000000000.0"],
      [1 / 3, "0.3333333333333333"],
      [5e-324, "5e-324"],
      [-0, "-0.0"],
      [Number.POSITIVE_INFINITY, "inf"],
    ]
    for (const [n, text] of pairs) expect(floatRepr(n), String(n)).toBe(text)
  })

  it("jsonDumps matches Python's json.dumps defaults", () => {
    expect(jsonDumps({ a: 1, é: ["x\u00e9\n", 2.5, null, true], "😀": 1e20, t: "\u007f" })).toBe(
      '{"a": 1, "\\u00e9": ["x\\u00e9\\n", 2.5, null, true], "\\ud83d\\ude00": 1e+20, "t": "\\u007f"}',
    )
  })

  it("pyRepr and pyStr match Python's repr() and str()", () => {
    expect(pyRepr({ a: "it's", b: [1, null, false, 'say "hi"'], d: 0.5 })).toBe(
      `{'a': "it's", 'b': [1, None, False, 'say "hi"'], 'd': 0.5}`,
    )
    expect(pyRepr("both ' and \"")).toBe("'both \\' and \"'")
    expect(pyStr("plain")).toBe("plain")
    expect(pyStr(true)).toBe("True")
  })

  it("parseFloatText follows Python's float() grammar", () => {
    expect(parseFloatText(" 1_000.5 ")).toBe(1000.5)
    expect(parseFloatText("-Infinity")).toBe(Number.NEGATIVE_INFINITY)
    expect(parseFloatText(".5")).toBe(0.5)
    expect(parseFloatText("5.")).toBe(5)
    for (const bad of ["1__0", "_1", "1_", "0x10", "", "1e", "one"])
      expect(parseFloatText(bad), bad).toBeUndefined()
  })
})
