import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import * as Y from "yjs"
import type { CollabRedisOptions } from "../src/index.js"
import { type Client, connect, nodesOf, shares, sleep, until } from "./support.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const script = fileURLToPath(new URL("./fixtures/collab-process.mjs", import.meta.url))

let children: ChildProcess[] = []
let clients: Client[] = []
let dirs: string[] = []

beforeAll(() => {
  // The processes import the built package: bring dist up to date (incremental, fast when nothing changed).
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-b", "packages/collab-server"], {
    cwd: root,
    stdio: "inherit",
  })
}, 120_000)

afterEach(async () => {
  for (const client of clients) client.close()
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  children = []
  clients = []
  dirs = []
})

const users = {
  "tok-alice": { userId: "alice", name: "Alice A." },
  "tok-bob": { userId: "bob", name: "Bob B." },
  "tok-carol": { userId: "carol", name: "Carol C." },
}

interface Process {
  readonly child: ChildProcess
  readonly url: string
  readonly exited: Promise<number | null>
}

/** A collaboration server in its own Node process, on the built package, with `redis` as plain JSON data. */
const spawnServer = async (
  dir: string,
  redis: CollabRedisOptions,
  extra: {
    storeDebounceMs?: number
    storeMaxDebounceMs?: number
    seed?: boolean
    create?: boolean
    loadDelayMs?: number
  } = {},
): Promise<Process> => {
  const config = JSON.stringify({ dir, redis, users, roles: shares, ...extra })
  const child = spawn(process.execPath, [script, config], { stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const port = await new Promise<number>((resolve, reject) => {
    let out = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split("\n")[0]
      if (out.includes("\n") && line !== undefined) resolve((JSON.parse(line) as { port: number }).port)
    })
    exited.then((code) =>
      reject(new Error(`the server process exited (${code}) before listening: ${stderr}`)),
    )
  })
  return { child, url: `ws://127.0.0.1:${port}`, exited }
}

/** The document `g1` as the processes stored it in `dir`, or `undefined` before the first store. */
const storedDoc = (dir: string): Y.Doc | undefined => {
  let state: Uint8Array
  try {
    state = new Uint8Array(readFileSync(join(dir, "g1.bin")))
  } catch {
    return undefined
  }
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  return doc
}

/** How many entries the stored `nodes` map of `g1` has (0 before the first store). */
const storedNodes = (dir: string): number => storedDoc(dir)?.getMap("nodes").size ?? 0

const open = (p: Process, token: string, presence?: Record<string, unknown>) => {
  const client = connect(p.url, "graph:g1", token, presence)
  clients.push(client)
  return client
}

const setup = async () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-collab-redis-"))
  dirs.push(dir)
  const redis: CollabRedisOptions = {
    url: "redis://127.0.0.1:6379",
    prefix: `weft-test-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`,
  }
  // The option is plain data: it survives JSON, which is how it reaches the processes.
  expect(JSON.parse(JSON.stringify(redis))).toEqual(redis)
  const [one, two] = await Promise.all([spawnServer(dir, redis), spawnServer(dir, redis)])
  return { dir, redis, one: one!, two: two! }
}

describe("two server processes over Redis", () => {
  it("edits and awareness converge both ways", async () => {
    const { one, two } = await setup()
    const a = open(one, "tok-alice", {
      user: { name: "fake", color: "#aa0000" },
      cursor: { x: 1, y: 2 },
      selection: ["a1"],
    })
    const b = open(two, "tok-bob", { cursor: { x: 3, y: 4 }, extra: true })
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")

    a.doc.getMap("nodes").set("from-a", { x: 1 })
    await until(() => b.doc.getMap("nodes").has("from-a"), 10_000, "process 1 → process 2")
    b.doc.getMap("nodes").set("from-b", { x: 2 })
    await until(() => a.doc.getMap("nodes").has("from-b"), 10_000, "process 2 → process 1")
    for (let i = 0; i < 50; i++) {
      a.doc.getMap("nodes").set(`k${i % 5}`, { by: "a", i })
      b.doc.getMap("nodes").set(`k${i % 5}`, { by: "b", i })
    }
    await until(() => nodesOf(a.doc) === nodesOf(b.doc), 10_000, "convergence across processes")
    expect(a.doc.getMap("nodes").size).toBe(7)

    const at = (observer: Client, clientId: number) => observer.provider.awareness!.getStates().get(clientId)
    await until(() => at(b, a.doc.clientID) !== undefined, 10_000, "a's presence at b")
    await until(() => at(a, b.doc.clientID) !== undefined, 10_000, "b's presence at a")
    // Sanitized once, by the process the client is connected to; relayed unchanged.
    expect(at(b, a.doc.clientID)).toEqual({
      user: { id: "alice", name: "Alice A.", color: "#aa0000" },
      cursor: { x: 1, y: 2 },
      selection: ["a1"],
    })
    expect(at(a, b.doc.clientID)).toEqual({ user: { id: "bob", name: "Bob B." }, cursor: { x: 3, y: 4 } })
    b.provider.awareness!.setLocalStateField("cursor", { x: 30, y: 40 })
    await until(
      () => (at(a, b.doc.clientID)?.cursor as { x: number } | undefined)?.x === 30,
      10_000,
      "b's moved cursor at a",
    )

    // Leaving removes the presence on the other process well before the 30 s awareness timeout: first while
    // process 1 keeps another client of the document, then for its last client.
    const a2 = open(one, "tok-carol", { cursor: { x: 5, y: 5 } })
    expect(await a2.outcome).toBe("synced")
    await until(() => at(b, a2.doc.clientID) !== undefined, 10_000, "a2's presence at b")
    a.close()
    await until(() => at(b, a.doc.clientID) === undefined, 5_000, "a's presence to leave b")
    expect(at(b, a2.doc.clientID)).toEqual({
      user: { id: "carol", name: "Carol C." },
      cursor: { x: 5, y: 5 },
    })
    a2.close()
    await until(
      () => at(b, a2.doc.clientID) === undefined,
      5_000,
      "the last presence of process 1 to leave b",
    )
  }, 60_000)

  it("a process killed while the other keeps serving loses none of the survivor's state", async () => {
    const { dir, redis, one, two } = await setup()
    const a = open(one, "tok-alice")
    const b = open(two, "tok-bob")
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    for (let i = 0; i < 20; i++) a.doc.getMap("nodes").set(`a${i}`, i)
    for (let i = 0; i < 20; i++) b.doc.getMap("nodes").set(`b${i}`, i)
    await until(() => nodesOf(a.doc) === nodesOf(b.doc) && b.doc.getMap("nodes").size === 40, 10_000, "sync")

    one.child.kill("SIGKILL")
    await one.exited
    // The survivor keeps serving: more edits, a new client on it sees everything.
    for (let i = 0; i < 10; i++) b.doc.getMap("nodes").set(`after${i}`, i)
    const c = open(two, "tok-carol")
    expect(await c.outcome).toBe("synced")
    await until(() => c.doc.getMap("nodes").size === 50, 10_000, "the survivor's full state")
    expect(nodesOf(c.doc)).toBe(nodesOf(b.doc))

    // Everyone leaves; what is stored is the survivor's whole state (a fresh process loads it).
    b.close()
    c.close()
    await until(() => storedNodes(dir) === 50, 10_000, "the survivor to store the whole document")
    two.child.kill("SIGTERM")
    expect(await two.exited).toBe(0)
    const three = await spawnServer(dir, redis)
    const d = open(three, "tok-alice")
    expect(await d.outcome).toBe("synced")
    expect(d.doc.getMap("nodes").size).toBe(50)
    expect(d.doc.getMap("nodes").get("after9")).toBe(9)
    expect(d.doc.getMap("nodes").get("a19")).toBe(19)
  }, 60_000)
})

/** A Redis server of the test's own on a free loopback port (not started yet), that the test can start and stop. */
const privateRedis = async () => {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })
  let server: ChildProcess | undefined
  const up = async () => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    )
    children.push(child)
    server = child
    const probe = new (await import("ioredis")).Redis(port, "127.0.0.1", {
      lazyConnect: true,
      retryStrategy: () => null,
    })
    probe.on("error", () => {})
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        await probe.connect()
        await probe.ping()
        probe.disconnect()
        return
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }
  const down = async () => {
    const child = server
    if (child === undefined) return
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.kill("SIGKILL")
    await exited
  }
  return { url: `redis://127.0.0.1:${port}`, up, down }
}

describe("a Redis outage", () => {
  it("leaves loaded documents served, and the processes catch up on each other's edits once it is back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-collab-redis-"))
    dirs.push(dir)
    const redis = await privateRedis()
    await redis.up()
    const options: CollabRedisOptions = { url: redis.url, prefix: "weft-outage" }
    const [one, two] = await Promise.all([spawnServer(dir, options), spawnServer(dir, options)])
    const a = open(one!, "tok-alice", { cursor: { x: 1, y: 1 } })
    const b = open(two!, "tok-bob", { cursor: { x: 2, y: 2 } })
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    a.doc.getMap("nodes").set("before", 1)
    await until(() => b.doc.getMap("nodes").get("before") === 1, 10_000, "an edit relayed before the outage")

    await redis.down()
    a.doc.getMap("nodes").set("during-a", 1)
    b.doc.getMap("nodes").set("during-b", 2)
    b.provider.awareness!.setLocalStateField("cursor", { x: 20, y: 20 })
    // Each process keeps serving its loaded document: a second client of process one gets a's edit.
    const a2 = open(one!, "tok-carol")
    expect(await a2.outcome).toBe("synced")
    await until(
      () => a2.doc.getMap("nodes").get("during-a") === 1,
      10_000,
      "a's edit at a2 during the outage",
    )
    expect(b.doc.getMap("nodes").has("during-a")).toBe(false)
    // A document opened during the outage is served from storage, not refused.
    const c = connect(one!.url, "graph:g3", "tok-alice")
    const d = connect(two!.url, "graph:g3", "tok-bob")
    clients.push(c, d)
    expect(await c.outcome).toBe("synced")
    expect(await d.outcome).toBe("synced")
    c.doc.getMap("nodes").set("opened-during", 1)
    // Long enough for the publishes queued meanwhile to be given up (the client retries a command 3 times).
    await sleep(2_000)

    // Back up: with no further edit, both sides get what the other edited meanwhile.
    await redis.up()
    await until(
      () => b.doc.getMap("nodes").get("during-a") === 1 && a.doc.getMap("nodes").get("during-b") === 2,
      20_000,
      "the edits made during the outage on both sides",
    )
    await until(() => nodesOf(a.doc) === nodesOf(b.doc), 10_000, "convergence after the outage")
    const cursorOfB = () =>
      (a.provider.awareness!.getStates().get(b.doc.clientID)?.cursor as { x: number } | undefined)?.x
    await until(() => cursorOfB() === 20, 10_000, "b's cursor moved during the outage, at a")
    // The document opened during the outage is relayed from then on, its earlier edit included.
    await until(
      () => d.doc.getMap("nodes").get("opened-during") === 1,
      10_000,
      "the edit of g3 made during the outage",
    )
    d.doc.getMap("nodes").set("g3-after", 1)
    await until(() => c.doc.getMap("nodes").get("g3-after") === 1, 10_000, "an edit of g3 after the outage")
    // And relaying goes on.
    b.doc.getMap("nodes").set("after", 3)
    await until(() => a2.doc.getMap("nodes").get("after") === 3, 10_000, "an edit relayed after the outage")
  }, 60_000)
})

describe("Redis down when the processes start", () => {
  it("each serves its clients alone, they relay once it is up, and a process stops cleanly while it is down", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-collab-redis-"))
    dirs.push(dir)
    const redis = await privateRedis()
    const options: CollabRedisOptions = { url: redis.url, prefix: "weft-late" }
    const [one, two] = await Promise.all([spawnServer(dir, options), spawnServer(dir, options)])
    const a = open(one!, "tok-alice", { cursor: { x: 1, y: 1 } })
    const b = open(two!, "tok-bob", { cursor: { x: 2, y: 2 } })
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    a.doc.getMap("nodes").set("from-a", 1)
    b.doc.getMap("nodes").set("from-b", 2)
    await sleep(500)
    expect(b.doc.getMap("nodes").has("from-a")).toBe(false)

    await redis.up()
    await until(
      () => b.doc.getMap("nodes").get("from-a") === 1 && a.doc.getMap("nodes").get("from-b") === 2,
      20_000,
      "the edits made before Redis was up, on both sides",
    )
    await until(
      () => a.provider.awareness!.getStates().get(b.doc.clientID) !== undefined,
      10_000,
      "b's presence at a",
    )
    a.doc.getMap("nodes").set("later", 3)
    await until(() => b.doc.getMap("nodes").get("later") === 3, 10_000, "an edit relayed once Redis is up")

    // Stopping while Redis is away again neither hangs nor loses the process's state.
    await redis.down()
    a.doc.getMap("nodes").set("last", 4)
    await until(() => !a.provider.hasUnsyncedChanges, 5_000, "a's last edit acknowledged")
    one!.child.kill("SIGTERM")
    expect(await Promise.race([one!.exited, sleep(15_000).then(() => "still running")])).toBe(0)
    expect(storedDoc(dir)?.getMap("nodes").get("last")).toBe(4)
  }, 60_000)
})

describe("a new document seeded by two processes at the same moment", () => {
  it("starts from one stored seed, so an edit to a seeded entry reaches the other process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-collab-redis-"))
    dirs.push(dir)
    const redis: CollabRedisOptions = {
      url: "redis://127.0.0.1:6379",
      prefix: `weft-test-seed-${process.pid}-${Date.now()}`,
    }
    // Both loads wait before reading, so both find nothing stored and both seed.
    const slow = { seed: true, loadDelayMs: 300 }
    const [one, two] = await Promise.all([spawnServer(dir, redis, slow), spawnServer(dir, redis, slow)])
    const a = open(one!, "tok-alice")
    const b = open(two!, "tok-bob")
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    const formatOf = (client: Client) =>
      (client.doc.getMap("nodes").get("seeded") as Y.Map<unknown> | undefined)?.get("format")
    expect(formatOf(a)).toBe("seeded g1")
    expect(formatOf(b)).toBe("seeded g1")
    // Two seeds merged would keep one copy of the node's map; an edit made to the other copy would be hidden.
    ;(a.doc.getMap("nodes").get("seeded") as Y.Map<unknown>).set("format", "from a")
    ;(b.doc.getMap("nodes").get("seeded") as Y.Map<unknown>).set("x", 1)
    await until(() => formatOf(b) === "from a", 10_000, "a's edit of the seeded node at b")
    await until(
      () => (a.doc.getMap("nodes").get("seeded") as Y.Map<unknown>).get("x") === 1,
      10_000,
      "b's edit of the seeded node at a",
    )
    expect(nodesOf(a.doc)).toBe(nodesOf(b.doc))
    // One seed, whichever process wrote it: the document holds the structs of one seeding client besides a and b.
    const seeders = [...Y.decodeStateVector(Y.encodeStateVector(a.doc)).keys()].filter(
      (client) => client !== a.doc.clientID && client !== b.doc.clientID,
    )
    expect(seeders).toHaveLength(1)
  }, 60_000)
})

describe("edits relayed from a process that crashed before storing them", () => {
  it("are stored by the process they were relayed to", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-collab-redis-"))
    dirs.push(dir)
    const redis: CollabRedisOptions = {
      url: "redis://127.0.0.1:6379",
      prefix: `weft-test-relay-${process.pid}-${Date.now()}`,
    }
    // Process one would store only after a minute: it dies long before.
    const one = await spawnServer(dir, redis, { storeDebounceMs: 60_000, storeMaxDebounceMs: 60_000 })
    const two = await spawnServer(dir, redis)
    const a = open(one, "tok-alice")
    const b = open(two, "tok-bob")
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    for (let i = 0; i < 10; i++) a.doc.getMap("nodes").set(`only-one-${i}`, i)
    await until(() => b.doc.getMap("nodes").size === 10, 10_000, "the edits relayed to process two")
    one.child.kill("SIGKILL")
    await one.exited
    await until(() => storedNodes(dir) === 10, 10_000, "process two to store the relayed edits")
  }, 60_000)
})

describe("storing with Redis while another process holds the document's store lock", () => {
  it("still stores the last edits when the last client leaves (a crashed process's lock skips nothing)", async () => {
    const { Redis } = await import("ioredis")
    const { start, MemoryStorage } = await import("./support.js")
    const prefix = `weft-lock-test-${process.pid}-${Date.now()}`
    const client = new Redis("redis://127.0.0.1:6379")
    const storage = new MemoryStorage()
    const running = await start(storage, { redis: { url: "redis://127.0.0.1:6379", prefix } })
    try {
      const a = connect(running.url, "graph:g1", "tok-alice")
      expect(await a.outcome).toBe("synced")
      // What a process that died while storing leaves behind: the lock, for a while.
      await client.set(`${prefix}:graph:g1:lock`, "held-by-a-dead-process", "PX", 10_000)
      a.doc.getMap("nodes").set("last", 1)
      await until(() => !a.provider.hasUnsyncedChanges, 5_000, "the edit acknowledged")
      a.close()
      await until(() => running.server.openDocumentCount() === 0, 5_000, "the document unloaded")
      const stored = new Y.Doc()
      const state = storage.states.get("g1")
      if (state !== undefined) Y.applyUpdate(stored, state)
      expect(stored.getMap("nodes").get("last")).toBe(1)
    } finally {
      await running.server.destroy()
      await client.del(`${prefix}:graph:g1:lock`)
      client.disconnect()
    }
  })
})
