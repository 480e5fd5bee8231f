import { type Graph, graphIO, makeRegistry, type RunEvent, RunInputInvalid, runGraph } from "@weft/engine"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { coreBlocks } from "../src/index.js"

const blocks = [coreBlocks]
const registry = Effect.runSync(makeRegistry(blocks))

const graph = (
  nodes: Graph["nodes"],
  links: Graph["links"] = [],
  id = `g-${Math.random().toString(36).slice(2)}`,
): Graph => ({ id, version: 1, name: id, nodes, links })

/** Short ids, as in AutoGPT exports the aliases are used as block ids. */
const INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
const OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
const FILL = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"

describe("agent input → fill text template → agent output", () => {
  const greeting = graph(
    [
      { id: "in", blockId: INPUT, inputDefault: { name: "topic", title: null, placeholder_values: [] } },
      { id: "fill", blockId: FILL, inputDefault: { format: "Tell me about {{ topic }}.", values: {} } },
      { id: "out", blockId: OUTPUT, inputDefault: { name: "prompt", format: "" } },
    ],
    [
      { sourceId: "in", sourceName: "result", sinkId: "fill", sinkName: "values_#_topic" },
      { sourceId: "fill", sourceName: "output", sinkId: "out", sinkName: "value" },
    ],
  )

  it("records the rendered text under the output's name", async () => {
    const result = await runGraph(greeting, { blocks, inputs: { topic: "owls" } })
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ prompt: ["Tell me about owls."] })
  })

  it("uses the input node's default when the run gives no value", async () => {
    const withDefault = graph(
      greeting.nodes.map((node) =>
        node.id === "in" ? { ...node, inputDefault: { name: "topic", value: "bats" } } : node,
      ),
      greeting.links,
    )
    const result = await runGraph(withDefault, { blocks, inputs: {} })
    expect(result.outputs).toEqual({ prompt: ["Tell me about bats."] })
  })

  it("the output's format sees the value under the output's name, escaped on request", async () => {
    const formatted = graph(
      [
        { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "q" } },
        {
          id: "plain",
          blockId: "weft/io/agent-output",
          inputDefault: { name: "answer", format: "A: {{ answer | upper }}" },
        },
        {
          id: "html",
          blockId: "weft/io/agent-output",
          inputDefault: { name: "page", format: "<p>{{ page }}</p>", escape_html: true },
        },
      ],
      [
        { sourceId: "in", sourceName: "result", sinkId: "plain", sinkName: "value" },
        { sourceId: "in", sourceName: "result", sinkId: "html", sinkName: "value" },
      ],
    )
    const result = await runGraph(formatted, { blocks, inputs: { q: "<b>hi</b>" } })
    expect(result.outputs).toEqual({ answer: ["A: <B>HI</B>"], page: ["<p>&lt;b&gt;hi&lt;/b&gt;</p>"] })
  })

  it("without a format the output node also emits its name", async () => {
    const events: Array<RunEvent> = []
    const simple = graph(
      [
        { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "x" } },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "y" } },
      ],
      [{ sourceId: "in", sourceName: "result", sinkId: "out", sinkName: "value" }],
    )
    const result = await runGraph(simple, { blocks, inputs: { x: [1, 2] }, onEvent: (e) => events.push(e) })
    expect(result.outputs).toEqual({ y: [[1, 2]] })
    const pins = events.flatMap((e) =>
      e.type === "NodeOutput" && e.nodeId === "out" ? [[e.pin, e.value]] : [],
    )
    expect(pins).toEqual([
      ["output", [1, 2]],
      ["name", "y"],
    ])
  })

  it("a note node never runs", async () => {
    const events: Array<RunEvent> = []
    const withNote = graph([
      { id: "note", blockId: "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc", inputDefault: { text: "remember" } },
      { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "done", value: true } },
    ])
    const result = await runGraph(withNote, { blocks, onEvent: (e) => events.push(e) })
    expect(result.outputs).toEqual({ done: [true] })
    expect(events.some((e) => "nodeId" in e && e.nodeId === "note")).toBe(false)
  })
})

describe("input variants give the graph's input schema", () => {
  const variants = graph([
    { id: "any", blockId: "weft/io/agent-input", inputDefault: { name: "anything" } },
    { id: "short", blockId: "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158", inputDefault: { name: "email" } },
    { id: "long", blockId: "weft/io/agent-long-text-input", inputDefault: { name: "notes" } },
    { id: "num", blockId: "weft/io/agent-number-input", inputDefault: { name: "count", value: 3 } },
    { id: "flag", blockId: "weft/io/agent-toggle-input", inputDefault: { name: "dry_run" } },
    { id: "day", blockId: "weft/io/agent-date-input", inputDefault: { name: "day" } },
    { id: "time", blockId: "weft/io/agent-time-input", inputDefault: { name: "at" } },
    {
      id: "tone",
      blockId: "weft/io/agent-dropdown-input",
      inputDefault: { name: "tone", options: ["Formal", "Casual"], description: "Pick a tone" },
    },
    { id: "table", blockId: "weft/io/agent-table-input", inputDefault: { name: "rows" } },
  ])
  const io = graphIO(variants, registry)
  const schema = io.inputJsonSchema as {
    properties: Record<string, Record<string, unknown>>
    required?: Array<string>
  }
  const types = (name: string): Array<unknown> => {
    const property = schema.properties[name] ?? {}
    const options = (property.anyOf as Array<Record<string, unknown>> | undefined) ?? [property]
    return [...new Set(options.map((option) => option.type))].sort()
  }

  it("types each input by its variant's value pin", () => {
    expect(Object.keys(schema.properties).sort()).toEqual(
      ["anything", "at", "count", "day", "dry_run", "email", "notes", "rows", "tone"].sort(),
    )
    expect(types("email")).toEqual(["null", "string"])
    expect(types("notes")).toEqual(["null", "string"])
    expect(types("count")).toEqual(["integer", "null"])
    expect(types("dry_run")).toEqual(["boolean", "null"])
    expect(types("day")).toEqual(["null", "string"])
    expect(types("tone")).toEqual(["null", "string"])
    expect(types("rows")).toEqual(["array", "null"])
    expect(schema.properties.tone?.description).toBe("Pick a tone")
  })

  it("an input is required unless its node has a default value", () => {
    expect(schema.required ?? []).not.toContain("count")
    expect(schema.required ?? []).toContain("email")
  })

  const valid = {
    anything: { k: 1 },
    email: "a@b.co",
    notes: "line 1\nline 2",
    dry_run: true,
    day: "2024-02-29",
    at: "07:05",
    tone: "Casual",
    rows: [{ a: "1" }],
  }

  it("every input without a default value is required", async () => {
    const { email: _, ...missing } = valid
    const error = await runGraph(variants, { blocks, inputs: missing }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(RunInputInvalid)
    expect((error as RunInputInvalid).errors).toEqual({ email: "Missing key" })
  })

  it("run inputs are checked against the variants' types", async () => {
    const bad = [
      { count: "three" },
      { count: 2.5 },
      { dry_run: "yes" },
      { day: "2024-02-30" },
      { at: "25:00" },
      { rows: [1, 2] },
    ]
    for (const inputs of bad) {
      const error = await runGraph(variants, { blocks, inputs: { ...valid, ...inputs } }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error, JSON.stringify(inputs)).toBeInstanceOf(RunInputInvalid)
      expect(Object.keys((error as RunInputInvalid).errors)).toEqual(Object.keys(inputs))
    }
  })

  it("each variant emits what it was given", async () => {
    const emitted: Record<string, unknown> = {}
    const result = await runGraph(variants, {
      blocks,
      inputs: valid,
      onEvent: (e) => {
        if (e.type === "NodeOutput") emitted[e.nodeId] = e.value
      },
    })
    expect(result.status).toBe("COMPLETED")
    expect(emitted).toEqual({
      any: { k: 1 },
      short: "a@b.co",
      long: "line 1\nline 2",
      num: 3,
      flag: true,
      day: "2024-02-29",
      time: "07:05:00",
      tone: "Casual",
      table: [{ a: "1" }],
    })
  })
})
