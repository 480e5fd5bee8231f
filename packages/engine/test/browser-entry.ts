/**
 * The entry bundled by `browser.test.ts` for Chromium: runs a small graph with `runGraph` and publishes the
 * result and events on `window.__weft`, then sets `document.title` to "done" (or "error").
 *
 * It is plain engine code with no test helper, so the same `runDemo` also runs in Node for comparison.
 */
import { exampleBlocks, exampleGraph } from "../src/examples.js"
import { type RunEvent, type RunResult, runGraph } from "../src/index.js"

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
  const result = await runGraph(exampleGraph, {
    blocks: [exampleBlocks],
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
