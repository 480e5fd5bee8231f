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
