/**
 * Sharing a graph through the API, on PGlite and on Postgres: sharing by email with each role, the role
 * matrix (creator, shared owner, editor, viewer, stranger) over every graph route and every sharing route,
 * removing access and leaving, bad input, API key scopes, and what a shared user may do around the graph:
 * runs (theirs: their run list, their credentials), the WebSocket graph subscription (their own runs),
 * presets, schedules and webhooks (run as them). A removed user loses access at once (404).
 */
import { LlmConfig, SafeHttpClient } from "@weft/blocks"
import { Context } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type OpenAIServer, startOpenAIServer } from "../../blocks/test/support/openai-server.js"
import { sign } from "../src/triggers/webhooks/Signature.js"
import { client, helloGraph, readSse, type Session, signUp, TEST_SECRET } from "./api-support.js"
import { drivers } from "./support/db.js"
import { changedTables, fingerprint } from "./support/db-fingerprint.js"
import { type ProbedHost, startProbedHost } from "./support/probed-host.js"
import { routeTable } from "./support/route-table.js"
import { hookGraph, judgeGraph, YEARLY } from "./support/tenant.js"
import { WsClient } from "./support/ws-client.js"

/** Over the 1 MiB body limit this host is started with. */
const LIMIT = 1024 * 1024

interface ErrorBody {
  readonly _tag: string
  readonly error: string
  readonly role?: string
  readonly fields?: Record<string, string>
}

interface ShareView {
  readonly userId: string
  readonly email?: string
  readonly name?: string
  readonly role: string
  readonly creator: boolean
}

type Api = ReturnType<typeof client>

/** A signed-up user and their API client. */
interface User {
  readonly session: Session
  readonly api: Api
}

const roles = ["creator", "owner", "editor", "viewer", "stranger"] as const
type Who = (typeof roles)[number]

describe.each(drivers)("sharing on %s", (driver) => {
  let host: ProbedHost
  let model: OpenAIServer
  let n = 0
  /** Signs up a new user (`<name><n>@example.test`). */
  const user = async (name: string): Promise<User> => {
    const session = await signUp(host.url, `${name}${++n}`)
    return { session, api: client(host.url, session) }
  }
  /** A graph of a new creator, shared with a new owner, editor (email in upper case) and viewer; a stranger. */
  const team = async (graph: object = helloGraph("Team")) => {
    const people = {
      creator: await user("creator"),
      owner: await user("owner"),
      editor: await user("editor"),
      viewer: await user("viewer"),
      stranger: await user("stranger"),
    } satisfies Record<Who, User>
    const created = await people.creator.api.post<{ id: string }>("/api/graphs", graph)
    expect(created.status).toBe(201)
    const id = created.body.id
    for (const [who, role] of [
      ["owner", "owner"],
      ["editor", "editor"],
      ["viewer", "viewer"],
    ] as const) {
      const email = who === "editor" ? people[who].session.email.toUpperCase() : people[who].session.email
      const shared = await people.creator.api.put<ShareView>(`/api/graphs/${id}/shares`, { email, role })
      expect(shared.status, JSON.stringify(shared.body)).toBe(200)
    }
    return { id, ...people }
  }

  beforeAll(async () => {
    // The AI block of the judge graph talks to this loopback model server, with the key the run's owner maps.
    model = await startOpenAIServer({ handler: () => "yes" })
    const resources = Context.make(LlmConfig, {
      baseURL: model.baseURL,
      http: new SafeHttpClient({ allow: ["127.0.0.1"] }),
    }) as Context.Context<never>
    host = await startProbedHost(driver, "sharing", {
      maxBodyBytes: LIMIT,
      runs: { resources },
      // Each test signs up a team; the sign-in limit has its own tests.
      auth: {
        ...(driver === "postgres" ? { secret: TEST_SECRET } : {}),
        signInRateLimit: { window: 60, max: 10_000 },
      },
    })
  }, 60_000)
  afterAll(async () => {
    await host?.close()
    await model?.close()
  })

  it("shares by email with each role; everyone with a role lists who has access; lists and reads show the role", async () => {
    const t = await team()
    const expected: ReadonlyArray<ShareView> = [
      { userId: t.creator.session.userId, email: t.creator.session.email, role: "owner", creator: true },
      { userId: t.owner.session.userId, email: t.owner.session.email, role: "owner", creator: false },
      { userId: t.editor.session.userId, email: t.editor.session.email, role: "editor", creator: false },
      { userId: t.viewer.session.userId, email: t.viewer.session.email, role: "viewer", creator: false },
    ].map((share) => ({ ...share, name: (share.email as string).split("@")[0] as string }))
    for (const who of ["creator", "owner", "editor", "viewer"] as const) {
      const listed = await t[who].api.get<ReadonlyArray<ShareView>>(`/api/graphs/${t.id}/shares`)
      expect([listed.status, listed.body]).toEqual([200, expected])
    }
    // Re-sharing changes the role and answers the share.
    const changed = await t.owner.api.put<ShareView>(`/api/graphs/${t.id}/shares`, {
      email: t.viewer.session.email,
      role: "editor",
    })
    expect([changed.status, changed.body]).toEqual([200, { ...expected[3], role: "editor" }])
    const back = await t.owner.api.put(`/api/graphs/${t.id}/shares`, {
      email: t.viewer.session.email,
      role: "viewer",
    })
    expect(back.status).toBe(200)

    for (const [who, role] of [
      ["creator", "owner"],
      ["owner", "owner"],
      ["editor", "editor"],
      ["viewer", "viewer"],
    ] as const) {
      const list =
        await t[who].api.get<ReadonlyArray<{ id: string; role: string; name: string }>>("/api/graphs")
      expect(list.body.filter((g) => g.id === t.id)).toEqual([
        expect.objectContaining({ id: t.id, role, name: "Team" }),
      ])
      const detail = await t[who].api.get<{ id: string; role: string }>(`/api/graphs/${t.id}`)
      expect([detail.status, detail.body.role]).toEqual([200, role])
    }
    const strangers = await t.stranger.api.get<ReadonlyArray<{ id: string }>>("/api/graphs")
    expect(strangers.body.map((g) => g.id)).not.toContain(t.id)
  })

  it("the role matrix over every graph and sharing route: viewers' writes 403 naming the role, strangers 404, refusals change nothing", async () => {
    const t = await team()
    const outsider = await user("outsider")
    const g = `/api/graphs/${t.id}`
    /** One request of a route, and the status each caller gets. */
    interface Case {
      readonly method: string
      readonly path: string
      readonly body?: unknown
      readonly status: Record<Who, number>
    }
    const read = { creator: 200, owner: 200, editor: 200, viewer: 200, stranger: 404 }
    const write = { creator: 200, owner: 200, editor: 200, viewer: 403, stranger: 404 }
    const share = { creator: 200, owner: 200, editor: 403, viewer: 403, stranger: 404 }
    const cases: Record<string, ReadonlyArray<Case>> = {
      "graphs.list": [],
      "graphs.get": [
        { method: "GET", path: g, status: read },
        { method: "GET", path: `${g}?version=1`, status: read },
      ],
      "graphs.update": [{ method: "PUT", path: g, body: helloGraph("Team"), status: write }],
      "graphs.versions": [{ method: "GET", path: `${g}/versions`, status: read }],
      "graphs.setActive": [
        { method: "PUT", path: `${g}/versions/active`, body: { version: 1 }, status: write },
      ],
      "graphs.fork": [
        {
          method: "POST",
          path: `${g}/fork`,
          body: {},
          status: { ...read, creator: 201, owner: 201, editor: 201, viewer: 201 },
        },
      ],
      "graphs.export": [{ method: "GET", path: `${g}/export?format=autogpt`, status: read }],
      "sharing.list": [{ method: "GET", path: `${g}/shares`, status: read }],
      "sharing.share": [
        {
          method: "PUT",
          path: `${g}/shares`,
          body: { email: outsider.session.email, role: "viewer" },
          status: share,
        },
      ],
      "sharing.unshare": [
        {
          method: "DELETE",
          path: `${g}/shares/${outsider.session.userId}`,
          status: { ...share, creator: 204, owner: 204 },
        },
      ],
    }
    // Every route of the graphs and sharing groups that names a graph has a case.
    const named = routeTable()
      .filter((route) => /^(graphs|sharing)\./.test(route.name) && route.name !== "graphs.create")
      .map((route) => route.name)
    expect(named.sort()).toEqual(Object.keys(cases).sort())

    for (const who of roles) {
      const api = t[who].api
      for (const [name, list] of Object.entries(cases)) {
        for (const c of list) {
          // Removing the outsider needs them shared first; sharing them needs them not shared.
          if (name === "sharing.unshare") {
            const again = await t.creator.api.put(`${g}/shares`, {
              email: outsider.session.email,
              role: "viewer",
            })
            expect(again.status).toBe(200)
          }
          const expected = c.status[who]
          const before = expected >= 400 ? await fingerprint(host) : undefined
          const answer = await api.call<ErrorBody>(c.method, c.path, c.body)
          const label = `${who}: ${c.method} ${c.path} → ${answer.status} ${JSON.stringify(answer.body)}`
          expect(answer.status, label).toBe(expected)
          if (expected === 403) {
            expect(answer.body._tag, label).toBe("RoleForbidden")
            expect(answer.body.role, label).toBe(who)
            expect(answer.body.error, label).toContain(who)
          }
          if (expected === 404) {
            const unknown = await api.call<ErrorBody>(
              c.method,
              c.path.replace(t.id, crypto.randomUUID()),
              c.body,
            )
            expect([answer.body._tag, Object.keys(answer.body).sort()], label).toEqual([
              "NotFound",
              ["_tag", "error"],
            ])
            expect(unknown.status, label).toBe(404)
          }
          if (before !== undefined) expect(changedTables(before, await fingerprint(host)), label).toEqual([])
        }
      }
    }
    // Only writes by owners and editors made versions (one update each), and the active version is 1.
    const versions = await t.creator.api.get<ReadonlyArray<{ version: number; active: boolean }>>(
      `${g}/versions`,
    )
    expect(versions.body.map((v) => [v.version, v.active])).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [4, false],
    ])
    // Each fork is its maker's own graph.
    const forkOfViewer = (
      await t.viewer.api.get<ReadonlyArray<{ id: string; role: string; name: string }>>("/api/graphs")
    ).body.filter((graph) => graph.id !== t.id)
    expect(forkOfViewer).toEqual([expect.objectContaining({ role: "owner", name: "Team" })])
    const theirs = await t.creator.api.get(`/api/graphs/${forkOfViewer[0]?.id}`)
    expect(theirs.status).toBe(404)
  })

  it("an owner removes anyone but the creator, anyone may leave, and access ends at once", async () => {
    const t = await team()
    const g = `/api/graphs/${t.id}`
    const creatorGone = await t.owner.api.call<ErrorBody>("DELETE", `${g}/shares/${t.creator.session.userId}`)
    expect([creatorGone.status, Object.keys(creatorGone.body.fields ?? {})]).toEqual([400, ["path.userId"]])
    const ghost = crypto.randomUUID()
    const nobody = await t.creator.api.call<ErrorBody>("DELETE", `${g}/shares/${ghost}`)
    expect(nobody.status).toBe(404)
    expect(nobody.body.error).toContain("userId")
    expect(nobody.body.error).toContain(ghost)
    const byEditor = await t.editor.api.call<ErrorBody>("DELETE", `${g}/shares/${t.viewer.session.userId}`)
    expect([byEditor.status, byEditor.body.role]).toEqual([403, "editor"])

    // A shared owner removes the editor; the viewer leaves.
    expect((await t.owner.api.call("DELETE", `${g}/shares/${t.editor.session.userId}`)).status).toBe(204)
    expect((await t.viewer.api.call("DELETE", `${g}/shares/${t.viewer.session.userId}`)).status).toBe(204)
    for (const who of ["editor", "viewer"] as const) {
      const api = t[who].api
      for (const path of [g, `${g}/versions`, `${g}/shares`, `${g}/export`]) {
        expect((await api.get(path)).status, `${who} ${path}`).toBe(404)
      }
      expect((await api.put(g, helloGraph("Back"))).status).toBe(404)
      expect((await api.post(`${g}/runs`, { inputs: { topic: "x" } })).status).toBe(404)
      expect((await api.call("DELETE", `${g}/shares/${t[who].session.userId}`)).status).toBe(404)
      const list = await api.get<ReadonlyArray<{ id: string }>>("/api/graphs")
      expect(list.body.map((graph) => graph.id)).not.toContain(t.id)
    }
    const left = await t.creator.api.get<ReadonlyArray<ShareView>>(`${g}/shares`)
    expect(left.body.map((share) => share.userId)).toEqual([t.creator.session.userId, t.owner.session.userId])
    // The creator cannot leave either.
    const leave = await t.creator.api.call("DELETE", `${g}/shares/${t.creator.session.userId}`)
    expect(leave.status).toBe(400)
  })

  it("bad input names the field and changes nothing: unknown email, yourself, the creator, bad role, unknown fields, NUL, oversize", async () => {
    const t = await team()
    const g = `/api/graphs/${t.id}/shares`
    const api = t.owner.api
    const before = await fingerprint(host)
    const unknownEmail = `nobody-${crypto.randomUUID()}@example.test`
    const unknown = await api.put<ErrorBody>(g, { email: unknownEmail, role: "viewer" })
    expect([unknown.status, unknown.body._tag]).toEqual([404, "NotFound"])
    expect(unknown.body.error).toContain("email")
    expect(unknown.body.error).toContain(unknownEmail)

    const cases: ReadonlyArray<readonly [body: unknown, status: number, field: string]> = [
      [{ email: t.owner.session.email, role: "viewer" }, 400, "email"],
      [{ email: t.creator.session.email.toUpperCase(), role: "editor" }, 400, "email"],
      [{ email: t.viewer.session.email, role: "admin" }, 400, "role"],
      [{ email: t.viewer.session.email, role: 1 }, 400, "role"],
      [{ email: t.viewer.session.email }, 400, "role"],
      [{ role: "viewer" }, 400, "email"],
      [{ email: "not an email", role: "viewer" }, 400, "email"],
      [{ email: "a\u0000b@example.test", role: "viewer" }, 400, "email"],
      [{ email: `${"x".repeat(320)}@example.test`, role: "viewer" }, 400, "email"],
      [{ email: 42, role: "viewer" }, 400, "email"],
      [{ email: t.viewer.session.email, role: "editor", surprise: 1 }, 400, "surprise"],
    ]
    for (const [body, status, field] of cases) {
      const answer = await api.put<ErrorBody>(g, body)
      const label = `${JSON.stringify(body).slice(0, 80)} → ${answer.status} ${JSON.stringify(answer.body)}`
      expect(answer.status, label).toBe(status)
      expect(Object.keys(answer.body.fields ?? {}), label).toContain(field)
      expect(answer.body.error, label).toContain(field)
    }
    const oversize = await api.call<ErrorBody>(
      "PUT",
      g,
      JSON.stringify({ email: t.viewer.session.email, role: "editor", padding: "x".repeat(LIMIT) }),
    )
    expect([oversize.status, oversize.body._tag]).toEqual([413, "PayloadTooLarge"])
    const nulUser = await api.call<ErrorBody>("DELETE", `${g}/${encodeURIComponent("a\u0000b")}`)
    expect([nulUser.status, Object.keys(nulUser.body.fields ?? {})]).toEqual([400, ["path.userId"]])
    const nulGraph = await api.call<ErrorBody>(
      "DELETE",
      `/api/graphs/${encodeURIComponent("a\u0000b")}/shares/x`,
    )
    expect([nulGraph.status, Object.keys(nulGraph.body.fields ?? {})]).toEqual([400, ["path.id"]])
    expect(changedTables(before, await fingerprint(host))).toEqual([])
    expect((await t.creator.api.get<ReadonlyArray<ShareView>>(g)).body.map((s) => s.role)).toEqual([
      "owner",
      "owner",
      "editor",
      "viewer",
    ])
  })

  it("API keys: graphs:read lists who has access, sharing and removing need graphs:write", async () => {
    const t = await team()
    const g = `/api/graphs/${t.id}/shares`
    const keyOf = async (scopes: ReadonlyArray<string>) => {
      const made = await t.creator.api.post<{ key: string }>("/api/api-keys", { name: "k", scopes })
      expect(made.status).toBe(201)
      return client(host.url, { headers: { authorization: `Bearer ${made.body.key}` } })
    }
    const reader = await keyOf(["graphs:read"])
    const writer = await keyOf(["graphs:write"])
    expect((await reader.get(g)).status).toBe(200)
    const refused = await reader.put<ErrorBody>(g, { email: t.viewer.session.email, role: "editor" })
    expect([refused.status, refused.body._tag]).toEqual([403, "InsufficientScope"])
    expect((await reader.call("DELETE", `${g}/${t.viewer.session.userId}`)).status).toBe(403)
    expect((await writer.get(g)).status).toBe(403)
    const shared = await writer.put<ShareView>(g, { email: t.viewer.session.email, role: "editor" })
    expect([shared.status, shared.body.role]).toEqual([200, "editor"])
    expect((await writer.call("DELETE", `${g}/${t.viewer.session.userId}`)).status).toBe(204)
    expect((await t.viewer.api.get(`/api/graphs/${t.id}`)).status).toBe(404)
  })

  it("a shared user's runs are theirs: their list, their credentials, their WebSocket subscription; none after removal", async () => {
    const t = await team(judgeGraph("Judge"))
    const g = `/api/graphs/${t.id}`
    const keyOf = async (who: User, secret: string) => {
      const made = await who.api.post<{ id: string }>("/api/credentials", {
        provider: "openai",
        type: "api_key",
        title: "k",
        secret: { api_key: secret },
      })
      expect(made.status).toBe(201)
      return made.body.id
    }
    const creatorKey = await keyOf(t.creator, "sk-creator-secret")
    const viewerKey = await keyOf(t.viewer, "sk-viewer-secret")

    // The viewer's preset may not use the creator's credentials; with their own it saves and runs.
    const foreign = await t.viewer.api.post<ErrorBody>("/api/presets", {
      graphId: t.id,
      name: "mine",
      inputs: { topic: "Paris" },
      credentials: { judge: { credentials: creatorKey } },
    })
    expect(foreign.status).toBe(400)
    const preset = await t.viewer.api.post<{ id: string }>("/api/presets", {
      graphId: t.id,
      name: "mine",
      inputs: { topic: "Paris" },
      credentials: { judge: { credentials: viewerKey } },
    })
    expect(preset.status).toBe(201)

    // The viewer and the creator both follow the graph's runs over the WebSocket.
    const ws = await WsClient.open(host.url, t.viewer.session.headers)
    if (!(ws instanceof WsClient)) throw new Error(`the upgrade was refused: ${ws.status}`)
    const subscribed = await ws.request({ type: "subscribe", graphId: t.id, id: "g" })
    expect(subscribed).toMatchObject({ type: "subscribed", graphId: t.id })
    const creatorWs = await WsClient.open(host.url, t.creator.session.headers)
    if (!(creatorWs instanceof WsClient)) throw new Error(`the upgrade was refused: ${creatorWs.status}`)
    expect(await creatorWs.request({ type: "subscribe", graphId: t.id, id: "c" })).toMatchObject({
      type: "subscribed",
    })

    const started = await t.viewer.api.post<{ id: string }>(`/api/presets/${preset.body.id}/execute`, {})
    expect(started.status).toBe(201)
    const runId = started.body.id
    await readSse(`${host.url}/api/runs/${runId}/events`, { headers: t.viewer.session.headers })
    const run = await t.viewer.api.get<{ status: string; graphId: string }>(`/api/runs/${runId}`)
    expect([run.body.status, run.body.graphId]).toEqual(["COMPLETED", t.id])
    // The model call carried the viewer's key, never the creator's.
    const calls = model.requests.filter((r) => r.raw.includes("Paris"))
    expect(calls.length).toBeGreaterThan(0)
    expect(calls.every((r) => r.headers.authorization === "Bearer sk-viewer-secret")).toBe(true)
    // The run is the viewer's: in their list of the graph's runs, not in the creator's, and 404 to the creator.
    const mine = await t.viewer.api.get<ReadonlyArray<{ id: string }>>(`/api/runs?graphId=${t.id}`)
    expect(mine.body.map((r) => r.id)).toEqual([runId])
    const creators = await t.creator.api.get<ReadonlyArray<{ id: string }>>(`/api/runs?graphId=${t.id}`)
    expect(creators.body.map((r) => r.id)).not.toContain(runId)
    expect((await t.creator.api.get(`/api/runs/${runId}`)).status).toBe(404)
    // The viewer's graph subscription saw their own run; the creator's saw none of it.
    await ws.request({ type: "ping", id: "sync" })
    expect(ws.messages.some((m) => m.type === "event" && m.runId === runId)).toBe(true)
    await creatorWs.request({ type: "ping", id: "sync" })
    expect(creatorWs.messages.filter((m) => m.type === "event")).toEqual([])
    await creatorWs.close()

    // A schedule of the viewer is theirs too; a stranger can make neither.
    const schedule = await t.viewer.api.post<{ id: string }>("/api/schedules", {
      graphId: t.id,
      presetId: preset.body.id,
      cron: YEARLY,
      timezone: "UTC",
    })
    expect(schedule.status).toBe(201)
    const strangerSchedule = await t.stranger.api.post("/api/schedules", {
      graphId: t.id,
      cron: YEARLY,
      timezone: "UTC",
      inputs: { topic: "x" },
    })
    expect(strangerSchedule.status).toBe(404)

    // Removed: no new subscription, no run, no preset run; the viewer's own runs stay theirs.
    expect((await t.creator.api.call("DELETE", `${g}/shares/${t.viewer.session.userId}`)).status).toBe(204)
    expect(await ws.request({ type: "subscribe", graphId: t.id, id: "again" })).toMatchObject({
      type: "error",
    })
    expect((await t.viewer.api.post(`${g}/runs`, { inputs: { topic: "x" } })).status).toBe(404)
    expect((await t.viewer.api.post(`/api/presets/${preset.body.id}/execute`, {})).status).toBe(404)
    expect((await t.viewer.api.get(`/api/runs/${runId}`)).status).toBe(200)
    await ws.close()
  })

  it("a webhook a shared editor made on the graph starts runs as them, until their access is removed", async () => {
    const t = await team(hookGraph("Hook"))
    const made = await t.editor.api.post<{ id: string; secret: string }>(`/api/graphs/${t.id}/webhooks`, {
      description: "editor's",
    })
    expect(made.status).toBe(201)
    const strangers = await t.stranger.api.post(`/api/graphs/${t.id}/webhooks`, {})
    expect(strangers.status).toBe(404)
    const deliver = async (event: string) => {
      const body = JSON.stringify({ event })
      const response = await fetch(`${host.url}/api/webhooks/${made.body.id}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-weft-signature": sign(made.body.secret, Math.floor(Date.now() / 1000), body),
        },
        body,
      })
      return { status: response.status, body: (await response.json()) as { runId?: string } }
    }
    const accepted = await deliver("first")
    expect(accepted.status).toBe(202)
    const runId = accepted.body.runId as string
    await readSse(`${host.url}/api/runs/${runId}/events`, { headers: t.editor.session.headers })
    expect((await t.editor.api.get(`/api/runs/${runId}`)).status).toBe(200)
    expect((await t.creator.api.get(`/api/runs/${runId}`)).status).toBe(404)

    expect(
      (await t.creator.api.call("DELETE", `/api/graphs/${t.id}/shares/${t.editor.session.userId}`)).status,
    ).toBe(204)
    const refused = await deliver("second")
    expect(refused.status).toBe(404)
    expect((await t.editor.api.get(`/api/graphs/${t.id}/webhooks`)).status).toBe(404)
  })
})
