import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Block, GraphInvalid, runGraph } from "../src/index.js"
import { graph, Input, Output } from "./support.js"

const transform = (id: string, f: (n: number) => number) =>
  Block.make({
    id,
    title: "Transform",
    description: "Applies a function.",
    categories: ["test"],
    input: Schema.Struct({ value: Schema.Number }),
    output: Schema.Struct({ value: Schema.Number }),
    run: ({ value }) => ({ value: f(value) }),
  })

describe("per-graph caches", () => {
  const g = graph(
    [
      ["in", "t/input", { name: "n" }],
      ["f", "t/transform"],
      ["out", "t/output", { name: "n" }],
    ],
    ["in.result -> f.value", "f.value -> out.value"],
  )

  it("R4 R8: one graph object run against different block sets uses each set's blocks and validation", async () => {
    const doubling = [
      Block.set("io", [Input, Output]),
      Block.set("x", [transform("t/transform", (n) => n * 2)]),
    ]
    const negating = [Block.set("io", [Input, Output]), Block.set("x", [transform("t/transform", (n) => -n)])]
    const missing = [Block.set("io", [Input, Output])]
    expect((await runGraph(g, { blocks: doubling, inputs: { n: 4 } })).outputs).toEqual({ n: [8] })
    expect((await runGraph(g, { blocks: negating, inputs: { n: 4 } })).outputs).toEqual({ n: [-4] })
    expect((await runGraph(g, { blocks: doubling, inputs: { n: 5 } })).outputs).toEqual({ n: [10] })
    const error = await runGraph(g, { blocks: missing, inputs: { n: 4 } }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(GraphInvalid)
    expect((error as GraphInvalid).errors.f).toEqual({ blockId: "unknown block t/transform" })
  })
})
