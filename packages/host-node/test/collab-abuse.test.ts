/**
 * The host's `/collab` mount against hostile or careless clients, on PGlite: malformed frames on raw `ws`
 * sockets (built with lib0 like a provider's), oversize frames and documents, invalid values written into the
 * Yjs document by a real provider, many connect/disconnect cycles, and a shutdown while providers edit.
 * Each case checks that the offending socket alone is closed or refused, that other clients keep editing,
 * that the live and stored documents hold nothing of the attack, and that no API answer is a 500.
 */
import { GraphDoc } from "@weft/engine"
import * as decoding from "lib0/decoding"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Y from "yjs"
import {
  AUTH_AUTHENTICATED,
  AUTH_PERMISSION_DENIED,
  authFrame,
  MESSAGE_AUTH,
  randomBytes,
  updateFrame,
} from "../../collab-server/test/frames.js"
import type { RunningHost } from "../src/index.js"
import {
  client,
  eventually,
  helloGraph,
  type Session,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"
import { collabUrl, type Peer, peer, sessionToken, until } from "./support/collab.js"

const MAX_DOCUMENT_BYTES = 64 * 1024
const options = { storeDebounceMs: 20, storeMaxDebounceMs: 100, maxDocumentBytes: MAX_DOCUMENT_BYTES }

/** A real Yjs update that sets `nodes[key]` to a string of `size` characters. */
const validUpdate = (key: string, size: number) => {
  const doc = new Y.Doc()
  doc.getMap("nodes").set(key, "x".repeat(size))
  return Y.encodeStateAsUpdate(doc)
}

/** What the server answered to an authentication frame. */
type AuthReply = { readonly _tag: "authenticated" } | { readonly _tag: "denied"; readonly reason: string }

const authReplyOf = (data: Uint8Array): AuthReply | undefined => {
  try {
    const decoder = decoding.createDecoder(data)
    decoding.readVarString(decoder)
    if (decoding.readVarUint(decoder) !== MESSAGE_AUTH) return undefined
    const type = decoding.readVarUint(decoder)
    if (type === AUTH_AUTHENTICATED) return { _tag: "authenticated" }
    if (type === AUTH_PERMISSION_DENIED) return { _tag: "denied", reason: decoding.readVarString(decoder) }
    return undefined
  } catch {
    return undefined
  }
}

interface Raw {
  readonly socket: WebSocket
  /** The close the client saw: `code:reason`. */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>
  /** The first authentication answer, or the close if it came first. */
  readonly auth: Promise<AuthReply | { readonly _tag: "closed"; readonly code: number }>
}

const openSockets: Array<WebSocket> = []

/** A raw WebSocket on the host's `/collab` that has opened (nothing sent yet). */
const rawSocket = async (base: string): Promise<Raw> => {
  const socket = new WebSocket(collabUrl(base))
  openSockets.push(socket)
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  const auth = new Promise<AuthReply | { readonly _tag: "closed"; readonly code: number }>((resolve) => {
    socket.on("message", (data: Buffer) => {
      const reply = authReplyOf(new Uint8Array(data))
      if (reply !== undefined) resolve(reply)
    })
    void closed.then(({ code }) => resolve({ _tag: "closed", code }))
  })
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("error", reject)
  })
  return { socket, closed, auth }
}

/** A raw socket authenticated on `graph:<graphId>` (the server said so). */
const rawAuthed = async (base: string, graphId: string, token: string): Promise<Raw> => {
  const raw = await rawSocket(base)
  raw.socket.send(authFrame(`graph:${graphId}`, token))
  expect(await raw.auth).toEqual({ _tag: "authenticated" })
  return raw
}

/** A close code the server uses for a refused frame: 1007 (invalid data), 1008 (policy) or Hocuspocus's 4xxx. */
const isRefusal = (code: number) => code === 1007 || code === 1008 || (code >= 4000 && code <= 4999)

/** The graph maps of a document as JSON with sorted keys, to compare replicas. */
const contentOf = (doc: Y.Doc) =>
  JSON.stringify(
    [doc.getMap("meta").toJSON(), doc.getMap("nodes").toJSON(), doc.getMap("links").toJSON()],
    (_key, value: unknown) =>
      value !== null && typeof value === "object" && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : value,
  )

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("the host's /collab against hostile and careless clients (PGlite)", () => {
  let host: RunningHost
  let start: () => Promise<RunningHost>
  let dispose: () => void
  let alice: Session
  let bob: Session
  const peers: Array<Peer> = []

  const tokenOf = (session: Session) => sessionToken(session.headers.cookie ?? "")
  const open = (graphId: string, session: Session = alice) => {
    const p = peer(host.url, graphId, tokenOf(session))
    peers.push(p)
    return p
  }
  const newGraph = async (name: string, owner: Session = alice) => {
    const created = await client(host.url, owner).post<{ id: string }>("/api/graphs", helloGraph(name))
    expect(created.status).toBe(201)
    return created.body.id
  }
  const live = (graphId: string, session: Session = alice) =>
    client(host.url, session).get<{ graph: unknown; changed: boolean; fields?: Record<string, string> }>(
      `/api/graphs/${graphId}/live`,
    )
  const versionsOf = async (graphId: string) => {
    const versions = await client(host.url, alice).get<Array<{ version: number }>>(
      `/api/graphs/${graphId}/versions`,
    )
    expect(versions.status).toBe(200)
    return versions.body.map((v) => v.version).sort((a, b) => a - b)
  }
  /** Edits through `writer` reach `reader` (the document keeps working for its clients). */
  const stillCoEdit = async (writer: Peer, reader: Peer, value: string) => {
    GraphDoc.setDescription(writer.doc, value)
    await until(
      () => reader.doc.getMap("meta").get("description") === value,
      5_000,
      `${value} at the other peer`,
    )
  }
  const closeAll = async () => {
    for (const p of peers.splice(0)) p.close()
    for (const s of openSockets.splice(0)) s.terminate()
    // Let the server see the closes and store (debounce 20 ms).
    await sleep(200)
  }

  beforeAll(async () => {
    const dir = tempDir("collababuse")
    start = () => startTestHost({ dataDir: dir.dir, collab: options })
    dispose = dir.dispose
    host = await start()
    alice = await signUp(host.url, "alice")
    bob = await signUp(host.url, "bob")
  })

  afterAll(async () => {
    await closeAll()
    await host?.close()
    dispose?.()
  })

  describe("malformed frames through the host mount", () => {
    let graphId: string
    let a: Peer
    let b: Peer
    let before: string

    beforeAll(async () => {
      graphId = await newGraph("Target")
      a = open(graphId)
      b = open(graphId)
      expect(await a.outcome).toBe("synced")
      expect(await b.outcome).toBe("synced")
      await stillCoEdit(a, b, "baseline")
      await until(() => !a.provider.hasUnsyncedChanges, 5_000, "baseline acknowledged")
      const answer = await live(graphId)
      expect(answer.status).toBe(200)
      before = JSON.stringify(answer.body.graph)
    })

    const truncated = (() => {
      const update = validUpdate("truncated", 100)
      return update.slice(0, update.length >> 1)
    })()

    const cases: ReadonlyArray<readonly [string, (graphId: string) => Uint8Array | string]> = [
      ["an empty binary frame", () => new Uint8Array()],
      ["random bytes", () => randomBytes(97, 13)],
      ["a truncated sync update", (id) => updateFrame(`graph:${id}`, truncated)],
      ["an empty sync update", (id) => updateFrame(`graph:${id}`, new Uint8Array())],
      ["random bytes as a sync update", (id) => updateFrame(`graph:${id}`, randomBytes(64, 7))],
      ["a text frame", () => "hello, this is not a Hocuspocus frame"],
      [
        "a document name that claims more bytes than the frame has",
        () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]),
      ],
    ]

    it.each(cases)(
      "%s, after authentication, closes that socket alone; the document and its other clients are untouched",
      async (_label, make) => {
        const raw = await rawAuthed(host.url, graphId, tokenOf(alice))
        raw.socket.send(make(graphId))
        const { code } = await raw.closed
        expect(isRefusal(code), `close code ${code}`).toBe(true)
        // The document did not change, and its clients still co-edit (then put it back).
        const after = await live(graphId)
        expect(after.status).toBe(200)
        expect(JSON.stringify(after.body.graph)).toBe(before)
        await stillCoEdit(b, a, "still editing")
        await stillCoEdit(a, b, "baseline")
        expect(a.closes).toEqual([])
        expect(b.closes).toEqual([])
      },
    )

    it.each([
      ["an empty binary frame", new Uint8Array()],
      ["random bytes", randomBytes(200, 99)],
      ["a text frame", "GET / HTTP/1.1"],
    ] as const)("%s before any authentication closes that socket", async (_label, bad) => {
      const raw = await rawSocket(host.url)
      raw.socket.send(bad)
      const { code } = await raw.closed
      expect(isRefusal(code), `close code ${code}`).toBe(true)
      expect(JSON.stringify((await live(graphId)).body.graph)).toBe(before)
    })

    it.each([
      ["graph:../x", "invalid-document-name"],
      ["other:1", "invalid-document-name"],
      ["graph:", "invalid-document-name"],
      [`graph:${"a".repeat(129)}`, "invalid-document-name"],
      ["graph:a/b", "invalid-document-name"],
    ] as const)("an auth frame for the document %j is refused (%s)", async (name, reason) => {
      const raw = await rawSocket(host.url)
      raw.socket.send(authFrame(name, tokenOf(alice)))
      const reply = await raw.auth
      expect(reply).toEqual({ _tag: "denied", reason })
    })

    it("an auth frame with a huge token (512 KiB) is refused without harm", async () => {
      const raw = await rawSocket(host.url)
      const started = Date.now()
      raw.socket.send(authFrame(`graph:${graphId}`, "t".repeat(512 * 1024)))
      const reply = await raw.auth
      expect(reply._tag === "denied" || (reply._tag === "closed" && isRefusal(reply.code))).toBe(true)
      expect(Date.now() - started).toBeLessThan(5_000)
      // The host still answers and the document's clients still co-edit.
      expect((await fetch(`${host.url}/healthz`)).status).toBe(200)
      await stillCoEdit(a, b, "after a huge token")
      await stillCoEdit(b, a, "baseline")
    })

    it("an auth frame with a token above the message limit closes that socket with 1009", async () => {
      const raw = await rawSocket(host.url)
      raw.socket.send(authFrame(`graph:${graphId}`, "t".repeat(1024 * 1024 + 16)))
      expect((await raw.closed).code).toBe(1009)
    })

    it("a frame above 1 MiB closes that socket with 1009 and is not applied", async () => {
      const raw = await rawAuthed(host.url, graphId, tokenOf(alice))
      raw.socket.send(updateFrame(`graph:${graphId}`, validUpdate("huge", 1024 * 1024 + 1024)))
      expect((await raw.closed).code).toBe(1009)
      expect(a.doc.getMap("nodes").has("huge")).toBe(false)
      expect(JSON.stringify((await live(graphId)).body.graph)).toBe(before)
      await stillCoEdit(a, b, "after a huge frame")
      await stillCoEdit(b, a, "baseline")
    })

    it("updates sent before authentication are not applied when the token is refused", async () => {
      const raw = await rawSocket(host.url)
      raw.socket.send(updateFrame(`graph:${graphId}`, validUpdate("sneaked", 10)))
      raw.socket.send(authFrame(`graph:${graphId}`, "not-a-token"))
      expect(await raw.auth).toEqual({ _tag: "denied", reason: "permission-denied" })
      await sleep(200)
      expect(a.doc.getMap("nodes").has("sneaked")).toBe(false)
      expect(JSON.stringify((await live(graphId)).body.graph)).toBe(before)
    })

    it("an update for a graph the socket did not authenticate on is not applied there", async () => {
      const foreign = await newGraph("Bob's", bob)
      const bobs = open(foreign, bob)
      expect(await bobs.outcome).toBe("synced")
      const raw = await rawAuthed(host.url, graphId, tokenOf(alice))
      raw.socket.send(updateFrame(`graph:${foreign}`, validUpdate("intruder", 10)))
      raw.socket.send(authFrame(`graph:${foreign}`, tokenOf(alice)))
      expect(await raw.auth).toEqual({ _tag: "authenticated" })
      await sleep(300)
      expect(bobs.doc.getMap("nodes").has("intruder")).toBe(false)
      const bobsLive = await live(foreign, bob)
      expect(bobsLive.status).toBe(200)
      expect(JSON.stringify(bobsLive.body.graph)).not.toContain("intruder")
    })

    it("after all this, the stored document is the clients' document", async () => {
      await stillCoEdit(a, b, "final")
      await until(() => !b.provider.hasUnsyncedChanges && !a.provider.hasUnsyncedChanges, 5_000, "acks")
      const expected = JSON.stringify(GraphDoc.toGraph(a.doc))
      await closeAll()
      const reloaded = open(graphId)
      expect(await reloaded.outcome).toBe("synced")
      expect(JSON.stringify(GraphDoc.toGraph(reloaded.doc))).toBe(expected)
      const answer = await live(graphId)
      expect(answer.status).toBe(200)
      expect(JSON.stringify(answer.body.graph)).toContain('"description":"final"')
    })
  })

  it("a document grown past its limit is refused, and the stored state stays loadable", async () => {
    const graphId = await newGraph("Growing")
    const a = open(graphId)
    const b = open(graphId)
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    const raw = await rawAuthed(host.url, graphId, tokenOf(alice))
    for (let i = 0; i < 8; i++)
      raw.socket.send(updateFrame(`graph:${graphId}`, validUpdate(`chunk${i}`, 12_000)))
    expect((await raw.closed).code).toBe(1009)
    await until(() => a.doc.getMap("nodes").has("chunk0"), 5_000, "the first chunks")
    expect(a.doc.getMap("nodes").size).toBeLessThan(3 + 8)
    expect(Y.encodeStateAsUpdate(a.doc).byteLength).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES)
    // The editors keep working on what fits.
    await stillCoEdit(a, b, "near the limit")
    // A provider that pushes it further is closed with 1009 too.
    a.doc.getMap("nodes").set("big-by-provider", "y".repeat(MAX_DOCUMENT_BYTES))
    await until(() => a.closes.length > 0, 5_000, "the provider to be closed")
    expect(a.closes[0]).toMatch(/^1009:/)
    expect(b.doc.getMap("nodes").has("big-by-provider")).toBe(false)
    // The chunks are string entries of `nodes`, not nodes: the live document may not read as a graph, but no 500.
    const answer = await live(graphId)
    expect([200, 422]).toContain(answer.status)
    const expected = contentOf(b.doc)
    await closeAll()
    const reloaded = open(graphId)
    expect(await reloaded.outcome).toBe("synced")
    const summary = (doc: Y.Doc) => ({
      meta: doc.getMap("meta").toJSON(),
      nodes: [...doc.getMap("nodes").keys()].sort(),
    })
    expect(summary(reloaded.doc)).toEqual(summary(b.doc))
    expect(contentOf(reloaded.doc)).toBe(expected)
    expect(reloaded.doc.getMap("nodes").has("big-by-provider")).toBe(false)
    expect([200, 422]).toContain((await live(graphId)).status)
  })

  describe("invalid values written into the document by a provider", () => {
    const cases: ReadonlyArray<readonly [string, (doc: Y.Doc) => void]> = [
      ["meta.name as a number", (doc) => doc.getMap("meta").set("name", 42)],
      ["meta.version as a string", (doc) => doc.getMap("meta").set("version", "latest")],
      ["meta.id removed", (doc) => doc.getMap("meta").delete("id")],
      ["a nodes entry that is a string", (doc) => doc.getMap("nodes").set("evil", "not a node")],
      ["a nodes entry that is null", (doc) => doc.getMap("nodes").set("void", null)],
      [
        "a nodes entry whose blockId is a number",
        (doc) => {
          const node = new Y.Map<unknown>()
          node.set("blockId", 7)
          doc.getMap("nodes").set("numbered", node)
        },
      ],
      [
        "a link to a missing node",
        (doc) =>
          GraphDoc.connect(doc, {
            sourceId: "fill",
            sourceName: "output",
            sinkId: "ghost",
            sinkName: "value",
          }),
      ],
      ["a links entry that is a number", (doc) => doc.getMap("links").set("broken", 3)],
      [
        "the inputDefault map replaced by an array",
        (doc) => {
          const node = doc.getMap("nodes").get("fill") as Y.Map<unknown>
          node.set("inputDefault", [1, 2, 3])
        },
      ],
    ]

    it.each(cases)("%s: no 500 anywhere, and no version is stored", async (label, write) => {
      const graphId = await newGraph(`Invalid ${label}`)
      const a = open(graphId)
      const b = open(graphId)
      expect(await a.outcome).toBe("synced")
      expect(await b.outcome).toBe("synced")
      const versions = await versionsOf(graphId)
      a.doc.transact(() => write(a.doc))
      await until(() => !a.provider.hasUnsyncedChanges, 5_000, "the write acknowledged")
      // The other client and the server took it without closing anyone.
      await until(() => contentOf(b.doc) === contentOf(a.doc), 5_000, "the write at the other peer")
      expect(a.closes).toEqual([])

      const got = await live(graphId)
      expect([200, 422], `GET /live answered ${got.status} ${JSON.stringify(got.body)}`).toContain(got.status)
      if (got.status === 422) expect(Object.keys(got.body.fields ?? {})).toContain("document")

      const saved = await client(host.url, alice).post<{
        fields?: Record<string, string>
        unchanged?: boolean
      }>(`/api/graphs/${graphId}/live/save`)
      const nothingToSave = saved.status === 200 && saved.body.unchanged === true
      expect(
        nothingToSave || [400, 422].includes(saved.status),
        `POST /live/save answered ${saved.status} ${JSON.stringify(saved.body)}`,
      ).toBe(true)
      if (!nothingToSave) expect(Object.keys(saved.body.fields ?? {}).length).toBeGreaterThan(0)

      const run = await client(host.url, alice).post(`/api/graphs/${graphId}/runs`, {
        live: true,
        inputs: { topic: "x" },
      })
      expect(
        [201, 400, 422].includes(run.status) && (run.status !== 201 || nothingToSave),
        `a live run answered ${run.status} ${JSON.stringify(run.body)}`,
      ).toBe(true)

      expect(await versionsOf(graphId)).toEqual(versions)
      // The document still serves its clients, and loading a version through the API repairs it.
      await stillCoEdit(b, a, "still alive")
      const put = await client(host.url, alice).put(`/api/graphs/${graphId}`, helloGraph("Repaired"))
      expect(put.status).toBe(200)
      await until(() => a.doc.getMap("meta").get("name") === "Repaired", 5_000, "the repair in the document")
      expect((await live(graphId)).status).toBe(200)
      await closeAll()
    })
  })

  it("shared types nested in values (a Y.Text input, a Y.Map position) are read, saved and run as their JSON", async () => {
    const graphId = await newGraph("Nested shared types")
    const a = open(graphId)
    expect(await a.outcome).toBe("synced")
    a.doc.transact(() => {
      const fill = a.doc.getMap("nodes").get("fill") as Y.Map<Y.Map<unknown>>
      fill.get("inputDefault")?.set("format", new Y.Text("Typed, {{ topic }}!"))
      const position = new Y.Map<unknown>()
      ;(a.doc.getMap("nodes").get("out") as Y.Map<Y.Map<unknown>>).get("metadata")?.set("position", position)
      position.set("x", 7)
      position.set("y", 8)
    })
    await until(() => !a.provider.hasUnsyncedChanges, 5_000, "the write acknowledged")
    const got = await live(graphId)
    expect(got.status).toBe(200)
    const saved = await client(host.url, alice).post<{ version: number; unchanged: boolean }>(
      `/api/graphs/${graphId}/live/save`,
    )
    expect(saved.status).toBe(200)
    expect(saved.body.unchanged).toBe(false)
    const stored = await client(host.url, alice).get<{
      graph: { nodes: Array<{ id: string; inputDefault?: unknown; metadata?: unknown }> }
    }>(`/api/graphs/${graphId}?version=${saved.body.version}`)
    expect(stored.body.graph.nodes.find((n) => n.id === "fill")?.inputDefault).toEqual({
      format: "Typed, {{ topic }}!",
    })
    expect(stored.body.graph.nodes.find((n) => n.id === "out")?.metadata).toEqual({
      position: { x: 7, y: 8 },
    })
    await closeAll()
  })

  it("300 connect/disconnect cycles leave no connection behind", async () => {
    const graphId = await newGraph("Churn")
    const metrics = await (await fetch(`${host.url}/metrics`)).text()
    const collabGauge = metrics.split("\n").find((line) => line.startsWith("weft_collab_"))
    const heapBefore = process.memoryUsage().heapUsed
    const started = Date.now()
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) {
        // A raw socket that authenticates, then drops without a close frame.
        const raw = await rawAuthed(host.url, graphId, tokenOf(alice))
        raw.socket.terminate()
      } else if (i % 3 === 1) {
        // A raw socket that never authenticates.
        const raw = await rawSocket(host.url)
        raw.socket.close()
        await raw.closed
      } else {
        const p = peer(host.url, graphId, tokenOf(alice))
        p.provider.setAwarenessField("cursor", { x: i, y: i })
        expect(await p.outcome).toBe("synced")
        p.close()
      }
    }
    openSockets.splice(0)
    const elapsed = Date.now() - started
    await sleep(300)
    // A connection now finds the document working, and nobody else present.
    const a = open(graphId)
    const b = open(graphId)
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    await stillCoEdit(a, b, "after the churn")
    b.provider.setAwarenessField("cursor", { x: -1, y: -1 })
    await until(
      () => a.provider.awareness?.getStates().has(b.doc.clientID) === true,
      5_000,
      "b's presence at a",
    )
    await sleep(200)
    // Nobody of the 300 earlier clients is still present.
    expect([...(a.provider.awareness?.getStates().keys() ?? [])].sort()).toEqual(
      [a.doc.clientID, b.doc.clientID].sort(),
    )
    expect(elapsed).toBeLessThan(60_000)
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore
    expect(heapGrowth, `heap grew by ${Math.round(heapGrowth / 1e6)} MB`).toBeLessThan(200 * 1024 * 1024)
    // No collaboration gauge is exported yet; when one is, it must not count leaked documents.
    // Every socket and document of the cycles is gone (the gauges follow the server's counts each second).
    expect(collabGauge).toBeDefined()
    await closeAll()
    const gaugeOf = (text: string, name: string) =>
      Number(
        text
          .split("\n")
          .find((line) => line.startsWith(`${name}{`) && line.includes(`server="${host.url}"`))
          ?.split(" ")
          .at(-1),
      )
    await eventually(async () => {
      const after = await (await fetch(`${host.url}/metrics`)).text()
      return gaugeOf(after, "weft_collab_sockets") === 0 && gaugeOf(after, "weft_collab_documents") === 0
        ? true
        : undefined
    })
  })

  it("a shutdown while providers edit completes promptly and keeps the acknowledged edits", async () => {
    const graphId = await newGraph("Shutdown")
    const editors = [open(graphId), open(graphId), open(graphId, alice)]
    for (const e of editors) expect(await e.outcome).toBe("synced")
    const acked = editors.map(() => 0)
    const written = editors.map(() => 0)
    let editing = true
    const loops = editors.map(async (e, i) => {
      while (editing) {
        if (!e.provider.hasUnsyncedChanges) acked[i] = written[i] ?? 0
        if (e.closes.length > 0) return
        written[i] = (written[i] ?? 0) + 1
        GraphDoc.setInput(e.doc, "fill", `editor${i}`, written[i])
        await sleep(5)
      }
    })
    await until(() => acked.every((n) => n >= 10), 10_000, "some acknowledged edits by every editor")
    const started = Date.now()
    await host.close()
    const took = Date.now() - started
    editing = false
    await Promise.all(loops)
    expect(took, `host.close() took ${took} ms`).toBeLessThan(5_000)
    for (const e of editors) expect(e.closes.some((c) => c.startsWith("1001:"))).toBe(true)
    for (const p of peers.splice(0)) p.close()

    host = await start()
    const after = open(graphId)
    expect(await after.outcome).toBe("synced")
    const inputs = (after.doc.getMap("nodes").get("fill") as Y.Map<unknown>).get(
      "inputDefault",
    ) as Y.Map<unknown>
    editors.forEach((_, i) => {
      const stored = inputs.get(`editor${i}`)
      expect(typeof stored).toBe("number")
      expect(stored as number, `editor ${i}: acknowledged ${acked[i]}`).toBeGreaterThanOrEqual(acked[i] ?? 0)
    })
    const answer = await eventually(async () => {
      const got = await live(graphId)
      return got.status === 200 ? got : undefined
    })
    expect(JSON.stringify(answer.body.graph)).toContain("editor0")
  })
})
