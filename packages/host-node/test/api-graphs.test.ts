/**
 * The graphs and blocks routes on a real socket, PGlite in a temp directory: store a Weft graph and an
 * AutoGPT export, versions, the active version, fork, export; the block catalogue and single-block runs;
 * and the OpenAPI document, which must list every route of the API.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WeftApi } from "../src/api/Api.js"
import type { RunningHost } from "../src/Host.js"
import { client, helloGraph, signUp, startTestHost, tempDir } from "./api-support.js"

const corpusAgent = join(
  import.meta.dirname,
  "../../../../shared/corpus/autogpt/agents/agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json",
)

const dir = tempDir("graphs")
let host: RunningHost
let api: ReturnType<typeof client>

beforeAll(async () => {
  host = await startTestHost({ dataDir: dir.dir })
  api = client(host.url, await signUp(host.url, "alice"))
})
afterAll(async () => {
  await host?.close()
  dir.dispose()
})

interface Created {
  readonly id: string
  readonly version: number
  readonly format: string
}
interface Detail {
  readonly id: string
  readonly version: number
  readonly activeVersion: number
  readonly versions: ReadonlyArray<number>
  readonly graph: {
    readonly id: string
    readonly name: string
    readonly nodes: ReadonlyArray<{ blockId: string }>
  }
  readonly inputSchema: { readonly properties?: Record<string, unknown> }
  readonly outputSchema: { readonly properties?: Record<string, unknown> }
}

describe("graphs", () => {
  it("stores a Weft graph, lists it, and reads it with its input and output schemas", async () => {
    const created = await api.post<Created>("/api/graphs", helloGraph("Greeter"))
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ version: 1, format: "weft" })
    const id = created.body.id
    expect(id).toMatch(/^[0-9a-f-]{36}$/)

    const list =
      await api.get<ReadonlyArray<{ id: string; name: string; activeVersion: number }>>("/api/graphs")
    expect(list.status).toBe(200)
    expect(list.body).toContainEqual(expect.objectContaining({ id, name: "Greeter", activeVersion: 1 }))

    const detail = await api.get<Detail>(`/api/graphs/${id}`)
    expect(detail.status).toBe(200)
    expect(detail.body.graph.id).toBe(id)
    expect(detail.body.graph.nodes.map((n) => n.blockId)).toEqual([
      "weft/io/agent-input",
      "weft/text/fill-text-template",
      "weft/io/agent-output",
    ])
    expect(Object.keys(detail.body.inputSchema.properties ?? {})).toEqual(["topic"])
    expect(Object.keys(detail.body.outputSchema.properties ?? {})).toEqual(["greeting"])
  })

  it("keeps versions: PUT adds one and makes it active; the active version can be set back", async () => {
    const { body } = await api.post<Created>("/api/graphs", helloGraph("V1"))
    const v2 = await api.put<Created>(`/api/graphs/${body.id}`, helloGraph("V2"))
    expect(v2.status).toBe(200)
    expect(v2.body).toMatchObject({ id: body.id, version: 2 })

    const versions = await api.get<ReadonlyArray<{ version: number; active: boolean; name: string }>>(
      `/api/graphs/${body.id}/versions`,
    )
    expect(versions.body.map((v) => [v.version, v.active, v.name])).toEqual([
      [1, false, "V1"],
      [2, true, "V2"],
    ])
    expect((await api.get<Detail>(`/api/graphs/${body.id}`)).body.graph.name).toBe("V2")

    const back = await api.put(`/api/graphs/${body.id}/versions/active`, { version: 1 })
    expect(back).toMatchObject({ status: 200, body: { id: body.id, activeVersion: 1 } })
    const active = await api.get<Detail>(`/api/graphs/${body.id}`)
    expect([active.body.version, active.body.activeVersion, active.body.graph.name]).toEqual([1, 1, "V1"])
    const old = await api.get<Detail>(`/api/graphs/${body.id}?version=2`)
    expect([old.body.version, old.body.graph.name]).toEqual([2, "V2"])

    expect((await api.put(`/api/graphs/${body.id}/versions/active`, { version: 9 })).status).toBe(404)
    expect((await api.get(`/api/graphs/${body.id}?version=9`)).status).toBe(404)
  })

  it("forks a graph into a new one at version 1", async () => {
    const { body } = await api.post<Created>("/api/graphs", helloGraph("Original"))
    const fork = await api.post<{ id: string; version: number }>(`/api/graphs/${body.id}/fork`)
    expect(fork.status).toBe(201)
    expect(fork.body.id).not.toBe(body.id)
    expect(fork.body.version).toBe(1)
    const detail = await api.get<Detail>(`/api/graphs/${fork.body.id}`)
    expect(detail.body.graph.name).toBe("Original")
    expect(detail.body.graph.id).toBe(fork.body.id)
  })

  it("exports a graph in the AutoGPT format, and the export imports again", async () => {
    const { body } = await api.post<Created>("/api/graphs", helloGraph("Round trip"))
    const exported = await api.get<{
      nodes: ReadonlyArray<{ block_id: string }>
      links: ReadonlyArray<unknown>
    }>(`/api/graphs/${body.id}/export?format=autogpt`)
    expect(exported.status).toBe(200)
    expect(exported.body.nodes).toHaveLength(3)
    expect(exported.body.nodes.every((n) => typeof n.block_id === "string")).toBe(true)
    const again = await api.post<Created>("/api/graphs", exported.body)
    expect(again.status).toBe(201)
    expect(again.body.format).toBe("autogpt")
    const detail = await api.get<Detail>(`/api/graphs/${again.body.id}`)
    expect(Object.keys(detail.body.inputSchema.properties ?? {})).toEqual(["topic"])

    const weft = await api.get<{
      id: string
      nodes: ReadonlyArray<unknown>
      subGraphs: ReadonlyArray<unknown>
    }>(`/api/graphs/${body.id}/export`)
    expect(weft.body.id).toBe(body.id)
    expect(weft.body.nodes).toHaveLength(3)
    expect(weft.body.subGraphs).toEqual([])
  })

  it("imports the AutoGPT corpus agent (AI Function)", async () => {
    const agent = JSON.parse(readFileSync(corpusAgent, "utf8")) as {
      nodes: ReadonlyArray<{ block_id: string }>
    }
    const created = await api.post<Created>("/api/graphs", agent)
    expect(created.status).toBe(201)
    expect(created.body.format).toBe("autogpt")
    const detail = await api.get<Detail>(`/api/graphs/${created.body.id}`)
    expect(detail.body.graph.nodes).toHaveLength(agent.nodes.length)
    expect(Object.keys(detail.body.inputSchema.properties ?? {})).toContain("Arguments")
    expect(Object.keys(detail.body.outputSchema.properties ?? {})).toContain("return")
    const exported = await api.get<{ nodes: ReadonlyArray<{ block_id: string }> }>(
      `/api/graphs/${created.body.id}/export?format=autogpt`,
    )
    expect(exported.body.nodes.map((n) => n.block_id).sort()).toEqual(
      agent.nodes.map((n) => n.block_id).sort(),
    )
  })

  it("refuses a graph that does not validate, naming the node and field, and stores nothing", async () => {
    const before = (await api.get<ReadonlyArray<unknown>>("/api/graphs")).body.length
    const bad = helloGraph("Bad")
    const graph = { ...bad, nodes: [...bad.nodes, { id: "ghost", blockId: "weft/does-not-exist" }] }
    const answer = await api.post<{ error: string; fields: Record<string, string> }>("/api/graphs", graph)
    expect(answer.status).toBe(400)
    expect(answer.body.fields).toEqual({ "nodes.ghost.blockId": "unknown block weft/does-not-exist" })
    expect((await api.get<ReadonlyArray<unknown>>("/api/graphs")).body.length).toBe(before)
  })
})

describe("blocks", () => {
  it("lists every block with JSON Schemas of its pins", async () => {
    const blocks =
      await api.get<
        ReadonlyArray<{
          id: string
          aliases: ReadonlyArray<string>
          inputSchema: { properties?: Record<string, unknown> }
        }>
      >("/api/blocks")
    expect(blocks.status).toBe(200)
    expect(blocks.body.length).toBeGreaterThan(40)
    const fill = blocks.body.find((b) => b.id === "weft/text/fill-text-template")
    expect(Object.keys(fill?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(["values", "format"]),
    )
    expect(new Set(blocks.body.map((b) => b.id)).size).toBe(blocks.body.length)
  })

  it("executes one block and answers its outputs in order", async () => {
    const answer = await api.post<{ outputs: ReadonlyArray<{ pin: string; value: unknown }> }>(
      "/api/blocks/weft/text/fill-text-template/execute".replace(
        "weft/text/fill-text-template",
        encodeURIComponent("weft/text/fill-text-template"),
      ),
      { input: { values: { name: "Ada" }, format: "Hi {{ name }}" } },
    )
    expect(answer.status).toBe(200)
    expect(answer.body.outputs).toEqual([{ pin: "output", value: "Hi Ada" }])
  })

  it("names the invalid input field of a single-block run, and 404s an unknown block", async () => {
    const id = encodeURIComponent("weft/text/fill-text-template")
    const bad = await api.post<{ fields: Record<string, string> }>(`/api/blocks/${id}/execute`, {
      input: { values: {} },
    })
    expect(bad.status).toBe(400)
    expect(Object.keys(bad.body.fields)).toEqual(["input.format"])
    expect((await api.post("/api/blocks/nope/execute", { input: {} })).status).toBe(404)
  })
})

describe("OpenAPI", () => {
  /** The routes the issue asks for; the document must list each, generated from the same schemas. */
  const required = [
    "GET /api/blocks",
    "POST /api/blocks/{id}/execute",
    "POST /api/graphs",
    "GET /api/graphs",
    "GET /api/graphs/{id}",
    "PUT /api/graphs/{id}",
    "GET /api/graphs/{id}/versions",
    "PUT /api/graphs/{id}/versions/active",
    "POST /api/graphs/{id}/fork",
    "GET /api/graphs/{id}/export",
    "POST /api/graphs/{id}/runs",
    "GET /api/runs",
    "GET /api/runs/{id}",
    "POST /api/runs/{id}/stop",
    "POST /api/runs/{id}/reviews",
    "GET /api/runs/{id}/events",
  ]

  it("lists every route of the API, with request body schemas that refuse unknown fields", async () => {
    const doc = await api.get<{
      openapi: string
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >
    }>("/api/openapi.json")
    expect(doc.status).toBe(200)
    expect(doc.body.openapi).toMatch(/^3\./)
    const listed = Object.entries(doc.body.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    const declared = Object.values(WeftApi.groups).flatMap((group) =>
      Object.values(group.endpoints).map(
        (endpoint) => `${endpoint.method} ${endpoint.path.replace(/:(\w+)/g, "{$1}")}`,
      ),
    )
    expect(new Set(listed)).toEqual(new Set(declared))
    expect(listed).toEqual(expect.arrayContaining(required))
    const review =
      doc.body.paths["/api/runs/{id}/reviews"]?.post?.requestBody?.content["application/json"]?.schema
    expect(JSON.stringify(review)).toContain('"additionalProperties":false')
    const events = doc.body.paths["/api/runs/{id}/events"] as Record<
      string,
      { responses: Record<string, unknown> }
    >
    expect(JSON.stringify(events.get?.responses)).toContain("text/event-stream")
  })
})
