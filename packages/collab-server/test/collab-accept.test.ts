import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as encoding from "lib0/encoding"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocketServer } from "ws"
import * as Y from "yjs"
import {
  CollabOptionsInvalid,
  type CollabServer,
  type CollabStorage,
  makeCollabServer,
} from "../src/index.js"
import {
  authenticate,
  authFrame,
  type Client,
  connect,
  frame,
  MemoryStorage,
  type Raw,
  rawSocket,
  start,
  until,
} from "./support.js"

let cleanups: Array<() => Promise<void> | void> = []

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
})

/**
 * A host of its own: an HTTP server that upgrades `/collab` with a plain `ws` server (no `maxPayload`) and bridges
 * each socket to `accept`, the way the host mounts the collaboration server on its own HTTP server.
 */
const mount = async (server: CollabServer): Promise<string> => {
  const wss = new WebSocketServer({ noServer: true })
  const http: Server = createServer((_req, res) => res.writeHead(404).end())
  http.on("upgrade", (request, socket, head) => {
    if (request.url !== "/collab") return socket.destroy()
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = server.accept(ws, new Request(`http://localhost${request.url}`))
      ws.on("message", (data) => connection.message(data as Buffer))
      ws.on("close", (code, reason) => connection.closed(code, reason.toString()))
    })
  })
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate()
    await new Promise<void>((resolve) => http.close(() => resolve()))
  })
  return `ws://127.0.0.1:${(http.address() as AddressInfo).port}/collab`
}

const client = (url: string, token: string) => {
  const c: Client = connect(url, "graph:g1", token)
  cleanups.push(() => c.close())
  return c
}

const raw = async (url: string): Promise<Raw> => {
  const r = await rawSocket(url)
  cleanups.push(() => r.socket.terminate())
  return r
}

const bigUpdateFrame = (bytes: number) => {
  const doc = new Y.Doc()
  doc.getMap("nodes").set("big", "x".repeat(bytes))
  return frame((e) => {
    encoding.writeVarString(e, "graph:g1")
    encoding.writeVarUint(e, 0)
    encoding.writeVarUint(e, 2)
    encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(doc))
  })
}

describe("accept: one path for a mounted transport and the standalone listener", () => {
  it("a provider on a mounted socket and one on the standalone listener co-edit one document", async () => {
    const running = await start()
    cleanups.push(() => running.server.destroy())
    const mounted = await mount(running.server)
    const a = client(mounted, "tok-alice")
    const b = client(running.url, "tok-bob")
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    a.doc.getMap("nodes").set("from-a", 1)
    b.doc.getMap("nodes").set("from-b", 2)
    await until(
      () => a.doc.getMap("nodes").has("from-b") && b.doc.getMap("nodes").has("from-a"),
      5_000,
      "sync",
    )
    expect(running.server.openDocumentCount()).toBe(1)
    expect(running.server.socketCount()).toBe(2)
  })

  it("accept itself closes a socket with 1009 for a frame above maxMessageBytes (the transport has no limit)", async () => {
    const running = await start(undefined, { maxMessageBytes: 16 * 1024 })
    cleanups.push(() => running.server.destroy())
    const mounted = await mount(running.server)
    const a = client(mounted, "tok-alice")
    expect(await a.outcome).toBe("synced")
    const r = await raw(mounted)
    r.socket.send(authFrame("graph:g1", "tok-bob"))
    r.socket.send(bigUpdateFrame(20 * 1024))
    expect(await r.closed).toBe(1009)
    // Just below the limit goes through.
    const ok = await raw(mounted)
    ok.socket.send(authFrame("graph:g1", "tok-bob"))
    ok.socket.send(bigUpdateFrame(15 * 1024))
    await until(() => a.doc.getMap("nodes").has("big"), 5_000, "the smaller update")
  })

  it("destroy closes every socket with 1001 (authenticated or not) and stores every loaded document", async () => {
    const storage = new MemoryStorage()
    // A long debounce: nothing is stored before destroy.
    const server = makeCollabServer({
      authenticate,
      storage,
      storeDebounceMs: 60_000,
      storeMaxDebounceMs: 60_000,
    })
    const { url } = await server.listen(0)
    const mounted = await mount(server)
    const a = client(url, "tok-alice")
    const b = client(mounted, "tok-bob")
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    const closes: number[] = []
    a.provider.on("close", ({ event }: { event: { code: number } }) => closes.push(event.code))
    b.provider.on("close", ({ event }: { event: { code: number } }) => closes.push(event.code))
    const idle = await raw(url)
    a.doc.getMap("nodes").set("last", "edit")
    await until(() => a.provider.unsyncedChanges === 0, 5_000, "the edit to be acknowledged")
    expect(storage.states.has("g1")).toBe(false)
    await server.destroy()
    expect(await idle.closed).toBe(1001)
    await until(() => closes.length === 2, 5_000, "both providers to see the close")
    expect(closes).toEqual([1001, 1001])
    const stored = new Y.Doc()
    Y.applyUpdate(stored, storage.states.get("g1")!)
    expect(stored.getMap("nodes").get("last")).toBe("edit")
    expect(server.openDocumentCount()).toBe(0)
    expect(server.socketCount()).toBe(0)
    // After destroy, a new socket is closed at once.
    const late = await raw(mounted)
    expect(await late.closed).toBe(1001)
  })
})

describe("options", () => {
  const base = { authenticate, storage: new MemoryStorage() }
  it.each([
    ["redis.url", { redis: { url: "http://127.0.0.1:6379" } }],
    ["redis.url", { redis: { url: "not a url" } }],
    ["redis.prefix", { redis: { url: "redis://127.0.0.1:6379", prefix: "has space" } }],
    ["maxMessageBytes", { maxMessageBytes: 0 }],
    ["maxDocumentBytes", { maxDocumentBytes: 1.5 }],
    ["preAuth.maxQueuedMessages", { preAuth: { maxQueuedMessages: -1 } }],
    ["storage", { storage: { load: async () => undefined } as unknown as CollabStorage }],
    ["storage.create", { storage: { ...new MemoryStorage(), create: "yes" } as unknown as CollabStorage }],
  ])("a bad %s is refused, naming the field", (field, extra) => {
    let error: unknown
    try {
      makeCollabServer({ ...base, ...extra })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(CollabOptionsInvalid)
    expect((error as CollabOptionsInvalid).field).toBe(field)
    expect((error as CollabOptionsInvalid).message).toContain(field)
  })
})
