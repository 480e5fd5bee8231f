/**
 * Presets over HTTP, on PGlite and on Postgres: saved inputs and credential references for a graph, checked
 * against the graph when saved, executed as a run (inputs overridden, `Idempotency-Key` honoured), owner
 * scoped, and not deletable while a schedule uses them.
 */
import { randomBytes } from "node:crypto"
import { LlmConfig, SafeHttpClient } from "@weft/blocks"
import { Context } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type OpenAIServer, startOpenAIServer } from "../../blocks/test/support/openai-server.js"
import type { RunningHost } from "../src/Host.js"
import {
  type Answer,
  client,
  eventually,
  freshDatabase,
  helloGraph,
  readSse,
  type Session,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"

interface Preset {
  readonly id: string
  readonly graphId: string
  readonly version?: number
  readonly name: string
  readonly description: string
  readonly inputs: Record<string, unknown>
  readonly credentials: Record<string, Record<string, string>>
}

interface Refusal {
  readonly _tag: string
  readonly error: string
  readonly fields?: Record<string, string>
}

interface RunView {
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly graphId?: string
}

/** A graph whose `judge` node (an AI condition block) has a credentials field; its model is on loopback. */
const judgeGraph = {
  name: "Judge",
  nodes: [
    { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } },
    { id: "judge", blockId: "weft/ai/condition", inputDefault: { condition: "it is a city" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "verdict" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "judge", sinkName: "input_value" },
    { sourceId: "judge", sourceName: "result", sinkId: "out", sinkName: "value" },
  ],
}

/** A graph with a whole-number input `count`. */
const countGraph = {
  name: "Count",
  nodes: [
    { id: "in", blockId: "weft/io/agent-number-input", inputDefault: { name: "count" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "n" } },
  ],
  links: [{ sourceId: "in", sourceName: "result", sinkId: "out", sinkName: "value" }],
}

describe.each(["pglite", "postgres"] as const)("presets on %s", (driver) => {
  let host: RunningHost
  let dispose: () => Promise<void> | void = () => {}
  let alice: Session
  let bob: Session
  let a: ReturnType<typeof client>
  let b: ReturnType<typeof client>
  let graphId: string
  let judgeId: string
  let llm: OpenAIServer
  let countId: string

  beforeAll(async () => {
    // The AI block of `judgeGraph` talks to this loopback model server, with the key a preset maps.
    llm = await startOpenAIServer({ handler: () => "yes" })
    const resources = Context.make(LlmConfig, {
      baseURL: llm.baseURL,
      http: new SafeHttpClient({ allow: ["127.0.0.1"] }),
    }) as Context.Context<never>
    if (driver === "pglite") {
      const dir = tempDir("presets")
      host = await startTestHost({ dataDir: dir.dir, runs: { resources } })
      dispose = dir.dispose
    } else {
      const db = await freshDatabase("presets")
      host = await startTestHost({
        databaseUrl: db.url,
        credentials: { key: randomBytes(32).toString("hex") },
        runs: { resources },
      })
      dispose = db.drop
    }
    alice = await signUp(host.url, `alice-${driver}`)
    bob = await signUp(host.url, `bob-${driver}`)
    a = client(host.url, alice)
    b = client(host.url, bob)
    graphId = (await a.post<{ id: string }>("/api/graphs", helloGraph())).body.id
    judgeId = (await a.post<{ id: string }>("/api/graphs", judgeGraph)).body.id
    countId = (await a.post<{ id: string }>("/api/graphs", countGraph)).body.id
  })

  afterAll(async () => {
    await host?.close()
    await llm?.close()
    await dispose()
  })

  const completed = (runId: string, as = a) =>
    eventually(async () => {
      const run = await as.get<RunView>(`/api/runs/${runId}`)
      return run.body.status === "COMPLETED" || run.body.status === "FAILED" ? run.body : undefined
    })

  const presetsOf = async (graph: string) =>
    (await a.get<ReadonlyArray<Preset>>(`/api/presets?graphId=${graph}`)).body

  it("saves a preset, lists it by graph, reads, changes and deletes it", async () => {
    const created = await a.post<Preset>("/api/presets", {
      graphId,
      name: "Greet the world",
      description: "a saved greeting",
      inputs: { topic: "world" },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      graphId,
      name: "Greet the world",
      description: "a saved greeting",
      inputs: { topic: "world" },
      credentials: {},
    })
    expect(created.body.version).toBeUndefined()
    const id = created.body.id

    expect((await presetsOf(graphId)).map((p) => p.id)).toContain(id)
    expect((await presetsOf(judgeId)).map((p) => p.id)).not.toContain(id)
    expect((await a.get<Preset>(`/api/presets/${id}`)).body).toEqual(created.body)

    const changed = await a.put<Preset>(`/api/presets/${id}`, {
      name: "Greet Weft",
      inputs: { topic: "Weft" },
      version: 1,
    })
    expect(changed.status).toBe(200)
    expect(changed.body).toMatchObject({ name: "Greet Weft", inputs: { topic: "Weft" }, version: 1 })
    const unpinned = await a.put<Preset>(`/api/presets/${id}`, { version: null })
    expect(unpinned.body.version).toBeUndefined()
    expect(unpinned.body.name).toBe("Greet Weft")

    expect((await a.call("DELETE", `/api/presets/${id}`)).status).toBe(204)
    expect((await a.get(`/api/presets/${id}`)).status).toBe(404)
    expect((await a.call("DELETE", `/api/presets/${id}`)).status).toBe(404)
  })

  it("executes a preset as a run of its owner that completes, with inputs overridden", async () => {
    const preset = (
      await a.post<Preset>("/api/presets", { graphId, name: "p", inputs: { topic: "presets" } })
    ).body
    const plain = await a.post<{ id: string; existing: boolean }>(`/api/presets/${preset.id}/execute`)
    expect(plain.status).toBe(201)
    expect(plain.body.existing).toBe(false)
    const run = await completed(plain.body.id)
    expect(run).toMatchObject({ status: "COMPLETED", graphId, outputs: { greeting: ["Hello, presets!"] } })

    const overridden = await a.post<{ id: string }>(`/api/presets/${preset.id}/execute`, {
      inputs: { topic: "override" },
    })
    expect(overridden.status).toBe(201)
    expect((await completed(overridden.body.id)).outputs).toEqual({ greeting: ["Hello, override!"] })
    // The preset itself is unchanged.
    expect((await a.get<Preset>(`/api/presets/${preset.id}`)).body.inputs).toEqual({ topic: "presets" })
  })

  it("honours Idempotency-Key: one run per key, and a key reused with other inputs is refused (422)", async () => {
    const preset = (
      await a.post<Preset>("/api/presets", { graphId, name: "idem", inputs: { topic: "once" } })
    ).body
    const key = { "idempotency-key": `preset-${driver}-1` }
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        a.post<{ id: string; existing: boolean }>(`/api/presets/${preset.id}/execute`, undefined, key),
      ),
    )
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201, 201])
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1)
    expect(answers.filter((r) => !r.body.existing)).toHaveLength(1)
    const other = await a.post<Refusal>(
      `/api/presets/${preset.id}/execute`,
      { inputs: { topic: "twice" } },
      key,
    )
    expect(other.status).toBe(422)
    expect(other.body.fields).toHaveProperty("Idempotency-Key")
    const runs = (await a.get<ReadonlyArray<{ id: string }>>(`/api/runs?graphId=${graphId}`)).body
    expect(runs.filter((r) => r.id === answers[0]?.body.id)).toHaveLength(1)
  })

  it("refuses inputs that do not fit the graph with 400 naming inputs.<name>, and writes nothing", async () => {
    const before = (await presetsOf(graphId)).length
    const wrongType = await a.post<Refusal>("/api/presets", {
      graphId: countId,
      name: "bad",
      inputs: { count: "three" },
    })
    expect(wrongType.status).toBe(400)
    expect(Object.keys(wrongType.body.fields ?? {})).toEqual(["inputs.count"])
    expect((await presetsOf(countId)).length).toBe(0)
    const unknown = await a.post<Refusal>("/api/presets", {
      graphId,
      name: "bad",
      inputs: { topic: "x", nope: 1 },
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body.fields).toEqual({ "inputs.nope": "unknown input" })
    const notObject = await a.post<Refusal>("/api/presets", { graphId, name: "bad", inputs: "topic" })
    expect(notObject.status).toBe(400)
    expect(notObject.body.fields).toHaveProperty("inputs")
    const noName = await a.post<Refusal>("/api/presets", { graphId, name: "", inputs: {} })
    expect(noName.status).toBe(400)
    expect(noName.body.fields).toHaveProperty("name")
    const badVersion = await a.post<Refusal>("/api/presets", { graphId, name: "v", inputs: {}, version: 9 })
    expect(badVersion.status).toBe(404)
    expect((await presetsOf(graphId)).length).toBe(before)

    // A preset may leave a required input out; executing it then needs the input.
    const partial = await a.post<Preset>("/api/presets", { graphId, name: "partial", inputs: {} })
    expect(partial.status).toBe(201)
    const missing = await a.post<Refusal>(`/api/presets/${partial.body.id}/execute`)
    expect(missing.status).toBe(400)
    expect(Object.keys(missing.body.fields ?? {})).toEqual(["inputs.topic"])
    const given = await a.post<{ id: string }>(`/api/presets/${partial.body.id}/execute`, {
      inputs: { topic: "late" },
    })
    expect(given.status).toBe(201)
    expect((await completed(given.body.id)).outputs).toEqual({ greeting: ["Hello, late!"] })
    const wrongOnUpdate = await a.put<Refusal>(`/api/presets/${partial.body.id}`, {
      inputs: { colour: "red" },
    })
    expect(wrongOnUpdate.status).toBe(400)
    expect(wrongOnUpdate.body.fields).toEqual({ "inputs.colour": "unknown input" })
    expect((await a.get<Preset>(`/api/presets/${partial.body.id}`)).body.inputs).toEqual({})
  })

  it("keeps credential references that fit the graph and are the owner's, and refuses others naming the field", async () => {
    const secret = { provider: "openai", type: "api_key", title: "k", secret: { api_key: "sk-preset-test" } }
    const mine = await a.post<{ id: string }>("/api/credentials", secret)
    expect(mine.status).toBe(201)
    const github = await a.post<{ id: string }>("/api/credentials", { ...secret, provider: "github" })
    const theirs = await b.post<{ id: string }>("/api/credentials", secret)
    const base = { graphId: judgeId, name: "judge", inputs: { topic: "Paris" } }

    const saved = await a.post<Preset>("/api/presets", {
      ...base,
      credentials: { judge: { credentials: mine.body.id } },
    })
    expect(saved.status).toBe(201)
    expect(saved.body.credentials).toEqual({ judge: { credentials: mine.body.id } })
    expect(JSON.stringify(saved.body)).not.toContain("sk-preset-test")

    const cases: ReadonlyArray<[Record<string, Record<string, string>>, string]> = [
      [{ ghost: { credentials: mine.body.id } }, "credentials.ghost"],
      [{ judge: { model: mine.body.id } }, "credentials.judge.model"],
      [{ judge: { credentials: theirs.body.id } }, "credentials.judge.credentials"],
      [{ judge: { credentials: "no-such-credentials" } }, "credentials.judge.credentials"],
      [{ judge: { credentials: github.body.id } }, "credentials.judge.credentials"],
    ]
    for (const [credentials, field] of cases) {
      const refused = await a.post<Refusal>("/api/presets", { ...base, credentials })
      expect(refused.status, JSON.stringify(credentials)).toBe(400)
      expect(Object.keys(refused.body.fields ?? {})).toEqual([field])
    }
    const theirsRefused = await a.post<Refusal>("/api/presets", {
      ...base,
      credentials: { judge: { credentials: theirs.body.id } },
    })
    // Another user's credentials are answered like unknown ones.
    expect(theirsRefused.body.fields?.["credentials.judge.credentials"]).toBe(
      `no credentials ${theirs.body.id}`,
    )
    expect((await presetsOf(judgeId)).map((p) => p.id)).toEqual([saved.body.id])

    // Executing it puts the reference (never the secret) on the node, for the resolver to open at run time.
    const run = await a.post<{ id: string }>(`/api/presets/${saved.body.id}/execute`)
    expect(run.status).toBe(201)
    await readSse(`${host.url}/api/runs/${run.body.id}/events`, { headers: alice.headers })
    const view = await a.get<{
      status: string
      executions: ReadonlyArray<{ nodeId: string; status: string }>
    }>(`/api/runs/${run.body.id}`)
    expect(view.body.executions.find((e) => e.nodeId === "judge")?.status).toBe("COMPLETED")
    // The model server saw the preset's credential as the bearer token; the run shows no secret.
    expect(llm.requests.at(-1)?.headers.authorization).toBe("Bearer sk-preset-test")
    expect(JSON.stringify(view.body)).not.toContain("sk-preset-test")
    // A credential deleted since the preset was saved is refused when it runs, naming the field.
    expect((await a.call("DELETE", `/api/credentials/${mine.body.id}`)).status).toBe(204)
    const gone = await a.post<Refusal>(`/api/presets/${saved.body.id}/execute`)
    expect(gone.status).toBe(400)
    expect(Object.keys(gone.body.fields ?? {})).toEqual(["credentials.judge.credentials"])
  })

  it("answers another user's preset ids and graphs with 404, and lists none of them", async () => {
    const preset = (await a.post<Preset>("/api/presets", { graphId, name: "mine", inputs: { topic: "x" } }))
      .body
    const answers: ReadonlyArray<Answer<Refusal>> = [
      await b.get<Refusal>(`/api/presets/${preset.id}`),
      await b.put<Refusal>(`/api/presets/${preset.id}`, { name: "theirs" }),
      await b.call<Refusal>("DELETE", `/api/presets/${preset.id}`),
      await b.post<Refusal>(`/api/presets/${preset.id}/execute`),
      await b.post<Refusal>("/api/presets", { graphId, name: "steal", inputs: { topic: "x" } }),
      await a.get<Refusal>("/api/presets/no-such-preset"),
    ]
    for (const answer of answers) {
      expect(answer.status).toBe(404)
      expect(JSON.stringify(answer.body)).not.toContain("mine")
    }
    expect((await b.get<ReadonlyArray<Preset>>("/api/presets")).body).toEqual([])
    expect((await a.get<Preset>(`/api/presets/${preset.id}`)).body.name).toBe("mine")
  })

  it("documents the preset and schedule routes in the OpenAPI document", async () => {
    const doc = await a.get<{ paths: Record<string, Record<string, unknown>> }>("/api/openapi.json")
    expect(doc.status).toBe(200)
    const listed = Object.entries(doc.body.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(listed).toEqual(
      expect.arrayContaining([
        "POST /api/presets",
        "GET /api/presets",
        "GET /api/presets/{id}",
        "PUT /api/presets/{id}",
        "DELETE /api/presets/{id}",
        "POST /api/presets/{id}/execute",
        "POST /api/schedules",
        "GET /api/schedules",
        "GET /api/schedules/{id}",
        "PUT /api/schedules/{id}",
        "DELETE /api/schedules/{id}",
      ]),
    )
  })

  it("refuses to delete a preset a schedule uses (409), then deletes it once the schedule is gone", async () => {
    const preset = (
      await a.post<Preset>("/api/presets", { graphId, name: "used", inputs: { topic: "cron" } })
    ).body
    const schedule = await a.post<{ id: string }>("/api/schedules", {
      graphId,
      presetId: preset.id,
      cron: "0 0 1 1 *",
      timezone: "UTC",
    })
    expect(schedule.status).toBe(201)
    const refused = await a.call<Refusal>("DELETE", `/api/presets/${preset.id}`)
    expect(refused.status).toBe(409)
    expect(refused.body.error).toContain(schedule.body.id)
    expect((await a.call("DELETE", `/api/schedules/${schedule.body.id}`)).status).toBe(204)
    expect((await a.call("DELETE", `/api/presets/${preset.id}`)).status).toBe(204)
  })
})
