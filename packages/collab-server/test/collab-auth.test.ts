import { afterEach, describe, expect, it } from "vitest"
import * as Y from "yjs"
import { type Client, connect, type Running, sleep, start, until } from "./support.js"

let running: Running | undefined
let clients: Client[] = []

afterEach(async () => {
  for (const client of clients) client.close()
  await running?.server.destroy()
  running = undefined
  clients = []
})

const open = (r: Running, graph: string, token: string | null) => {
  const client = connect(r.url, graph, token)
  clients.push(client)
  return client
}

describe("auth", () => {
  it.each([
    ["no token", "graph:g1", null, "denied:permission-denied"],
    ["an empty token", "graph:g1", "", "denied:permission-denied"],
    ["an unknown token", "graph:g1", "tok-mallory", "denied:permission-denied"],
    ["another user's graph", "graph:g2", "tok-bob", "denied:permission-denied"],
    ["a graph that is not shared at all", "graph:nope", "tok-alice", "denied:permission-denied"],
    ["a document name that is not graph:<id>", "notes:g1", "tok-alice", "denied:invalid-document-name"],
    ["an empty graph id", "graph:", "tok-alice", "denied:invalid-document-name"],
    ["a graph id with a slash", "graph:g1/../g2", "tok-alice", "denied:invalid-document-name"],
    ["a viewer", "graph:g1", "tok-carol", "synced"],
    ["an editor", "graph:g1", "tok-bob", "synced"],
    ["the owner", "graph:g1", "tok-alice", "synced"],
  ])("%s → %s", async (_label, graph, token, expected) => {
    running = await start()
    const client = open(running, graph, token)
    expect(await client.outcome).toBe(expected)
    if (expected !== "synced") expect(running.server.openDocumentCount()).toBe(0)
  })

  it("a viewer gets a read-only scope, an editor a read-write one", async () => {
    running = await start()
    const viewer = open(running, "graph:g1", "tok-carol")
    const editor = open(running, "graph:g1", "tok-bob")
    expect(await viewer.outcome).toBe("synced")
    expect(await editor.outcome).toBe("synced")
    expect(viewer.provider.authorizedScope).toBe("readonly")
    expect(editor.provider.authorizedScope).toBe("read-write")
  })

  it("viewer writes are ignored: the editor never sees them and storage is unchanged", async () => {
    running = await start()
    const editor = open(running, "graph:g1", "tok-bob")
    const viewer = open(running, "graph:g1", "tok-carol")
    expect(await editor.outcome).toBe("synced")
    expect(await viewer.outcome).toBe("synced")
    editor.doc.getMap("nodes").set("e1", { by: "editor" })
    await until(() => viewer.doc.getMap("nodes").has("e1"), 5_000, "the viewer to see the editor's edit")
    await until(() => running!.storage.states.has("g1"), 5_000, "the editor's edit to be stored")

    viewer.doc.getMap("nodes").set("v1", { by: "viewer" })
    viewer.doc.getMap("nodes").delete("e1")
    await sleep(300)
    expect(editor.doc.getMap("nodes").has("v1")).toBe(false)
    expect(editor.doc.getMap("nodes").has("e1")).toBe(true)

    // Another editor joining later loads the server's copy, which never took the viewer's writes.
    const late = open(running, "graph:g1", "tok-alice")
    expect(await late.outcome).toBe("synced")
    expect(late.doc.getMap("nodes").has("v1")).toBe(false)
    expect(late.doc.getMap("nodes").has("e1")).toBe(true)

    editor.close()
    viewer.close()
    late.close()
    await until(() => running!.server.openDocumentCount() === 0, 5_000, "unload")
    const stored = new Y.Doc()
    Y.applyUpdate(stored, running.storage.states.get("g1")!)
    expect(stored.getMap("nodes").has("v1")).toBe(false)
    expect(stored.getMap("nodes").has("e1")).toBe(true)
  })
})

describe("access checked again while connected", () => {
  it("closes a connection whose token lost access, and one whose role changed, at the next check", async () => {
    const access = new Map<string, { userId: string; name: string; role: "owner" | "editor" | "viewer" }>([
      ["tok-dora", { userId: "dora", name: "Dora", role: "editor" }],
      ["tok-eve", { userId: "eve", name: "Eve", role: "editor" }],
      ["tok-finn", { userId: "finn", name: "Finn", role: "editor" }],
    ])
    let checks = 0
    running = await start(undefined, {
      revalidateEveryMs: 50,
      authenticate: async (token) => {
        checks++
        return access.get(token)
      },
    })
    const dora = open(running, "graph:g1", "tok-dora")
    const eve = open(running, "graph:g1", "tok-eve")
    const finn = open(running, "graph:g1", "tok-finn")
    const closed = (client: Client) => {
      const events: Array<number> = []
      client.provider.on("close", ({ event }: { event: { code: number } }) => events.push(event.code))
      return events
    }
    const doraClosed = closed(dora)
    const eveClosed = closed(eve)
    const finnClosed = closed(finn)
    for (const client of [dora, eve, finn]) expect(await client.outcome).toBe("synced")
    const before = checks
    await until(() => checks >= before + 3, 2_000, "a check of every connection")
    expect(doraClosed.concat(eveClosed, finnClosed)).toEqual([])

    access.delete("tok-dora") // signed out
    access.set("tok-eve", { userId: "eve", name: "Eve", role: "viewer" }) // demoted
    await until(() => doraClosed.length > 0 && eveClosed.length > 0, 2_000, "the two connections closed")
    expect(finnClosed).toEqual([])
    // Finn keeps editing; what Dora writes now reaches nobody.
    finn.doc.getMap("meta").set("name", "still here")
    dora.doc.getMap("meta").set("description", "too late")
    const watcher = open(running, "graph:g1", "tok-finn")
    expect(await watcher.outcome).toBe("synced")
    await until(() => watcher.doc.getMap("meta").get("name") === "still here", 2_000, "Finn's edit")
    await sleep(100)
    expect(watcher.doc.getMap("meta").get("description")).toBeUndefined()
    await expect(open(running, "graph:g1", "tok-dora").outcome).resolves.toBe("denied:permission-denied")
  })
})
