import { runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import { coreBlocks } from "../src/index.js"

describe("human in the loop and safe mode", () => {
  const graph = {
    id: "hitl",
    version: 1,
    name: "hitl",
    nodes: [
      { id: "h", blockId: "weft/agent/human-in-the-loop", inputDefault: { data: "draft", name: "Draft" } },
      { id: "ok", blockId: "weft/io/agent-output", inputDefault: { name: "approved" } },
      { id: "msg", blockId: "weft/io/agent-output", inputDefault: { name: "message" } },
    ],
    links: [
      { sourceId: "h", sourceName: "approved_data", sinkId: "ok", sinkName: "value" },
      { sourceId: "h", sourceName: "review_message", sinkId: "msg", sinkName: "value" },
    ],
  }

  it("R16: with safe mode explicitly off the block approves at once, as AutoGPT does; otherwise it pauses", async () => {
    const off = await runGraph(graph, { blocks: [coreBlocks], safeMode: false })
    expect(off.status).toBe("COMPLETED")
    expect(off.outputs).toEqual({ approved: ["draft"], message: ["Auto-approved (safe mode disabled)"] })
    const unset = await runGraph(graph, { blocks: [coreBlocks] })
    expect(unset.status).toBe("REVIEW")
    const on = await runGraph(graph, { blocks: [coreBlocks], safeMode: true })
    expect(on.status).toBe("REVIEW")
  })
})
