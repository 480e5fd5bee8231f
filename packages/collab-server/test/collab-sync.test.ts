import { afterEach, describe, expect, it } from "vitest"
import * as Y from "yjs"
import {
  type Client,
  connect,
  MemoryStorage,
  nodesOf,
  type Running,
  snapshotOf,
  start,
  until,
} from "./support.js"

let running: Running[] = []
let clients: Client[] = []

afterEach(async () => {
  for (const client of clients) client.close()
  for (const r of running) await r.server.destroy()
  running = []
  clients = []
})

const open = (r: Running, graph: string, token: string) => {
  const client = connect(r.url, graph, token)
  clients.push(client)
  return client
}

const boot = async (storage?: MemoryStorage, extra?: Parameters<typeof start>[1]) => {
  const r = await start(storage, extra)
  running.push(r)
  return r
}

describe("convergence through the server", () => {
  it("two clients making concurrent conflicting edits converge", async () => {
    const r = await boot()
    const a = open(r, "graph:g1", "tok-alice")
    const b = open(r, "graph:g1", "tok-bob")
    expect(await a.outcome).toBe("synced")
    expect(await b.outcome).toBe("synced")
    for (let i = 0; i < 100; i++) {
      a.doc.getMap("nodes").set(`n${i % 10}`, { by: "a", i })
      b.doc.getMap("nodes").set(`n${i % 10}`, { by: "b", i })
      b.doc.getMap("nodes").set(`b${i}`, i)
    }
    await until(() => nodesOf(a.doc) === nodesOf(b.doc), 5_000, "convergence")
    expect(a.doc.getMap("nodes").size).toBe(110)
  })

  it("five clients converge, and awareness reaches the others under the account's name", async () => {
    const r = await boot()
    const peers = ["tok-alice", "tok-bob", "tok-alice", "tok-bob", "tok-alice"].map((t) =>
      open(r, "graph:g1", t),
    )
    for (const p of peers) expect(await p.outcome).toBe("synced")
    peers.forEach((p, k) => {
      for (let i = 0; i < 20; i++) p.doc.getMap("nodes").set(`p${k}-${i}`, { x: i, y: k })
      p.doc.getMap("nodes").set("shared", k)
      p.provider.awareness!.setLocalState({
        user: { name: `user${k}`, color: "#ff0000" },
        cursor: { x: k, y: k },
        selection: [`p${k}-0`],
      })
    })
    const same = () => peers.every((p) => nodesOf(p.doc) === nodesOf(peers[0]!.doc))
    await until(same, 5_000, "five-way convergence")
    expect(peers[0]!.doc.getMap("nodes").size).toBe(101)
    const seen = () => peers[4]!.provider.awareness!.getStates()
    await until(() => seen().size === 5 && [...seen().values()].every((s) => s.cursor), 5_000, "awareness")
    peers.slice(0, 4).forEach((p, k) => {
      const account = k % 2 === 0 ? { id: "alice", name: "Alice A." } : { id: "bob", name: "Bob B." }
      expect(seen().get(p.doc.clientID)).toEqual({
        user: { ...account, color: "#ff0000" },
        cursor: { x: k, y: k },
        selection: [`p${k}-0`],
      })
    })
  })
})

describe("persistence", () => {
  it("a reload from storage equals the live state", async () => {
    const storage = new MemoryStorage()
    const first = await boot(storage)
    const a = open(first, "graph:g1", "tok-alice")
    expect(await a.outcome).toBe("synced")
    for (let i = 0; i < 50; i++) a.doc.getMap("nodes").set(`n${i}`, { block: "core.add", x: i })
    a.doc.getMap("nodes").delete("n3")
    a.doc.getText("description").insert(0, "hello")
    const live = snapshotOf(a.doc)
    await until(
      () => first.server.openDocumentCount() === 1 && a.provider.unsyncedChanges === 0,
      5_000,
      "acks",
    )
    await first.server.destroy()
    running = running.filter((x) => x !== first)
    expect(storage.states.has("g1")).toBe(true)

    const second = await boot(storage)
    const b = open(second, "graph:g1", "tok-bob")
    expect(await b.outcome).toBe("synced")
    expect(snapshotOf(b.doc)).toBe(live)
    const stored = new Y.Doc()
    Y.applyUpdate(stored, storage.states.get("g1")!)
    expect(snapshotOf(stored)).toBe(live)
  })

  it("a document with no stored state is seeded once and the seed is stored", async () => {
    const storage = new MemoryStorage()
    let seeds = 0
    const r = await boot(storage, {
      seed: (graphId, doc) => {
        seeds++
        doc.getMap("meta").set("name", `seeded ${graphId}`)
      },
    })
    const a = open(r, "graph:g2", "tok-alice")
    expect(await a.outcome).toBe("synced")
    expect(a.doc.getMap("meta").get("name")).toBe("seeded g2")
    expect(storage.states.has("g2")).toBe(true)
    a.close()
    await until(() => r.server.openDocumentCount() === 0, 5_000, "unload")
    const again = open(r, "graph:g2", "tok-alice")
    expect(await again.outcome).toBe("synced")
    expect(again.doc.getMap("meta").get("name")).toBe("seeded g2")
    expect(seeds).toBe(1)
  })

  it("a seed goes through storage.create, and the document starts from the state create returns", async () => {
    const storage = new MemoryStorage()
    // Another process stored its seed first: create keeps that one and returns it.
    const theirs = new Y.Doc()
    theirs.getMap("meta").set("name", "their seed")
    const created: Array<string> = []
    const r = await boot(storage, {
      storage: {
        load: storage.load,
        store: storage.store,
        create: async (graphId) => {
          created.push(graphId)
          const first = Y.encodeStateAsUpdate(theirs)
          storage.states.set(graphId, first)
          return first
        },
      },
      seed: (_graphId, doc) => {
        doc.getMap("meta").set("name", "my seed")
      },
    })
    const a = open(r, "graph:g2", "tok-alice")
    expect(await a.outcome).toBe("synced")
    expect(created).toEqual(["g2"])
    expect(a.doc.getMap("meta").get("name")).toBe("their seed")
    expect([...Y.decodeStateVector(Y.encodeStateVector(a.doc)).keys()]).toEqual([theirs.clientID])
  })

  it("a storage failure refuses the connection as document-unavailable, and a later connection loads it", async () => {
    const storage = new MemoryStorage()
    const logged: Array<string> = []
    let failing = true
    const r = await boot(storage, {
      storage: {
        load: async (graphId) => {
          if (failing) throw new Error("the database is down")
          return storage.load(graphId)
        },
        store: storage.store,
      },
      log: (message) => logged.push(message),
    })
    const a = open(r, "graph:g1", "tok-alice")
    expect(await a.outcome).toBe("denied:document-unavailable")
    expect(logged.some((line) => line.includes("graph:g1 could not be loaded"))).toBe(true)
    failing = false
    const b = open(r, "graph:g1", "tok-alice")
    expect(await b.outcome).toBe("synced")
    b.doc.getMap("nodes").set("n", 1)
    await until(() => storage.states.has("g1"), 5_000, "the document stored")
  })
})
