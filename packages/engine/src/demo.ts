/**
 * The demo behind `pnpm start` until the host exists: runs a small graph and prints its events.
 */
import { Schema } from "effect"
import { Block, type Graph, runGraph } from "./index.js"

const Input = Block.make({
  id: "demo/input",
  title: "Input",
  description: "A graph input.",
  categories: ["io"],
  kind: "input",
  input: Schema.Struct({ name: Schema.String, value: Schema.optional(Schema.String) }),
  output: Schema.Struct({ result: Schema.String }),
  run: ({ value }) => ({ result: value ?? "" }),
})
const Split = Block.make({
  id: "demo/split",
  title: "Split words",
  description: "Yields each word.",
  categories: ["text"],
  input: Schema.Struct({ text: Schema.String }),
  output: Schema.Struct({ word: Schema.String }),
  async *run({ text }) {
    for (const word of text.split(/\s+/).filter(Boolean)) yield ["word", word] as const
  },
})
const Upper = Block.make({
  id: "demo/upper",
  title: "Upper case",
  description: "Upper-cases a text.",
  categories: ["text"],
  input: Schema.Struct({ text: Schema.String }),
  output: Schema.Struct({ result: Schema.String }),
  run: ({ text }) => ({ result: text.toUpperCase() }),
})
const Output = Block.make({
  id: "demo/output",
  title: "Output",
  description: "A graph output.",
  categories: ["io"],
  kind: "output",
  input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
  output: Schema.Struct({ output: Schema.Unknown }),
  run: ({ value }) => ({ output: value }),
})

const graph: Graph = {
  id: "demo",
  version: 1,
  name: "Shout every word",
  nodes: [
    { id: "in", blockId: "demo/input", inputDefault: { name: "text" } },
    { id: "split", blockId: "demo/split" },
    { id: "upper", blockId: "demo/upper" },
    { id: "out", blockId: "demo/output", inputDefault: { name: "words" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "split", sinkName: "text" },
    { sourceId: "split", sourceName: "word", sinkId: "upper", sinkName: "text" },
    { sourceId: "upper", sourceName: "result", sinkId: "out", sinkName: "value" },
  ],
}

const result = await runGraph(graph, {
  blocks: [Block.set("demo", [Input, Split, Upper, Output])],
  inputs: { text: "weft runs agent graphs" },
  onEvent: (e) =>
    console.log(
      `#${"seq" in e ? e.seq : "-"} ${e.type} ${"status" in e ? e.status : ""} ${"pin" in e ? `${e.nodeId}.${e.pin} = ${JSON.stringify(e.value)}` : "nodeId" in e ? e.nodeId : ""}`,
    ),
})
console.log(`\nrun ${result.status}:`, JSON.stringify(result.outputs))
