/**
 * The stored Yjs document of each graph (`graph_docs`, migration 0008), and the graph a new document starts
 * from (the graph's active version).
 *
 * A store never drops what another process stored: two processes that serve the same document (without a
 * shared Redis, or in the moment before they synchronise) each store their own state, and neither loses the
 * other's edits. Under the row's lock, a state replaces the stored one when the stored revision is the one
 * this process last loaded or wrote (its document holds all of it: the common case, no merge); otherwise it
 * is merged in, by applying both to a fresh document and encoding it again (deleted content is collected).
 *
 * @since 0.1.0
 */
import { decodeGraphSync, type Graph } from "@weft/engine"
import { Context, Effect, Layer } from "effect"
import * as Y from "yjs"
import { Sql, type SqlError, type SqlTx } from "../Sql.js"

/**
 * The store's interface.
 *
 * @category models
 */
export interface DocStoreShape {
  /**
   * The stored state of a graph's document, or `undefined` when none was stored yet. For the collaboration
   * server's loads only: the document it is applied to is taken to hold that revision from then on.
   */
  readonly load: (graphId: string) => Effect.Effect<Uint8Array | undefined, SqlError>
  /** Whether a graph's document was ever stored. */
  readonly exists: (graphId: string) => Effect.Effect<boolean, SqlError>
  /**
   * Stores `state` (a full `Y.encodeStateAsUpdate` of this process's document): it replaces the stored state
   * when that is the revision this process last loaded or wrote, and is merged into it otherwise. A graph
   * that no longer exists is skipped (its document goes with it).
   */
  readonly store: (graphId: string, state: Uint8Array) => Effect.Effect<void, SqlError>
  /**
   * Stores `state` as the graph's first document state unless one is stored already, and returns the state
   * stored then: `state`, or the one another process stored first (a seed raced by two processes is stored
   * once, and both start from it). For a missing graph nothing is stored and `state` is returned.
   */
  readonly create: (graphId: string, state: Uint8Array) => Effect.Effect<Uint8Array, SqlError>
  /** The graph's active version, the content of a new document; `undefined` for a missing graph. */
  readonly activeGraph: (graphId: string) => Effect.Effect<Graph | undefined, SqlError>
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** Both states in one document, encoded again (deleted content collected). */
const merged = (stored: Uint8Array, state: Uint8Array): Uint8Array => {
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, stored)
    Y.applyUpdate(doc, state)
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/**
 * Inserts a graph's first document state unless one is stored; the new revision, or `undefined` when another
 * process inserted first or the graph is gone (the graph's row is the parent: a deleted graph's document is not
 * stored).
 */
const insertFirst = (db: SqlTx, graphId: string, state: Uint8Array) =>
  Effect.map(
    db.query<{ revision: string }>(
      `INSERT INTO graph_docs (graph_id, state)
       SELECT id, $2::bytea FROM graphs WHERE id = $1
       ON CONFLICT (graph_id) DO NOTHING
       RETURNING revision::text AS revision`,
      [graphId, state],
    ),
    (rows) => rows[0]?.revision,
  )

/**
 * Stored graph documents on the host's `Sql`.
 *
 * @category services
 */
export class DocStore extends Context.Service<DocStore, DocStoreShape>()("@weft/host-node/DocStore") {
  /** @category layers */
  static readonly layer: Layer.Layer<DocStore, never, Sql> = Layer.effect(
    DocStore,
    Effect.gen(function* () {
      const sql = yield* Sql
      // The revision of each graph's stored state that this process's document holds all of: what it last
      // loaded or wrote. Stored at that revision, the new state replaces the old one without a merge.
      const held = new Map<string, string>()
      /** The stored state, now held by this process's document. */
      const load = (graphId: string) =>
        Effect.map(
          sql.query<{ state: Uint8Array; revision: string }>(
            "SELECT state, revision::text AS revision FROM graph_docs WHERE graph_id = $1",
            [graphId],
          ),
          (rows) => {
            const row = rows[0]
            if (row === undefined) return undefined
            held.set(graphId, row.revision)
            return new Uint8Array(row.state)
          },
        )
      return {
        load,
        exists: (graphId) =>
          Effect.map(
            sql.query("SELECT 1 FROM graph_docs WHERE graph_id = $1", [graphId]),
            (rows) => rows.length > 0,
          ),
        store: (graphId, state) =>
          sql
            .transaction((tx) =>
              Effect.gen(function* () {
                const lockRevision = Effect.map(
                  tx.query<{ revision: string }>(
                    "SELECT revision::text AS revision FROM graph_docs WHERE graph_id = $1 FOR UPDATE",
                    [graphId],
                  ),
                  (rows) => rows[0]?.revision,
                )
                let current = yield* lockRevision
                if (current === undefined) {
                  const inserted = yield* insertFirst(tx, graphId, state)
                  if (inserted !== undefined) return inserted
                  // Another process inserted first (or the graph is gone).
                  current = yield* lockRevision
                  if (current === undefined) return undefined
                }
                let next = state
                if (held.get(graphId) !== current) {
                  // Another process wrote since this one last loaded or wrote: keep its edits too.
                  const stored = yield* tx.query<{ state: Uint8Array }>(
                    "SELECT state FROM graph_docs WHERE graph_id = $1",
                    [graphId],
                  )
                  const before = stored[0]?.state
                  if (before !== undefined) {
                    next = merged(new Uint8Array(before), state)
                    if (equalBytes(next, before)) return current
                  }
                }
                const written = yield* tx.query<{ revision: string }>(
                  `UPDATE graph_docs SET state = $2::bytea, revision = revision + 1, updated_at = now()
                   WHERE graph_id = $1 RETURNING revision::text AS revision`,
                  [graphId, next],
                )
                return written[0]?.revision
              }),
            )
            .pipe(
              Effect.tap((revision) =>
                Effect.sync(() => {
                  if (revision !== undefined) held.set(graphId, revision)
                }),
              ),
              Effect.asVoid,
            ),
        create: (graphId, state) =>
          Effect.gen(function* () {
            const inserted = yield* insertFirst(sql, graphId, state)
            if (inserted !== undefined) {
              held.set(graphId, inserted)
              return state
            }
            return (yield* load(graphId)) ?? state
          }),
        activeGraph: (graphId) =>
          Effect.map(
            sql.query<{ graph: unknown }>(
              `SELECT v.graph FROM graphs g
               JOIN graph_versions v ON v.graph_id = g.id AND v.version = g.active_version
               WHERE g.id = $1`,
              [graphId],
            ),
            (rows) => (rows[0] === undefined ? undefined : decodeGraphSync(rows[0].graph)),
          ),
      }
    }),
  )
}
