/**
 * The Hocuspocus Redis extension as the collaboration server uses it: without its store lock, and catching up
 * after the connection to Redis comes back.
 *
 * @since 0.1.0
 */
import { Redis } from "@hocuspocus/extension-redis"
import type {
  afterLoadDocumentPayload,
  afterUnloadDocumentPayload,
  onChangePayload,
} from "@hocuspocus/server"
import { isTransactionOrigin, OutgoingMessage } from "@hocuspocus/server"
import { Redis as RedisClient } from "ioredis"

/** Where the relay reports Redis connection errors. */
export type RelayLog = (message: string, detail?: unknown) => void

/**
 * The extension's two clients: it makes its publisher first, then its subscriber. The subscriber's commands
 * wait for Redis however long it is away (a subscription given up is never made again); a publish is given up
 * after 3 attempts (what it announced is announced again on the return).
 */
const clients = (url: string, log: RelayLog) => {
  let made = 0
  return () => {
    const subscriber = made++ === 1
    const client = new RedisClient(url, { maxRetriesPerRequest: subscriber ? null : 3 })
    client.on("error", (cause: unknown) => log("collab: redis connection error", cause))
    return client
  }
}

/**
 * The Redis extension, changed in these ways.
 *
 * - **No store lock.** The extension lets one process store a document at a time, and a process that cannot
 *   take the lock skips its store and unloads the document, taking for granted that the holder has the data;
 *   when the holder has crashed, the edits only the survivor had are lost. Stores merge instead (see
 *   `CollabStorage.store`), so every process stores its own state, updates relayed to it included.
 * - **Catching up after an outage.** Redis pub/sub keeps nothing for a subscriber that is away, so edits made on
 *   either side while the connection was down were never relayed, and nothing would relay them until the next
 *   edit. Once the subscriber is connected again (and has subscribed its channels again), every loaded document
 *   announces its state vector, so the other processes answer with what it misses and ask for what they miss;
 *   its presence states are published again and the others' are asked for.
 * - **Loading during an outage.** A document opened while Redis is away (at start-up too) is served from storage
 *   alone instead of failing to load (its clients would be told permission was denied, and stop); it subscribes
 *   and announces itself when Redis is back.
 */
export class RedisRelay extends Redis {
  /** Documents loaded while Redis was away, to subscribe when it is back. */
  private readonly unsubscribed = new Map<string, afterLoadDocumentPayload>()

  /**
   * Relay on `prefix` through the Redis at `url`; connection errors go to `log`. Redis may be down at start: the
   * process serves its documents alone until it is up.
   */
  constructor(options: { readonly url: string; readonly prefix: string; readonly log: RelayLog }) {
    super({ prefix: options.prefix, createClient: clients(options.url, options.log) })
    this.sub.on("ready", () => {
      // "ready" is emitted before the client subscribes its channels again (or for the first time); a ping sent
      // on the next turn is answered after those subscriptions, so the answers to what is published then are
      // not missed.
      setImmediate(() => {
        this.sub
          .ping()
          .then(() => this.catchUp())
          .catch(() => {})
      })
    })
  }

  override async onStoreDocument(): Promise<void> {}

  override async onChange(data: onChangePayload): Promise<void> {
    const origin = data.transactionOrigin
    if (!(isTransactionOrigin(origin) && origin.source === "redis")) return super.onChange(data)
    // Hocuspocus stores only changes made here, leaving a relayed update to the process it came from, which may
    // die before it stores. With no lock and merging stores, this process stores it too.
    this.instance.storeDocumentHooks(data.document, {
      instance: this.instance,
      clientsCount: data.document.getConnectionsCount(),
      document: data.document,
      documentName: data.documentName,
      lastContext: {},
      lastTransactionOrigin: origin,
    })
  }

  override async afterLoadDocument(payload: afterLoadDocumentPayload): Promise<void> {
    if (this.sub.status !== "ready") {
      this.unsubscribed.set(payload.documentName, payload)
      return
    }
    return super.afterLoadDocument(payload)
  }

  override async afterUnloadDocument(payload: afterUnloadDocumentPayload): Promise<void> {
    if (!payload.instance.documents.has(payload.documentName)) this.unsubscribed.delete(payload.documentName)
    return super.afterUnloadDocument(payload)
  }

  /** Announce every loaded document's state and presence to the other processes. */
  private catchUp(): void {
    if (this.instance === undefined) return
    // Loaded while Redis was away (some may not be in `instance.documents` yet): subscribe them now. One stays
    // listed until its subscription is made, so a failure is tried again on the next return; an unloaded one is
    // dropped from the list by `afterUnloadDocument`.
    for (const [documentName, waiting] of this.unsubscribed) {
      super.afterLoadDocument(waiting).then(
        () => {
          if (this.unsubscribed.get(documentName) === waiting) this.unsubscribed.delete(documentName)
        },
        () => {},
      )
    }
    for (const [documentName, document] of this.instance.documents) {
      void this.onChange({
        clientsCount: document.getConnectionsCount(),
        context: {},
        document,
        documentName,
        instance: this.instance,
        requestHeaders: new Headers(),
        requestParameters: new URLSearchParams(),
        update: new Uint8Array(),
        socketId: "",
        transactionOrigin: undefined,
      })
      // Ask for the others' presence too: what they published on their own return may have come before this
      // process subscribed again. The extension's query is private; this is its message on its channel.
      const query = new OutgoingMessage(documentName).writeQueryAwareness().toUint8Array()
      this.pub
        .publish(`${this.configuration.prefix}:${documentName}`, Buffer.concat([this.messagePrefix, query]))
        .catch(() => {})
      const states = [...document.awareness.getStates().keys()]
      if (states.length > 0) {
        void this.onAwarenessUpdate({
          document,
          documentName,
          instance: this.instance,
          transactionOrigin: undefined,
          added: states,
          updated: [],
          removed: [],
          awareness: document.awareness,
          states: [],
        })
      }
    }
  }
}
