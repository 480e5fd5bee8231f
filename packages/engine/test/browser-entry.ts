/**
 * The entry bundled by `browser.test.ts` for Chromium: runs a small graph with `runGraph` and publishes the
 * result and events on `window.__weft`, then sets `document.title` to "done" (or "error").
 *
 * It is plain engine code with no test helper, so the same `runDemo` also runs in Node for comparison.
 */
import { Schema } from "effect"
import { Block, type Graph, type RunEvent, type RunResult, runGraph } from "../src/index.js"

const Input = Block.make({
  id: "browser/input",
  title: "Input",
  description: "A graph input.",
  categories: ["io"],
  kind: "input",
  input: Schema.Struct({ name: Schema.String, value: Schema.optional(Schema.String) }),
  output: Schema.Struct({ result: Schema.String }),
  run: ({ value }) => ({ result: value ?? "" }),
})

/** Yields each word from an async generator, awaiting a macrotask between words. */
const Words = Block.make({
  id: "browser/words",
  title: "Words",
  description: "Yields each word, asynchronously.",
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
  id: "browser/output",
  title: "Output",
  description: "A graph output.",
  categories: ["io"],
  kind: "output",
  input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
  output: Schema.Struct({ output: Schema.Unknown }),
  run: ({ value }) => ({ output: value }),
})

const graph: Graph = {
  id: "browser-demo",
  version: 1,
  name: "Shout every word",
  nodes: [
    { id: "in", blockId: "browser/input", inputDefault: { name: "text" } },
    { id: "words", blockId: "browser/words" },
    { id: "out", blockId: "browser/output", inputDefault: { name: "words" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "words", sinkName: "text" },
    { sourceId: "words", sourceName: "word", sinkId: "out", sinkName: "value" },
  ],
}

/** The input of the demo run and the outputs it must end with. */
export const demoInput = "weft runs in browsers"
export const demoOutputs = { words: ["WEFT", "RUNS", "IN", "BROWSERS"] }

export interface DemoRun {
  readonly result: RunResult
  readonly events: ReadonlyArray<RunEvent>
}

/** Runs the demo graph and collects every event, in order. */
export const runDemo = async (): Promise<DemoRun> => {
  const events: Array<RunEvent> = []
  const result = await runGraph(graph, {
    blocks: [Block.set("browser", [Input, Words, Output])],
    inputs: { text: demoInput },
    onEvent: (event) => {
      events.push(event)
    },
  })
  return { result, events }
}

declare global {
  interface Window {
    __weft?: DemoRun | { readonly error: string }
  }
}

if (typeof window !== "undefined" && typeof document !== "undefined") {
  runDemo().then(
    (run) => {
      window.__weft = run
      document.title = "done"
    },
    (error: unknown) => {
      window.__weft = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }
      document.title = "error"
    },
  )
}
