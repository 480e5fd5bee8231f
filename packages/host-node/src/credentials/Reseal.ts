/**
 * Sealing again under the current key: rows of a table sealed under a previous key (one the ring still
 * holds) are opened and sealed under the current key, each with a compare-and-set on its `key_id`, so two
 * processes starting together never overwrite each other. A row that does not open is left as it is (it
 * answers `SecretUnreadable` when used).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { SqlError, SqlShape } from "../Sql.js"
import { type Binding, open, type Sealed, seal } from "./Cipher.js"
import type { KeyRing } from "./Keys.js"

/**
 * Where a table keeps its sealed values, and how a row reads as a sealed value and its binding.
 *
 * @category models
 */
export interface SealedTable<Row extends { readonly id: string; readonly key_id: string }> {
  /** The table, e.g. `credentials`. */
  readonly table: string
  /** The columns to select: enough for `sealedOf` and `bindingOf`. */
  readonly columns: string
  /** The column of the ciphertext (`iv`, `auth_tag` and `key_id` are common to every sealed table). */
  readonly ciphertextColumn: string
  /** Whether the table has an `updated_at` to touch. */
  readonly touchesUpdatedAt: boolean
  readonly sealedOf: (row: Row) => Sealed
  readonly bindingOf: (row: Row) => Binding
}

/**
 * Seals every row of `table` that is under a previous key again, under the ring's current key. Answers how
 * many rows were sealed again (0 without a ring or without previous keys).
 *
 * @category operations
 */
export const resealRows = <Row extends { readonly id: string; readonly key_id: string }>(
  sql: Pick<SqlShape, "query">,
  ring: KeyRing | undefined,
  table: SealedTable<Row>,
): Effect.Effect<number, SqlError> =>
  Effect.gen(function* () {
    if (ring === undefined || ring.byId.size <= 1) return 0
    const stale = yield* sql.query<Row>(`SELECT ${table.columns} FROM ${table.table} WHERE key_id <> $1`, [
      ring.current.id,
    ])
    let count = 0
    for (const row of stale) {
      if (!ring.byId.has(row.key_id)) continue
      const opened = yield* Effect.option(
        Effect.try(() => open(ring, table.sealedOf(row), table.bindingOf(row))),
      )
      if (opened._tag === "None") continue
      const sealed = seal(ring.current, opened.value, table.bindingOf(row))
      const updated = yield* sql.query(
        `UPDATE ${table.table} SET key_id = $3, iv = $4::bytea, auth_tag = $5::bytea,
           ${table.ciphertextColumn} = $6::bytea${table.touchesUpdatedAt ? ", updated_at = now()" : ""}
         WHERE id = $1 AND key_id = $2 RETURNING id`,
        [row.id, row.key_id, sealed.keyId, sealed.iv, sealed.tag, sealed.ciphertext],
      )
      count += updated.length
    }
    return count
  })
