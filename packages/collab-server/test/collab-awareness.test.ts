import { afterEach, describe, expect, it } from "vitest"
import { type CollabAccess, sanitizePresence } from "../src/index.js"
import {
  authFrame,
  awarenessFrame,
  type Client,
  connect,
  type Raw,
  type Running,
  rawSocket,
  sleep,
  start,
  until,
} from "./support.js"

let running: Running | undefined
let clients: Client[] = []
let raws: Raw[] = []

afterEach(async () => {
  for (const client of clients) client.close()
  for (const raw of raws) raw.socket.terminate()
  await running?.server.destroy()
  running = undefined
  clients = []
  raws = []
})

const open = (r: Running, token: string, presence?: Record<string, unknown>) => {
  const client = connect(r.url, "graph:g1", token, presence)
  clients.push(client)
  return client
}

const raw = async (r: Running) => {
  const socket = await rawSocket(r.url)
  raws.push(socket)
  return socket
}

/** The state `observer` holds for `clientId`, once `ready` holds for it. */
const stateAt = async (
  observer: Client,
  clientId: number,
  ready: (state: Record<string, unknown>) => boolean = () => true,
) => {
  const get = () => observer.provider.awareness!.getStates().get(clientId)
  await until(() => get() !== undefined && ready(get()!), 5_000, `the state of client ${clientId}`)
  return get()
}

const editor: CollabAccess = { userId: "bob", name: "Bob B.", role: "editor" }
const viewer: CollabAccess = { userId: "carol", name: "Carol C.", role: "viewer" }

describe("sanitizePresence", () => {
  it("keeps user (pinned), cursor and selection, and drops everything else", () => {
    expect(
      sanitizePresence(
        {
          user: { id: "alice", name: "Alice", color: "#12abEF", avatar: "x.png" },
          cursor: { x: 1.5, y: -2, z: 3 },
          selection: ["n1", "n2"],
          secret: "nope",
        },
        editor,
      ),
    ).toEqual({
      user: { id: "bob", name: "Bob B.", color: "#12abEF" },
      cursor: { x: 1.5, y: -2 },
      selection: ["n1", "n2"],
    })
  })

  it.each([
    ["a named colour", { user: { color: "red" } }, { user: { id: "bob", name: "Bob B." } }],
    ["a short hex colour", { user: { color: "#f00" } }, { user: { id: "bob", name: "Bob B." } }],
    [
      "a cursor with a null coordinate",
      { cursor: { x: null, y: 1 } },
      { user: { id: "bob", name: "Bob B." } },
    ],
    ["a cursor given as an array", { cursor: [1, 2] }, { user: { id: "bob", name: "Bob B." } }],
    [
      "a cursor with a string coordinate",
      { cursor: { x: "1", y: 2 } },
      { user: { id: "bob", name: "Bob B." } },
    ],
    ["a selection with a number", { selection: ["a", 1] }, { user: { id: "bob", name: "Bob B." } }],
    [
      "a selection of 501 ids",
      { selection: Array.from({ length: 501 }, (_, i) => `n${i}`) },
      { user: { id: "bob", name: "Bob B." } },
    ],
    [
      "a selection id of 129 characters",
      { selection: ["x".repeat(129)] },
      { user: { id: "bob", name: "Bob B." } },
    ],
    ["not an object", "hello", { user: { id: "bob", name: "Bob B." } }],
  ])("drops %s", (_label, state, expected) => {
    expect(sanitizePresence(state, editor)).toEqual(expected)
  })

  it("keeps a selection at the limits (500 ids of 128 characters) for an editor, never for a viewer", () => {
    const selection = Array.from({ length: 500 }, (_, i) => `${i}`.padEnd(128, "x"))
    expect(sanitizePresence({ selection }, editor).selection).toEqual(selection)
    expect(sanitizePresence({ selection: ["n1"], cursor: { x: 0, y: 0 } }, viewer)).toEqual({
      user: { id: "carol", name: "Carol C." },
      cursor: { x: 0, y: 0 },
    })
  })
})

describe("presence through the server", () => {
  it("a state set before connecting reaches the others, sanitized, with the account's id and name", async () => {
    running = await start()
    const observer = open(running, "tok-alice")
    expect(await observer.outcome).toBe("synced")
    const bob = open(running, "tok-bob", {
      user: { id: "alice", name: "Alice A.", color: "#00ff00", admin: true },
      cursor: { x: 10, y: 20 },
      selection: ["n1"],
      token: "tok-bob",
    })
    expect(await bob.outcome).toBe("synced")
    expect(await stateAt(observer, bob.doc.clientID)).toEqual({
      user: { id: "bob", name: "Bob B.", color: "#00ff00" },
      cursor: { x: 10, y: 20 },
      selection: ["n1"],
    })
  })

  it("a state set right after connecting, and its later changes, reach the others sanitized", async () => {
    running = await start()
    const observer = open(running, "tok-alice")
    const bob = open(running, "tok-bob")
    expect(await observer.outcome).toBe("synced")
    expect(await bob.outcome).toBe("synced")
    bob.provider.awareness!.setLocalState({
      user: { name: "Mallory" },
      cursor: { x: 1, y: 2 },
      extra: [1, 2],
    })
    expect(await stateAt(observer, bob.doc.clientID)).toEqual({
      user: { id: "bob", name: "Bob B." },
      cursor: { x: 1, y: 2 },
    })
    bob.provider.awareness!.setLocalStateField("cursor", { x: 3, y: 4 })
    expect(
      await stateAt(observer, bob.doc.clientID, (s) => (s.cursor as { x: number } | undefined)?.x === 3),
    ).toEqual({ user: { id: "bob", name: "Bob B." }, cursor: { x: 3, y: 4 } })
  })

  it("a viewer's selection is removed; its user and cursor are kept", async () => {
    running = await start()
    const observer = open(running, "tok-bob")
    expect(await observer.outcome).toBe("synced")
    const carol = open(running, "tok-carol", {
      user: { name: "C", color: "#abcdef" },
      cursor: { x: 5, y: 6 },
      selection: ["n1", "n2"],
    })
    expect(await carol.outcome).toBe("synced")
    expect(await stateAt(observer, carol.doc.clientID)).toEqual({
      user: { id: "carol", name: "Carol C.", color: "#abcdef" },
      cursor: { x: 5, y: 6 },
    })
  })

  it("awareness queued before authentication is filtered with the role decided afterwards", async () => {
    running = await start()
    const observer = open(running, "tok-alice")
    expect(await observer.outcome).toBe("synced")
    const socket = await raw(running)
    // Sent back to back: the awareness frame waits in the pre-authentication queue.
    socket.socket.send(authFrame("graph:g1", "tok-carol"))
    socket.socket.send(
      awarenessFrame("graph:g1", 4242, 1, {
        user: { name: "Alice A." },
        cursor: { x: 1, y: 1 },
        selection: ["n1"],
      }),
    )
    expect(await stateAt(observer, 4242)).toEqual({
      user: { id: "carol", name: "Carol C." },
      cursor: { x: 1, y: 1 },
    })
  })

  it("a connection cannot set the state of a client id another account introduced", async () => {
    running = await start()
    const alice = open(running, "tok-alice", { user: { color: "#111111" }, cursor: { x: 1, y: 1 } })
    const observer = open(running, "tok-bob")
    expect(await alice.outcome).toBe("synced")
    expect(await observer.outcome).toBe("synced")
    await stateAt(observer, alice.doc.clientID)

    const mallory = await raw(running)
    mallory.socket.send(authFrame("graph:g1", "tok-carol"))
    // Alice's id with a far higher clock: it would win if it were applied.
    mallory.socket.send(
      awarenessFrame("graph:g1", alice.doc.clientID, 10_000, { cursor: { x: 666, y: 666 } }),
    )
    // A fresh id from the same socket does go through, so the path was open for the spoof too.
    mallory.socket.send(awarenessFrame("graph:g1", 777, 1, { cursor: { x: 7, y: 7 } }))
    expect(await stateAt(observer, 777)).toEqual({
      user: { id: "carol", name: "Carol C." },
      cursor: { x: 7, y: 7 },
    })
    await sleep(100)
    expect(observer.provider.awareness!.getStates().get(alice.doc.clientID)).toEqual({
      user: { id: "alice", name: "Alice A.", color: "#111111" },
      cursor: { x: 1, y: 1 },
    })
    // And Alice herself still moves her own presence.
    alice.provider.awareness!.setLocalStateField("cursor", { x: 2, y: 2 })
    expect(
      await stateAt(observer, alice.doc.clientID, (s) => (s.cursor as { x: number } | undefined)?.x === 2),
    ).toEqual({ user: { id: "alice", name: "Alice A.", color: "#111111" }, cursor: { x: 2, y: 2 } })
  })

  it("a removal (null state) while connected reaches the others, and a later state comes back", async () => {
    running = await start()
    const observer = open(running, "tok-alice")
    const bob = open(running, "tok-bob", { cursor: { x: 1, y: 1 } })
    expect(await observer.outcome).toBe("synced")
    expect(await bob.outcome).toBe("synced")
    await stateAt(observer, bob.doc.clientID)
    bob.provider.awareness!.setLocalState(null)
    await until(
      () => !observer.provider.awareness!.getStates().has(bob.doc.clientID),
      5_000,
      "the removal to reach the observer",
    )
    bob.provider.awareness!.setLocalState({ cursor: { x: 9, y: 9 } })
    expect(await stateAt(observer, bob.doc.clientID)).toEqual({
      user: { id: "bob", name: "Bob B." },
      cursor: { x: 9, y: 9 },
    })
  })

  it("another account's removal of a client id is ignored", async () => {
    running = await start()
    const alice = open(running, "tok-alice", { cursor: { x: 1, y: 1 } })
    const observer = open(running, "tok-bob")
    expect(await alice.outcome).toBe("synced")
    expect(await observer.outcome).toBe("synced")
    await stateAt(observer, alice.doc.clientID)
    const mallory = await raw(running)
    mallory.socket.send(authFrame("graph:g1", "tok-carol"))
    mallory.socket.send(awarenessFrame("graph:g1", alice.doc.clientID, 10_000, null))
    mallory.socket.send(awarenessFrame("graph:g1", 778, 1, { cursor: { x: 7, y: 7 } }))
    await stateAt(observer, 778)
    await sleep(100)
    expect(observer.provider.awareness!.getStates().has(alice.doc.clientID)).toBe(true)
  })

  it("a client's presence disappears for the others when it disconnects", async () => {
    running = await start()
    const observer = open(running, "tok-alice")
    const bob = open(running, "tok-bob", { cursor: { x: 1, y: 1 } })
    expect(await observer.outcome).toBe("synced")
    expect(await bob.outcome).toBe("synced")
    await stateAt(observer, bob.doc.clientID)
    bob.close()
    await until(
      () => !observer.provider.awareness!.getStates().has(bob.doc.clientID),
      5_000,
      "the state to be removed",
    )
  })
})
