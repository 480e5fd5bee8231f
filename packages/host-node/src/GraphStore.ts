/**
 * Stored graphs: each graph has an owner, numbered immutable versions (with the sub-graphs its agent nodes
 * run, R15) and one active version, and may be shared with other users, each with a role.
 *
 * Graph ids are global. Every operation takes the user it acts for. The graph's creator (`owner_id`) is
 * always an owner; `graph_shares` gives other users a role: `owner` (everything, sharing included),
 * `editor` (new versions, the active version) or `viewer` (read, fork, run). A graph the user has no role
 * on behaves exactly like a missing one (`GraphNotFound`), so an API built on it answers 404 either way; a
 * write the role does not allow is `GraphForbidden`. A stored version's graph JSON always carries the
 * graph's own id and its version number.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { type Graph, type GraphLoaderShape, GraphNotFound } from "@weft/engine"
import { Context, Data, Effect, Layer } from "effect"
import { jsonText, ms } from "./internal/sql-rows.js"
import { Sql, type SqlError, type SqlTx } from "./Sql.js"

/**
 * A user's role on a graph: `owner` (the creator, or shared as owner: everything, sharing included),
 * `editor` (new versions and the active version too) or `viewer` (read, fork and run only).
 *
 * @category models
 */
export type GraphRole = "owner" | "editor" | "viewer"

/**
 * Every role, from the most to the least allowed.
 *
 * @category models
 */
export const GRAPH_ROLES: ReadonlyArray<GraphRole> = ["owner", "editor", "viewer"]

/**
 * The user has a role on the graph, but not one that allows the change (a viewer writing, a non-owner
 * sharing). A user with no role gets `GraphNotFound` instead.
 *
 * @category errors
 */
export class GraphForbidden extends Data.TaggedError("GraphForbidden")<{
  readonly graphId: string
  readonly role: GraphRole
  /** What was refused, e.g. "change the graph". */
  readonly action: string
}> {
  override get message(): string {
    return `A ${this.role} of graph ${this.graphId} may not ${this.action}`
  }
}

/**
 * No user has the email a share names.
 *
 * @category errors
 */
export class ShareUserNotFound extends Data.TaggedError("ShareUserNotFound")<{ readonly email: string }> {
  override get message(): string {
    return `No user has the email ${this.email}`
  }
}

/**
 * A share that cannot be made or removed: sharing with the graph's creator or with yourself, removing the
 * creator. `field` is the request field at fault (`email` or `userId`).
 *
 * @category errors
 */
export class ShareRefused extends Data.TaggedError("ShareRefused")<{
  readonly field: "email" | "userId"
  readonly reason: string
}> {
  override get message(): string {
    return `${this.field}: ${this.reason}`
  }
}

/**
 * The user to remove has no share on the graph.
 *
 * @category errors
 */
export class ShareNotFound extends Data.TaggedError("ShareNotFound")<{
  readonly graphId: string
  readonly userId: string
}> {
  override get message(): string {
    return `User ${this.userId} has no share of graph ${this.graphId}`
  }
}

/**
 * Who has access to a graph: its creator or a user it is shared with. `email` and `name` are the account's
 * (absent when the account is gone, or when the host has no accounts: sign-in off).
 *
 * @category models
 */
export interface GraphShare {
  readonly userId: string
  readonly email?: string
  readonly name?: string
  readonly role: GraphRole
  /** True for the graph's creator: always an owner, never removed. */
  readonly creator: boolean
}

/**
 * A graph and version that a write made.
 *
 * @category models
 */
export interface GraphRef {
  readonly id: string
  readonly version: number
}

/**
 * A graph in a user's list: their own and those shared with them.
 *
 * @category models
 */
export interface GraphSummary {
  readonly id: string
  /** The listing user's role. */
  readonly role: GraphRole
  /** The active version's name. */
  readonly name: string
  readonly activeVersion: number
  readonly latestVersion: number
  /** Epoch milliseconds. */
  readonly createdAt: number
  /** Epoch milliseconds: the last new version or change of the active version. */
  readonly updatedAt: number
  /** The graph and version this one was forked from. */
  readonly forkedFrom?: GraphRef
}

/**
 * One version of a graph, with what the graph's page needs around it.
 *
 * @category models
 */
export interface StoredGraph {
  readonly id: string
  readonly version: number
  /** The reading user's role. */
  readonly role: GraphRole
  readonly graph: Graph
  /** Graphs that agent nodes of this version run as sub-graphs (R15), stored with it. */
  readonly subGraphs: ReadonlyArray<Graph>
  readonly activeVersion: number
  /** Every version number, ascending. */
  readonly versions: ReadonlyArray<number>
  readonly forkedFrom?: GraphRef
}

/**
 * One version in a graph's history.
 *
 * @category models
 */
export interface GraphVersionInfo {
  readonly version: number
  readonly name: string
  /** Epoch milliseconds. */
  readonly createdAt: number
  readonly active: boolean
}

/**
 * The store's interface. Every method acts for a user (`owner`, `user` or `actor`): reading (`get`,
 * `versions`, `fork`, `loaderFor`, `shares`) needs any role, writing (`newVersion`, `setActive`) an owner or
 * an editor, sharing an owner.
 *
 * @category models
 */
export interface GraphStoreShape {
  /** The user's role on a graph; `undefined` when they have none or there is no such graph. */
  readonly roleOf: (user: string, graphId: string) => Effect.Effect<GraphRole | undefined, SqlError>
  /**
   * Stores a new graph as version 1 (active). Keeps `graph.id` when no graph has it yet, otherwise picks a new
   * id; either way the returned id is the one stored.
   */
  readonly create: (
    owner: string,
    graph: Graph,
    subGraphs?: ReadonlyArray<Graph>,
  ) => Effect.Effect<GraphRef, SqlError>
  /** Stores the next version (highest + 1) of a graph and makes it active. Owners and editors. */
  readonly newVersion: (
    owner: string,
    id: string,
    graph: Graph,
    subGraphs?: ReadonlyArray<Graph>,
  ) => Effect.Effect<GraphRef, GraphNotFound | GraphForbidden | SqlError>
  /** The user's own graphs and those shared with them, most recently updated first. */
  readonly list: (owner: string) => Effect.Effect<ReadonlyArray<GraphSummary>, SqlError>
  /** A version of a graph: the active one when `version` is omitted. */
  readonly get: (
    owner: string,
    id: string,
    version?: number,
  ) => Effect.Effect<StoredGraph, GraphNotFound | SqlError>
  /** A graph's versions, ascending. */
  readonly versions: (
    owner: string,
    id: string,
  ) => Effect.Effect<ReadonlyArray<GraphVersionInfo>, GraphNotFound | SqlError>
  /** Makes an existing version the active one. Owners and editors. */
  readonly setActive: (
    owner: string,
    id: string,
    version: number,
  ) => Effect.Effect<void, GraphNotFound | GraphForbidden | SqlError>
  /**
   * Copies a version (the active one when omitted) of a graph the user may read into a new graph of theirs,
   * at version 1.
   */
  readonly fork: (
    owner: string,
    id: string,
    version?: number,
  ) => Effect.Effect<GraphRef, GraphNotFound | SqlError>
  /**
   * The engine's `GraphLoader` for sub-graph runs (R15) of `owner`'s runs. `load(graphId, version?)` looks, in
   * order: among the sub-graphs stored with `root` (the version being run, when given); among the graphs the
   * owner may read (the active version when `version` is omitted); among the sub-graphs stored with any
   * version of those (the highest version when omitted). A database failure is a defect.
   */
  readonly loaderFor: (owner: string, root?: GraphRef) => GraphLoaderShape
  /**
   * Gives the user with `email` (any case) a role on a graph, or changes it. Only an owner may share; the
   * graph's creator and the actor themselves cannot be given a role.
   */
  readonly share: (
    actor: string,
    graphId: string,
    email: string,
    role: GraphRole,
  ) => Effect.Effect<GraphShare, GraphNotFound | GraphForbidden | ShareUserNotFound | ShareRefused | SqlError>
  /** Who has access to a graph: the creator first, then the shares in the order they were made. Any role. */
  readonly shares: (
    actor: string,
    graphId: string,
  ) => Effect.Effect<ReadonlyArray<GraphShare>, GraphNotFound | SqlError>
  /**
   * Removes a user's share: an owner removes anyone but the creator; anyone removes themselves (leaves).
   */
  readonly unshare: (
    actor: string,
    graphId: string,
    userId: string,
  ) => Effect.Effect<void, GraphNotFound | GraphForbidden | ShareRefused | ShareNotFound | SqlError>
}

/**
 * The channel on which a changed or removed share is announced, at commit: `{"graphId","userId"}`. The
 * collaboration server closes that user's connections to the graph's document, on every process.
 */
export const ACCESS_CHANNEL = "weft_graph_access"

const announceAccess = (tx: SqlTx, graphId: string, userId: string) =>
  tx.query("SELECT pg_notify($1, $2)", [ACCESS_CHANNEL, JSON.stringify({ graphId, userId })])

const notFound = (graphId: string, version?: number) =>
  new GraphNotFound({ graphId, ...(version === undefined ? {} : { version }) })

/** The graph as stored: its id and version are the row's. */
const stamped = (graph: Graph, id: string, version: number): Graph => ({ ...graph, id, version })

/**
 * The role of the user in `param` on the graph aliased `g`, given `LEFT JOIN graph_shares gs ON gs.graph_id =
 * g.id AND gs.user_id = <param>`: NULL when they have none.
 */
const roleColumn = (param: string) => `CASE WHEN g.owner_id = ${param} THEN 'owner' ELSE gs.role END`

/** The join that `roleColumn` reads. */
const shareJoin = (param: string) =>
  `LEFT JOIN graph_shares gs ON gs.graph_id = g.id AND gs.user_id = ${param}`

/** The graph aliased `g` is readable by the user in `param`: they created it or it is shared with them. */
const readableBy = (param: string) =>
  `(g.owner_id = ${param} OR EXISTS (SELECT 1 FROM graph_shares rs WHERE rs.graph_id = g.id AND rs.user_id = ${param}))`

/** Whether better-auth's `"user"` table exists (not with sign-in off, nor in a bare store). */
const hasAccounts = (target: SqlTx) =>
  Effect.map(
    target.query<{ present: boolean }>(`SELECT to_regclass('"user"') IS NOT NULL AS present`),
    (rows) => rows[0]?.present === true,
  )

const account = (row: { readonly email: string | null; readonly name: string | null }) => ({
  ...(row.email === null ? {} : { email: row.email }),
  ...(row.name === null ? {} : { name: row.name }),
})

interface GraphRow {
  readonly id: string
  readonly name: string
  readonly active_version: number
  readonly forked_from_id: string | null
  readonly forked_from_version: number | null
}

const forkedFrom = (row: GraphRow): { forkedFrom?: GraphRef } =>
  row.forked_from_id === null || row.forked_from_version === null
    ? {}
    : { forkedFrom: { id: row.forked_from_id, version: row.forked_from_version } }

const insertVersion = (
  tx: SqlTx,
  id: string,
  version: number,
  graph: Graph,
  subGraphs: ReadonlyArray<Graph>,
) =>
  tx.query(
    "INSERT INTO graph_versions (graph_id, version, graph, sub_graphs) VALUES ($1, $2, $3::jsonb, $4::jsonb)",
    [id, version, jsonText(stamped(graph, id, version)), jsonText(subGraphs)],
  )

const make = Effect.gen(function* () {
  const sql = yield* Sql

  const roleOn = (target: SqlTx, user: string, graphId: string) =>
    Effect.map(
      target.query<{ role: GraphRole | null }>(
        `SELECT ${roleColumn("$2")} AS role FROM graphs g ${shareJoin("$2")} WHERE g.id = $1`,
        [graphId, user],
      ),
      (rows) => rows[0]?.role ?? undefined,
    )

  const roleOf: GraphStoreShape["roleOf"] = (user, graphId) => roleOn(sql, user, graphId)

  /**
   * Locks the graph's row (so that role changes and writes of the graph take turns), then reads the user's
   * role in a statement of its own, which sees what committed while it waited for the lock.
   */
  const lockedRole = (tx: SqlTx, user: string, graphId: string, version?: number) =>
    Effect.gen(function* () {
      const locked = yield* tx.query<{ owner_id: string }>(
        "SELECT owner_id FROM graphs WHERE id = $1 FOR UPDATE",
        [graphId],
      )
      const creator = locked[0]?.owner_id
      const role = creator === undefined ? undefined : yield* roleOn(tx, user, graphId)
      if (creator === undefined || role === undefined) return yield* notFound(graphId, version)
      return { creator, role }
    })

  /** Locks the graph and checks that the user may change it (an owner or an editor). */
  const writable = (tx: SqlTx, user: string, graphId: string, version?: number) =>
    Effect.gen(function* () {
      const { role } = yield* lockedRole(tx, user, graphId, version)
      if (role === "viewer") {
        return yield* new GraphForbidden({ graphId, role, action: "change the graph" })
      }
      return role
    })

  const create: GraphStoreShape["create"] = (owner, graph, subGraphs = []) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const insert = (id: string, onConflict: string) =>
          tx.query<{ id: string }>(
            `INSERT INTO graphs (id, owner_id, name, active_version) VALUES ($1, $2, $3, 1) ${onConflict} RETURNING id`,
            [id, owner, graph.name],
          )
        // Ids are global: keep the graph's own id when it is free, otherwise take a new one.
        const kept = graph.id === "" ? [] : yield* insert(graph.id, "ON CONFLICT (id) DO NOTHING")
        const id = kept[0]?.id ?? (yield* insert(randomUUID(), ""))[0]?.id ?? ""
        yield* insertVersion(tx, id, 1, graph, subGraphs)
        return { id, version: 1 }
      }),
    )

  const newVersion: GraphStoreShape["newVersion"] = (owner, id, graph, subGraphs = []) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        yield* writable(tx, owner, id)
        const next = yield* tx.query<{ version: number }>(
          "SELECT COALESCE(max(version), 0) + 1 AS version FROM graph_versions WHERE graph_id = $1",
          [id],
        )
        const version = next[0]?.version ?? 1
        yield* insertVersion(tx, id, version, graph, subGraphs)
        yield* tx.query(
          "UPDATE graphs SET active_version = $2, name = $3, updated_at = now() WHERE id = $1",
          [id, version, graph.name],
        )
        return { id, version }
      }),
    )

  const list: GraphStoreShape["list"] = (owner) =>
    Effect.map(
      sql.query<
        GraphRow & { latest_version: number; created_at: number; updated_at: number; role: GraphRole }
      >(
        `SELECT g.id, g.name, g.active_version, g.forked_from_id, g.forked_from_version, ${roleColumn("$1")} AS role,
           (SELECT max(v.version) FROM graph_versions v WHERE v.graph_id = g.id) AS latest_version,
           ${ms("g.created_at")} AS created_at, ${ms("g.updated_at")} AS updated_at
         FROM graphs g ${shareJoin("$1")}
         WHERE g.id IN (SELECT o.id FROM graphs o WHERE o.owner_id = $1
                        UNION ALL SELECT s.graph_id FROM graph_shares s WHERE s.user_id = $1)
         ORDER BY g.updated_at DESC, g.id`,
        [owner],
      ),
      (rows) =>
        rows.map(
          (row): GraphSummary => ({
            id: row.id,
            role: row.role,
            name: row.name,
            activeVersion: row.active_version,
            latestVersion: row.latest_version,
            createdAt: row.created_at,
            updatedAt: row.updated_at,
            ...forkedFrom(row),
          }),
        ),
    )

  const getOn = (target: SqlTx, owner: string, id: string, version?: number) =>
    Effect.gen(function* () {
      const rows = yield* target.query<
        GraphRow & {
          version: number
          graph: Graph
          sub_graphs: ReadonlyArray<Graph>
          versions: ReadonlyArray<number>
          role: GraphRole | null
        }
      >(
        `SELECT g.id, g.name, g.active_version, g.forked_from_id, g.forked_from_version, v.version, v.graph,
           v.sub_graphs, ${roleColumn("$2")} AS role,
           (SELECT jsonb_agg(a.version ORDER BY a.version) FROM graph_versions a WHERE a.graph_id = g.id) AS versions
         FROM graphs g JOIN graph_versions v ON v.graph_id = g.id AND v.version = COALESCE($3::integer, g.active_version)
           ${shareJoin("$2")}
         WHERE g.id = $1`,
        [id, owner, version ?? null],
      )
      const row = rows[0]
      if (row === undefined || row.role === null) return yield* notFound(id, version)
      return {
        id: row.id,
        version: row.version,
        role: row.role,
        graph: row.graph,
        subGraphs: row.sub_graphs,
        activeVersion: row.active_version,
        versions: row.versions,
        ...forkedFrom(row),
      } satisfies StoredGraph
    })

  const get: GraphStoreShape["get"] = (owner, id, version) => getOn(sql, owner, id, version)

  const versions: GraphStoreShape["versions"] = (owner, id) =>
    Effect.gen(function* () {
      const rows = yield* sql.query<{
        version: number
        name: string | null
        created_at: number
        active: boolean
      }>(
        `SELECT v.version, v.graph ->> 'name' AS name, ${ms("v.created_at")} AS created_at,
           v.version = g.active_version AS active
         FROM graphs g JOIN graph_versions v ON v.graph_id = g.id
         WHERE g.id = $1 AND ${readableBy("$2")} ORDER BY v.version`,
        [id, owner],
      )
      if (rows.length === 0) return yield* notFound(id)
      return rows.map(
        (row): GraphVersionInfo => ({
          version: row.version,
          name: row.name ?? "",
          createdAt: row.created_at,
          active: row.active,
        }),
      )
    })

  const setActive: GraphStoreShape["setActive"] = (owner, id, version) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        yield* writable(tx, owner, id, version)
        const rows = yield* tx.query(
          `UPDATE graphs g SET active_version = v.version, name = COALESCE(v.graph ->> 'name', ''), updated_at = now()
           FROM graph_versions v
           WHERE g.id = $1 AND v.graph_id = g.id AND v.version = $2
           RETURNING g.id`,
          [id, version],
        )
        if (rows.length === 0) return yield* notFound(id, version)
      }),
    )

  const fork: GraphStoreShape["fork"] = (owner, id, version) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const source = yield* getOn(tx, owner, id, version)
        const newId = randomUUID()
        yield* tx.query(
          `INSERT INTO graphs (id, owner_id, name, active_version, forked_from_id, forked_from_version)
           VALUES ($1, $2, $3, 1, $4, $5)`,
          [newId, owner, source.graph.name, source.id, source.version],
        )
        yield* insertVersion(tx, newId, 1, source.graph, source.subGraphs)
        return { id: newId, version: 1 }
      }),
    )

  const loaderFor: GraphStoreShape["loaderFor"] = (owner, root) => ({
    load: (graphId, version) =>
      Effect.gen(function* () {
        const wanted = version ?? null
        const matchVersion = "($2::integer IS NULL OR sg -> 'version' = to_jsonb($2::integer))"
        if (root !== undefined) {
          const rows = yield* sql.query<{ graph: Graph }>(
            `SELECT sg AS graph
             FROM graphs g JOIN graph_versions v ON v.graph_id = g.id
               CROSS JOIN LATERAL jsonb_array_elements(v.sub_graphs) AS sg
             WHERE g.id = $3 AND ${readableBy("$4")} AND v.version = $5 AND sg ->> 'id' = $1 AND ${matchVersion}
             ORDER BY sg -> 'version' DESC NULLS LAST LIMIT 1`,
            [graphId, wanted, root.id, owner, root.version],
          )
          if (rows[0] !== undefined) return rows[0].graph
        }
        const own = yield* Effect.result(get(owner, graphId, version))
        if (own._tag === "Success") return own.success.graph
        if (own.failure._tag === "SqlError") return yield* own.failure
        const stored = yield* sql.query<{ graph: Graph }>(
          `SELECT sg AS graph
           FROM graphs g JOIN graph_versions v ON v.graph_id = g.id
             CROSS JOIN LATERAL jsonb_array_elements(v.sub_graphs) AS sg
           WHERE ${readableBy("$3")} AND sg ->> 'id' = $1 AND ${matchVersion}
           ORDER BY sg -> 'version' DESC NULLS LAST, v.created_at DESC LIMIT 1`,
          [graphId, wanted, owner],
        )
        if (stored[0] !== undefined) return stored[0].graph
        return yield* notFound(graphId, version)
      }).pipe(Effect.catchTag("SqlError", (error) => Effect.die(error))),
  })

  const share: GraphStoreShape["share"] = (actor, graphId, email, role) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const locked = yield* lockedRole(tx, actor, graphId)
        if (locked.role !== "owner") {
          return yield* new GraphForbidden({ graphId, role: locked.role, action: "share it" })
        }
        const users = (yield* hasAccounts(tx))
          ? yield* tx.query<{ id: string; email: string; name: string | null }>(
              `SELECT id, email, name FROM "user" WHERE lower(email) = lower($1) ORDER BY id LIMIT 1`,
              [email],
            )
          : []
        const user = users[0]
        if (user === undefined) return yield* new ShareUserNotFound({ email })
        if (user.id === locked.creator) {
          return yield* new ShareRefused({
            field: "email",
            reason: "is the graph's creator, always an owner",
          })
        }
        if (user.id === actor) {
          return yield* new ShareRefused({
            field: "email",
            reason: "is your own: you cannot change your own role",
          })
        }
        const before = yield* tx.query<{ role: GraphRole }>(
          "SELECT role FROM graph_shares WHERE graph_id = $1 AND user_id = $2",
          [graphId, user.id],
        )
        if (before[0] !== undefined && before[0].role !== role) yield* announceAccess(tx, graphId, user.id)
        yield* tx.query(
          `INSERT INTO graph_shares (graph_id, user_id, role, shared_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (graph_id, user_id)
           DO UPDATE SET role = EXCLUDED.role, shared_by = EXCLUDED.shared_by, updated_at = now()`,
          [graphId, user.id, role, actor],
        )
        return { userId: user.id, ...account(user), role, creator: false } satisfies GraphShare
      }),
    )

  const shares: GraphStoreShape["shares"] = (actor, graphId) =>
    Effect.gen(function* () {
      const role = yield* roleOf(actor, graphId)
      if (role === undefined) return yield* notFound(graphId)
      const accounts = yield* hasAccounts(sql)
      const rows = yield* sql.query<{
        user_id: string
        role: GraphRole
        creator: boolean
        email: string | null
        name: string | null
      }>(
        `SELECT x.user_id, x.role, x.creator, ${accounts ? "u.email, u.name" : "NULL::text AS email, NULL::text AS name"}
         FROM (
           SELECT g.owner_id AS user_id, 'owner' AS role, true AS creator, g.created_at AS at FROM graphs g WHERE g.id = $1
           UNION ALL
           SELECT s.user_id, s.role, false, s.created_at FROM graph_shares s WHERE s.graph_id = $1
         ) x ${accounts ? `LEFT JOIN "user" u ON u.id = x.user_id` : ""}
         ORDER BY x.creator DESC, x.at, x.user_id`,
        [graphId],
      )
      return rows.map(
        (row): GraphShare => ({ userId: row.user_id, ...account(row), role: row.role, creator: row.creator }),
      )
    })

  const unshare: GraphStoreShape["unshare"] = (actor, graphId, userId) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        const locked = yield* lockedRole(tx, actor, graphId)
        if (userId !== actor && locked.role !== "owner") {
          return yield* new GraphForbidden({
            graphId,
            role: locked.role,
            action: "remove another user's access",
          })
        }
        if (userId === locked.creator) {
          return yield* new ShareRefused({
            field: "userId",
            reason: "is the graph's creator, who cannot be removed",
          })
        }
        const removed = yield* tx.query(
          "DELETE FROM graph_shares WHERE graph_id = $1 AND user_id = $2 RETURNING user_id",
          [graphId, userId],
        )
        if (removed.length === 0) return yield* new ShareNotFound({ graphId, userId })
        yield* announceAccess(tx, graphId, userId)
      }),
    )

  return {
    roleOf,
    create,
    newVersion,
    list,
    get,
    versions,
    setActive,
    fork,
    loaderFor,
    share,
    shares,
    unshare,
  } satisfies GraphStoreShape
})

/**
 * The graph store service.
 *
 * @category services
 */
export class GraphStore extends Context.Service<GraphStore, GraphStoreShape>()("@weft/host-node/GraphStore") {
  /**
   * The store on the `Sql` service. Apply the migrations first (`Migrations.layer`).
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<GraphStore, never, Sql> = Layer.effect(GraphStore, make)
}
