import * as encoding from "lib0/encoding"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Y from "yjs"
import { checkMessage } from "../src/index.js"
import { authFrame, frame, MESSAGE_SYNC, randomBytes, updateFrame } from "./frames.js"
import { type Client, connect, nodesOf, type Running, start, until } from "./support.js"

let running: Running | undefined
let clients: Client[] = []
let sockets: WebSocket[] = []

afterEach(async () => {
  for (const client of clients) client.close()
  for (const socket of sockets) socket.terminate()
  await running?.server.destroy()
  running = undefined
  clients = []
  sockets = []
})

const validUpdate = (key: string, size: number) => {
  const doc = new Y.Doc()
  doc.getMap("nodes").set(key, "x".repeat(size))
  return Y.encodeStateAsUpdate(doc)
}

interface Raw {
  readonly socket: WebSocket
  readonly closed: Promise<number>
}

/** A raw WebSocket client, authenticated on `name` as `token` (the server's reply has arrived). */
const rawClient = async (url: string, name: string, token: string): Promise<Raw> => {
  const socket = new WebSocket(url)
  sockets.push(socket)
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("error", reject)
  })
  const replied = new Promise<void>((resolve) => socket.once("message", () => resolve()))
  socket.send(authFrame(name, token))
  await replied
  return { socket, closed }
}

/** An editor provider that must keep working while other sockets misbehave. */
const stillWorks = async (r: Running, writer: Client, reader: Client, key: string) => {
  writer.doc.getMap("nodes").set(key, key)
  await until(() => reader.doc.getMap("nodes").get(key) === key, 5_000, `${key} to reach the other client`)
  expect(r.server.openDocumentCount()).toBe(1)
}

describe("malformed updates", () => {
  const truncated = (() => {
    const update = validUpdate("t", 100)
    return update.slice(0, update.length >> 1)
  })()
  const cases: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["an empty update", updateFrame("graph:g1", new Uint8Array())],
    ["a random update", updateFrame("graph:g1", randomBytes(64, 7))],
    ["a truncated update", updateFrame("graph:g1", truncated)],
    [
      "a valid update with trailing bytes",
      updateFrame("graph:g1", validUpdate("trail", 10), randomBytes(9, 3)),
    ],
    [
      "an unknown sync type",
      frame((e) => {
        encoding.writeVarString(e, "graph:g1")
        encoding.writeVarUint(e, MESSAGE_SYNC)
        encoding.writeVarUint(e, 9)
      }),
    ],
    ["a frame with an impossible document name", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3])],
    ["an empty frame", new Uint8Array()],
  ]

  it.each(cases)(
    "%s closes that socket; the server, the stored document and other clients survive",
    async (_label, bad) => {
      running = await start()
      const a = connect(running.url, "graph:g1", "tok-alice")
      const b = connect(running.url, "graph:g1", "tok-bob")
      clients.push(a, b)
      expect(await a.outcome).toBe("synced")
      expect(await b.outcome).toBe("synced")
      await stillWorks(running, a, b, "before")
      await until(() => running!.storage.states.has("g1"), 5_000, "a stored state")

      const raw = await rawClient(running.url, "graph:g1", "tok-bob")
      raw.socket.send(bad)
      const code = await raw.closed
      expect(code).toBeGreaterThanOrEqual(1000)

      await stillWorks(running, b, a, "after")
      expect(a.doc.getMap("nodes").has("t")).toBe(false)
      expect(a.doc.getMap("nodes").has("trail")).toBe(false)
      await until(
        () => {
          const stored = new Y.Doc()
          Y.applyUpdate(stored, running!.storage.states.get("g1")!)
          return (
            stored.getMap("nodes").get("after") === "after" &&
            stored.getMap("nodes").get("before") === "before"
          )
        },
        5_000,
        "the stored document to hold both edits",
      )
    },
  )

  it("classifies frames before anything is applied", () => {
    expect(checkMessage(updateFrame("graph:g1", validUpdate("k", 3)))._tag).toBe("update")
    expect(checkMessage(updateFrame("graph:g1", new Uint8Array([0, 0])))._tag).toBe("update")
    expect(checkMessage(updateFrame("graph:g1", new Uint8Array()))._tag).toBe("malformed")
    expect(checkMessage(updateFrame("graph:g1", truncated))._tag).toBe("malformed")
    expect(checkMessage(updateFrame("graph:g1", validUpdate("k", 3), new Uint8Array([1])))._tag).toBe(
      "malformed",
    )
    expect(checkMessage(new Uint8Array())._tag).toBe("malformed")
  })

  it("fuzz: 200 random updates over raw sockets never break the server, the stored document or the editors", async () => {
    running = await start()
    const a = connect(running.url, "graph:g1", "tok-alice")
    const b = connect(running.url, "graph:g1", "tok-bob")
    clients.push(a, b)
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    let closedCount = 0
    for (let seed = 1; seed <= 200; seed++) {
      const raw = await rawClient(running.url, "graph:g1", "tok-bob")
      raw.socket.send(updateFrame("graph:g1", randomBytes(4 + (seed % 120), seed)))
      const outcome = await Promise.race([
        raw.closed.then(() => "closed"),
        new Promise((r) => setTimeout(r, 30, "open")),
      ])
      if (outcome === "closed") closedCount++
      raw.socket.terminate()
      if (seed % 50 === 0)
        await stillWorks(running, seed % 100 === 0 ? a : b, seed % 100 === 0 ? b : a, `k${seed}`)
    }
    // Most random payloads do not decode; the few that do are ordinary (if odd) edits, like any editor could make.
    expect(closedCount).toBeGreaterThan(150)
    await until(() => nodesOf(a.doc) === nodesOf(b.doc), 5_000, "the editors to agree")
    a.close()
    b.close()
    await until(() => running!.server.openDocumentCount() === 0, 5_000, "unload")
    const reloaded = connect(running.url, "graph:g1", "tok-alice")
    clients.push(reloaded)
    expect(await reloaded.outcome).toBe("synced")
    expect(reloaded.doc.getMap("nodes").get("k200")).toBe("k200")
    expect(nodesOf(reloaded.doc)).toBe(nodesOf(a.doc))
  })
})

describe("size limits", () => {
  it("a frame above the message limit closes that socket with 1009", async () => {
    running = await start(undefined, { maxMessageBytes: 16 * 1024 })
    const a = connect(running.url, "graph:g1", "tok-alice")
    clients.push(a)
    expect(await a.outcome).toBe("synced")
    const raw = await rawClient(running.url, "graph:g1", "tok-bob")
    raw.socket.send(updateFrame("graph:g1", validUpdate("big", 20 * 1024)))
    expect(await raw.closed).toBe(1009)
    expect(a.doc.getMap("nodes").has("big")).toBe(false)
    expect(running.server.openDocumentCount()).toBe(1)
  })

  it("updates that would grow the document past its limit close that socket and are not applied", async () => {
    running = await start(undefined, { maxDocumentBytes: 20 * 1024 })
    const a = connect(running.url, "graph:g1", "tok-alice")
    clients.push(a)
    expect(await a.outcome).toBe("synced")
    const raw = await rawClient(running.url, "graph:g1", "tok-bob")
    for (let i = 0; i < 8; i++) raw.socket.send(updateFrame("graph:g1", validUpdate(`chunk${i}`, 4 * 1024)))
    expect(await raw.closed).toBe(1009)
    await until(() => a.doc.getMap("nodes").has("chunk0"), 5_000, "the first chunks")
    expect(a.doc.getMap("nodes").size).toBeLessThan(8)
    expect(Y.encodeStateAsUpdate(a.doc).byteLength).toBeLessThanOrEqual(20 * 1024)
  })
})
