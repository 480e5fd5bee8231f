import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Block, runBlock } from "../src/index.js"

const Typed = Block.make({
  id: "t/typed",
  title: "Typed",
  description: "Echoes typed inputs.",
  categories: ["test"],
  input: Schema.Struct({
    n: Schema.optional(Schema.Number),
    s: Schema.optional(Schema.String),
    b: Schema.optional(Schema.Boolean),
    list: Schema.optional(Schema.Array(Schema.Unknown)),
    dict: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
    either: Schema.optional(Schema.Union([Schema.Number, Schema.Array(Schema.Number)])),
  }),
  output: Schema.Struct({ input: Schema.Unknown }),
  run: (input) => ({ input }),
})

const echo = async (input: Record<string, unknown>) => (await runBlock(Typed, input))[0]?.[1]

describe("input conversion", () => {
  it("R3: mismatched linked values are converted to the pin's type the way AutoGPT converts them", async () => {
    expect(await echo({ n: "42.5" })).toEqual({ n: 42.5 })
    expect(await echo({ n: true })).toEqual({ n: 1 })
    expect(await echo({ s: 7 })).toEqual({ s: "7" })
    expect(await echo({ s: false })).toEqual({ s: "False" })
    expect(await echo({ s: { a: [1] } })).toEqual({ s: '{"a":[1]}' })
    expect(await echo({ b: "yes" })).toEqual({ b: true })
    expect(await echo({ b: "0" })).toEqual({ b: false })
    expect(await echo({ list: "[1, 2]" })).toEqual({ list: [1, 2] })
    expect(await echo({ list: "solo" })).toEqual({ list: ["solo"] })
    expect(await echo({ list: 3 })).toEqual({ list: [3] })
    expect(await echo({ dict: '{"k": "v"}' })).toEqual({ dict: { k: "v" } })
    expect(await echo({ either: "5" })).toEqual({ either: 5 })
  })

  it("R3: values that match are left alone, and values that cannot convert still fail naming the field", async () => {
    expect(await echo({ n: 1, s: "x", list: [{ a: 1 }] })).toEqual({ n: 1, s: "x", list: [{ a: 1 }] })
    await expect(runBlock(Typed, { n: "ten" })).rejects.toMatchObject({ field: "n", reason: "InvalidInput" })
    await expect(runBlock(Typed, { dict: "not json" })).rejects.toMatchObject({ field: "dict" })
  })
})
