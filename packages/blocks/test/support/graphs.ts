/**
 * Shared by the block tests: tiny graph input and output blocks (so these tests do not depend on the io
 * blocks), the block list to run with, and a terse graph builder (`"src.pin -> sink.pin"` links).
 */
import { Block, type Graph } from "@weft/engine"
import { Schema } from "effect"
import { coreBlocks } from "../../src/index.js"

/** Graph inputs and outputs, so that these tests do not depend on the io blocks. */
export const testIo = Block.set("test-io", [
  Block.make({
    id: "test/input",
    title: "Input",
    description: "A graph input.",
    categories: ["io"],
    kind: "input",
    input: Schema.Struct({ name: Schema.String, value: Schema.optional(Schema.Unknown) }),
    output: Schema.Struct({ result: Schema.Unknown }),
    run: ({ value }) => ({ result: value }),
  }),
  Block.make({
    id: "test/output",
    title: "Output",
    description: "A graph output.",
    categories: ["io"],
    kind: "output",
    input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
    output: Schema.Struct({ output: Schema.Unknown }),
    run: ({ value }) => ({ output: value }),
  }),
])
export const blocks = [coreBlocks, testIo]

export type NodeSpec = readonly [id: string, blockId: string, inputDefault?: Record<string, unknown>]

export const graph = (nodes: ReadonlyArray<NodeSpec>, links: ReadonlyArray<string>, id = "g"): Graph => ({
  id,
  version: 1,
  name: id,
  nodes: nodes.map(([id, blockId, inputDefault]) => ({
    id,
    blockId,
    ...(inputDefault ? { inputDefault } : {}),
  })),
  links: links.map((link) => {
    const [from = "", to = ""] = link.split("->").map((s) => s.trim())
    const [sourceId = "", ...source] = from.split(".")
    const [sinkId = "", ...sink] = to.split(".")
    return { sourceId, sourceName: source.join("."), sinkId, sinkName: sink.join(".") }
  }),
})
