import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider"
import WebSocket from "ws"
import * as Y from "yjs"
import {
  type CollabAccess,
  type CollabServer,
  type CollabServerOptions,
  type CollabStorage,
  makeCollabServer,
} from "../src/index.js"

/** An in-memory `CollabStorage` that counts writes. */
export class MemoryStorage implements CollabStorage {
  readonly states = new Map<string, Uint8Array>()
  stores = 0
  readonly load = async (graphId: string) => this.states.get(graphId)
  readonly store = async (graphId: string, state: Uint8Array) => {
    this.stores++
    this.states.set(graphId, state)
  }
}

/** Tokens → users, and graph → user → role: the host's sessions and sharing table, in miniature. */
export const tokens: Record<string, string> = { "tok-alice": "alice", "tok-bob": "bob", "tok-carol": "carol" }
export const names: Record<string, string> = { alice: "Alice A.", bob: "Bob B.", carol: "Carol C." }
export const shares: Record<string, Record<string, CollabAccess["role"]>> = {
  g1: { alice: "owner", bob: "editor", carol: "viewer" },
  g2: { alice: "owner" },
  g3: { alice: "owner", bob: "editor" },
}

export const authenticate = async (
  token: string,
  documentName: string,
): Promise<CollabAccess | undefined> => {
  const userId = tokens[token]
  const role = userId === undefined ? undefined : shares[documentName.slice("graph:".length)]?.[userId]
  return userId === undefined || role === undefined
    ? undefined
    : { userId, name: names[userId] ?? userId, role }
}

export interface Running {
  readonly server: CollabServer
  readonly url: string
  readonly storage: MemoryStorage
}

/** A real collaboration server on a free loopback port. */
export const start = async (
  storage = new MemoryStorage(),
  extra: Partial<CollabServerOptions> = {},
): Promise<Running> => {
  const server = makeCollabServer({
    authenticate,
    storage,
    storeDebounceMs: 20,
    storeMaxDebounceMs: 100,
    ...extra,
  })
  const { url } = await server.listen(0)
  return { server, url, storage }
}

export interface Client {
  readonly doc: Y.Doc
  readonly provider: HocuspocusProvider
  readonly socket: HocuspocusProviderWebsocket
  /** Resolves with "synced" or the permission-denied reason. */
  readonly outcome: Promise<"synced" | `denied:${string}`>
  readonly close: () => void
}

/** A real provider over `ws`, on its own socket; `presence` is set as its awareness state before it connects. */
export const connect = (
  url: string,
  graph: string,
  token: string | null,
  presence?: Record<string, unknown>,
): Client => {
  const doc = new Y.Doc()
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: WebSocket, maxAttempts: 1 })
  let settle: (value: "synced" | `denied:${string}`) => void = () => {}
  const outcome = new Promise<"synced" | `denied:${string}`>((resolve) => {
    settle = resolve
  })
  const provider = new HocuspocusProvider({
    websocketProvider: socket,
    name: graph,
    document: doc,
    token,
    onSynced: () => settle("synced"),
    onAuthenticationFailed: ({ reason }) => settle(`denied:${reason}`),
  })
  if (presence !== undefined) provider.awareness?.setLocalState(presence)
  provider.attach()
  return {
    doc,
    provider,
    socket,
    outcome,
    close: () => {
      provider.destroy()
      socket.destroy()
    },
  }
}

/** Poll `predicate` until it holds, or fail after `timeoutMs`. */
export const until = async (
  predicate: () => boolean,
  timeoutMs = 5_000,
  what = "condition",
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** JSON with object keys sorted, so replicas compare equal whatever their local insertion order. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )

/** The `nodes` map of a doc as canonical JSON, to compare replicas. */
export const nodesOf = (doc: Y.Doc): string => canonical(doc.getMap("nodes").toJSON())

/** The whole doc (`nodes` map and `description` text) as canonical JSON. */
export const snapshotOf = (doc: Y.Doc): string => {
  doc.getMap("nodes")
  doc.getMap("meta")
  doc.getText("description")
  return canonical(doc.toJSON())
}

export { authFrame, awarenessFrame, frame } from "./frames.js"

export interface Raw {
  readonly socket: WebSocket
  /** Resolves with the close code the client saw. */
  readonly closed: Promise<number>
}

/** A raw WebSocket client that has opened (nothing sent yet). */
export const rawSocket = async (url: string): Promise<Raw> => {
  const socket = new WebSocket(url)
  const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("error", reject)
  })
  return { socket, closed }
}
