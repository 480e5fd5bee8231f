/**
 * Co-editing in the host: the collaboration server (`@weft/collab-server`) on the host's database, with
 * access decided by the graph's roles, documents seeded from the active version, and the graph operations
 * that read or write the live document (save it as a version, read it for a run, load a version into it).
 *
 * - **Auth.** A connection's token is an API key (`weft_…`) or a session token (the session cookie's value,
 *   or the token `GET /api/auth/get-session` answers). The user's role on the graph (`GraphStore.roleOf`)
 *   decides access: none is permission denied, a viewer is read-only. An API key needs `graphs:write` to edit
 *   (with only `graphs:read` the connection is read-only) and one of them to connect at all.
 * - **Persistence.** `DocStore`: the Yjs state in `graph_docs`, merged on store; a graph without a stored
 *   document starts from its active version (`GraphDoc.into`).
 * - **Revocation.** A share removed or changed closes that user's connections to the graph's document on
 *   every process (`NOTIFY weft_graph_access`); the client reconnects with its new role, or is refused.
 *
 * @since 0.1.0
 */
import {
  type CollabAccess,
  type CollabRole,
  type CollabServer,
  documentNameOf,
  graphIdOf,
  makeCollabServer,
} from "@weft/collab-server"
import {
  GRAPH_KEY,
  type Graph,
  GraphDoc,
  GraphInvalid,
  GraphNotFound,
  type ValidationErrors,
  validateGraph,
} from "@weft/engine"
import { Context, Data, Effect, Layer, Metric, Schema } from "effect"
import { HttpServer } from "effect/http"
import type * as Y from "yjs"
import { Auth } from "../Auth.js"
import type { ApiScope } from "../auth/scopes.js"
import { ACCESS_CHANNEL, GraphForbidden, type GraphRef, type GraphRole, GraphStore } from "../GraphStore.js"
import { RunService } from "../RunService.js"
import { Sql, type SqlError } from "../Sql.js"
import { DocStore } from "./DocStore.js"

/**
 * How the host's collaboration server behaves.
 *
 * @category models
 */
export interface CollabOptions {
  /** Redis for several host processes serving one document (`REDIS_URL`); a prefix keeps hosts apart. */
  readonly redis?: { readonly url: string; readonly prefix?: string }
  /** Largest WebSocket message, in bytes (1009 above). Default 1 MiB. */
  readonly maxMessageBytes?: number
  /** Largest Yjs state of one document, in bytes. Default 8 MiB. */
  readonly maxDocumentBytes?: number
  /** Store this long after the last change (ms). Default 1,000. */
  readonly storeDebounceMs?: number
  /** Store at least this often while changes keep coming (ms). Default 10,000. */
  readonly storeMaxDebounceMs?: number
  /** Close a connection that sent nothing for this long (ms). Default 30,000. */
  readonly idleTimeoutMs?: number
  /**
   * Check open connections' access again this often (ms): a signed-out session or a revoked API key loses
   * its connections. Default 60,000.
   */
  readonly revalidateEveryMs?: number
}

/**
 * The live document cannot be read as a graph (its `meta` was written with values of the wrong type).
 *
 * @category errors
 */
export class LiveDocumentInvalid extends Data.TaggedError("LiveDocumentInvalid")<{
  readonly graphId: string
  readonly reason: string
}> {
  override get message(): string {
    return `The live document of graph ${this.graphId} is not a graph: ${this.reason}`
  }
}

/**
 * The live document read as a graph.
 *
 * @category models
 */
export interface LiveGraph {
  readonly graph: Graph
  readonly role: GraphRole
  readonly activeVersion: number
  /** Whether the document differs from the active version. */
  readonly changed: boolean
}

/**
 * What saving the live document did.
 *
 * @category models
 */
export interface SavedVersion extends GraphRef {
  /** The document equals the active version: nothing was stored, `version` is the active one. */
  readonly unchanged: boolean
}

/**
 * The service's interface.
 *
 * @category models
 */
export interface CollabShape {
  /** The collaboration server the `/collab` route hands connections to. */
  readonly server: CollabServer
  /** The graph the live document holds now, with the caller's role and the active version (any role). */
  readonly current: (
    user: string,
    graphId: string,
  ) => Effect.Effect<LiveGraph, GraphNotFound | LiveDocumentInvalid | SqlError>
  /**
   * Saves the live document as a new version (owners and editors), made active, with the active version's
   * sub-graphs. Refused with the per-node errors of validation when it is not a valid graph; nothing is
   * stored when it equals the active version.
   */
  readonly saveVersion: (
    user: string,
    graphId: string,
  ) => Effect.Effect<
    SavedVersion,
    GraphNotFound | GraphForbidden | GraphInvalid | LiveDocumentInvalid | SqlError
  >
  /**
   * The version a run "from the live document" runs: the active one when the document equals it, else the
   * document saved as a new version (owners and editors; a viewer gets `GraphForbidden`).
   */
  readonly versionForRun: (
    user: string,
    graphId: string,
  ) => Effect.Effect<number, GraphNotFound | GraphForbidden | GraphInvalid | LiveDocumentInvalid | SqlError>
  /**
   * Makes the live document hold `graph` (a version stored or made active through the API), for everyone
   * connected. Does nothing for a graph whose document was never opened.
   */
  readonly load: (graphId: string, graph: Graph) => Effect.Effect<void, SqlError>
  /** Closes a user's connections to a graph's document in this process (their access changed). */
  readonly revoke: (graphId: string, userId: string) => Effect.Effect<void>
}

/** The content of a graph, for comparing a document with a version: everything but id and version. */
const contentOf = (graph: Graph): string => JSON.stringify(canonical({ ...graph, id: "", version: 0 }))

const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]))
  }
  return value
}

/**
 * What saving a live document as a version would meet: the graph's validation (R4), and a name, which a
 * peer can leave empty or write with the wrong type (read as empty).
 *
 * @category validation
 */
export const liveProblems = (
  graph: Graph,
  registry: Parameters<typeof validateGraph>[1],
): ValidationErrors => {
  const errors = validateGraph(graph, registry)
  if (graph.name.trim() !== "") return errors
  return { ...errors, [GRAPH_KEY]: { ...errors[GRAPH_KEY], name: "a saved version needs a name" } }
}

/** The role an API key leaves of a graph role: `graphs:write` keeps it, `graphs:read` makes it read-only. */
const cappedRole = (
  role: CollabRole,
  scopes: ReadonlyArray<ApiScope> | undefined,
): CollabRole | undefined => {
  if (scopes === undefined || scopes.includes("graphs:write")) return role
  return scopes.includes("graphs:read") ? "viewer" : undefined
}

/** Documents loaded by this process's collaboration server. */
export const documentsGauge = Metric.gauge("weft_collab_documents", {
  description: "Co-edited documents loaded in memory",
})

/** Collaboration sockets open on this process. */
export const socketsGauge = Metric.gauge("weft_collab_sockets", {
  description: "Open collaboration WebSocket connections",
})

/** The context of the host's own (direct) connections. */
const HOST_ACCESS: CollabAccess = { userId: "weft-host", role: "owner", name: "Weft" }

const AccessNotice = Schema.fromJsonString(Schema.Struct({ graphId: Schema.String, userId: Schema.String }))
const decodeNotice = Schema.decodeUnknownOption(AccessNotice)

/**
 * The host's collaboration service.
 *
 * @category services
 */
export class Collab extends Context.Service<Collab, CollabShape>()("@weft/host-node/Collab") {
  /**
   * The collaboration server on the host's database; destroyed (every document stored) with the layer.
   *
   * @category layers
   */
  static readonly layer = (
    options: CollabOptions = {},
  ): Layer.Layer<Collab, SqlError, Auth | GraphStore | RunService | Sql | HttpServer.HttpServer> =>
    Layer.effect(
      Collab,
      Effect.gen(function* () {
        const auth = yield* Auth
        const graphs = yield* GraphStore
        const { registry } = yield* RunService
        const sql = yield* Sql
        const docs = yield* DocStore

        const nameOf = (userId: string) =>
          sql.query<{ name: string }>(`SELECT name FROM "user" WHERE id = $1`, [userId]).pipe(
            Effect.map((rows) => rows[0]?.name ?? userId),
            Effect.orElseSucceed(() => userId),
          )

        const authenticate = (token: string, documentName: string) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const graphId = graphIdOf(documentName)
              if (graphId === undefined) return undefined
              const caller = yield* auth.callerOfToken(token)
              if (caller === undefined) return undefined
              const role = yield* graphs.roleOf(caller.owner, graphId).pipe(Effect.orDie)
              const capped = role === undefined ? undefined : cappedRole(role, caller.apiKey?.scopes)
              if (capped === undefined) return undefined
              const name = yield* nameOf(caller.owner)
              return { userId: caller.owner, role: capped, name } satisfies CollabAccess
            }),
          )

        const server = makeCollabServer({
          authenticate,
          storage: {
            load: (graphId) => Effect.runPromise(docs.load(graphId)),
            store: (graphId, state) => Effect.runPromise(docs.store(graphId, state)),
            create: (graphId, state) => Effect.runPromise(docs.create(graphId, state)),
          },
          seed: async (graphId, doc) => {
            const graph = await Effect.runPromise(docs.activeGraph(graphId))
            if (graph !== undefined) GraphDoc.into(doc, graph)
          },
          ...(options.redis === undefined ? {} : { redis: options.redis }),
          ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
          ...(options.maxDocumentBytes === undefined ? {} : { maxDocumentBytes: options.maxDocumentBytes }),
          ...(options.storeDebounceMs === undefined ? {} : { storeDebounceMs: options.storeDebounceMs }),
          ...(options.storeMaxDebounceMs === undefined
            ? {}
            : { storeMaxDebounceMs: options.storeMaxDebounceMs }),
          ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
          ...(options.revalidateEveryMs === undefined
            ? {}
            : { revalidateEveryMs: options.revalidateEveryMs }),
          log: (message, detail) => {
            Effect.runFork(Effect.logWarning(message, ...(detail === undefined ? [] : [detail])))
          },
        })
        yield* Effect.addFinalizer(() => Effect.promise(() => server.destroy()))
        // The gauges follow the server's own counts (attribute `server`, like the WebSocket API's).
        const address = { server: HttpServer.formatAddress((yield* HttpServer.HttpServer).address) }
        const documents = Metric.withAttributes(documentsGauge, address)
        const sockets = Metric.withAttributes(socketsGauge, address)
        yield* Effect.forkScoped(
          Effect.forever(
            Effect.andThen(
              Effect.suspend(() =>
                Effect.all([
                  Metric.update(documents, server.openDocumentCount()),
                  Metric.update(sockets, server.socketCount()),
                ]),
              ),
              Effect.sleep("1 second"),
            ),
          ),
        )

        /** Runs `f` on the graph's document, loaded (or seeded) by a connection of the host's own. */
        const withDocument = <A>(graphId: string, f: (doc: Y.Doc) => A) =>
          Effect.acquireUseRelease(
            Effect.promise(() =>
              server.hocuspocus.openDirectConnection(documentNameOf(graphId), HOST_ACCESS),
            ),
            (connection) =>
              Effect.sync(() => {
                const doc = connection.document
                if (doc === null) throw new Error(`the document of graph ${graphId} is not loaded`)
                return f(doc)
              }),
            (connection) => Effect.promise(() => connection.disconnect()),
          )

        /** Edits the graph's document as the host, broadcast to every connection and stored. */
        const transactDocument = (graphId: string, f: (doc: Y.Doc) => void) =>
          Effect.acquireUseRelease(
            Effect.promise(() =>
              server.hocuspocus.openDirectConnection(documentNameOf(graphId), HOST_ACCESS),
            ),
            (connection) => Effect.promise(() => connection.transact(f)),
            (connection) => Effect.promise(() => connection.disconnect()),
          )

        const readGraph = (graphId: string) =>
          Effect.flatMap(
            withDocument(graphId, (doc) => {
              try {
                return { graph: GraphDoc.toGraph(doc) } as const
              } catch (error) {
                return { error: error instanceof Error ? error.message : String(error) } as const
              }
            }),
            (read) =>
              "graph" in read
                ? Effect.succeed({ ...read.graph, id: graphId })
                : Effect.fail(new LiveDocumentInvalid({ graphId, reason: read.error })),
          )

        const current: CollabShape["current"] = (user, graphId) =>
          Effect.gen(function* () {
            const role = yield* graphs.roleOf(user, graphId)
            if (role === undefined) return yield* new GraphNotFound({ graphId })
            const graph = yield* readGraph(graphId)
            const active = yield* graphs.get(user, graphId)
            return {
              graph,
              role,
              activeVersion: active.graph.version,
              changed: contentOf(graph) !== contentOf(active.graph),
            }
          })

        const save = (user: string, graphId: string, action: string) =>
          Effect.gen(function* () {
            const live = yield* current(user, graphId)
            if (!live.changed) return { id: graphId, version: live.activeVersion, unchanged: true }
            if (live.role === "viewer") return yield* new GraphForbidden({ graphId, role: live.role, action })
            const errors = liveProblems(live.graph, registry)
            if (Object.keys(errors).length > 0) return yield* new GraphInvalid({ graphId, errors })
            const active = yield* graphs.get(user, graphId)
            const saved = yield* graphs.newVersion(user, graphId, live.graph, active.subGraphs)
            yield* transactDocument(graphId, (doc) => {
              doc.getMap("meta").set("version", saved.version)
            })
            return { ...saved, unchanged: false }
          })

        const connectionsOf = (graphId: string) =>
          server.hocuspocus.documents.get(documentNameOf(graphId))?.getConnections() ?? []

        const closeConnectionsOf = (graphId: string, userId: string) => {
          for (const connection of connectionsOf(graphId)) {
            if (connection.context.userId === userId) {
              connection.close({ code: 4403, reason: "access changed" })
            }
          }
        }
        const revoke: CollabShape["revoke"] = (graphId, userId) =>
          Effect.sync(() => closeConnectionsOf(graphId, userId))

        yield* sql.listen(ACCESS_CHANNEL, (payload) => {
          const notice = decodeNotice(payload)
          if (notice._tag === "Some") closeConnectionsOf(notice.value.graphId, notice.value.userId)
        })

        return {
          server,
          current,
          saveVersion: (user, graphId) => save(user, graphId, "save a version"),
          versionForRun: (user, graphId) =>
            Effect.map(
              save(user, graphId, "run unsaved changes; save a version first"),
              (saved) => saved.version,
            ),
          load: (graphId, graph) =>
            Effect.gen(function* () {
              const loaded = server.hocuspocus.documents.has(documentNameOf(graphId))
              if (!loaded && !(yield* docs.exists(graphId))) return
              yield* transactDocument(graphId, (doc) => {
                const meta = doc.getMap("meta")
                const nodes = doc.getMap("nodes")
                const links = doc.getMap("links")
                for (const key of [...meta.keys()]) meta.delete(key)
                for (const key of [...nodes.keys()]) nodes.delete(key)
                for (const key of [...links.keys()]) links.delete(key)
                GraphDoc.into(doc, graph)
              })
            }),
          revoke,
        } satisfies CollabShape
      }),
    ).pipe(Layer.provide(DocStore.layer))
}
