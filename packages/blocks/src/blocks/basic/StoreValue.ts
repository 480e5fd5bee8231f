import { Block } from "@weft/engine"
import { Schema } from "effect"
import { or } from "../../internal/python.js"

/**
 * Store value: emits `data`, or `input` when `data` is empty (Python's `data or input`). `input` is
 * required, as in AutoGPT: it triggers the block. Its output is static (R9), so one stored value feeds
 * every execution downstream. AutoGPT: StoreValueBlock.
 */
export default Block.make({
  id: "weft/basic/store-value",
  title: "Store value",
  description:
    "Emits the stored data, or the input when no data is stored. Its output can be reused without limit.",
  categories: ["basic"],
  aliases: ["1ff065e9-88e8-4358-9d82-8dc91f622ba9"],
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    input: Schema.Unknown.annotate({
      title: "Input",
      description: "Triggers the block; its value is emitted only when no data is stored.",
    }),
    data: Schema.optional(Schema.Unknown).annotate({
      title: "Data",
      description: "The constant to keep and emit.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    output: Schema.Unknown.annotate({ title: "Output", description: "The stored value." }),
  }),
  examples: [
    { description: "emits the stored data", input: { input: 42, data: "x" }, output: [["output", "x"]] },
    { description: "falls back to the input", input: { input: { a: 1 } }, output: [["output", { a: 1 }]] },
    { description: "empty data counts as none", input: { input: 7, data: "" }, output: [["output", 7]] },
    { description: "a null input is still emitted", input: { input: null }, output: [["output", null]] },
  ],
  run: ({ input, data }) => ({ output: or(data, input) ?? null }),
})
