/**
 * Cross-tenant matrix (reliability.md 16), generated from the route table. Alice and Bob each store one of
 * everything (graphs, runs, credentials, a preset, a schedule, a webhook, an API key). Then Bob calls every
 * route of `WeftApi` naming Alice's ids, first with his session and then with his API key holding every
 * scope:
 * - a route that takes one of Alice's ids answers 404 `{_tag, error}` (403 for a key on a sessions-only
 *   route), exactly as it answers an unknown id, with nothing of Alice's in the body (no id, name, input or
 *   secret beyond the ids Bob sent);
 * - a list (also filtered by Alice's graph) shows nothing of Alice's;
 * - Bob's own preset, schedule or review naming Alice's credentials, preset or execution is refused exactly
 *   like one naming unknown ids.
 * The same for the run event stream (SSE), WebSocket subscriptions, the webhook receiver, better-auth's
 * routes and the operations routes (every raw route found in the sources needs a sample too). Afterwards
 * the database is exactly as before (every table's rows), so nothing of Alice's changed: her run still
 * waits for review, her preset, schedule, webhook, credentials and key still work.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type OpenAIServer, startOpenAIServer } from "../../blocks/test/support/openai-server.js"
import { sign } from "../src/triggers/webhooks/Signature.js"
import { client, helloGraph } from "./api-support.js"
import { peer, sessionToken } from "./support/collab.js"
import { drivers } from "./support/db.js"
import { changedTables, fingerprint } from "./support/db-fingerprint.js"
import { type ProbedHost, startProbedHost } from "./support/probed-host.js"
import { rawRoutes } from "./support/raw-routes.js"
import { pathWith, type Route, routeTable } from "./support/route-table.js"
import { leaksOf, makeTenant, type Tenant, YEARLY } from "./support/tenant.js"
import { WsClient } from "./support/ws-client.js"

/** What Bob should get. */
type Expect =
  /** 404 `{_tag: "NotFound", error}`, exactly like an unknown id. */
  | "notFound"
  /** 200 with a list that holds nothing of Alice's. */
  | "list"
  /** Refused (a 4xx) exactly as the same request naming unknown ids. */
  | "refused"
  /** Answered exactly as the same request naming unknown ids (not a 5xx). */
  | "likeUnknown"

/** One request of Bob's. */
interface Attempt {
  readonly path: string
  readonly body?: unknown
  /** Alice's ids the request names: the twin request names fresh unknown ids instead. */
  readonly names: ReadonlyArray<string>
  readonly expect: Expect
}

/** A route Bob cannot point at anyone's data: it takes no id (it creates the caller's own things). */
type Own = { readonly own: string }

const enc = encodeURIComponent

/**
 * Bob's requests for every route, keyed by `group.endpoint`. A route of `WeftApi` without an entry fails
 * the test: add one (or an `own` reason) for each new route.
 */
const matrix = (routes: ReadonlyMap<string, Route>, alice: Tenant, bob: Tenant) => {
  const at = (name: string, id: string, query = "") => {
    const route = routes.get(name)
    if (route === undefined) throw new Error(`no route ${name}`)
    return pathWith(route, id) + query
  }
  const notFound = (name: string, id: string, body?: unknown, query = ""): Attempt => ({
    path: at(name, id, query),
    ...(body === undefined ? {} : { body }),
    names: [id],
    expect: "notFound",
  })
  const credentialRef = (id: string) => ({ id, provider: "openai", type: "api_key", title: "t" })
  const entries: Record<string, ReadonlyArray<Attempt> | Own> = {
    "blocks.list": [{ path: "/api/blocks", names: [], expect: "list" }],
    "blocks.execute": [
      {
        path: `/api/blocks/${enc("weft/ai/condition")}/execute`,
        body: {
          input: {
            input_value: "Paris",
            condition: "a city",
            credentials: credentialRef(alice.credentialId),
          },
        },
        names: [alice.credentialId],
        expect: "likeUnknown",
      },
    ],
    "graphs.create": { own: "a new graph of the caller's; a graph embeds its sub-graphs, names no other" },
    "graphs.list": [{ path: "/api/graphs", names: [], expect: "list" }],
    "graphs.get": [
      notFound("graphs.get", alice.graphId),
      notFound("graphs.get", alice.graphId, undefined, "?version=1"),
    ],
    "graphs.update": [notFound("graphs.update", alice.graphId, helloGraph("Bob's takeover"))],
    "graphs.versions": [notFound("graphs.versions", alice.graphId)],
    "graphs.setActive": [notFound("graphs.setActive", alice.graphId, { version: 1 })],
    "graphs.fork": [notFound("graphs.fork", alice.graphId, {}), notFound("graphs.fork", alice.graphId)],
    "graphs.export": [
      notFound("graphs.export", alice.graphId, undefined, "?format=autogpt"),
      notFound("graphs.export", alice.graphId, undefined, "?format=weft&version=1"),
    ],
    "live.get": [notFound("live.get", alice.graphId)],
    "live.save": [notFound("live.save", alice.graphId)],
    "sharing.list": [notFound("sharing.list", alice.graphId)],
    "sharing.share": [
      notFound("sharing.share", alice.graphId, { email: bob.session.email, role: "owner" }),
      notFound("sharing.share", alice.graphId, { email: alice.session.email, role: "viewer" }),
    ],
    "sharing.unshare": [
      // Bob leaving Alice's graph, and removing Alice from it.
      {
        path: at("sharing.unshare", alice.graphId).replace(":userId", enc(bob.session.userId)),
        names: [alice.graphId],
        expect: "notFound",
      },
      {
        path: at("sharing.unshare", alice.graphId).replace(":userId", enc(alice.session.userId)),
        names: [alice.graphId],
        expect: "notFound",
      },
      // Bob's own graph, naming Alice (who has no share of it).
      {
        path: at("sharing.unshare", bob.graphId).replace(":userId", enc(alice.session.userId)),
        names: [alice.session.userId],
        expect: "likeUnknown",
      },
    ],
    "runs.start": [
      notFound("runs.start", alice.graphId, { inputs: { topic: "b" } }),
      notFound("runs.start", alice.graphId, { version: 1 }),
    ],
    "runs.list": [
      { path: "/api/runs", names: [], expect: "list" },
      { path: `/api/runs?graphId=${enc(alice.graphId)}`, names: [alice.graphId], expect: "list" },
    ],
    "runs.get": [notFound("runs.get", alice.doneRunId), notFound("runs.get", alice.pausedRunId)],
    "runs.stop": [notFound("runs.stop", alice.pausedRunId), notFound("runs.stop", alice.doneRunId)],
    "runs.review": [
      notFound("runs.review", alice.pausedRunId, {
        executionId: alice.reviewExecutionId,
        approved: true,
        data: "Bob's",
      }),
      // Bob's own paused run, naming Alice's execution.
      {
        path: at("runs.review", bob.pausedRunId),
        body: { executionId: alice.reviewExecutionId, approved: false },
        names: [alice.reviewExecutionId],
        expect: "refused",
      },
    ],
    "runs.events": [notFound("runs.events", alice.doneRunId), notFound("runs.events", alice.pausedRunId)],
    "apiKeys.create": { own: "a new key of the caller's; the body names no id" },
    "apiKeys.list": [{ path: "/api/api-keys", names: [], expect: "list" }],
    "apiKeys.revoke": [notFound("apiKeys.revoke", alice.keyId)],
    "credentials.create": { own: "new credentials of the caller's; the body names no id" },
    "credentials.list": [
      { path: "/api/credentials", names: [], expect: "list" },
      { path: "/api/credentials?provider=openai", names: [], expect: "list" },
    ],
    "credentials.get": [notFound("credentials.get", alice.credentialId)],
    "credentials.remove": [notFound("credentials.remove", alice.credentialId)],
    "webhooks.create": [
      notFound("webhooks.create", alice.hookGraphId, { description: "Bob's" }),
      notFound("webhooks.create", alice.hookGraphId),
    ],
    "webhooks.list": [notFound("webhooks.list", alice.hookGraphId)],
    "webhooks.delete": [notFound("webhooks.delete", alice.webhookId)],
    "presets.create": [
      {
        path: "/api/presets",
        body: { graphId: alice.judgeGraphId, name: "Bob's", inputs: {} },
        names: [alice.judgeGraphId],
        expect: "notFound",
      },
      // Bob's own graph, with Alice's credentials.
      {
        path: "/api/presets",
        body: {
          graphId: bob.judgeGraphId,
          name: "Bob's",
          inputs: {},
          credentials: { judge: { credentials: alice.credentialId } },
        },
        names: [alice.credentialId],
        expect: "refused",
      },
    ],
    "presets.list": [
      { path: "/api/presets", names: [], expect: "list" },
      {
        path: `/api/presets?graphId=${enc(alice.judgeGraphId)}`,
        names: [alice.judgeGraphId],
        expect: "list",
      },
    ],
    "presets.get": [notFound("presets.get", alice.presetId)],
    "presets.update": [
      notFound("presets.update", alice.presetId, { name: "Bob's", inputs: { topic: "b" } }),
      // Bob's own preset, with Alice's credentials.
      {
        path: at("presets.update", bob.presetId),
        body: { credentials: { judge: { credentials: alice.credentialId } } },
        names: [alice.credentialId],
        expect: "refused",
      },
    ],
    "presets.delete": [notFound("presets.delete", alice.presetId)],
    "presets.execute": [
      notFound("presets.execute", alice.presetId, { inputs: { topic: "b" } }),
      notFound("presets.execute", alice.presetId),
    ],
    "schedules.create": [
      {
        path: "/api/schedules",
        body: { graphId: alice.graphId, cron: YEARLY, timezone: "UTC", inputs: { topic: "b" } },
        names: [alice.graphId],
        expect: "notFound",
      },
      // Bob's own graph, with Alice's preset.
      {
        path: "/api/schedules",
        body: {
          graphId: bob.judgeGraphId,
          presetId: alice.presetId,
          cron: YEARLY,
          timezone: "UTC",
          inputs: { topic: "b" },
        },
        names: [alice.presetId],
        expect: "refused",
      },
    ],
    "schedules.list": [
      { path: "/api/schedules", names: [], expect: "list" },
      { path: `/api/schedules?graphId=${enc(alice.graphId)}`, names: [alice.graphId], expect: "list" },
    ],
    "schedules.get": [notFound("schedules.get", alice.scheduleId)],
    "schedules.update": [
      notFound("schedules.update", alice.scheduleId, { paused: true, cron: "* * * * *", name: "Bob's" }),
    ],
    "schedules.delete": [notFound("schedules.delete", alice.scheduleId)],
  }
  return entries
}

/**
 * Opens an event stream: the status and the body of a refusal, or, when the stream opens, its first chunk
 * (which would be a leak).
 */
const openStream = async (url: string, headers: Record<string, string>) => {
  const response = await fetch(url, { headers })
  if (response.status !== 200 || response.body === null) {
    return { status: response.status, text: await response.text() }
  }
  const reader = response.body.getReader()
  const first = await reader.read()
  await reader.cancel()
  return { status: response.status, text: new TextDecoder().decode(first.value) }
}

/** `text` with each of `ids` replaced by `<id>`. */
const strip = (text: string, ids: ReadonlyArray<string>) =>
  ids.reduce((out, id) => out.replaceAll(id, "<id>"), text)

describe.each(drivers)("cross-tenant matrix on %s", (driver) => {
  let host: ProbedHost
  let model: OpenAIServer
  let alice: Tenant
  let bob: Tenant
  const previousBaseUrl = process.env.OPENAI_BASE_URL

  beforeAll(async () => {
    // Any model call goes to this loopback server, which records it.
    model = await startOpenAIServer({ handler: () => "yes" })
    process.env.OPENAI_BASE_URL = model.baseURL
    host = await startProbedHost(driver, "isolation")
    alice = await makeTenant(host.url, "alice")
    bob = await makeTenant(host.url, "bob")
  }, 60_000)
  afterAll(async () => {
    await host?.close()
    await model?.close()
    if (previousBaseUrl === undefined) delete process.env.OPENAI_BASE_URL
    else process.env.OPENAI_BASE_URL = previousBaseUrl
  })

  /** Everything of Alice's as she sees it, to compare before and after. */
  const aliceView = async () => {
    const a = alice.api
    return {
      graphs: (await a.get("/api/graphs")).body,
      versions: (await a.get(`/api/graphs/${alice.graphId}/versions`)).body,
      runs: (await a.get("/api/runs")).body,
      paused: (await a.get<{ status: string }>(`/api/runs/${alice.pausedRunId}`)).body.status,
      credentials: (await a.get("/api/credentials")).body,
      presets: (await a.get("/api/presets")).body,
      schedule: (await a.get(`/api/schedules/${alice.scheduleId}`)).body,
      webhooks: (await a.get(`/api/graphs/${alice.hookGraphId}/webhooks`)).body,
      keys: (await a.get<ReadonlyArray<{ id: string }>>("/api/api-keys")).body.map((k) => k.id),
    }
  }

  it("every route, with Bob's session and with his all-scope API key, answers Alice's ids as unknown ones", async () => {
    const routes = new Map(routeTable().map((route) => [route.name, route]))
    const entries = matrix(routes, alice, bob)
    // Every route has a sample (or says why it cannot name anyone's data), and no sample is stale.
    expect(
      [...routes.keys()].filter((name) => entries[name] === undefined),
      "routes without a sample",
    ).toEqual([])
    expect(
      Object.keys(entries).filter((name) => !routes.has(name)),
      "samples of no route",
    ).toEqual([])

    const before = await fingerprint(host)
    const viewBefore = await aliceView()
    // Alice's things are there to be attacked.
    expect(viewBefore.paused).toBe("REVIEW")
    expect(viewBefore.presets).toEqual([expect.objectContaining({ id: alice.presetId })])
    expect(viewBefore.schedule).toMatchObject({ id: alice.scheduleId, paused: false })
    expect(viewBefore.webhooks).toEqual([expect.objectContaining({ id: alice.webhookId })])
    expect(viewBefore.credentials).toEqual([expect.objectContaining({ id: alice.credentialId })])
    expect(viewBefore.keys).toEqual([alice.keyId])
    const callers = [
      { as: "session", headers: bob.session.headers },
      { as: "API key", headers: { authorization: `Bearer ${bob.key}` } },
    ] as const
    let checked = 0
    for (const caller of callers) {
      const bobApi = client(host.url, { headers: caller.headers })
      for (const [name, entry] of Object.entries(entries)) {
        if (!Array.isArray(entry)) continue
        const route = routes.get(name) as Route
        const keyRefused = caller.as === "API key" && route.access._tag === "SessionOnly"
        for (const attempt of entry as ReadonlyArray<Attempt>) {
          const label = `${caller.as}: ${route.method} ${attempt.path}`
          const unknown = attempt.names.map(() => randomUUID())
          const twin = (text: string) =>
            attempt.names.reduce((out, id, i) => out.replaceAll(id, unknown[i] as string), text)
          const send = async (path: string, body: unknown) => {
            if (name === "runs.events") return openStream(`${host.url}${path}`, caller.headers)
            const answer = await bobApi.call(route.method, path, body)
            return { status: answer.status, text: JSON.stringify(answer.body ?? null) }
          }
          const sent = `${attempt.path} ${JSON.stringify(attempt.body ?? null)}`
          const answer = await send(attempt.path, attempt.body)
          const other = await send(
            twin(attempt.path),
            attempt.body === undefined ? undefined : JSON.parse(twin(JSON.stringify(attempt.body))),
          )
          // Nothing of Alice's, beyond what Bob named.
          expect(leaksOf(alice, answer.text, sent), `${label}: ${answer.text}`).toEqual([])
          // Exactly what an unknown id gets.
          expect([answer.status, strip(answer.text, attempt.names)], label).toEqual([
            other.status,
            strip(other.text, unknown),
          ])
          if (keyRefused) {
            // Keys never reach sessions-only routes, whoever's ids they name.
            expect([answer.status, JSON.parse(answer.text)._tag], label).toEqual([403, "Forbidden"])
          } else if (attempt.expect === "notFound") {
            expect(answer.status, `${label}: ${answer.text}`).toBe(404)
            const body = JSON.parse(answer.text) as Record<string, unknown>
            expect(Object.keys(body).sort(), label).toEqual(["_tag", "error"])
            expect(body._tag, label).toBe("NotFound")
          } else if (attempt.expect === "list") {
            expect(answer.status, label).toBe(200)
            expect(Array.isArray(JSON.parse(answer.text)), label).toBe(true)
          } else {
            if (attempt.expect === "refused") {
              expect(answer.status, `${label}: ${answer.text}`).toBeGreaterThanOrEqual(400)
            }
            expect(answer.status, `${label}: ${answer.text}`).toBeLessThan(500)
          }
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThan(80)

    // Nothing was written anywhere, and Alice sees her data as before.
    expect(changedTables(before, await fingerprint(host))).toEqual([])
    expect(await aliceView()).toEqual(viewBefore)
    // No model request carried Alice's credentials.
    expect(
      model.requests.filter(
        (r) => r.raw.includes(alice.marker) || JSON.stringify(r.headers).includes(alice.marker),
      ),
    ).toEqual([])
  })

  it("Bob's WebSocket subscriptions to Alice's run and graph are answered like unknown ids; his key opens no socket", async () => {
    const before = await fingerprint(host)
    const ws = await WsClient.open(host.url, bob.session.headers)
    if (!(ws instanceof WsClient)) throw new Error(`the upgrade was refused: ${ws.status} ${ws.body}`)
    const cases: ReadonlyArray<[message: Record<string, unknown>, names: ReadonlyArray<string>]> = [
      [{ type: "subscribe", runId: alice.doneRunId }, [alice.doneRunId]],
      [{ type: "subscribe", runId: alice.pausedRunId, after: 0 }, [alice.pausedRunId]],
      [{ type: "subscribe", graphId: alice.graphId }, [alice.graphId]],
      [
        { type: "subscribe", graphId: alice.reviewGraphId, since: "2000-01-01T00:00:00Z" },
        [alice.reviewGraphId],
      ],
      // Bob's own graph, naming Alice's run.
      [{ type: "subscribe", graphId: bob.graphId, after: { [alice.doneRunId]: 0 } }, [alice.doneRunId]],
      [{ type: "unsubscribe", runId: alice.pausedRunId }, [alice.pausedRunId]],
      [{ type: "unsubscribe", graphId: alice.graphId }, [alice.graphId]],
    ]
    for (const [message, names] of cases) {
      const unknown = names.map(() => randomUUID())
      const text = JSON.stringify(message)
      const reply = JSON.stringify(await ws.request(text))
      const twin = JSON.stringify(
        await ws.request(names.reduce((out, id, i) => out.replaceAll(id, unknown[i] as string), text)),
      )
      expect(leaksOf(alice, reply, text), reply).toEqual([])
      expect(JSON.parse(reply).type, reply).toBe("error")
      expect(strip(reply, names), text).toBe(strip(twin, unknown))
    }
    // No event of Alice's reached the socket.
    await ws.request({ type: "ping", id: "last" })
    expect(ws.messages.filter((m) => m.type === "event")).toEqual([])
    await ws.close()

    const withKey = await WsClient.open(host.url, { authorization: `Bearer ${bob.key}` })
    expect(withKey instanceof WsClient).toBe(false)
    if (!(withKey instanceof WsClient)) {
      expect(withKey.status).toBe(403)
      expect(leaksOf(alice, withKey.body, "")).toEqual([])
    }
    expect(changedTables(before, await fingerprint(host))).toEqual([])
  })

  it("every raw route has a sample: webhook deliveries, better-auth, operations and the WebSocket leak nothing", async () => {
    const before = await fingerprint(host)
    const bobApi = client(host.url, bob.session)
    const anonymous = client(host.url)
    const body = JSON.stringify({ from: "Bob" })
    const t = Math.floor(Date.now() / 1000)
    /** Checks answers of raw routes: the status, and nothing of Alice's beyond `sent`. */
    const samples: Record<string, () => Promise<void>> = {
      "GET WS_PATH": async () => {
        // Subscriptions are checked above; without a WebSocket upgrade the route answers 426.
        const plain = await bobApi.get("/api/ws")
        expect(plain.status).toBe(426)
        expect(leaksOf(alice, JSON.stringify(plain.body), "")).toEqual([])
      },
      "GET COLLAB_PATH": async () => {
        // Bob's session token opens no document of Alice's, and a plain GET answers 426.
        const bobs = peer(host.url, alice.graphId, sessionToken(bob.session.headers.cookie ?? ""))
        try {
          expect(await bobs.outcome).toMatch(/^denied:/)
          expect(bobs.doc.getMap("nodes").size).toBe(0)
          expect(bobs.doc.getMap("meta").size).toBe(0)
        } finally {
          bobs.close()
        }
        const plain = await bobApi.get("/collab")
        expect(plain.status).toBe(426)
        expect(leaksOf(alice, JSON.stringify(plain.body), "")).toEqual([])
      },
      "POST `${WEBHOOKS_PATH}/:id`": async () => {
        const path = `/api/webhooks/${alice.webhookId}`
        // Signed with Bob's own webhook secret, or not signed: refused before anything starts.
        for (const headers of [
          { "x-weft-signature": sign(bob.webhookSecret, t, body) },
          {},
          { "x-weft-signature": sign(bob.webhookSecret, t, body), cookie: bob.session.headers.cookie ?? "" },
        ]) {
          const answer = await anonymous.call<{ _tag: string }>("POST", path, body, headers)
          expect(answer.status, JSON.stringify(answer.body)).toBe(401)
          expect(leaksOf(alice, JSON.stringify(answer.body), path)).toEqual([])
        }
      },
      "GET METRICS_PATH": async () => {
        for (const api of [bobApi, anonymous]) {
          const answer = await api.get<string>("/metrics")
          expect(answer.status).toBe(200)
          expect(leaksOf(alice, String(answer.body), "")).toEqual([])
        }
      },
      "GET HEALTHZ_PATH": async () => {
        const answer = await anonymous.get("/healthz")
        expect(answer.status).toBe(200)
        expect(leaksOf(alice, JSON.stringify(answer.body), "")).toEqual([])
      },
      "GET READYZ_PATH": async () => {
        const answer = await anonymous.get("/readyz")
        expect(answer.status).toBe(200)
        expect(leaksOf(alice, JSON.stringify(answer.body), "")).toEqual([])
      },
      "* `${AUTH_BASE_PATH}/*`": async () => {
        // Bob's session is his own; better-auth's own API-key routes are not served at all.
        const session = await bobApi.get<{ user: { id: string } }>("/api/auth/get-session")
        expect(session.body.user.id).toBe(bob.session.userId)
        expect(leaksOf(alice, JSON.stringify(session.body), "")).toEqual([])
        const sessions = await bobApi.get("/api/auth/list-sessions")
        expect(leaksOf(alice, JSON.stringify(sessions.body), "")).toEqual([])
        for (const [method, path, payload] of [
          ["GET", `/api/auth/api-key/get?id=${alice.keyId}`, undefined],
          ["GET", "/api/auth/api-key/list", undefined],
          ["POST", "/api/auth/api-key/delete", { keyId: alice.keyId }],
          ["POST", "/api/auth/api-key/update", { keyId: alice.keyId, name: "Bob's" }],
        ] as const) {
          const answer = await bobApi.call(method, path, payload, { origin: host.url })
          expect(answer.status, path).toBe(404)
          expect(leaksOf(alice, JSON.stringify(answer.body), path), path).toEqual([])
        }
      },
    }
    expect(rawRoutes()).toEqual(Object.keys(samples).sort())
    for (const check of Object.values(samples)) await check()
    expect(changedTables(before, await fingerprint(host))).toEqual([])

    // Alice's webhook and key still work, and her schedule still waits for its next due time.
    const delivered = await client(host.url).call<{ runId: string }>(
      "POST",
      `/api/webhooks/${alice.webhookId}`,
      body,
      { "x-weft-signature": sign(alice.webhookSecret, t, body) },
    )
    expect(delivered.status).toBe(202)
    const aliceKey = client(host.url, { headers: { authorization: `Bearer ${alice.key}` } })
    expect((await aliceKey.get(`/api/runs/${delivered.body.runId}`)).status).toBe(200)
    const schedule = await alice.api.get<{ paused: boolean; nextFireAt?: number }>(
      `/api/schedules/${alice.scheduleId}`,
    )
    expect([schedule.body.paused, typeof schedule.body.nextFireAt]).toEqual([false, "number"])
    // The fingerprint sees writes: Alice's delivery recorded itself and its run.
    const written = changedTables(before, await fingerprint(host)).map((table) => table.split(" ")[0])
    expect(written).toEqual(expect.arrayContaining(["runs", "webhook_deliveries"]))
  })

  it("an Idempotency-Key Alice used starts Bob's own run, and tells him nothing of hers", async () => {
    const runKey = `shared-${randomUUID()}`
    const presetKey = `shared-${randomUUID()}`
    const starts: ReadonlyArray<readonly [Tenant, string, unknown, string]> = [
      [alice, `/api/graphs/${alice.graphId}/runs`, { inputs: { topic: "same" } }, runKey],
      [bob, `/api/graphs/${bob.graphId}/runs`, { inputs: { topic: "same" } }, runKey],
      [alice, `/api/presets/${alice.presetId}/execute`, {}, presetKey],
      [bob, `/api/presets/${bob.presetId}/execute`, {}, presetKey],
    ]
    const ids: Array<string> = []
    for (const [tenant, path, body, key] of starts) {
      const answer = await tenant.api.post<{ id: string; existing: boolean }>(path, body, {
        "idempotency-key": key,
      })
      expect(answer.status, path).toBe(201)
      expect(answer.body.existing, path).toBe(false)
      if (tenant === bob) expect(leaksOf(alice, JSON.stringify(answer.body), "")).toEqual([])
      ids.push(answer.body.id)
    }
    expect(new Set(ids).size).toBe(4)
  })
})
