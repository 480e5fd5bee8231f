import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Block, BlockFailed, checkExamples, runBlock, runBlockEffect } from "../src/index.js"

const Split = Block.make({
  id: "t/split",
  title: "Split",
  description: "Splits a text on a delimiter, yielding each part and then the list.",
  categories: ["text"],
  input: Schema.Struct({ text: Schema.String, delimiter: Schema.String }),
  output: Schema.Struct({ part: Schema.String, parts: Schema.Array(Schema.String) }),
  examples: [
    {
      description: "comma",
      input: { text: "a,b", delimiter: "," },
      output: [
        ["part", "a"],
        ["part", "b"],
        ["parts", ["a", "b"]],
      ],
    },
    {
      description: "empty delimiter fails",
      input: { text: "a", delimiter: "" },
      output: [["error", "empty delimiter"]],
    },
  ],
  *run({ text, delimiter }) {
    if (delimiter === "") throw new Error("empty delimiter")
    const parts = text.split(delimiter)
    for (const part of parts) yield ["part", part] as const
    yield ["parts", parts] as const
  },
})

describe("single-block runs and examples", () => {
  it("R1 R2: runBlock collects outputs in order and turns a failure into a final error pair", async () => {
    expect(await runBlock(Split, { text: "x;y;z", delimiter: ";" })).toEqual([
      ["part", "x"],
      ["part", "y"],
      ["part", "z"],
      ["parts", ["x", "y", "z"]],
    ])
    expect(await runBlock(Split, { text: "x", delimiter: "" })).toEqual([["error", "empty delimiter"]])
  })

  it("R3: runBlock refuses invalid input with BlockFailed naming the field", async () => {
    const error = await Effect.runPromise(Effect.flip(runBlockEffect(Split, { text: null, delimiter: "," })))
    if (!(error instanceof BlockFailed)) throw new Error(`expected BlockFailed, got ${error._tag}`)
    expect(error.reason).toBe("InvalidInput")
    expect(error.field).toBe("text")
    expect(error.message).toMatch(/text: Expected string/)
  })

  it("R1: checkExamples passes correct examples and reports a wrong one with its actual outputs", async () => {
    expect((await checkExamples(Split)).map((r) => r.passed)).toEqual([true, true])
    const wrong = Block.make({
      ...Split,
      id: "t/split-wrong",
      examples: [{ input: { text: "a,b", delimiter: "," }, output: [["parts", ["a", "b"]]] }],
    })
    const [result] = await checkExamples(wrong)
    expect(result?.passed).toBe(false)
    expect(result?.actual.length).toBe(3)
  })
})
