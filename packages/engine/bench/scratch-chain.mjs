import { Schema } from "effect"
import { Block, runGraph, RunStore } from "../dist/index.js"
const N = Number(process.argv[2] ?? 10000)
const Pass = Block.make({ id: "pass", title: "Pass", description: "", categories: [], input: Schema.Struct({ value: Schema.Unknown }), output: Schema.Struct({ value: Schema.Unknown }), run: ({ value }) => ({ value }) })
const nodes = [{ id: "n0", blockId: "pass", inputDefault: { value: 1 } }]
const links = []
for (let i = 1; i < N; i++) { nodes.push({ id: `n${i}`, blockId: "pass" }); links.push({ sourceId: `n${i-1}`, sourceName: "value", sinkId: `n${i}`, sinkName: "value" }) }
const graph = { id: "chain", version: 1, name: "chain", nodes, links }
const blocks = [Block.set("b", [Pass])]
for (let r = 0; r < 4; r++) {
  const t0 = performance.now()
  const res = await runGraph(graph, { blocks })
  const dt = performance.now() - t0
  console.log(res.status, (dt * 1000 / N).toFixed(2), "us/node", Math.round(process.resourceUsage().maxRSS/1024), "MB")
}
