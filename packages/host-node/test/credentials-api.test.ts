/**
 * The credentials API and credentials in runs, on PGlite and on Postgres (inline and with a worker): store,
 * list, read, delete, owner-scoped (another user's ids answer 404 like unknown ones); bad input refused
 * with the field named and nothing written; a run hands the owner's secret to an AI block talking to a
 * loopback OpenAI-compatible server, and refuses another user's credentials id naming the field. A Postgres
 * host without a key stores nothing (503), and a worker without the key fails such runs with a clear error.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { statSync } from "node:fs"
import { join } from "node:path"
import { LlmConfig, SafeHttpClient } from "@weft/blocks"
import { Context } from "effect"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type OpenAIServer, startOpenAIServer } from "../../blocks/test/support/openai-server.js"
import { KEY_FILE } from "../src/credentials/Keys.js"
import type { RunningHost } from "../src/Host.js"
import { type RunningWorker, startWorker } from "../src/Worker.js"
import {
  type Answer,
  client,
  eventually,
  freshDatabase,
  readSse,
  type Session,
  signUp,
  startTestHost,
  TEST_SECRET,
  tempDir,
} from "./api-support.js"
import { MAIN } from "./support/workers.js"

const TEST_KEY = randomBytes(32).toString("base64")

interface CredentialView {
  readonly id: string
  readonly provider: string
  readonly type: string
  readonly title: string
  readonly host?: string
  readonly createdAt: number
}

interface RunView {
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly executions: ReadonlyArray<{
    nodeId: string
    status: string
    error?: string
    inputs: Record<string, unknown>
  }>
}

/** input-less graph: an AI text generator with these credentials → output `answer`. */
const aiGraph = (credentials: unknown, name = "AI") => ({
  name,
  nodes: [
    {
      id: "ai",
      blockId: "weft/ai/text-generator",
      inputDefault: { prompt: "Say hello", model: "gpt-4o", retry: 1, credentials },
    },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "answer" } },
  ],
  links: [{ sourceId: "ai", sourceName: "response", sinkId: "out", sinkName: "value" }],
})

const refOf = (c: CredentialView) => ({ id: c.id, provider: c.provider, type: c.type, title: c.title })

const llmResources = (llm: OpenAIServer) =>
  Context.make(LlmConfig, {
    baseURL: llm.baseURL,
    apiKey: "host-default-key",
    http: new SafeHttpClient({ allow: ["127.0.0.1"] }),
  }) as Context.Context<never>

type Mode = "pglite" | "postgres"

describe.each<Mode>(["pglite", "postgres"])("credentials on %s", (mode) => {
  const dir = tempDir(`credentials-${mode}`)
  let db: Awaited<ReturnType<typeof freshDatabase>> | undefined
  let host: RunningHost
  let llm: OpenAIServer
  let alice: Session
  let bob: Session
  const SECRET = `sk-api-${randomBytes(12).toString("hex")}`

  const countRows = async (): Promise<number> => {
    if (db === undefined) {
      const list = await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/credentials")
      const bobs = await client(host.url, bob).get<ReadonlyArray<unknown>>("/api/credentials")
      return list.body.length + bobs.body.length
    }
    const sql = postgres(db.url, { max: 1, onnotice: () => {} })
    try {
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM credentials`
      return row?.n ?? 0
    } finally {
      await sql.end()
    }
  }

  beforeAll(async () => {
    llm = await startOpenAIServer({ handler: () => "Hello from the model" })
    if (mode === "postgres") db = await freshDatabase("credentials")
    host = await startTestHost({
      ...(db === undefined ? { dataDir: dir.dir } : { databaseUrl: db.url, credentials: { key: TEST_KEY } }),
      runs: { resources: llmResources(llm) },
    })
    alice = await signUp(host.url, "alice")
    bob = await signUp(host.url, "bob")
  })
  afterAll(async () => {
    await host?.close()
    await llm?.close()
    await db?.drop()
    dir.dispose()
  })

  if (mode === "pglite") {
    it("the embedded host generated its key into the data directory, mode 0600", () => {
      expect(statSync(join(dir.dir, KEY_FILE)).mode & 0o777).toBe(0o600)
    })
  }

  it("stores, lists, reads and deletes; answers carry metadata only; another user's ids answer 404", async () => {
    const api = client(host.url, alice)
    const created = await api.post<CredentialView>("/api/credentials", {
      provider: "openai",
      type: "api_key",
      title: "My OpenAI key",
      secret: { api_key: SECRET },
    })
    expect(created.status).toBe(201)
    expect(Object.keys(created.body).sort()).toEqual(["createdAt", "id", "provider", "title", "type"])
    expect(created.body).toMatchObject({ provider: "openai", type: "api_key", title: "My OpenAI key" })
    const login = await api.post<CredentialView>("/api/credentials", {
      provider: "smtp",
      type: "user_password",
      secret: { username: "me", password: `pw-${SECRET}` },
    })
    expect(login.status).toBe(201)
    expect(login.body.title).toBe("smtp user and password")
    const scoped = await api.post<CredentialView>("/api/credentials", {
      provider: "http",
      type: "host_scoped",
      title: "Internal API",
      host: "api.internal.example",
      secret: { headers: { "X-Api-Key": `hdr-${SECRET}` } },
    })
    expect(scoped.status).toBe(201)
    expect(scoped.body.host).toBe("api.internal.example")

    const list = await api.get<ReadonlyArray<CredentialView>>("/api/credentials")
    expect(list.status).toBe(200)
    expect(list.body.map((c) => c.id).sort()).toEqual([created.body.id, login.body.id, scoped.body.id].sort())
    expect((await api.get<ReadonlyArray<CredentialView>>("/api/credentials?provider=smtp")).body).toEqual([
      login.body,
    ])
    const one = await api.get<CredentialView>(`/api/credentials/${created.body.id}`)
    expect(one).toMatchObject({ status: 200, body: created.body })

    // Bob: an empty list, and Alice's ids answer exactly like unknown ones.
    const other = client(host.url, bob)
    expect((await other.get("/api/credentials")).body).toEqual([])
    const foreign = await other.get(`/api/credentials/${created.body.id}`)
    const unknown = await other.get("/api/credentials/no-such-id")
    expect(foreign.status).toBe(404)
    expect(foreign.body).toEqual({ _tag: "NotFound", error: `No credentials ${created.body.id}` })
    expect(unknown.status).toBe(404)
    expect((await other.call("DELETE", `/api/credentials/${created.body.id}`)).status).toBe(404)
    expect((await api.get(`/api/credentials/${created.body.id}`)).status).toBe(200)
    expect((await client(host.url).get("/api/credentials")).status).toBe(401)
    // The routes are in the OpenAPI document, from the same schemas.
    const doc = await client(host.url).get<{ paths: Record<string, Record<string, unknown>> }>(
      "/api/openapi.json",
    )
    expect(Object.keys(doc.body.paths["/api/credentials"] ?? {}).sort()).toEqual(["get", "post"])
    expect(Object.keys(doc.body.paths["/api/credentials/{id}"] ?? {}).sort()).toEqual(["delete", "get"])

    const removed = await api.call("DELETE", `/api/credentials/${login.body.id}`)
    expect(removed.status).toBe(204)
    expect((await api.get(`/api/credentials/${login.body.id}`)).status).toBe(404)
    expect((await api.call("DELETE", `/api/credentials/${login.body.id}`)).status).toBe(404)

    for (const answer of [created, login, scoped, list, one, foreign, unknown]) {
      expect(JSON.stringify(answer.body)).not.toContain(SECRET)
    }
  })

  it("bad input is a 400 naming the field, never echoes the secret, and writes nothing", async () => {
    const api = client(host.url, alice)
    const before = await countRows()
    const base = { provider: "openai", type: "api_key", title: "t", secret: { api_key: SECRET } }
    const cases: ReadonlyArray<[unknown, string]> = [
      [{ ...base, provider: undefined }, "provider"],
      [{ ...base, provider: "has spaces" }, "provider"],
      [{ ...base, type: "token" }, "type"],
      [{ ...base, title: "" }, "title"],
      [{ ...base, title: 5 }, "title"],
      [{ ...base, secret: undefined }, "secret"],
      [{ ...base, secret: SECRET }, "secret"],
      [{ ...base, secret: [SECRET] }, "secret"],
      [{ ...base, secret: {} }, "secret.api_key"],
      [{ ...base, secret: { api_key: "" } }, "secret.api_key"],
      [{ ...base, secret: { api_key: 42 } }, "secret.api_key"],
      [{ ...base, secret: { api_key: SECRET, token: SECRET } }, "secret.token"],
      [{ ...base, type: "user_password", secret: { username: "u" } }, "secret.password"],
      [{ ...base, type: "oauth2", secret: { refresh_token: SECRET } }, "secret.access_token"],
      [{ ...base, type: "host_scoped", secret: { headers: { "X-Key": SECRET } } }, "host"],
      [{ ...base, host: "example.com" }, "host"],
      [{ ...base, apiKey: SECRET }, "apiKey"],
    ]
    for (const [body, field] of cases) {
      const answer = await api.post<{ _tag: string; fields?: Record<string, string>; error: string }>(
        "/api/credentials",
        body,
      )
      expect(answer.status, `${field}: ${JSON.stringify(answer.body)}`).toBe(400)
      expect(answer.body._tag).toBe("BadRequest")
      expect(Object.keys(answer.body.fields ?? {}), JSON.stringify(answer.body)).toContain(field)
      if (typeof (body as { secret?: unknown }).secret !== "string") {
        expect(JSON.stringify(answer.body)).not.toContain(SECRET)
      }
    }
    const malformed = await api.post("/api/credentials", '{"provider": "openai", "secret": {')
    expect(malformed.status).toBe(400)
    const oversize = await api.post("/api/credentials", {
      ...base,
      secret: { api_key: "x".repeat(6 * 1024 * 1024) },
    })
    expect(oversize.status).toBe(413)
    expect(await countRows()).toBe(before)
  })

  it("a run hands the owner's secret to the block; another user's id and a wrong provider are refused", async () => {
    const api = client(host.url, alice)
    const key = await api.post<CredentialView>("/api/credentials", {
      provider: "openai",
      type: "api_key",
      title: "For runs",
      secret: { api_key: SECRET },
    })
    const graph = await api.post<{ id: string }>("/api/graphs", aiGraph(refOf(key.body)))
    expect(graph.status).toBe(201)
    const before = llm.requests.length
    const started = await api.post<{ id: string }>(`/api/graphs/${graph.body.id}/runs`, {})
    expect(started.status).toBe(201)
    const sse = await readSse(`${host.url}/api/runs/${started.body.id}/events`, { headers: alice.headers })
    expect(JSON.stringify(sse.frames)).not.toContain(SECRET)
    const run = await api.get<RunView>(`/api/runs/${started.body.id}`)
    expect(run.body.status).toBe("COMPLETED")
    expect(run.body.outputs).toEqual({ answer: ["Hello from the model"] })
    const sent = llm.requests.slice(before)
    expect(sent.map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRET}`])
    // The events show the reference (the block's resolved inputs), never the secret.
    const queued = sse.frames.find(
      (f) => f.data?.type === "NodeStatus" && f.data.nodeId === "ai" && f.data.status === "QUEUED",
    )
    expect((queued?.data as { inputs?: Record<string, unknown> } | undefined)?.inputs?.credentials).toEqual(
      refOf(key.body),
    )
    expect(JSON.stringify(run.body)).not.toContain(SECRET)

    // Bob names Alice's credentials in his own graph: the block fails naming the field; nothing reaches the model.
    const other = client(host.url, bob)
    const stolen = await other.post<{ id: string }>("/api/graphs", aiGraph(refOf(key.body), "Bob's"))
    const bobRun = await other.post<{ id: string }>(`/api/graphs/${stolen.body.id}/runs`, {})
    await readSse(`${host.url}/api/runs/${bobRun.body.id}/events`, { headers: bob.headers })
    const refused = await other.get<RunView>(`/api/runs/${bobRun.body.id}`)
    const failed = refused.body.executions.find((e) => e.nodeId === "ai")
    expect(failed?.status).toBe("FAILED")
    expect(failed?.error).toBe(`credentials credentials: credentials ${key.body.id} were not found`)
    expect(llm.requests.length).toBe(before + 1)
    expect(JSON.stringify(refused.body)).not.toContain(SECRET)

    // A stored key of another provider, named as openai in the graph: refused by the stored provider.
    const github = await api.post<CredentialView>("/api/credentials", {
      provider: "github",
      type: "api_key",
      secret: { api_key: `gh-${SECRET}` },
    })
    const disguised = await api.post<{ id: string }>(
      "/api/graphs",
      aiGraph({ ...refOf(github.body), provider: "openai" }, "Disguised"),
    )
    const third = await api.post<{ id: string }>(`/api/graphs/${disguised.body.id}/runs`, {})
    await readSse(`${host.url}/api/runs/${third.body.id}/events`, { headers: alice.headers })
    const mismatch = await api.get<RunView>(`/api/runs/${third.body.id}`)
    expect(mismatch.body.executions.find((e) => e.nodeId === "ai")?.error).toBe(
      `credentials credentials: credentials ${github.body.id} are github api_key credentials; this field needs openai or anthropic or groq or ollama or open_router or llama_api or aiml_api or v0 api_key`,
    )
    expect(llm.requests.length).toBe(before + 1)

    // Deleted credentials no longer resolve.
    await api.call("DELETE", `/api/credentials/${key.body.id}`)
    const after = await api.post<{ id: string }>(`/api/graphs/${graph.body.id}/runs`, {})
    await readSse(`${host.url}/api/runs/${after.body.id}/events`, { headers: alice.headers })
    const gone = await api.get<RunView>(`/api/runs/${after.body.id}`)
    expect(gone.body.status).toBe("COMPLETED")
    expect(gone.body.executions.find((e) => e.nodeId === "ai")?.error).toContain("were not found")
    expect(llm.requests.length).toBe(before + 1)
  })
})

describe("Postgres: a host without a key, and workers", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let llm: OpenAIServer
  let locked: RunningHost
  let queued: RunningHost
  let worker: RunningWorker | undefined
  let alice: Session
  const SECRET = `sk-worker-${randomBytes(12).toString("hex")}`

  beforeAll(async () => {
    llm = await startOpenAIServer({ handler: () => "From the worker's model" })
    db = await freshDatabase("credworkers")
    locked = await startTestHost({ databaseUrl: db.url })
    queued = await startTestHost({ databaseUrl: db.url, queue: "workers", credentials: { key: TEST_KEY } })
    alice = await signUp(queued.url, "alice")
  })
  afterAll(async () => {
    await worker?.close()
    await queued?.close()
    await locked?.close()
    await llm?.close()
    await db?.drop()
  })

  const startRun = async (api: ReturnType<typeof client>, credential: CredentialView) => {
    const graph = await api.post<{ id: string }>("/api/graphs", aiGraph(refOf(credential)))
    const started = await api.post<{ id: string }>(`/api/graphs/${graph.body.id}/runs`, {})
    expect(started.status).toBe(201)
    return started.body.id
  }

  it("a Postgres host started without a key stores nothing (503) but lists", async () => {
    const api = client(locked.url, alice)
    const refused: Answer<{ _tag: string; error: string }> = await api.post("/api/credentials", {
      provider: "openai",
      type: "api_key",
      secret: { api_key: SECRET },
    })
    expect(refused.status).toBe(503)
    expect(refused.body._tag).toBe("CredentialsUnavailable")
    expect(refused.body.error).toContain("WEFT_CREDENTIALS_KEY")
    expect((await api.get("/api/credentials")).body).toEqual([])
  })

  it("a worker with the key resolves the owner's credentials; one without fails the block clearly", async () => {
    const api = client(queued.url, alice)
    const key = await api.post<CredentialView>("/api/credentials", {
      provider: "openai",
      type: "api_key",
      secret: { api_key: SECRET },
    })
    expect(key.status).toBe(201)
    const resources = llmResources(llm)

    // A worker without the key: the block fails with the reason, the model is never called.
    worker = await startWorker({
      databaseUrl: db.url,
      id: "no-key",
      pollInterval: "200 millis",
      runs: { resources },
    })
    const first = await startRun(api, key.body)
    const noKey = await eventually(async () => {
      const run = await api.get<RunView>(`/api/runs/${first}`)
      return run.body.status === "COMPLETED" || run.body.status === "FAILED" ? run.body : undefined
    }, 20_000)
    expect(noKey.executions.find((e) => e.nodeId === "ai")?.error).toContain(
      "credentials credentials: no credentials key is configured on this server",
    )
    expect(llm.requests).toHaveLength(0)
    await worker.close()

    worker = await startWorker({
      databaseUrl: db.url,
      id: "with-key",
      pollInterval: "200 millis",
      runs: { resources },
      credentials: { key: TEST_KEY },
    })
    const second = await startRun(api, key.body)
    const done = await eventually(async () => {
      const run = await api.get<RunView>(`/api/runs/${second}`)
      return run.body.status === "COMPLETED" || run.body.status === "FAILED" ? run.body : undefined
    }, 20_000)
    expect(done.outputs).toEqual({ answer: ["From the worker's model"] })
    expect(llm.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRET}`])
    expect(JSON.stringify(done)).not.toContain(SECRET)
  })

  /** Runs the built `weft` binary to its exit; answers the exit code and what it wrote. */
  const cli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } })
      let output = ""
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.once("exit", (code) => resolve({ code, output }))
    })

  it("weft serve and weft worker refuse to start on Postgres without a key, or with a malformed one", async () => {
    const env = { DATABASE_URL: db.url, BETTER_AUTH_SECRET: TEST_SECRET, WEFT_CREDENTIALS_KEY: "" }
    const serve = await cli(["serve", "--port", "0"], env)
    expect(serve.code).toBe(1)
    expect(serve.output).toContain("weft serve: WEFT_CREDENTIALS_KEY is not set")
    const worker = await cli(["worker"], env)
    expect(worker.code).toBe(1)
    expect(worker.output).toContain("weft worker: WEFT_CREDENTIALS_KEY is not set")
    const bad = `not-a-key-${randomBytes(4).toString("hex")}`
    const malformed = await cli(["serve", "--port", "0"], { ...env, WEFT_CREDENTIALS_KEY: bad })
    expect(malformed.code).toBe(1)
    expect(malformed.output).toContain("must be 32 random bytes written as base64 or as 64 hex digits")
    expect(malformed.output).not.toContain(bad)
  }, 60_000)
})
