import type { Document, Extension, Hocuspocus } from "@hocuspocus/server"
import { Server } from "@hocuspocus/server"
import * as Y from "yjs"
import { CollabMessageRejected, CollabRefused } from "./CollabErrors.js"
import { graphIdOf } from "./DocumentName.js"
import { checkMessage } from "./MessageCheck.js"

/** A user's role on one graph. Viewers get a read-only connection. */
export type CollabRole = "owner" | "editor" | "viewer"

/** Who is connected, as decided by {@link CollabServerOptions.authenticate}. Kept as the connection's context. */
export interface CollabAccess {
  readonly userId: string
  readonly role: CollabRole
}

/** Where the Yjs state of each graph lives (the host backs it with its SQL store). */
export interface CollabStorage {
  /** The stored Yjs state of a graph, or `undefined` when none was stored yet. */
  readonly load: (graphId: string) => Promise<Uint8Array | undefined>
  /** Replace the stored Yjs state of a graph with `state` (a full `Y.encodeStateAsUpdate`). */
  readonly store: (graphId: string, state: Uint8Array) => Promise<void>
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

/** A configured collaboration server: the Hocuspocus instance plus standalone listen and shutdown. */
export interface CollabServer {
  /** The Hocuspocus instance, for mounting on another HTTP server (`hocuspocus.handleConnection`). */
  readonly hocuspocus: Hocuspocus<CollabAccess>
  /** Listen on `port` (0 picks a free one) and `address` (default 127.0.0.1), standalone. */
  readonly listen: (port: number, address?: string) => Promise<ListeningCollabServer>
  /** Documents currently loaded in memory. */
  readonly openDocumentCount: () => number
  /** Close every connection, store every loaded document, and stop listening. */
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
} as const

const requireGraphId = (documentName: string): string => {
  const graphId = graphIdOf(documentName)
  if (graphId === undefined) throw new CollabRefused({ reason: "invalid-document-name" })
  return graphId
}

/**
 * Build the collaboration server for Weft graphs: `graph:<id>` documents, token auth with per-graph roles
 * (viewers read-only), Yjs state persisted through `storage` (seeded when new), and message and document limits.
 *
 * A malformed or oversized message closes that client's socket before anything is applied; the document, the
 * stored state and the other clients are unaffected.
 */
export const makeCollabServer = (options: CollabServerOptions): CollabServer => {
  const maxMessageBytes = options.maxMessageBytes ?? defaults.maxMessageBytes
  const maxDocumentBytes = options.maxDocumentBytes ?? defaults.maxDocumentBytes
  const log = options.log ?? (() => {})
  // An upper bound of each loaded document's encoded size: exact after load, plus the size of every update since.
  const sizeBound = new WeakMap<Document, number>()

  const exactSize = (document: Document): number => {
    const size = Y.encodeStateAsUpdate(document).byteLength
    sizeBound.set(document, size)
    return size
  }

  const weft: Extension<CollabAccess> = {
    extensionName: "weft",

    async onAuthenticate({ token, documentName, connectionConfig }) {
      requireGraphId(documentName)
      if (token === "") throw new CollabRefused({ reason: "permission-denied" })
      const access = await options.authenticate(token, documentName)
      if (access === undefined) throw new CollabRefused({ reason: "permission-denied" })
      connectionConfig.readOnly = access.role === "viewer"
      return { userId: access.userId, role: access.role }
    },

    async onLoadDocument({ documentName, document }) {
      const graphId = requireGraphId(documentName)
      const stored = await options.storage.load(graphId)
      if (stored !== undefined) {
        Y.applyUpdate(document, stored)
      } else if (options.seed !== undefined) {
        await options.seed(graphId, document)
        if (document.store.clients.size > 0)
          await options.storage.store(graphId, Y.encodeStateAsUpdate(document))
      }
      exactSize(document)
    },

    async onStoreDocument({ documentName, document }) {
      const graphId = requireGraphId(documentName)
      const state = Y.encodeStateAsUpdate(document)
      sizeBound.set(document, state.byteLength)
      await options.storage.store(graphId, state)
    },

    async beforeHandleMessage({ update, document, connection, documentName }) {
      const reject = (error: CollabMessageRejected, detail?: string): never => {
        log(`collab: closing a connection to ${documentName}: ${error.reason}`, detail)
        connection.webSocket.close(error.code, error.reason)
        throw error
      }
      if (update.byteLength > maxMessageBytes) {
        reject(new CollabMessageRejected({ code: 1009, reason: "message-too-large" }))
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
  }

  const server = new Server<CollabAccess>({
    name: "weft-collab",
    quiet: true,
    stopOnSignals: false,
    address: "127.0.0.1",
    port: 0,
    timeout: options.idleTimeoutMs ?? defaults.idleTimeoutMs,
    debounce: options.storeDebounceMs ?? defaults.storeDebounceMs,
    maxDebounce: options.storeMaxDebounceMs ?? defaults.storeMaxDebounceMs,
    unloadImmediately: true,
    maxUnauthenticatedQueueSize: options.preAuth?.maxQueuedBytes ?? defaults.maxQueuedBytes,
    maxUnauthenticatedQueueMessages: options.preAuth?.maxQueuedMessages ?? defaults.maxQueuedMessages,
    maxPendingDocuments: options.preAuth?.maxPendingDocuments ?? defaults.maxPendingDocuments,
    websocketOptions: { maxPayload: maxMessageBytes },
    extensions: [weft],
  })

  return {
    hocuspocus: server.hocuspocus,
    listen: async (port, address = "127.0.0.1") => {
      server.configuration.address = address
      await server.listen(port)
      const bound = server.address.port
      return { port: bound, url: `ws://${address}:${bound}` }
    },
    openDocumentCount: () => server.hocuspocus.getDocumentsCount(),
    destroy: () => server.destroy(),
  }
}
