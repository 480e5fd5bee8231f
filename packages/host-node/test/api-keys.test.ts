/**
 * API keys with scopes, on real better-auth and real sockets, on PGlite and on Postgres: a key acts for its
 * user with only its scopes (403 naming the missing scope), runs a graph end to end, cannot manage keys,
 * sees only its user's graphs and runs, and stops working once revoked or expired (401). Keys are stored
 * hashed; the package refuses to create a key for a user from an unauthenticated request.
 */
import { createHash } from "node:crypto"
import { PGlite } from "@electric-sql/pglite"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeBetterAuth } from "../src/auth/better-auth.js"
import { memoryRateLimitStore } from "../src/auth/rate-limit.js"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  freshDatabase,
  helloGraph,
  lastEvent,
  readSse,
  type Session,
  signUp,
  startTestHost,
  TEST_SECRET,
  tempDir,
} from "./api-support.js"

interface Created {
  readonly id: string
  readonly key: string
  readonly name: string
  readonly start: string
  readonly scopes: ReadonlyArray<string>
  readonly createdAt: number
  readonly expiresAt?: number
}

interface Refusal {
  readonly _tag: string
  readonly error: string
  readonly scopes?: ReadonlyArray<string>
}

const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } })

describe.each(["pglite", "postgres"] as const)("API keys on %s", (driver) => {
  let host: RunningHost
  let dispose: () => Promise<void>
  let databaseUrl: string | undefined
  let dataDir: string | undefined
  let alice: Session
  let bob: Session
  let graphId: string

  const createKey = async (session: Session, body: Record<string, unknown>) =>
    client(host.url, session).post<Created>("/api/api-keys", body)

  beforeAll(async () => {
    if (driver === "postgres") {
      const db = await freshDatabase("apikeys")
      databaseUrl = db.url
      host = await startTestHost({ databaseUrl: db.url })
      dispose = db.drop
    } else {
      const dir = tempDir("apikeys")
      dataDir = dir.dir
      host = await startTestHost({ dataDir: dir.dir })
      dispose = async () => dir.dispose()
    }
    alice = await signUp(host.url, "alice")
    bob = await signUp(host.url, "bob")
    const graph = await client(host.url, alice).post<{ id: string }>("/api/graphs", helloGraph("Alice's"))
    expect(graph.status).toBe(201)
    graphId = graph.body.id
  })

  afterAll(async () => {
    await host?.close()
    await dispose?.()
  })

  it("creates a key shown once, lists it without the key, and a graphs:read key reads but cannot run", async () => {
    const created = await createKey(alice, { name: "reader", scopes: ["graphs:read"] })
    expect(created.status).toBe(201)
    expect(created.body.key).toMatch(/^weft_[A-Za-z]{64}$/)
    expect(created.body).toMatchObject({ name: "reader", scopes: ["graphs:read"] })
    expect(created.body.key.startsWith(created.body.start)).toBe(true)
    expect(created.body.start.length).toBeLessThan(20)

    const listed = await client(host.url, alice).get<ReadonlyArray<Record<string, unknown>>>("/api/api-keys")
    expect(listed.status).toBe(200)
    const mine = listed.body.find((k) => k.id === created.body.id)
    expect(mine).toMatchObject({ name: "reader", scopes: ["graphs:read"], start: created.body.start })
    expect(mine).not.toHaveProperty("key")
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key)
    expect((await client(host.url, bob).get<ReadonlyArray<unknown>>("/api/api-keys")).body).toEqual([])

    const reader = client(host.url, bearer(created.body.key))
    const graphs = await reader.get<ReadonlyArray<{ id: string }>>("/api/graphs")
    expect(graphs.status).toBe(200)
    expect(graphs.body.map((g) => g.id)).toEqual([graphId])
    expect((await reader.get(`/api/graphs/${graphId}`)).status).toBe(200)

    const run = await reader.post<Refusal>(`/api/graphs/${graphId}/runs`, { inputs: { topic: "no" } })
    expect(run.status).toBe(403)
    expect(run.body._tag).toBe("InsufficientScope")
    expect(run.body.scopes).toEqual(["graphs:execute"])
    expect(run.body.error).toContain("graphs:execute")
    expect(run.body.error).toContain("POST /api/graphs/:id/runs")
    const write = await reader.post<Refusal>("/api/graphs", helloGraph("By key"))
    expect(write.status).toBe(403)
    expect(write.body.scopes).toEqual(["graphs:write"])
    const block = await reader.post<Refusal>(
      `/api/blocks/${encodeURIComponent("weft/text/fill-text-template")}/execute`,
      { input: { format: "x", values: {} } },
    )
    expect(block.status).toBe(403)
    expect(block.body.scopes).toEqual(["blocks:execute"])
    // Nothing was written by the refused calls.
    expect((await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/graphs")).body).toHaveLength(1)
    expect((await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/runs")).body).toHaveLength(0)
  })

  it("a graphs:execute key runs a graph end to end: start, events (SSE), the run", async () => {
    const created = await createKey(alice, { name: "runner", scopes: ["graphs:execute"] })
    const runner = client(host.url, bearer(created.body.key))
    const started = await runner.post<{ id: string; existing: boolean }>(`/api/graphs/${graphId}/runs`, {
      inputs: { topic: "keys" },
    })
    expect(started.status).toBe(201)
    const sse = await readSse(`${host.url}/api/runs/${started.body.id}/events`, bearer(created.body.key))
    expect(sse.status).toBe(200)
    expect(lastEvent(sse.frames)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    const run = await runner.get<{ status: string; outputs: Record<string, ReadonlyArray<unknown>> }>(
      `/api/runs/${started.body.id}`,
    )
    expect(run.status).toBe(200)
    expect(run.body.status).toBe("COMPLETED")
    expect(run.body.outputs).toEqual({ greeting: ["Hello, keys!"] })
    // The run is the key's user's: the session sees it too.
    expect((await client(host.url, alice).get(`/api/runs/${started.body.id}`)).status).toBe(200)
    // Execute alone does not read the graph library.
    const library = await runner.get<Refusal>("/api/graphs")
    expect(library.status).toBe(403)
    expect(library.body.scopes).toEqual(["graphs:read"])
  })

  it("a key with several scopes may do what each allows; a key request skips the cross-site check", async () => {
    const created = await createKey(alice, {
      name: "ci",
      scopes: ["graphs:write", "graphs:read", "blocks:execute", "graphs:read"],
    })
    expect(created.status).toBe(201)
    expect(created.body.scopes).toEqual(["graphs:read", "graphs:write", "blocks:execute"])
    const ci = client(host.url, bearer(created.body.key))
    const uploaded = await ci.post<{ id: string }>("/api/graphs", helloGraph("From CI"), {
      // A key is not a cookie: no browser sends it on its own, so the origin does not matter.
      origin: "https://ci.example",
    })
    expect(uploaded.status).toBe(201)
    expect((await ci.get(`/api/graphs/${uploaded.body.id}`)).status).toBe(200)
    const block = await ci.post<{ outputs: ReadonlyArray<{ pin: string; value: unknown }> }>(
      `/api/blocks/${encodeURIComponent("weft/text/fill-text-template")}/execute`,
      { input: { format: "Hi {{ who }}", values: { who: "CI" } } },
    )
    expect(block.status).toBe(200)
    expect(block.body.outputs).toContainEqual({ pin: "output", value: "Hi CI" })
    // The same request with the cookie is still checked for its origin.
    const crossSite = await client(host.url, alice).post("/api/graphs", helloGraph("CSRF"), {
      origin: "https://evil.example",
    })
    expect(crossSite.status).toBe(403)
  })

  it("a key cannot create, list or revoke keys, nor reach better-auth's key routes", async () => {
    const created = await createKey(alice, {
      name: "all",
      scopes: ["graphs:read", "graphs:write", "graphs:execute", "blocks:execute", "credentials:manage"],
    })
    const key = client(host.url, bearer(created.body.key))
    const before = (await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/api-keys")).body.length
    const create = await key.post<Refusal>("/api/api-keys", { name: "more", scopes: ["graphs:read"] })
    expect(create.status).toBe(403)
    expect(create.body.error).toMatch(/API keys cannot call POST \/api\/api-keys/)
    expect((await key.get("/api/api-keys")).status).toBe(403)
    expect((await key.call("DELETE", `/api/api-keys/${created.body.id}`)).status).toBe(403)
    // A request with both a key and the cookie is the key's.
    const both = await client(host.url, {
      headers: { ...alice.headers, authorization: `Bearer ${created.body.key}` },
    }).post("/api/api-keys", { name: "more", scopes: ["graphs:read"] })
    expect(both.status).toBe(403)
    // better-auth's own API-key routes are not served, with a key or with the session.
    for (const caller of [key, client(host.url, alice)]) {
      const direct = await caller.post("/api/auth/api-key/create", {
        name: "direct",
        permissions: { graphs: ["read", "write", "execute"] },
      })
      expect(direct.status).toBe(404)
      expect((await caller.get("/api/auth/api-key/list")).status).toBe(404)
    }
    for (const spelling of [
      "/api/auth/api%2Dkey/list",
      "/api/auth//api-key/list",
      "/api/auth/API-KEY/list",
    ]) {
      expect((await client(host.url, alice).get(spelling)).status, spelling).toBe(404)
    }
    // The WebSocket is for sessions only.
    const ws = await fetch(`${host.url}/api/ws`, {
      headers: { authorization: `Bearer ${created.body.key}` },
    })
    expect(ws.status).toBe(403)
    expect((await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/api-keys")).body).toHaveLength(
      before,
    )
  })

  it("another user's graphs and runs through a key answer 404, like unknown ids", async () => {
    const aliceRun = await client(host.url, alice).post<{ id: string }>(`/api/graphs/${graphId}/runs`, {
      inputs: { topic: "mine" },
    })
    expect(aliceRun.status).toBe(201)
    const created = await createKey(bob, { name: "bob", scopes: ["graphs:read", "graphs:execute"] })
    const bobKey = client(host.url, bearer(created.body.key))
    for (const path of [
      `/api/graphs/${graphId}`,
      `/api/graphs/${graphId}/versions`,
      `/api/runs/${aliceRun.body.id}`,
      `/api/runs/${aliceRun.body.id}/events`,
    ]) {
      const answer = await bobKey.get<Refusal>(path)
      expect(answer.status, path).toBe(404)
      expect(answer.body._tag, path).toBe("NotFound")
      expect(JSON.stringify(answer.body), path).not.toContain("Hello")
    }
    const start = await bobKey.post(`/api/graphs/${graphId}/runs`, { inputs: { topic: "theirs" } })
    expect(start.status).toBe(404)
    expect((await bobKey.post(`/api/runs/${aliceRun.body.id}/stop`)).status).toBe(404)
    expect((await bobKey.get<ReadonlyArray<unknown>>("/api/graphs")).body).toEqual([])
    expect((await bobKey.get<ReadonlyArray<unknown>>("/api/runs")).body).toEqual([])
    // Nor can bob revoke alice's key.
    const aliceKey = await createKey(alice, { name: "alice", scopes: ["graphs:read"] })
    expect((await client(host.url, bob).call("DELETE", `/api/api-keys/${aliceKey.body.id}`)).status).toBe(404)
    expect((await client(host.url, bearer(aliceKey.body.key)).get("/api/graphs")).status).toBe(200)
  })

  it("a revoked, expired, unknown or malformed key is refused with 401", async () => {
    const created = await createKey(alice, { name: "short-lived", scopes: ["graphs:read"] })
    const key = client(host.url, bearer(created.body.key))
    expect((await key.get("/api/graphs")).status).toBe(200)
    const revoked = await client(host.url, alice).call<{ id: string; revoked: boolean }>(
      "DELETE",
      `/api/api-keys/${created.body.id}`,
    )
    expect(revoked.status).toBe(200)
    expect(revoked.body).toEqual({ id: created.body.id, revoked: true })
    const after = await key.get<Refusal>("/api/graphs")
    expect(after.status).toBe(401)
    expect(after.body.error).toMatch(/API key is not valid/)
    expect((await client(host.url, alice).call("DELETE", `/api/api-keys/${created.body.id}`)).status).toBe(
      404,
    )

    const expiring = await createKey(alice, { name: "one second", scopes: ["graphs:read"], expiresIn: 1 })
    expect(expiring.status).toBe(201)
    expect(expiring.body.expiresAt).toBeGreaterThan(Date.now())
    await new Promise((resolve) => setTimeout(resolve, 1_300))
    expect((await client(host.url, bearer(expiring.body.key)).get("/api/graphs")).status).toBe(401)
    const listed = await client(host.url, alice).get<ReadonlyArray<{ id: string }>>("/api/api-keys")
    expect(listed.body.map((k) => k.id)).not.toContain(expiring.body.id)

    const forged = `weft_${"A".repeat(64)}`
    for (const authorization of [`Bearer ${forged}`, "Bearer nonsense", "Basic YWxpY2U6cGFzcw==", "Bearer"]) {
      const answer = await client(host.url, { headers: { authorization } }).get<Refusal>("/api/graphs")
      expect(answer.status, authorization).toBe(401)
      expect(answer.body._tag, authorization).toBe("Unauthorized")
    }
    // Public routes need nothing, whatever the header says.
    expect(
      (await client(host.url, { headers: { authorization: `Bearer ${forged}` } }).get("/api/blocks")).status,
    ).toBe(200)
  })

  it("refuses bad key requests with 400 naming the field, and without a session with 401", async () => {
    const api = client(host.url, alice)
    const before = (await api.get<ReadonlyArray<unknown>>("/api/api-keys")).body.length
    const cases: ReadonlyArray<[unknown, string]> = [
      [{ name: "x", scopes: ["graphs:delete"] }, "scopes.0"],
      [{ name: "x", scopes: [] }, "scopes"],
      [{ scopes: ["graphs:read"] }, "name"],
      [{ name: "", scopes: ["graphs:read"] }, "name"],
      [{ name: "x", scopes: ["graphs:read"], expiresIn: 0 }, "expiresIn"],
      [{ name: "x", scopes: ["graphs:read"], expiresIn: 1.5 }, "expiresIn"],
      [{ name: "x", scopes: ["graphs:read"], userId: bob.userId }, "userId"],
    ]
    for (const [body, field] of cases) {
      const answer = await api.post<{ _tag: string; fields: Record<string, string> }>("/api/api-keys", body)
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(Object.keys(answer.body.fields), JSON.stringify(body)).toContain(field)
    }
    expect((await api.post("/api/api-keys", "{not json")).status).toBe(400)
    expect(
      (await client(host.url).post("/api/api-keys", { name: "x", scopes: ["graphs:read"] })).status,
    ).toBe(401)
    expect((await api.get<ReadonlyArray<unknown>>("/api/api-keys")).body).toHaveLength(before)
  })

  // Last: on PGlite it closes the host to open its data directory.
  it("stores only the key's hash", async () => {
    const created = await createKey(alice, { name: "hashed", scopes: ["graphs:read"] })
    const expected = createHash("sha256").update(created.body.key).digest("base64url")
    const keyRows = `SELECT key, "referenceId" FROM apikey WHERE id = '${created.body.id}'`
    const dumpRows = "SELECT row_to_json(a)::text AS row FROM apikey a"
    let rows: ReadonlyArray<Record<string, unknown>>
    let dump: ReadonlyArray<{ row: string }>
    if (driver === "postgres") {
      const sql = postgres(databaseUrl ?? "", { max: 1, onnotice: () => {} })
      try {
        rows = await sql.unsafe(keyRows)
        dump = await sql.unsafe(dumpRows)
      } finally {
        await sql.end({ timeout: 5 })
      }
    } else {
      await host.close()
      const db = new PGlite(dataDir)
      try {
        rows = (await db.query<Record<string, unknown>>(keyRows)).rows
        dump = (await db.query<{ row: string }>(dumpRows)).rows
      } finally {
        await db.close()
      }
    }
    expect(rows).toEqual([{ key: expected, referenceId: alice.userId }])
    expect(dump.length).toBeGreaterThan(3)
    expect(dump.map((r) => r.row).join("\n")).not.toContain(created.body.key)
  })
})

describe("the API-key plugin", () => {
  it("refuses to create a key for a user named in the body of an unauthenticated request", async () => {
    const db = new PGlite()
    try {
      const auth = await makeBetterAuth({
        raw: { kind: "pglite", db },
        secret: TEST_SECRET,
        baseUrl: "http://127.0.0.1:1",
        trustedOrigins: ["http://127.0.0.1:1"],
        signInRateLimit: { window: 60, max: 100 },
        rateLimits: memoryRateLimitStore(),
      })
      const signUpAnswer = await auth.handler(
        new Request("http://127.0.0.1:1/api/auth/sign-up/email", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            email: "victim@example.test",
            password: "correct horse battery",
            name: "v",
          }),
        }),
      )
      const victim = ((await signUpAnswer.json()) as { user: { id: string } }).user.id
      const forged = await auth.handler(
        new Request("http://127.0.0.1:1/api/auth/api-key/create", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ userId: victim, name: "forged" }),
        }),
      )
      expect(forged.status).toBe(401)
      const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM apikey")
      expect(rows.rows).toEqual([{ n: 0 }])
      // The server itself may (that is how the host creates keys, for the session's user).
      const made = await auth.apiKeys.create(victim, { name: "server", scopes: ["graphs:read"] })
      expect(await auth.apiKeys.verify(made.key)).toEqual({
        id: made.id,
        owner: victim,
        scopes: ["graphs:read"],
      })
    } finally {
      await db.close()
    }
  })
})
