import { runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import { blocks, graph } from "./support/graphs.js"

const CONDITION = "715696a0-e1da-45c8-b209-c2fa9c3b0be6"
const IF_MATCHES = "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2"
const CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"

/** value1 and value2 as graph inputs into a condition, with its three outputs and `error` collected. */
const condition = (defaults: Record<string, unknown>) =>
  graph(
    [
      ["v1", "test/input", { name: "v1" }],
      ["v2", "test/input", { name: "v2" }],
      ["cond", CONDITION, defaults],
      ["result", "test/output", { name: "result" }],
      ["yes", "test/output", { name: "yes" }],
      ["no", "test/output", { name: "no" }],
      ["error", "test/output", { name: "error" }],
    ],
    [
      "v1.result -> cond.value1",
      "v2.result -> cond.value2",
      "cond.result -> result.value",
      "cond.yes_output -> yes.value",
      "cond.no_output -> no.value",
      "cond.error -> error.value",
    ],
  )

const compare = async (v1: unknown, operator: string, v2: unknown, extra: Record<string, unknown> = {}) => {
  const result = await runGraph(condition({ operator, ...extra }), { blocks, inputs: { v1, v2 } })
  expect(result.status).toBe("COMPLETED")
  return result.outputs
}

describe("Condition in a graph", () => {
  it('routes to yes or no, comparing numeric text as numbers ("10" > 9)', async () => {
    const branch = { yes_value: "big", no_value: "small" }
    expect(await compare("10", ">", 9, branch)).toEqual({ result: [true], yes: ["big"] })
    expect(await compare("10", ">", "9", branch)).toEqual({ result: [true], yes: ["big"] })
    expect(await compare(" 2.5 ", "<=", "2.50", branch)).toEqual({ result: [true], yes: ["big"] })
    expect(await compare("1e3", "==", 1000, branch)).toEqual({ result: [true], yes: ["big"] })
    expect(await compare("1_000", "==", 1000, branch)).toEqual({ result: [true], yes: ["big"] })
    expect(await compare("9", ">", "10", branch)).toEqual({ result: [false], no: ["small"] })
  })

  it("every operator", async () => {
    const results = await Promise.all(
      ["==", "!=", ">", "<", ">=", "<="].map(async (op) => (await compare(3, op, "3")).result?.[0]),
    )
    expect(results).toEqual([true, false, false, false, true, true])
  })

  it("without yes/no values, emits the coerced value1 on yes and the coerced value2 on no", async () => {
    expect(await compare("7", ">", 1)).toEqual({ result: [true], yes: [7] })
    expect(await compare("7", "<", " 8 ")).toEqual({ result: [true], yes: [7] })
    expect(await compare("7", ">", " 8 ")).toEqual({ result: [false], no: [8] })
    expect(await compare(" x ", "==", "y")).toEqual({ result: [false], no: ["y"] })
    expect(await compare("inf", ">", 1)).toEqual({ result: [true], yes: ["inf"] })
  })

  it("compares texts by code point, booleans as numbers, lists element by element", async () => {
    expect((await compare("apple", "<", "banana")).result).toEqual([true])
    expect((await compare("Zebra", "<", "apple")).result).toEqual([true])
    expect((await compare("\uffff", "<", "😀")).result).toEqual([true])
    expect((await compare(true, "==", 1)).result).toEqual([true])
    expect((await compare(true, ">", 0)).result).toEqual([true])
    expect((await compare([1, 2, 3], "<", [1, 3])).result).toEqual([true])
    expect((await compare([1, 2], "<", [1, 2, 0])).result).toEqual([true])
    expect((await compare({ a: 1 }, "==", { a: 1 })).result).toEqual([true])
    expect((await compare(null, "==", null)).result).toEqual([true])
  })

  it("an ordering Python refuses fails the execution, routed on `error`", async () => {
    expect(await compare("abc", ">", 1)).toEqual({
      error: ["Comparison failed: '>' not supported between instances of 'str' and 'int'"],
    })
    expect(await compare({ a: 1 }, "<", { a: 2 })).toEqual({
      error: ["Comparison failed: '<' not supported between instances of 'dict' and 'dict'"],
    })
    expect(await compare(null, ">=", 1)).toEqual({
      error: ["Comparison failed: '>=' not supported between instances of 'NoneType' and 'int'"],
    })
    // Equality never fails.
    expect((await compare("abc", "!=", 1)).result).toEqual([true])
  })

  it("an unknown operator is invalid input", async () => {
    const outputs = await compare(1, "=~", 1)
    expect(outputs.error?.[0]).toMatch(/operator/)
  })
})

describe("IfInputMatches in a graph", () => {
  const matches = async (input: unknown, value: unknown) => {
    const g = graph(
      [
        ["i", "test/input", { name: "i" }],
        ["v", "test/input", { name: "v" }],
        ["match", IF_MATCHES, { yes_value: "yes", no_value: "no" }],
        ["out", "test/output", { name: "out" }],
        ["result", "test/output", { name: "result" }],
      ],
      [
        "i.result -> match.input",
        "v.result -> match.value",
        "match.yes_output -> out.value",
        "match.no_output -> out.value",
        "match.result -> result.value",
      ],
    )
    const result = await runGraph(g, { blocks, inputs: { i: input, v: value } })
    const out = result.outputs.out?.[0]
    expect(result.outputs.result).toEqual([out === "yes"])
    return out
  }

  it("converts the value to the input's type before comparing", async () => {
    expect(await matches(10, "10")).toBe("yes")
    expect(await matches(10, "10.9")).toBe("yes") // int(float("10.9")) == 10
    expect(await matches(10.5, "10.5")).toBe("yes")
    expect(await matches(10, "ten")).toBe("no") // int() fails: 0
    expect(await matches(0, "ten")).toBe("yes") // …and 0 == 0
    expect(await matches(3, [1, 2, 3])).toBe("yes") // a list converts to its length
    expect(await matches(true, "True")).toBe("yes")
    expect(await matches(true, "1")).toBe("yes")
    expect(await matches(false, "no")).toBe("yes") // only "true" and "1" are true
    expect(await matches("[1, 2]", [1, 2])).toBe("yes") // json.dumps
    expect(await matches('{"a": "é"}', { a: "é" })).toBe("no") // json.dumps escapes non-ASCII…
    expect(await matches('{"a": "\\u00e9"}', { a: "é" })).toBe("yes") // …as \u00e9
    expect(await matches([1, 2], " [1, 2] ")).toBe("yes")
    expect(await matches(["x"], "x")).toBe("yes")
    expect(await matches({ a: 1 }, '{"a": 1}')).toBe("yes")
    expect(await matches({ value: 5 }, 5)).toBe("yes")
  })

  it("null never converts; true equals 1 without conversion", async () => {
    expect(await matches(10, null)).toBe("no")
    expect(await matches(null, null)).toBe("yes")
    expect(await matches(null, "")).toBe("no")
    expect(await matches(1, true)).toBe("yes")
  })
})

describe("Calculator in a graph", () => {
  const calc = async (operation: string, a: unknown, b: unknown, round_result = false) => {
    const g = graph(
      [
        ["a", "test/input", { name: "a" }],
        ["calc", CALCULATOR, { operation, b, round_result }],
        ["out", "test/output", { name: "result" }],
        ["err", "test/output", { name: "error" }],
      ],
      ["a.result -> calc.a", "calc.result -> out.value", "calc.error -> err.value"],
    )
    const result = await runGraph(g, { blocks, inputs: { a } })
    return result.outputs
  }

  it("computes, and rounds halves to even", async () => {
    expect(await calc("Subtract", 1, 3)).toEqual({ result: [-2] })
    expect(await calc("Multiply", "1.5", "4")).toEqual({ result: [6] })
    expect(await calc("Power", 2, -1)).toEqual({ result: [0.5] })
    expect(await calc("Divide", 0.1, 0.3)).toEqual({ result: [0.1 / 0.3] })
    expect(await calc("Divide", 5, 2, true)).toEqual({ result: [2] })
    expect(await calc("Divide", 7, 2, true)).toEqual({ result: [4] })
    expect(await calc("Subtract", -2.5, 0, true)).toEqual({ result: [-2] })
    expect(await calc("Add", 0.6, 0, true)).toEqual({ result: [1] })
  })

  it("gives null where AutoGPT gives infinity or NaN", async () => {
    expect(await calc("Divide", 1, 0)).toEqual({ result: [null] })
    expect(await calc("Divide", 0, "0")).toEqual({ result: [null] })
    expect(await calc("Power", 10, 400)).toEqual({ result: [null] })
    expect(await calc("Power", -8, 0.5)).toEqual({ result: [null] })
    expect(await calc("Divide", 1, 0, true)).toEqual({ result: [null] })
  })

  it("fails on text that is not a number, and on an unknown operation", async () => {
    expect(await calc("Add", "twelve", 1)).toEqual({
      error: ["a: Input should be a valid number, unable to parse string as a number"],
    })
    const unknown = await calc("Modulo", 1, 1)
    expect(unknown.error?.[0]).toMatch(/operation/)
  })
})
