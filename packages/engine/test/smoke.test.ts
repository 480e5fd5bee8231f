import { describe, expect, it } from "vitest"
import { countStatus, execute, graph, outputsOf } from "./support.js"

describe("smoke", () => {
  it("R6 R7 R14: input → each → pass → output collects every value in order", async () => {
    const g = graph(
      [
        ["in", "t/input", { name: "items" }],
        ["each", "t/each"],
        ["pass", "t/pass"],
        ["out", "t/output", { name: "result" }],
      ],
      ["in.result -> each.items", "each.item -> pass.value", "pass.value -> out.value"],
    )
    const { result, events } = await execute(g, { inputs: { items: [1, 2, 3] } })
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ result: [1, 2, 3] })
    expect(countStatus(events, "pass", "COMPLETED")).toBe(3)
    expect(outputsOf(events, "each", "item")).toEqual([1, 2, 3])
  })
})
