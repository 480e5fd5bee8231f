/**
 * Co-editing through the host's own server at `/collab`, on PGlite and on Postgres, with real providers over
 * `ws`: documents seeded from the active version, access from sessions, API keys and the sharing table,
 * viewer writes ignored, the stored document equal to the live one (also after a restart), saving the live
 * document as a version (refused with per-node errors when invalid), runs of the live document, and access
 * revoked at once when a share is removed.
 */
import { GraphDoc } from "@weft/engine"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Y from "yjs"
import type { RunningHost } from "../src/index.js"
import {
  client,
  eventually,
  freshDatabase,
  helloGraph,
  type Session,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"
import { type Peer, peer, sessionToken, until } from "./support/collab.js"

const fast = { storeDebounceMs: 20, storeMaxDebounceMs: 100, revalidateEveryMs: 200 }

/** A gauge's value for this host in `/metrics` text, or undefined. */
const gauge = (metrics: string, name: string, base: string): number | undefined => {
  for (const line of metrics.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(`server="${base}"`))
      return Number(line.split(" ").at(-1))
  }
  return undefined
}

const templateOf = (doc: Y.Doc) =>
  (doc.getMap("nodes").get("fill") as Y.Map<unknown> | undefined)?.get("inputDefault") instanceof Y.Map
    ? ((doc.getMap("nodes").get("fill") as Y.Map<Y.Map<unknown>>).get("inputDefault") as Y.Map<unknown>).get(
        "format",
      )
    : undefined

describe.each(["pglite", "postgres"] as const)("collaboration in the host on %s", (driver) => {
  let host: RunningHost
  let dispose: () => Promise<void>
  let start: () => Promise<RunningHost>
  let alice: Session
  let bob: Session
  let carol: Session
  let dave: Session
  let graphId: string
  const peers: Array<Peer> = []

  const open = (token: string, id = graphId) => {
    const p = peer(host.url, id, token)
    peers.push(p)
    return p
  }
  const tokenOf = (session: Session) => sessionToken(session.headers.cookie ?? "")

  beforeAll(async () => {
    if (driver === "postgres") {
      const db = await freshDatabase("collab")
      start = () => startTestHost({ databaseUrl: db.url, collab: fast })
      dispose = db.drop
    } else {
      const dir = tempDir("collab")
      start = () => startTestHost({ dataDir: dir.dir, collab: fast })
      dispose = async () => dir.dispose()
    }
    host = await start()
    alice = await signUp(host.url, "alice")
    bob = await signUp(host.url, "bob")
    carol = await signUp(host.url, "carol")
    dave = await signUp(host.url, "dave")
    const created = await client(host.url, alice).post<{ id: string }>("/api/graphs", helloGraph("Shared"))
    expect(created.status).toBe(201)
    graphId = created.body.id
    for (const [who, role] of [
      [bob, "editor"],
      [carol, "viewer"],
    ] as const) {
      const shared = await client(host.url, alice).put(`/api/graphs/${graphId}/shares`, {
        email: who.email,
        role,
      })
      expect(shared.status).toBe(200)
    }
  })

  afterAll(async () => {
    for (const p of peers) p.close()
    await host?.close()
    await dispose?.()
  })

  it("seeds a new document from the active version, and editors converge through the server", async () => {
    const a = open(tokenOf(alice))
    const b = open(tokenOf(bob))
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    const seeded = GraphDoc.toGraph(a.doc)
    expect(seeded.name).toBe("Shared")
    expect(seeded.nodes.map((n) => n.id)).toEqual(["in", "fill", "out"])
    expect(templateOf(b.doc)).toBe("Hello, {{ topic }}!")

    GraphDoc.setInput(b.doc, "fill", "format", "Hi, {{ topic }}!")
    GraphDoc.moveNode(a.doc, "out", { x: 400, y: 80 })
    await until(() => templateOf(a.doc) === "Hi, {{ topic }}!", 5_000, "Bob's edit at Alice")
    await until(
      () => JSON.stringify(GraphDoc.toGraph(b.doc)) === JSON.stringify(GraphDoc.toGraph(a.doc)),
      5_000,
      "convergence",
    )
  })

  it("decides access from the token and the graph's roles", async () => {
    expect(await open("").outcome).toMatch(/^denied:/)
    expect(await open("not-a-token").outcome).toMatch(/^denied:/)
    expect(await open(tokenOf(dave)).outcome).toMatch(/^denied:/)
    // A graph that does not exist is refused like one without a role.
    expect(await open(tokenOf(alice), "no-such-graph").outcome).toMatch(/^denied:/)

    // The bare session token (what get-session answers) works as well as the cookie's value.
    const session = await client(host.url, bob).get<{ session: { token: string } }>("/api/auth/get-session")
    expect(session.status).toBe(200)
    const bare = open(session.body.session.token)
    expect(await bare.outcome).toBe("synced")

    const keyOf = async (scopes: ReadonlyArray<string>) => {
      const created = await client(host.url, alice).post<{ key: string }>("/api/api-keys", {
        name: `collab ${scopes.join(" ")}`,
        scopes,
      })
      expect(created.status).toBe(201)
      return created.body.key
    }
    const writer = open(await keyOf(["graphs:write"]))
    expect(await writer.outcome).toBe("synced")
    expect(await open(await keyOf(["blocks:execute"])).outcome).toMatch(/^denied:/)

    // A key with graphs:read only is read-only, like a viewer.
    const reader = open(await keyOf(["graphs:read"]))
    expect(await reader.outcome).toBe("synced")
    GraphDoc.setName(reader.doc, "renamed by a read-only key")
    GraphDoc.setDescription(writer.doc, "written by a key")
    await until(() => GraphDoc.toGraph(reader.doc).description === "written by a key", 5_000, "key edit")
    expect(GraphDoc.toGraph(writer.doc).name).toBe("Shared")
  })

  it("ignores a viewer's writes", async () => {
    const c = open(tokenOf(carol))
    const a = open(tokenOf(alice))
    expect(await c.outcome).toBe("synced")
    expect(await a.outcome).toBe("synced")
    GraphDoc.setName(c.doc, "vandalised")
    GraphDoc.setInput(a.doc, "fill", "format", "Hey, {{ topic }}!")
    await until(() => templateOf(c.doc) === "Hey, {{ topic }}!", 5_000, "Alice's edit at the viewer")
    expect(GraphDoc.toGraph(a.doc).name).toBe("Shared")
    const live = await client(host.url, alice).get<{ graph: { name: string } }>(`/api/graphs/${graphId}/live`)
    expect(live.body.graph.name).toBe("Shared")
  })

  it("saves the live document as a version, refusing invalid ones with per-node errors", async () => {
    const a = open(tokenOf(alice))
    expect(await a.outcome).toBe("synced")
    GraphDoc.setInput(a.doc, "fill", "format", "Saved, {{ topic }}!")
    const api = client(host.url, alice)
    await eventually(async () => {
      const live = await api.get<{ changed: boolean; graph: unknown }>(`/api/graphs/${graphId}/live`)
      return JSON.stringify(live.body.graph).includes("Saved, {{ topic }}!") ? live : undefined
    })
    const saved = await api.post<{ version: number; unchanged: boolean }>(`/api/graphs/${graphId}/live/save`)
    expect(saved.status).toBe(200)
    expect(saved.body.unchanged).toBe(false)
    const version = saved.body.version
    expect(version).toBeGreaterThan(1)
    const stored = await api.get<{ graph: { nodes: Array<{ id: string; inputDefault?: unknown }> } }>(
      `/api/graphs/${graphId}?version=${version}`,
    )
    expect(stored.body.graph.nodes.find((n) => n.id === "fill")?.inputDefault).toEqual({
      format: "Saved, {{ topic }}!",
    })
    // The document now says which version it is.
    await until(() => a.doc.getMap("meta").get("version") === version, 5_000, "version in the document")

    const again = await api.post<{ version: number; unchanged: boolean }>(`/api/graphs/${graphId}/live/save`)
    expect(again.body).toEqual({ id: graphId, version, unchanged: true })

    // A viewer cannot save changes; a stranger does not see the graph.
    GraphDoc.setInput(a.doc, "fill", "format", "Unsaved, {{ topic }}!")
    await eventually(async () => {
      const live = await api.get<{ changed: boolean }>(`/api/graphs/${graphId}/live`)
      return live.body.changed ? live : undefined
    })
    const byViewer = await client(host.url, carol).post<{ _tag: string }>(`/api/graphs/${graphId}/live/save`)
    expect(byViewer.status).toBe(403)
    expect(byViewer.body._tag).toBe("RoleForbidden")
    expect((await client(host.url, dave).post(`/api/graphs/${graphId}/live/save`)).status).toBe(404)

    // An unknown block makes the document invalid: 400 naming the node's field, and no version stored.
    GraphDoc.addNode(a.doc, { id: "bad", blockId: "weft/no-such-block" })
    await eventually(async () => {
      const live = await api.get<{ errors: Record<string, unknown> }>(`/api/graphs/${graphId}/live`)
      return live.body.errors.bad === undefined ? undefined : live
    })
    const refused = await api.post<{ fields: Record<string, string> }>(`/api/graphs/${graphId}/live/save`)
    expect(refused.status).toBe(400)
    expect(Object.keys(refused.body.fields)).toContain("nodes.bad.blockId")
    const versions = await api.get<Array<{ version: number }>>(`/api/graphs/${graphId}/versions`)
    expect(Math.max(...versions.body.map((v) => v.version))).toBe(version)
    GraphDoc.removeNode(a.doc, "bad")
  })

  it("runs the live document", async () => {
    const a = open(tokenOf(alice))
    expect(await a.outcome).toBe("synced")
    GraphDoc.setInput(a.doc, "fill", "format", "Live, {{ topic }}!")
    const api = client(host.url, bob)
    await eventually(async () => {
      const live = await api.get<{ graph: unknown }>(`/api/graphs/${graphId}/live`)
      return JSON.stringify(live.body.graph).includes("Live, {{ topic }}!") ? live : undefined
    })
    const both = await api.post(`/api/graphs/${graphId}/runs`, { live: true, version: 1, inputs: {} })
    expect(both.status).toBe(400)
    const started = await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {
      live: true,
      inputs: { topic: "Bob" },
    })
    expect(started.status).toBe(201)
    const run = await eventually(async () => {
      const r = await api.get<{ status: string; outputs: Record<string, unknown>; graphVersion: number }>(
        `/api/runs/${started.body.id}`,
      )
      return r.body.status === "COMPLETED" ? r.body : undefined
    })
    expect(JSON.stringify(run.outputs)).toContain("Live, Bob!")
  })

  it("loads a version stored or made active through the API into the live document", async () => {
    const a = open(tokenOf(alice))
    expect(await a.outcome).toBe("synced")
    const api = client(host.url, alice)
    const put = await api.put<{ version: number }>(`/api/graphs/${graphId}`, {
      ...helloGraph("Uploaded"),
      nodes: helloGraph().nodes.map((n) =>
        n.id === "fill" ? { ...n, inputDefault: { format: "Uploaded, {{ topic }}!" } } : n,
      ),
    })
    expect(put.status).toBe(200)
    await until(() => templateOf(a.doc) === "Uploaded, {{ topic }}!", 5_000, "the upload in the document")
    expect(GraphDoc.toGraph(a.doc).name).toBe("Uploaded")
    expect(a.doc.getMap("meta").get("version")).toBe(put.body.version)

    const back = await api.put(`/api/graphs/${graphId}/versions/active`, { version: 1 })
    expect(back.status).toBe(200)
    await until(() => templateOf(a.doc) === "Hello, {{ topic }}!", 5_000, "version 1 in the document")
    const live = await api.get<{ changed: boolean; activeVersion: number }>(`/api/graphs/${graphId}/live`)
    expect(live.body).toMatchObject({ changed: false, activeVersion: 1 })
  })

  it("stores the live state: a reload and a restarted host give the same document", async () => {
    const a = open(tokenOf(alice))
    expect(await a.outcome).toBe("synced")
    GraphDoc.setDescription(a.doc, `stored ${driver}`)
    const expected = JSON.stringify(GraphDoc.toGraph(a.doc))
    // Acknowledged by the server (a provider destroyed with unsent changes drops them: that is the client's).
    await until(() => !a.provider.hasUnsyncedChanges, 5_000, "the edit acknowledged")
    for (const p of peers.splice(0)) p.close()
    await host.close()
    host = await start()
    const again = open(tokenOf(alice))
    expect(await again.outcome).toBe("synced")
    expect(JSON.stringify(GraphDoc.toGraph(again.doc))).toBe(expected)
  })

  it("closes a user's connection when their share is removed, and refuses them afterwards", async () => {
    const b = open(tokenOf(bob))
    expect(await b.outcome).toBe("synced")
    const removed = await client(host.url, alice).call(
      "DELETE",
      `/api/graphs/${graphId}/shares/${bob.userId}`,
    )
    expect(removed.status).toBe(204)
    await until(() => b.closes.length > 0, 5_000, "Bob's connection closed")
    expect(await open(tokenOf(bob)).outcome).toMatch(/^denied:/)
  })

  it("closes the connections of a session that signed out, at the next check", async () => {
    const session = await signUp(host.url, `erin-${driver}`)
    expect(
      (
        await client(host.url, alice).put(`/api/graphs/${graphId}/shares`, {
          email: session.email,
          role: "editor",
        })
      ).status,
    ).toBe(200)
    const e = open(tokenOf(session))
    expect(await e.outcome).toBe("synced")
    const out = await client(host.url, session).call("POST", "/api/auth/sign-out", {}, { origin: host.url })
    expect(out.status).toBe(200)
    await until(() => e.closes.length > 0, 5_000, "the signed-out connection closed")
    expect(await open(tokenOf(session)).outcome).toMatch(/^denied:/)
  })

  it("counts open documents and sockets in /metrics, back to 0 when everyone has left", async () => {
    for (const p of peers.splice(0)) p.close()
    const many = Array.from({ length: 20 }, () => open(tokenOf(alice)))
    for (const p of many) expect(await p.outcome).toBe("synced")
    const read = async () => {
      const text = await (await fetch(`${host.url}/metrics`)).text()
      return {
        documents: gauge(text, "weft_collab_documents", host.url),
        sockets: gauge(text, "weft_collab_sockets", host.url),
      }
    }
    await eventually(async () => {
      const now = await read()
      return now.documents === 1 && now.sockets === 20 ? now : undefined
    })
    for (const p of peers.splice(0)) p.close()
    await eventually(async () => {
      const now = await read()
      return now.documents === 0 && now.sockets === 0 ? now : undefined
    })
  })

  it("answers 426 to a plain request", async () => {
    const response = await fetch(`${host.url}/collab`)
    expect(response.status).toBe(426)
  })
})

describe("two hosts on one database with Redis", () => {
  let hosts: Array<RunningHost> = []
  let drop: () => Promise<void>
  const peers: Array<Peer> = []

  beforeAll(async () => {
    const db = await freshDatabase("collabredis")
    drop = db.drop
    const redis = {
      url: "redis://127.0.0.1:6379",
      prefix: `weft-test-${Math.random().toString(36).slice(2)}`,
    }
    hosts = [
      await startTestHost({ databaseUrl: db.url, collab: { ...fast, redis } }),
      await startTestHost({ databaseUrl: db.url, collab: { ...fast, redis } }),
    ]
  })

  afterAll(async () => {
    for (const p of peers) p.close()
    for (const h of hosts) await h.close()
    await drop?.()
  })

  it("serves one document from both processes: edits and presence reach the other host's clients", async () => {
    const [one, two] = hosts
    if (one === undefined || two === undefined) throw new Error("hosts did not start")
    const alice = await signUp(one.url, "alice")
    const bob = await signUp(two.url, "bob")
    const created = await client(one.url, alice).post<{ id: string }>("/api/graphs", helloGraph("Scaled"))
    expect(created.status).toBe(201)
    const graphId = created.body.id
    const shared = await client(two.url, alice).put(`/api/graphs/${graphId}/shares`, {
      email: bob.email,
      role: "editor",
    })
    expect(shared.status).toBe(200)
    const a = peer(one.url, graphId, sessionToken(alice.headers.cookie ?? ""))
    const b = peer(two.url, graphId, sessionToken(bob.headers.cookie ?? ""))
    peers.push(a, b)
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")

    GraphDoc.setInput(a.doc, "fill", "format", "From one, {{ topic }}!")
    GraphDoc.moveNode(b.doc, "in", { x: 10, y: 20 })
    await until(() => templateOf(b.doc) === "From one, {{ topic }}!", 10_000, "host one's edit on host two")
    await until(
      () => JSON.stringify(GraphDoc.toGraph(a.doc)) === JSON.stringify(GraphDoc.toGraph(b.doc)),
      10_000,
      "convergence across hosts",
    )
    // Both hosts loaded the new document at once; it holds one seed (one seeding client besides a and b).
    const seeders = [...Y.decodeStateVector(Y.encodeStateVector(a.doc)).keys()].filter(
      (client) => client !== a.doc.clientID && client !== b.doc.clientID,
    )
    expect(seeders).toHaveLength(1)
    b.provider.setAwarenessField("cursor", { x: 3, y: 4 })
    await until(
      () =>
        [...a.provider.awareness!.getStates().values()].some(
          (state) => (state.user as { id?: string } | undefined)?.id === bob.userId,
        ),
      10_000,
      "Bob's presence on host one",
    )

    // A version saved on host two is what host one's live document reports.
    const saved = await client(two.url, bob).post<{ version: number }>(`/api/graphs/${graphId}/live/save`)
    expect(saved.status).toBe(200)
    await until(() => a.doc.getMap("meta").get("version") === saved.body.version, 10_000, "saved version")
  })
})
