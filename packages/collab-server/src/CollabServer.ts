import type { Document, Extension, WebSocketLike } from "@hocuspocus/server"
import { Hocuspocus, OutgoingMessage } from "@hocuspocus/server"
import * as Y from "yjs"
import { PresenceGuard } from "./Awareness.js"
import type { CollabAccess } from "./CollabAccess.js"
import { CollabMessageRejected, CollabOptionsInvalid, CollabRefused } from "./CollabErrors.js"
import type { CollabConnection, CollabSocket } from "./CollabSocket.js"
import { graphIdOf } from "./DocumentName.js"
import { checkMessage } from "./MessageCheck.js"
import { RedisRelay } from "./RedisRelay.js"
import { Revalidation } from "./Revalidation.js"
import { listenStandalone, type Standalone } from "./Standalone.js"

/** Where the Yjs state of each graph lives (the host backs it with its SQL store). */
export interface CollabStorage {
  /** The stored Yjs state of a graph, or `undefined` when none was stored yet. */
  readonly load: (graphId: string) => Promise<Uint8Array | undefined>
  /**
   * Store `state` (a full `Y.encodeStateAsUpdate` of this process's document). A single process may replace
   * what is stored. With `redis`, every process stores its own state with no lock between them (a lock held by
   * a process that crashed would make the others skip their stores and lose edits): the storage must then merge
   * `state` into what is stored (`Y.mergeUpdates`, or apply both to one document), as the host's SQL storage does.
   */
  readonly store: (graphId: string, state: Uint8Array) => Promise<void>
  /**
   * Store `state` as the first state of a graph's document unless one is stored already, and resolve with the
   * state that is stored then (`state`, or what another process stored first). Used for a seeded document.
   * Without it a seed is written with `store`: two processes loading a new document at the same moment (with
   * `redis`) would each seed their own copy, and once merged one copy of each seeded entry wins over the other,
   * so edits made to the losing copy are not seen. A storage shared by several processes should provide it
   * (an insert that does nothing on conflict, or a whole file linked into place: a link fails if it exists).
   */
  readonly create?: (graphId: string, state: Uint8Array) => Promise<Uint8Array>
}

/**
 * Redis for several server processes serving the same documents: updates and awareness are relayed between
 * them, and only one process stores a document at a time. Plain data, so a host can read it from its config.
 */
export interface CollabRedisOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  readonly url: string
  /** Channel and key prefix; processes serving the same documents must share it. Default `weft-collab`. */
  readonly prefix?: string
}

/** Options of {@link makeCollabServer}. */
export interface CollabServerOptions {
  /**
   * Decide access for a token (session token or API key) on a document `graph:<id>`. `undefined` denies it.
   * Never called for document names that are not `graph:<id>`, nor for an empty token.
   */
  readonly authenticate: (token: string, documentName: string) => Promise<CollabAccess | undefined>
  /** Persistence of the Yjs state per graph. */
  readonly storage: CollabStorage
  /**
   * Fill a new document that has no stored state (the host seeds it from the graph's active version). What it
   * writes is stored at once, so every server process loads the same initial state afterwards.
   */
  readonly seed?: (graphId: string, doc: Y.Doc) => Promise<void> | void
  /** Relay documents and awareness between processes through Redis. Default: this process alone. */
  readonly redis?: CollabRedisOptions
  /** Largest inbound WebSocket frame, in bytes; bigger frames close the socket (1009). Default 1 MiB. */
  readonly maxMessageBytes?: number
  /** Largest Yjs state of one document, in bytes; an update that would exceed it closes the socket. Default 8 MiB. */
  readonly maxDocumentBytes?: number
  /** Wait this long after the last change before storing (ms). Default 1,000. */
  readonly storeDebounceMs?: number
  /** Store at least this often while changes keep coming (ms). Default 10,000. */
  readonly storeMaxDebounceMs?: number
  /** Close a connection that sent nothing (or did not authenticate) for this long (ms). Default 30,000. */
  readonly idleTimeoutMs?: number
  /** Pre-authentication limits: bytes and messages queued per connection, documents pending per connection. */
  readonly preAuth?: {
    readonly maxQueuedBytes?: number
    readonly maxQueuedMessages?: number
    readonly maxPendingDocuments?: number
  }
  /**
   * Check the access of open connections again this often (ms): each document connection's token goes to
   * `authenticate` again; no access closes it (4401), another role closes it too (4403) so the client
   * reconnects with its new rights. Default 60,000; 0 never checks again.
   */
  readonly revalidateEveryMs?: number
  /** Receives diagnostics (rejected messages, storage failures). Default: nothing is logged. */
  readonly log?: (message: string, detail?: unknown) => void
}

/** A collaboration server listening on a port. */
export interface ListeningCollabServer {
  /** The bound port (useful with port 0). */
  readonly port: number
  /** `ws://address:port`, for providers. */
  readonly url: string
}

/**
 * A configured collaboration server. Sockets reach it through {@link CollabServer.accept}, from the host's own
 * HTTP server or from the standalone {@link CollabServer.listen}: both take the same path.
 */
export interface CollabServer {
  /**
   * The Hocuspocus instance, for server-side access to documents (`openDirectConnection`, `documents`). Sockets
   * go through `accept`, not `hocuspocus.handleConnection`, so the message limit and presence rules hold.
   */
  readonly hocuspocus: Hocuspocus<CollabAccess>
  /**
   * Take over one upgraded WebSocket (any transport). The caller feeds the returned connection every inbound
   * frame and the close; `request` (URL and headers) is what hooks see. After `destroy` the socket is closed
   * with 1001 at once.
   */
  readonly accept: (socket: CollabSocket, request: Request) => CollabConnection
  /** Listen on `port` (0 picks a free one) and `address` (default 127.0.0.1), standalone, on Node `http` + `ws`. */
  readonly listen: (port: number, address?: string) => Promise<ListeningCollabServer>
  /** Documents currently loaded in memory. */
  readonly openDocumentCount: () => number
  /** Sockets currently accepted (authenticated or not). */
  readonly socketCount: () => number
  /** Close every socket (1001), store and unload every loaded document, disconnect Redis, and stop listening. */
  readonly destroy: () => Promise<void>
}

const defaults = {
  maxMessageBytes: 1024 * 1024,
  maxDocumentBytes: 8 * 1024 * 1024,
  storeDebounceMs: 1_000,
  storeMaxDebounceMs: 10_000,
  idleTimeoutMs: 30_000,
  maxQueuedBytes: 256 * 1024,
  maxQueuedMessages: 100,
  maxPendingDocuments: 20,
  revalidateEveryMs: 60_000,
} as const

const requireGraphId = (documentName: string): string => {
  const graphId = graphIdOf(documentName)
  if (graphId === undefined) throw new CollabRefused({ reason: "invalid-document-name" })
  return graphId
}

const positiveInteger = (field: string, value: number | undefined): void => {
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
    throw new CollabOptionsInvalid({ field, message: `${field} must be a positive integer, got ${value}` })
  }
}

/** Check the options that are plain data; a bad one throws {@link CollabOptionsInvalid} naming the field. */
const validate = (options: CollabServerOptions): void => {
  if (typeof options.authenticate !== "function") {
    throw new CollabOptionsInvalid({ field: "authenticate", message: "authenticate must be a function" })
  }
  if (typeof options.storage?.load !== "function" || typeof options.storage?.store !== "function") {
    throw new CollabOptionsInvalid({
      field: "storage",
      message: "storage must have load(graphId) and store(graphId, state) functions",
    })
  }
  if (options.storage.create !== undefined && typeof options.storage.create !== "function") {
    throw new CollabOptionsInvalid({
      field: "storage.create",
      message: "storage.create must be a function (graphId, state) => the stored state",
    })
  }
  positiveInteger("maxMessageBytes", options.maxMessageBytes)
  positiveInteger("maxDocumentBytes", options.maxDocumentBytes)
  positiveInteger("storeDebounceMs", options.storeDebounceMs)
  positiveInteger("storeMaxDebounceMs", options.storeMaxDebounceMs)
  positiveInteger("idleTimeoutMs", options.idleTimeoutMs)
  if (
    options.revalidateEveryMs !== undefined &&
    !(Number.isSafeInteger(options.revalidateEveryMs) && options.revalidateEveryMs >= 0)
  ) {
    throw new CollabOptionsInvalid({
      field: "revalidateEveryMs",
      message: "revalidateEveryMs must be a whole number of milliseconds, 0 or more",
    })
  }
  positiveInteger("preAuth.maxQueuedBytes", options.preAuth?.maxQueuedBytes)
  positiveInteger("preAuth.maxQueuedMessages", options.preAuth?.maxQueuedMessages)
  positiveInteger("preAuth.maxPendingDocuments", options.preAuth?.maxPendingDocuments)
  if (options.redis !== undefined) {
    const { url, prefix } = options.redis
    let protocol: string | undefined
    try {
      protocol = new URL(url).protocol
    } catch {
      protocol = undefined
    }
    if (protocol !== "redis:" && protocol !== "rediss:") {
      throw new CollabOptionsInvalid({
        field: "redis.url",
        message: `redis.url must be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
      })
    }
    if (prefix !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
      throw new CollabOptionsInvalid({
        field: "redis.prefix",
        message: `redis.prefix must be 1-64 characters of letters, digits, "_", ".", ":" or "-", got ${JSON.stringify(prefix)}`,
      })
    }
  }
}

const goingAway = { code: 1001, reason: "server shutting down" } as const
const unloadTimeoutMs = 15_000

/**
 * Build the collaboration server for Weft graphs: `graph:<id>` documents, token auth with per-graph roles
 * (viewers read-only), Yjs state persisted through `storage` (seeded when new), message and document limits,
 * presence (awareness) rewritten to the authenticated account, and optionally Redis between processes.
 *
 * A malformed or oversized message closes that client's socket before anything is applied; the document, the
 * stored state and the other clients are unaffected. Throws {@link CollabOptionsInvalid} for a bad option.
 */
export const makeCollabServer = (options: CollabServerOptions): CollabServer => {
  validate(options)
  const maxMessageBytes = options.maxMessageBytes ?? defaults.maxMessageBytes
  const maxDocumentBytes = options.maxDocumentBytes ?? defaults.maxDocumentBytes
  const log = options.log ?? (() => {})
  // An upper bound of each loaded document's encoded size: exact after load, plus the size of every update since.
  const sizeBound = new WeakMap<Document, number>()
  const presence = new PresenceGuard()

  const exactSize = (document: Document): number => {
    const size = Y.encodeStateAsUpdate(document).byteLength
    sizeBound.set(document, size)
    return size
  }

  const redisPrefix = options.redis?.prefix ?? "weft-collab"
  const redis =
    options.redis === undefined
      ? undefined
      : new RedisRelay({ url: options.redis.url, prefix: redisPrefix, log })

  /** Fill a document being loaded: the stored state, or else the seed stored first (see `CollabStorage.create`). */
  const loadInto = async (graphId: string, document: Document): Promise<void> => {
    const stored = await options.storage.load(graphId)
    // The size bound starts from the state's own length (a stored state is a full encoding), sparing a second
    // full encode of a large document on every load; it is recomputed exactly near the limit.
    if (stored !== undefined) {
      Y.applyUpdate(document, stored)
      sizeBound.set(document, stored.byteLength)
      return
    }
    if (options.seed !== undefined) {
      // Seeded apart from the document, so what is applied is the state that won the store's create: every
      // process starts from that one seed, not from a copy of its own.
      const scratch = new Y.Doc()
      try {
        await options.seed(graphId, scratch)
        if (scratch.store.clients.size > 0) {
          const seeded = Y.encodeStateAsUpdate(scratch)
          let first = seeded
          if (options.storage.create === undefined) await options.storage.store(graphId, seeded)
          else first = await options.storage.create(graphId, seeded)
          Y.applyUpdate(document, first)
          sizeBound.set(document, first.byteLength)
          return
        }
      } finally {
        scratch.destroy()
      }
    }
    exactSize(document)
  }

  const weft: Extension<CollabAccess> = {
    extensionName: "weft",

    async onAuthenticate({ token, documentName, connectionConfig, socketId }) {
      requireGraphId(documentName)
      if (token === "") throw new CollabRefused({ reason: "permission-denied" })
      const access = await options.authenticate(token, documentName)
      if (access === undefined) throw new CollabRefused({ reason: "permission-denied" })
      connectionConfig.readOnly = access.role === "viewer"
      revalidation.granted(socketId, documentName, token)
      return { userId: access.userId, name: access.name, role: access.role }
    },

    async onLoadDocument({ documentName, document }) {
      const graphId = requireGraphId(documentName)
      try {
        await loadInto(graphId, document)
      } catch (cause) {
        // A storage failure (or a stored state that does not decode) is not the client's lack of access.
        log(`collab: the document ${documentName} could not be loaded`, cause)
        throw new CollabRefused({ reason: "document-unavailable" })
      }
    },

    async onStoreDocument({ documentName, document }) {
      const graphId = requireGraphId(documentName)
      const state = Y.encodeStateAsUpdate(document)
      sizeBound.set(document, state.byteLength)
      try {
        await options.storage.store(graphId, state)
      } catch (cause) {
        log(`collab: storing ${documentName} failed; it stays in memory`, cause)
        throw cause
      }
    },

    async beforeHandleMessage({ update, document, connection, documentName }) {
      const reject = (error: CollabMessageRejected, detail?: string): never => {
        log(`collab: closing a connection to ${documentName}: ${error.reason}`, detail)
        connection.webSocket.close(error.code, error.reason)
        throw error
      }
      const check = checkMessage(update)
      if (check._tag === "malformed") {
        reject(new CollabMessageRejected({ code: 1007, reason: "malformed-message" }), check.detail)
      }
      if (check._tag === "update" && !connection.readOnly) {
        const bound = (sizeBound.get(document) ?? exactSize(document)) + check.bytes
        if (bound > maxDocumentBytes && exactSize(document) + check.bytes > maxDocumentBytes) {
          reject(new CollabMessageRejected({ code: 1009, reason: "document-too-large" }))
        }
        sizeBound.set(document, (sizeBound.get(document) ?? 0) + check.bytes)
      }
    },

    async beforeHandleAwareness({ document, states, connection }) {
      presence.filter(document, states, connection)
    },

    async afterHandleMessage({ document, update, connection }) {
      presence.applyRemovals(document, update, connection)
    },

    async onDisconnect({ document, documentName, socketId }) {
      revalidation.released(socketId, documentName)
      const released = presence.release(document)
      // The Redis extension relays awareness only while the document has connections here, so the removal of the
      // last client's presence would never reach the other processes: publish it.
      if (redis !== undefined && released.length > 0 && document.getConnectionsCount() === 0) {
        const removal = new OutgoingMessage(documentName).createAwarenessUpdateMessage(document.awareness, [
          ...released.filter((clientId) => document.awareness.meta.has(clientId)),
        ])
        try {
          await redis.pub.publish(
            `${redisPrefix}:${documentName}`,
            Buffer.concat([redis.messagePrefix, removal.toUint8Array()]),
          )
        } catch (cause) {
          log(`collab: publishing the presence removals of ${documentName} failed`, cause)
        }
      }
    },
  }

  const hocuspocus = new Hocuspocus<CollabAccess>({
    name: "weft-collab",
    quiet: true,
    timeout: options.idleTimeoutMs ?? defaults.idleTimeoutMs,
    debounce: options.storeDebounceMs ?? defaults.storeDebounceMs,
    maxDebounce: options.storeMaxDebounceMs ?? defaults.storeMaxDebounceMs,
    unloadImmediately: true,
    maxUnauthenticatedQueueSize: options.preAuth?.maxQueuedBytes ?? defaults.maxQueuedBytes,
    maxUnauthenticatedQueueMessages: options.preAuth?.maxQueuedMessages ?? defaults.maxQueuedMessages,
    maxPendingDocuments: options.preAuth?.maxPendingDocuments ?? defaults.maxPendingDocuments,
    extensions: redis === undefined ? [weft] : [redis, weft],
  })

  const revalidation = new Revalidation(hocuspocus, options.authenticate, log)
  revalidation.start(options.revalidateEveryMs ?? defaults.revalidateEveryMs)

  if (redis !== undefined) {
    // Relayed messages are `[identifier length][identifier][Hocuspocus message]`; our own come back too.
    const own = redis.configuration.identifier
    redis.sub.on("messageBuffer", (_channel: Buffer, data: Buffer) => {
      const length = data[0] ?? 0
      if (data.toString("utf-8", 1, length + 1) === own) return
      presence.applyRelayedRemovals(hocuspocus.documents, data.subarray(length + 1))
    })
  }

  // Every accepted socket until it closes, so `destroy` can close them all (authenticated or not).
  const sockets = new Map<CollabSocket, (event: { code: number; reason: string }) => void>()
  let destroying: Promise<void> | undefined
  let standalone: Standalone | undefined

  const accept = (socket: CollabSocket, request: Request): CollabConnection => {
    if (destroying !== undefined) {
      socket.close(goingAway.code, goingAway.reason)
      return { message: () => {}, closed: () => {} }
    }
    const webSocket: WebSocketLike = {
      send: (data) => socket.send(data as Uint8Array),
      close: (code, reason) => socket.close(code, reason),
      get readyState() {
        return socket.readyState
      },
    }
    const client = hocuspocus.handleConnection(webSocket, request)
    let done = false
    const finish = (event: { code: number; reason: string }) => {
      if (done) return
      done = true
      sockets.delete(socket)
      client.handleClose(event)
    }
    sockets.set(socket, finish)
    return {
      message: (data) => {
        if (done) return
        if (data.byteLength > maxMessageBytes) {
          const error = new CollabMessageRejected({ code: 1009, reason: "message-too-large" })
          log(
            `collab: closing a connection: ${error.reason}`,
            `${data.byteLength} > ${maxMessageBytes} bytes`,
          )
          socket.close(error.code, error.reason)
          finish({ code: error.code, reason: error.reason })
          return
        }
        client.handleMessage(data)
      },
      closed: (code, reason) => finish({ code: code ?? 1005, reason: reason ?? "" }),
    }
  }

  const unloaded = async (): Promise<void> => {
    const deadline = Date.now() + unloadTimeoutMs
    hocuspocus.flushPendingStores()
    while (hocuspocus.getDocumentsCount() > 0 || hocuspocus.loadingDocuments.size > 0) {
      if (Date.now() > deadline) {
        log(`collab: ${hocuspocus.getDocumentsCount()} documents did not unload within ${unloadTimeoutMs} ms`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  const destroy = async (): Promise<void> => {
    await revalidation.stop()
    for (const [socket, finish] of [...sockets]) {
      socket.close(goingAway.code, goingAway.reason)
      finish(goingAway)
    }
    await unloaded()
    await standalone?.close()
    await hocuspocus.hooks("onDestroy", { instance: hocuspocus })
  }

  return {
    hocuspocus,
    accept,
    listen: async (port, address = "127.0.0.1") => {
      if (standalone !== undefined) throw new Error("collab: this server is already listening")
      if (destroying !== undefined) throw new Error("collab: this server was destroyed")
      standalone = await listenStandalone(port, address, maxMessageBytes, accept)
      const host = address.includes(":") ? `[${address}]` : address
      return { port: standalone.port, url: `ws://${host}:${standalone.port}` }
    },
    openDocumentCount: () => hocuspocus.getDocumentsCount(),
    socketCount: () => sockets.size,
    destroy: () => {
      destroying ??= destroy()
      return destroying
    },
  }
}
