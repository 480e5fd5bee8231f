/**
 * The demo behind `pnpm start` until the host exists: runs the example graph and prints its events.
 */
import { exampleBlocks, exampleGraph } from "./examples.js"
import type { RunEvent } from "./RunEvent.js"
import { runGraph } from "./runGraph.js"

const describe = (e: RunEvent): string => {
  switch (e.type) {
    case "RunStatus":
      return `run ${e.status}`
    case "NodeStatus":
      return `${e.nodeId} ${e.status}`
    case "NodeOutput":
      return `${e.nodeId}.${e.pin} = ${JSON.stringify(e.value)}`
    case "NodeProgress":
      return `${e.nodeId} progress ${JSON.stringify(e.delta)}`
    default:
      return `${e.nodeId} ${e.type}`
  }
}

const result = await runGraph(exampleGraph, {
  blocks: [exampleBlocks],
  inputs: { text: "weft runs agent graphs" },
  onEvent: (e) => console.log(`${"seq" in e ? `#${e.seq}` : "  "} ${describe(e)}`),
})
console.log(`\nrun ${result.status}: ${JSON.stringify(result.outputs)}`)
