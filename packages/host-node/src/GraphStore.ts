/**
 * Stored graphs: each graph has an owner, numbered immutable versions (with the sub-graphs its agent nodes
 * run, R15) and one active version.
 *
 * Graph ids are global. Every operation takes the owner, and another owner's graph behaves exactly like a
 * missing one (`GraphNotFound`), so an API built on it answers 404 either way. A stored version's graph JSON
 * always carries the graph's own id and its version number.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { type Graph, type GraphLoaderShape, GraphNotFound } from "@weft/engine"
import { Context, Effect, Layer } from "effect"
import { jsonText, ms } from "./internal/sql-rows.js"
import { Sql, type SqlError, type SqlTx } from "./Sql.js"

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
 * A graph in an owner's list.
 *
 * @category models
 */
export interface GraphSummary {
  readonly id: string
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
 * The store's interface. Every method is scoped to `owner`.
 *
 * @category models
 */
export interface GraphStoreShape {
  /**
   * Stores a new graph as version 1 (active). Keeps `graph.id` when no graph has it yet, otherwise picks a new
   * id; either way the returned id is the one stored.
   */
  readonly create: (
    owner: string,
    graph: Graph,
    subGraphs?: ReadonlyArray<Graph>,
  ) => Effect.Effect<GraphRef, SqlError>
  /** Stores the next version (highest + 1) of an owner's graph and makes it active. */
  readonly newVersion: (
    owner: string,
    id: string,
    graph: Graph,
    subGraphs?: ReadonlyArray<Graph>,
  ) => Effect.Effect<GraphRef, GraphNotFound | SqlError>
  /** The owner's graphs, most recently updated first. */
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
  /** Makes an existing version the active one. */
  readonly setActive: (
    owner: string,
    id: string,
    version: number,
  ) => Effect.Effect<void, GraphNotFound | SqlError>
  /**
   * Copies a version (the active one when omitted) into a new graph of `owner`, at version 1. Forking
   * another owner's graph is not supported yet: it is `GraphNotFound`.
   */
  readonly fork: (
    owner: string,
    id: string,
    version?: number,
  ) => Effect.Effect<GraphRef, GraphNotFound | SqlError>
  /**
   * The engine's `GraphLoader` for sub-graph runs (R15) of `owner`'s runs. `load(graphId, version?)` looks, in
   * order: among the sub-graphs stored with `root` (the version being run, when given); among the owner's
   * graphs (the active version when `version` is omitted); among the sub-graphs stored with any of the
   * owner's versions (the highest version when omitted). A database failure is a defect.
   */
  readonly loaderFor: (owner: string, root?: GraphRef) => GraphLoaderShape
}

const notFound = (graphId: string, version?: number) =>
  new GraphNotFound({ graphId, ...(version === undefined ? {} : { version }) })

/** The graph as stored: its id and version are the row's. */
const stamped = (graph: Graph, id: string, version: number): Graph => ({ ...graph, id, version })

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
        const owned = yield* tx.query("SELECT 1 FROM graphs WHERE id = $1 AND owner_id = $2 FOR UPDATE", [
          id,
          owner,
        ])
        if (owned.length === 0) return yield* notFound(id)
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
      sql.query<GraphRow & { latest_version: number; created_at: number; updated_at: number }>(
        `SELECT g.id, g.name, g.active_version, g.forked_from_id, g.forked_from_version,
           (SELECT max(v.version) FROM graph_versions v WHERE v.graph_id = g.id) AS latest_version,
           ${ms("g.created_at")} AS created_at, ${ms("g.updated_at")} AS updated_at
         FROM graphs g WHERE g.owner_id = $1 ORDER BY g.updated_at DESC, g.id`,
        [owner],
      ),
      (rows) =>
        rows.map(
          (row): GraphSummary => ({
            id: row.id,
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
        }
      >(
        `SELECT g.id, g.name, g.active_version, g.forked_from_id, g.forked_from_version, v.version, v.graph,
           v.sub_graphs,
           (SELECT jsonb_agg(a.version ORDER BY a.version) FROM graph_versions a WHERE a.graph_id = g.id) AS versions
         FROM graphs g JOIN graph_versions v ON v.graph_id = g.id AND v.version = COALESCE($3::integer, g.active_version)
         WHERE g.id = $1 AND g.owner_id = $2`,
        [id, owner, version ?? null],
      )
      const row = rows[0]
      if (row === undefined) return yield* notFound(id, version)
      return {
        id: row.id,
        version: row.version,
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
         WHERE g.id = $1 AND g.owner_id = $2 ORDER BY v.version`,
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
    Effect.gen(function* () {
      const rows = yield* sql.query(
        `UPDATE graphs g SET active_version = v.version, name = COALESCE(v.graph ->> 'name', ''), updated_at = now()
         FROM graph_versions v
         WHERE g.id = $1 AND g.owner_id = $2 AND v.graph_id = g.id AND v.version = $3
         RETURNING g.id`,
        [id, owner, version],
      )
      if (rows.length === 0) return yield* notFound(id, version)
    })

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
             WHERE g.id = $3 AND g.owner_id = $4 AND v.version = $5 AND sg ->> 'id' = $1 AND ${matchVersion}
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
           WHERE g.owner_id = $3 AND sg ->> 'id' = $1 AND ${matchVersion}
           ORDER BY sg -> 'version' DESC NULLS LAST, v.created_at DESC LIMIT 1`,
          [graphId, wanted, owner],
        )
        if (stored[0] !== undefined) return stored[0].graph
        return yield* notFound(graphId, version)
      }).pipe(Effect.catchTag("SqlError", (error) => Effect.die(error))),
  })

  return { create, newVersion, list, get, versions, setActive, fork, loaderFor } satisfies GraphStoreShape
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
