import { Block, makeRegistry, runGraph } from "@weft/engine"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  AGENT_EXECUTOR_BLOCK_ID,
  AutoGPTFormatError,
  decodeAutoGPT,
  exportAutoGPT,
  importAutoGPT,
  isAutoGPTExport,
  missingCredentials,
  withCredentials,
} from "../src/autogpt/index.js"

const STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
const UNKNOWN_BLOCK = "87840993-2053-44b7-8da4-187ad4ee518c"

/** A tiny block set for these tests: a store block aliased to AutoGPT's StoreValue and an agent executor. */
const Store = Block.make({
  id: "test/store",
  title: "Store",
  description: "Emits its data, for import tests.",
  categories: ["test"],
  aliases: [STORE_VALUE],
  staticOutput: true,
  openInputs: true,
  input: Schema.Struct({ input: Schema.optional(Schema.Unknown), data: Schema.optional(Schema.Unknown) }),
  output: Schema.Struct({ output: Schema.Unknown }),
  run: ({ input, data }) => ({ output: data ?? input ?? null }),
})
const Executor = Block.make({
  id: "test/executor",
  title: "Executor",
  description: "Stands in for the agent executor.",
  categories: ["test"],
  aliases: [AGENT_EXECUTOR_BLOCK_ID],
  openInputs: true,
  openOutputs: true,
  input: Schema.Struct({ graph_id: Schema.String, graph_version: Schema.Number }),
  output: Schema.Struct({}),
  run: () => ({}),
})
const testSet = Block.set("test", [Store, Executor])
const registry = Effect.runSync(makeRegistry([testSet]))

const schemaA = {
  type: "object",
  properties: { Topic: { title: "Topic", anyOf: [{ type: "string" }, { type: "null" }], secret: false } },
  required: ["Topic"],
}
/** The same schema as `schemaA`, written the way the node keeps its copy: other key order, no `secret`. */
const schemaACopy = {
  required: ["Topic"],
  properties: { Topic: { anyOf: [{ type: "string" }, { type: "null" }], title: "Topic" } },
  type: "object",
}
const outSchema = { type: "object", properties: { Answer: { title: "Answer" } }, required: ["Answer"] }

const subGraph = (id: string, version: number, name: string, input: Record<string, unknown> = schemaA) => ({
  id,
  version,
  name,
  description: `${name} sub-graph`,
  nodes: [{ id: `${id}-n1`, block_id: STORE_VALUE, input_default: { data: name }, metadata: {} }],
  links: [],
  input_schema: input,
  output_schema: outSchema,
})

const executorNode = (id: string, defaults: Record<string, unknown>) => ({
  id,
  block_id: AGENT_EXECUTOR_BLOCK_ID,
  input_default: {
    user_id: "",
    inputs: {},
    input_schema: schemaACopy,
    output_schema: outSchema,
    ...defaults,
  },
  metadata: { position: { x: 1, y: 2 } },
})

const agent = {
  id: "main-graph",
  version: 7,
  is_active: true,
  name: "Main",
  description: "A test agent",
  nodes: [
    {
      id: "a",
      block_id: STORE_VALUE,
      input_default: { data: { k: [1, 2] } },
      metadata: { position: { x: 10, y: 20 } },
      input_links: [],
      webhook: null,
    },
    { id: "b", block_id: UNKNOWN_BLOCK, input_default: { query: "owls" }, metadata: {} },
    { id: "c", block_id: STORE_VALUE, input_default: null, metadata: null },
    executorNode("x", { graph_id: "stale-id", graph_version: 3 }),
  ],
  links: [
    { id: "l1", source_id: "a", sink_id: "c", source_name: "output", sink_name: "input", is_static: true },
    {
      id: "l2",
      source_id: "a",
      sink_id: "b",
      source_name: "output_#_k",
      sink_name: "values_#_name",
      is_static: false,
    },
    {
      id: "l3",
      source_id: "b",
      sink_id: "c",
      source_name: "tools_^_web_search_~_question",
      sink_name: "list_$_0",
      is_static: false,
    },
    { id: "l4", source_id: "a", sink_id: "x", source_name: "output", sink_name: "Topic", is_static: true },
  ],
  sub_graphs: [subGraph("sub-one", 3, "Sub one"), subGraph("sub-two", 4, "Sub two")],
  created_at: "2025-01-01T00:00:00Z",
}

describe("importAutoGPT", () => {
  it("keeps the graph's id, version, name and description", () => {
    const { graph } = importAutoGPT(agent, { registry })
    expect(graph).toMatchObject({ id: "main-graph", version: 7, name: "Main", description: "A test agent" })
  })

  it("keeps node ids, AutoGPT block ids, input defaults and metadata", () => {
    const { graph } = importAutoGPT(agent, { registry })
    expect(graph.nodes.slice(0, 3)).toEqual([
      {
        id: "a",
        blockId: STORE_VALUE,
        inputDefault: { data: { k: [1, 2] } },
        metadata: { position: { x: 10, y: 20 } },
      },
      { id: "b", blockId: UNKNOWN_BLOCK, inputDefault: { query: "owls" }, metadata: {} },
      { id: "c", blockId: STORE_VALUE, inputDefault: {}, metadata: {} },
    ])
  })

  it("keeps link ids, static flags and dynamic pin names verbatim", () => {
    const { graph } = importAutoGPT(agent, { registry })
    expect(graph.links).toEqual([
      { id: "l1", sourceId: "a", sourceName: "output", sinkId: "c", sinkName: "input", isStatic: true },
      {
        id: "l2",
        sourceId: "a",
        sourceName: "output_#_k",
        sinkId: "b",
        sinkName: "values_#_name",
        isStatic: false,
      },
      {
        id: "l3",
        sourceId: "b",
        sourceName: "tools_^_web_search_~_question",
        sinkId: "c",
        sinkName: "list_$_0",
        isStatic: false,
      },
      { id: "l4", sourceId: "a", sourceName: "output", sinkId: "x", sinkName: "Topic", isStatic: true },
    ])
  })

  it("leaves isStatic out of a link that has no is_static", () => {
    const json = {
      id: "g",
      version: 1,
      name: "G",
      nodes: [],
      links: [{ source_id: "a", sink_id: "b", source_name: "output", sink_name: "input" }],
    }
    expect(importAutoGPT(json, { registry }).graph.links).toEqual([
      { sourceId: "a", sourceName: "output", sinkId: "b", sinkName: "input" },
    ])
  })

  it("reports each node's block, naming missing blocks from blockNames, without throwing", () => {
    const { report } = importAutoGPT(agent, {
      registry,
      blockNames: { [UNKNOWN_BLOCK]: { name: "SearchTheWebBlock" }, [STORE_VALUE]: "StoreValueBlock" },
    })
    const main = report.nodes.filter((n) => n.graphId === "main-graph")
    expect(main.map((n) => [n.nodeId, n.status, n.blockName, n.weftBlockId])).toEqual([
      ["a", "ok", "StoreValueBlock", "test/store"],
      ["b", "missing-block", "SearchTheWebBlock", undefined],
      ["c", "ok", "StoreValueBlock", "test/store"],
      ["x", "ok", undefined, "test/executor"],
    ])
    expect(report.missingBlocks).toEqual([
      { blockId: UNKNOWN_BLOCK, blockName: "SearchTheWebBlock", nodes: 1 },
    ])
    expect(report.ok).toBe(false)
  })

  it("includes the engine's validation errors for each graph", () => {
    const { report } = importAutoGPT(agent, { registry })
    expect(report.validation).toEqual([
      { graphId: "main-graph", version: 7, errors: { b: { blockId: `unknown block ${UNKNOWN_BLOCK}` } } },
    ])
  })

  it("converts sub-graphs too", () => {
    const { subGraphs, report } = importAutoGPT(agent, { registry })
    expect(subGraphs.map((g) => [g.id, g.version, g.name, g.nodes.length])).toEqual([
      ["sub-one", 3, "Sub one", 1],
      ["sub-two", 4, "Sub two", 1],
    ])
    expect(report.graph).toEqual({
      id: "main-graph",
      version: 7,
      name: "Main",
      nodes: 4,
      links: 4,
      subGraphs: 2,
    })
    expect(report.nodes).toHaveLength(6)
  })
})

describe("sub-graph references", () => {
  const withExecutors = (nodes: ReadonlyArray<unknown>, subs: ReadonlyArray<unknown>) => ({
    id: "g",
    version: 1,
    name: "G",
    nodes,
    links: [],
    sub_graphs: subs,
  })

  it("are matched by version and schemas when the ids differ, and the node is rewritten", () => {
    const { graph, report } = importAutoGPT(agent, { registry })
    const node = graph.nodes.find((n) => n.id === "x")
    expect(node?.inputDefault).toMatchObject({ graph_id: "sub-one", graph_version: 3, inputs: {} })
    expect(Object.keys(node?.inputDefault ?? {})).toEqual([
      "user_id",
      "inputs",
      "input_schema",
      "output_schema",
      "graph_id",
      "graph_version",
    ])
    expect(report.subGraphs).toEqual([
      {
        graphId: "main-graph",
        nodeId: "x",
        reference: { graphId: "stale-id", version: 3 },
        status: "matched",
        resolved: { graphId: "sub-one", version: 3, name: "Sub one" },
        note: "matched by version and input/output schemas",
      },
    ])
  })

  it("are kept when the id and version match exactly", () => {
    const json = withExecutors(
      [executorNode("x", { graph_id: "sub-two", graph_version: 4 })],
      [subGraph("sub-one", 4, "Sub one"), subGraph("sub-two", 4, "Sub two")],
    )
    const { graph, report } = importAutoGPT(json, { registry })
    expect(graph.nodes[0]?.inputDefault).toMatchObject({ graph_id: "sub-two", graph_version: 4 })
    expect(report.subGraphs[0]?.status).toBe("exact")
  })

  it("are ambiguous when several sub-graphs fit, and the node is left as it was", () => {
    const json = withExecutors(
      [executorNode("x", { graph_id: "old", graph_version: 4 })],
      [subGraph("sub-one", 4, "Sub one"), subGraph("sub-two", 4, "Sub two")],
    )
    const { graph, report } = importAutoGPT(json, { registry })
    expect(graph.nodes[0]?.inputDefault).toMatchObject({ graph_id: "old", graph_version: 4 })
    expect(report.subGraphs[0]).toMatchObject({
      status: "ambiguous",
      candidates: [
        { graphId: "sub-one", version: 4, name: "Sub one" },
        { graphId: "sub-two", version: 4, name: "Sub two" },
      ],
    })
    expect(report.ok).toBe(false)
  })

  it("are disambiguated by agent_name", () => {
    const json = withExecutors(
      [executorNode("x", { graph_id: "old", graph_version: 4, agent_name: "Sub two" })],
      [subGraph("sub-one", 4, "Sub one"), subGraph("sub-two", 4, "Sub two")],
    )
    const { graph, report } = importAutoGPT(json, { registry })
    expect(graph.nodes[0]?.inputDefault).toMatchObject({ graph_id: "sub-two", graph_version: 4 })
    expect(report.subGraphs[0]?.note).toBe("matched by version and input/output schemas and agent name")
  })

  it("fall back to the names of inputs and outputs when the schemas differ in detail", () => {
    const retyped = { ...schemaA, properties: { Topic: { title: "Topic", type: "integer" } } }
    const json = withExecutors(
      [executorNode("x", { graph_id: "old", graph_version: 4 })],
      [subGraph("sub-one", 4, "Sub one", retyped), subGraph("sub-two", 5, "Sub two")],
    )
    const { graph, report } = importAutoGPT(json, { registry })
    expect(graph.nodes[0]?.inputDefault).toMatchObject({ graph_id: "sub-one", graph_version: 4 })
    expect(report.subGraphs[0]?.note).toBe("matched by version and input/output names")
  })

  it("are unresolved when no sub-graph has the version", () => {
    const json = withExecutors(
      [executorNode("x", { graph_id: "old", graph_version: 9 })],
      [subGraph("sub-one", 4, "Sub one")],
    )
    const { graph, report } = importAutoGPT(json, { registry })
    expect(graph.nodes[0]?.inputDefault).toMatchObject({ graph_id: "old", graph_version: 9 })
    expect(report.subGraphs[0]).toMatchObject({
      status: "unresolved",
      reference: { graphId: "old", version: 9 },
    })
  })

  it("inside sub-graphs are resolved against the export's sub-graphs as well", () => {
    const inner = {
      ...subGraph("sub-one", 4, "Sub one"),
      nodes: [executorNode("y", { graph_id: "z", graph_version: 5 })],
    }
    const json = withExecutors([], [inner, subGraph("sub-two", 5, "Sub two")])
    const { subGraphs, report } = importAutoGPT(json, { registry })
    expect(subGraphs[0]?.nodes[0]?.inputDefault).toMatchObject({ graph_id: "sub-two", graph_version: 5 })
    expect(report.subGraphs[0]).toMatchObject({ graphId: "sub-one", nodeId: "y", status: "matched" })
  })
})

describe("the older template format", () => {
  const template = {
    id: "t",
    version: 28,
    is_active: false,
    is_template: true,
    name: "Template",
    description: "old",
    nodes: [
      { id: "n", block_id: STORE_VALUE, input_default: { data: 1 }, metadata: { position: { x: 0, y: 0 } } },
    ],
    links: [],
    subgraphs: { s: ["n"] },
  }

  it("is imported and reported as a template, its legacy subgraphs map set aside", () => {
    const { graph, subGraphs, report } = importAutoGPT(template, { registry })
    expect(report.format).toBe("template")
    expect(subGraphs).toEqual([])
    expect(graph.nodes).toHaveLength(1)
    expect(report.warnings).toEqual(['graph t has a legacy "subgraphs" map: it is ignored'])
    expect(report.ok).toBe(true)
  })

  it("takes links from the nodes when the graph has no links list", () => {
    const link = {
      id: "l",
      source_id: "n",
      sink_id: "m",
      source_name: "output",
      sink_name: "input",
      is_static: true,
    }
    const json = {
      id: "t",
      version: 1,
      name: "T",
      nodes: [
        { id: "n", block_id: STORE_VALUE, output_links: [link] },
        { id: "m", block_id: STORE_VALUE, input_links: [link] },
      ],
    }
    const { graph, report } = importAutoGPT(json, { registry })
    expect(graph.links).toEqual([
      { id: "l", sourceId: "n", sourceName: "output", sinkId: "m", sinkName: "input", isStatic: true },
    ])
    expect(report.warnings[0]).toContain("links taken from its nodes")
  })
})

describe("bad input", () => {
  const failure = (json: unknown) => {
    try {
      decodeAutoGPT(json)
    } catch (error) {
      expect(error).toBeInstanceOf(AutoGPTFormatError)
      return (error as AutoGPTFormatError).path
    }
    throw new Error("expected a failure")
  }

  it("names the path of the problem", () => {
    expect(failure(null)).toBe("(root)")
    expect(failure([1])).toBe("(root)")
    expect(failure("graph")).toBe("(root)")
    expect(failure({ version: 1, nodes: [], links: [] })).toBe("id")
    expect(failure({ id: "g", version: 0, nodes: [], links: [] })).toBe("version")
    expect(failure({ id: "g", version: 1, links: [] })).toBe("nodes")
    expect(failure({ id: "g", version: 1, nodes: {}, links: [] })).toBe("nodes")
    expect(
      failure({ id: "g", version: 1, nodes: [{ id: "a", block_id: "b" }, { id: "c" }], links: [] }),
    ).toBe("nodes.1.block_id")
    expect(
      failure({ id: "g", version: 1, nodes: [{ id: "a", block_id: "b", input_default: [] }], links: [] }),
    ).toBe("nodes.0.input_default")
    expect(
      failure({
        id: "g",
        version: 1,
        nodes: [],
        links: [{ source_id: "a", sink_id: "b", source_name: "x", sink_name: "y", is_static: "yes" }],
      }),
    ).toBe("links.0.is_static")
    expect(
      failure({
        id: "g",
        version: 1,
        nodes: [],
        links: [],
        sub_graphs: [{ id: "s", version: 1, nodes: [{}] }],
      }),
    ).toBe("sub_graphs.0.nodes.0.id")
  })

  it("has a message that names the path and what was expected", () => {
    expect(() =>
      importAutoGPT({ id: "g", version: 1, nodes: [{ id: "a", block_id: 5 }], links: [] }),
    ).toThrow("Not a valid AutoGPT export: nodes.0.block_id: expected a non-empty string, got number")
  })
})

describe("isAutoGPTExport", () => {
  it("tells AutoGPT exports from Weft graphs by shape", () => {
    expect(isAutoGPTExport(agent)).toBe(true)
    expect(isAutoGPTExport({ id: "t", is_template: true, nodes: [], links: [] })).toBe(true)
    expect(
      isAutoGPTExport({ id: "g", version: 1, name: "", nodes: [{ id: "a", blockId: "x" }], links: [] }),
    ).toBe(false)
    expect(isAutoGPTExport({ id: "g", version: 1, name: "", nodes: [], links: [] })).toBe(false)
    expect(isAutoGPTExport("nope")).toBe(false)
  })
})

describe("exportAutoGPT", () => {
  it("writes the AutoGPT shape, with AutoGPT block ids for aliased Weft blocks", () => {
    const graph = {
      id: "w",
      version: 2,
      name: "Weft graph",
      description: "made in Weft",
      nodes: [
        {
          id: "s",
          blockId: "test/store",
          inputDefault: { data: "hi" },
          metadata: { position: { x: 5, y: 6 } },
        },
        { id: "t", blockId: "test/store" },
        { id: "u", blockId: "vendor/unknown" },
      ],
      links: [
        { sourceId: "s", sourceName: "output", sinkId: "t", sinkName: "input" },
        { id: "k", sourceId: "t", sourceName: "output", sinkId: "u", sinkName: "x", isStatic: false },
      ],
    }
    expect(exportAutoGPT(graph, { registry })).toEqual({
      id: "w",
      version: 2,
      is_active: true,
      name: "Weft graph",
      description: "made in Weft",
      nodes: [
        {
          id: "s",
          block_id: STORE_VALUE,
          input_default: { data: "hi" },
          metadata: { position: { x: 5, y: 6 } },
        },
        { id: "t", block_id: STORE_VALUE, input_default: {}, metadata: {} },
        { id: "u", block_id: "vendor/unknown", input_default: {}, metadata: {} },
      ],
      links: [
        { source_id: "s", sink_id: "t", source_name: "output", sink_name: "input" },
        { id: "k", source_id: "t", sink_id: "u", source_name: "output", sink_name: "x", is_static: false },
      ],
      sub_graphs: [],
    })
  })

  it("round-trips: import → export → import gives equal graphs, sub-graphs and report", () => {
    const first = importAutoGPT(agent, { registry })
    const exported = exportAutoGPT(first.graph, { subGraphs: first.subGraphs, registry })
    expect(exported.sub_graphs?.map((s) => s.id)).toEqual(["sub-one", "sub-two"])
    const second = importAutoGPT(JSON.parse(JSON.stringify(exported)), { registry })
    expect(second.graph).toEqual(first.graph)
    expect(second.subGraphs).toEqual(first.subGraphs)
    expect(second.report.missingBlocks).toEqual(first.report.missingBlocks)
    // The rewritten reference now names the sub-graph exactly.
    expect(second.report.subGraphs[0]?.status).toBe("exact")
  })
})

describe("an imported graph runs", () => {
  it("through the engine, its AutoGPT block ids resolved by alias and dynamic sink pins assembled", async () => {
    const Collect = Block.make({
      id: "test/collect",
      title: "Collect",
      description: "An output block for this test.",
      categories: ["test"],
      aliases: ["363ae599-353e-4804-937e-b2ee3cef3da4"],
      kind: "output",
      input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
      output: Schema.Struct({ output: Schema.Unknown }),
      run: ({ value }) => ({ output: value }),
    })
    const json = {
      id: "run-me",
      version: 1,
      name: "Run me",
      nodes: [
        { id: "s", block_id: STORE_VALUE, input_default: { data: "owl" } },
        { id: "o", block_id: "363ae599-353e-4804-937e-b2ee3cef3da4", input_default: { name: "result" } },
      ],
      links: [
        {
          id: "l",
          source_id: "s",
          sink_id: "o",
          source_name: "output",
          sink_name: "value_#_animal",
          is_static: true,
        },
      ],
    }
    const blocks = [Block.set("run", [Store, Collect])]
    const localRegistry = Effect.runSync(makeRegistry(blocks))
    const { graph, report } = importAutoGPT(json, { registry: localRegistry })
    expect(report.ok).toBe(true)
    const result = await runGraph(graph, { blocks })
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ result: [{ animal: "owl" }] })
  })
})

describe("credential fields of imported agents", () => {
  const Llm = Block.make({
    id: "test/llm",
    title: "LLM",
    description: "Needs an API key, for credential tests.",
    categories: ["test"],
    input: Schema.Struct({
      prompt: Schema.String,
      credentials: Block.credentials({ provider: "openai", type: "api_key" }),
    }),
    output: Schema.Struct({ response: Schema.String }),
    run: ({ prompt }, ctx) => ({
      // The secret itself would be redacted from outputs: say which one arrived instead.
      response: `${prompt} with ${ctx.credentials.credentials?.secret === "secret-of-host-key" ? "the host key" : "no key"}`,
    }),
  })
  const Out = Block.make({
    id: "test/out",
    title: "Out",
    description: "An output block for credential tests.",
    categories: ["test"],
    kind: "output",
    input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
    output: Schema.Struct({ output: Schema.Unknown }),
    run: ({ value }) => ({ output: value }),
  })
  const blocks = [Block.set("creds", [Llm, Out])]
  const localRegistry = Effect.runSync(makeRegistry(blocks))
  const graph = {
    id: "g",
    version: 1,
    name: "G",
    nodes: [
      { id: "empty", blockId: "test/llm", inputDefault: { prompt: "hi" } },
      {
        id: "set",
        blockId: "test/llm",
        inputDefault: { prompt: "yo", credentials: { id: "mine", provider: "openai", type: "api_key" } },
      },
      { id: "out", blockId: "test/out", inputDefault: { name: "said" } },
    ],
    links: [{ sourceId: "empty", sourceName: "response", sinkId: "out", sinkName: "value" }],
  }

  it("finds required credential fields that have no value", () => {
    expect(missingCredentials(graph, localRegistry)).toEqual([
      { nodeId: "empty", field: "credentials", requirement: { provider: "openai", type: "api_key" } },
    ])
  })

  it("fills them in a copy of the graph, which then validates and runs with the host's resolver", async () => {
    const filled = withCredentials(graph, localRegistry, ({ requirement }) => ({
      id: "host-key",
      provider: String(requirement.provider),
      type: requirement.type,
    }))
    expect(graph.nodes[0]?.inputDefault).toEqual({ prompt: "hi" })
    expect(filled.nodes[0]?.inputDefault).toEqual({
      prompt: "hi",
      credentials: { id: "host-key", provider: "openai", type: "api_key" },
    })
    expect(filled.nodes[1]).toBe(graph.nodes[1])
    expect(missingCredentials(filled, localRegistry)).toEqual([])
    await expect(runGraph(graph, { blocks })).rejects.toMatchObject({ _tag: "GraphInvalid" })
    const result = await runGraph(filled, {
      blocks,
      credentials: (ref) => ({ provider: ref.provider, type: "api_key", secret: `secret-of-${ref.id}` }),
    })
    expect(result.outputs).toEqual({ said: ["hi with the host key"] })
  })
})
