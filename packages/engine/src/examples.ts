/**
 * A small example graph and its blocks, shared by `pnpm start` (`demo.ts`) and the browser test: an input,
 * a block that streams each word in upper case from an async generator, and an output.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Block from "./Block.js"
import type { Graph } from "./Graph.js"

const Input = Block.make({
  id: "example/input",
  title: "Input",
  description: "A graph input.",
  categories: ["io"],
  kind: "input",
  input: Schema.Struct({ name: Schema.String, value: Schema.optional(Schema.String) }),
  output: Schema.Struct({ result: Schema.String }),
  run: ({ value }) => ({ result: value ?? "" }),
})

/** Yields each word in upper case, asynchronously, waiting a macrotask between words. */
const Words = Block.make({
  id: "example/words",
  title: "Shout words",
  description: "Yields each word of a text in upper case.",
  categories: ["text"],
  input: Schema.Struct({ text: Schema.String }),
  output: Schema.Struct({ word: Schema.String }),
  async *run({ text }) {
    for (const word of text.split(/\s+/).filter(Boolean)) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      yield ["word", word.toUpperCase()] as const
    }
  },
})

const Output = Block.make({
  id: "example/output",
  title: "Output",
  description: "A graph output.",
  categories: ["io"],
  kind: "output",
  input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
  output: Schema.Struct({ output: Schema.Unknown }),
  run: ({ value }) => ({ output: value }),
})

/**
 * The example blocks as one set.
 *
 * @category examples
 */
export const exampleBlocks = Block.set("example", [Input, Words, Output])

/**
 * input `text` → shout each word → output `words`.
 *
 * @category examples
 */
export const exampleGraph: Graph = {
  id: "example-shout",
  version: 1,
  name: "Shout every word",
  nodes: [
    { id: "in", blockId: "example/input", inputDefault: { name: "text" } },
    { id: "words", blockId: "example/words" },
    { id: "out", blockId: "example/output", inputDefault: { name: "words" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "words", sinkName: "text" },
    { sourceId: "words", sourceName: "word", sinkId: "out", sinkName: "value" },
  ],
}
