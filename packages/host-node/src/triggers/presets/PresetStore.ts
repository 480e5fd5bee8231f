/**
 * Presets in SQL: saved run inputs and credential references for one graph of their owner. Another owner's
 * preset behaves exactly like a missing one (`PresetNotFound`). Nothing here validates against the graph:
 * `Presets` does, before it writes.
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import { ms } from "../../internal/sql-rows.js"
import { Sql, type SqlError } from "../../Sql.js"

/**
 * Credential ids by node id and credential field: `{ "<nodeId>": { "<field>": "<credentialId>" } }`. They
 * are references to the owner's stored credentials, never secrets.
 *
 * @category models
 */
export type CredentialRefs = Readonly<Record<string, Readonly<Record<string, string>>>>

/**
 * A stored preset.
 *
 * @category models
 */
export interface Preset {
  readonly id: string
  readonly graphId: string
  /** The pinned graph version; absent: the active version when the preset is executed. */
  readonly version?: number
  readonly name: string
  readonly description: string
  readonly inputs: Readonly<Record<string, unknown>>
  readonly credentials: CredentialRefs
  /** Epoch milliseconds. */
  readonly createdAt: number
  /** Epoch milliseconds. */
  readonly updatedAt: number
}

/**
 * What a preset is written with (all but its id and times).
 *
 * @category models
 */
export interface PresetFields {
  readonly graphId: string
  readonly version?: number
  readonly name: string
  readonly description: string
  readonly inputs: Readonly<Record<string, unknown>>
  readonly credentials: CredentialRefs
}

/**
 * No preset with this id for this owner.
 *
 * @category errors
 */
export class PresetNotFound extends Data.TaggedError("PresetNotFound")<{ readonly presetId: string }> {
  override get message(): string {
    return `No preset ${this.presetId}`
  }
}

/**
 * The preset cannot be deleted: schedules fire it.
 *
 * @category errors
 */
export class PresetInUse extends Data.TaggedError("PresetInUse")<{
  readonly presetId: string
  readonly scheduleIds: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Preset ${this.presetId} is used by schedule${this.scheduleIds.length === 1 ? "" : "s"} ${this.scheduleIds.join(", ")}: delete ${this.scheduleIds.length === 1 ? "it" : "them"} first`
  }
}

/**
 * The store's interface.
 *
 * @category models
 */
export interface PresetStoreShape {
  readonly insert: (owner: string, id: string, fields: PresetFields) => Effect.Effect<Preset, SqlError>
  /** The owner's presets, newest first, those of one graph when `graphId` is given. */
  readonly list: (
    owner: string,
    options?: { readonly graphId?: string },
  ) => Effect.Effect<ReadonlyArray<Preset>, SqlError>
  readonly get: (owner: string, id: string) => Effect.Effect<Preset, PresetNotFound | SqlError>
  /** Replaces every field but the graph; answers the preset as stored. */
  readonly update: (
    owner: string,
    id: string,
    fields: PresetFields,
  ) => Effect.Effect<Preset, PresetNotFound | SqlError>
  readonly remove: (owner: string, id: string) => Effect.Effect<void, PresetNotFound | PresetInUse | SqlError>
}

interface PresetRow {
  readonly id: string
  readonly graph_id: string
  readonly graph_version: number | null
  readonly name: string
  readonly description: string
  readonly inputs: Record<string, unknown>
  readonly credentials: Record<string, Record<string, string>>
  readonly created_at: number
  readonly updated_at: number
}

const COLUMNS = `id, graph_id, graph_version, name, description, inputs, credentials,
  ${ms("created_at")} AS created_at, ${ms("updated_at")} AS updated_at`

const toPreset = (row: PresetRow): Preset => ({
  id: row.id,
  graphId: row.graph_id,
  ...(row.graph_version === null ? {} : { version: row.graph_version }),
  name: row.name,
  description: row.description,
  inputs: row.inputs,
  credentials: row.credentials,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
})

const make = Effect.gen(function* () {
  const sql = yield* Sql

  const insert: PresetStoreShape["insert"] = (owner, id, fields) =>
    Effect.map(
      sql.query<PresetRow>(
        `INSERT INTO presets (id, owner_id, graph_id, graph_version, name, description, inputs, credentials)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb) RETURNING ${COLUMNS}`,
        [
          id,
          owner,
          fields.graphId,
          fields.version ?? null,
          fields.name,
          fields.description,
          Sql.json(fields.inputs),
          Sql.json(fields.credentials),
        ],
      ),
      (rows) => toPreset(rows[0] as PresetRow),
    )

  const list: PresetStoreShape["list"] = (owner, options = {}) =>
    Effect.map(
      sql.query<PresetRow>(
        `SELECT ${COLUMNS} FROM presets WHERE owner_id = $1 AND ($2::text IS NULL OR graph_id = $2)
         ORDER BY created_at DESC, id DESC`,
        [owner, options.graphId ?? null],
      ),
      (rows) => rows.map(toPreset),
    )

  const get: PresetStoreShape["get"] = (owner, id) =>
    Effect.flatMap(
      sql.query<PresetRow>(`SELECT ${COLUMNS} FROM presets WHERE id = $1 AND owner_id = $2`, [id, owner]),
      (rows) =>
        rows[0] === undefined
          ? Effect.fail(new PresetNotFound({ presetId: id }))
          : Effect.succeed(toPreset(rows[0])),
    )

  const update: PresetStoreShape["update"] = (owner, id, fields) =>
    Effect.flatMap(
      sql.query<PresetRow>(
        `UPDATE presets SET graph_version = $3, name = $4, description = $5, inputs = $6::jsonb,
           credentials = $7::jsonb, updated_at = now()
         WHERE id = $1 AND owner_id = $2 RETURNING ${COLUMNS}`,
        [
          id,
          owner,
          fields.version ?? null,
          fields.name,
          fields.description,
          Sql.json(fields.inputs),
          Sql.json(fields.credentials),
        ],
      ),
      (rows) =>
        rows[0] === undefined
          ? Effect.fail(new PresetNotFound({ presetId: id }))
          : Effect.succeed(toPreset(rows[0])),
    )

  const remove: PresetStoreShape["remove"] = (owner, id) =>
    sql.transaction((tx) =>
      Effect.gen(function* () {
        // The row lock orders this delete with a schedule being created on the preset (its foreign key
        // check locks the row too): whichever commits first wins, the other sees the outcome.
        const found = yield* tx.query("SELECT 1 FROM presets WHERE id = $1 AND owner_id = $2 FOR UPDATE", [
          id,
          owner,
        ])
        if (found.length === 0) return yield* new PresetNotFound({ presetId: id })
        const users = yield* tx.query<{ id: string }>(
          "SELECT id FROM schedules WHERE preset_id = $1 ORDER BY created_at LIMIT 10",
          [id],
        )
        if (users.length > 0) {
          return yield* new PresetInUse({ presetId: id, scheduleIds: users.map((row) => row.id) })
        }
        yield* tx.query("DELETE FROM presets WHERE id = $1", [id])
      }),
    )

  return { insert, list, get, update, remove } satisfies PresetStoreShape
})

/**
 * The preset store.
 *
 * @category services
 */
export class PresetStore extends Context.Service<PresetStore, PresetStoreShape>()(
  "@weft/host-node/PresetStore",
) {
  /**
   * The store on the `Sql` service. Apply the migrations first (`Migrations.layer`).
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<PresetStore, never, Sql> = Layer.effect(PresetStore, make)
}
