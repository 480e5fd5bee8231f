/**
 * One SQL dialect (Postgres, `$1` parameters) over two drivers: postgres.js on a Postgres server, or PGlite
 * (Postgres in WASM) in a directory or in memory.
 *
 * Rows look the same on both drivers: `jsonb` is parsed, int8 is a number (a BigInt past 2^53), bytea is a
 * `Uint8Array`, timestamps are `Date`s. Pass JSON values as text made by `Sql.json(value)` and cast them in
 * the statement (`$1::jsonb`); both drivers then send the same text.
 *
 * Inside `transaction(f)`, run statements through `f`'s `tx` only. On PGlite (one connection) a statement sent
 * through the service itself waits until the transaction ends, so a transaction that waits for one never ends.
 *
 * @since 0.1.0
 */
import type { PGlite } from "@electric-sql/pglite"
import { Context, type Effect, Layer, type Scope } from "effect"
import type postgres from "postgres"
import type { SqlError } from "./internal/sql-error.js"
import { makePglite } from "./internal/sql-pglite.js"
import { makePostgres } from "./internal/sql-postgres.js"
import { jsonText } from "./internal/sql-rows.js"

export { SqlError } from "./internal/sql-error.js"

/**
 * What runs statements: the service itself, or one transaction.
 *
 * @category models
 */
export interface SqlTx {
  /** Runs one statement with `$1…` parameters and returns its rows. */
  readonly query: <Row = Record<string, unknown>>(
    text: string,
    params?: ReadonlyArray<unknown>,
  ) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  /** Runs a script of several statements without parameters (migrations). */
  readonly script: (text: string) => Effect.Effect<void, SqlError>
}

/**
 * The driver underneath, for libraries that bring their own query layer (better-auth's Kysely dialects:
 * `new PostgresJSDialect({ postgres: raw.sql })`, `new PGliteDialect(raw.db)`).
 *
 * @category models
 */
export type SqlRaw =
  | { readonly kind: "postgres"; readonly sql: postgres.Sql }
  | { readonly kind: "pglite"; readonly db: PGlite }

/**
 * The service's interface.
 *
 * @category models
 */
export interface SqlShape extends SqlTx {
  readonly dialect: "postgres" | "pglite"
  /**
   * Runs `f` in one transaction on one connection: committed when `f` succeeds, rolled back when it fails,
   * dies or is interrupted. A failed COMMIT is a `SqlError`.
   */
  readonly transaction: <A, E>(f: (tx: SqlTx) => Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>
  /**
   * Calls `onPayload` with each notification on `channel` (a lowercase identifier) until the scope closes.
   * On Postgres notifications cross connections and processes; on PGlite they stay within the instance.
   */
  readonly listen: (
    channel: string,
    onPayload: (payload: string) => void,
  ) => Effect.Effect<void, SqlError, Scope.Scope>
  /** Sends `payload` (under 8000 bytes) on `channel`. Inside a transaction, use `pg_notify` in a query. */
  readonly notify: (channel: string, payload: string) => Effect.Effect<void, SqlError>
  readonly raw: SqlRaw
}

/**
 * Options of {@link Sql.layerPostgres}.
 *
 * @category models
 */
export interface PostgresOptions {
  /** Pool size. Default 10. */
  readonly max?: number
  /** `application_name` of every connection, as `pg_stat_activity` shows it. */
  readonly applicationName?: string
  /** Close connections idle for this long. Default: never. */
  readonly idleTimeoutSeconds?: number
  /**
   * Use prepared statements (parsed and planned once per connection). Default true; set false behind a
   * pooler in transaction mode (PgBouncer), which cannot keep them.
   */
  readonly prepare?: boolean
}

/**
 * Options of {@link Sql.layerPglite}.
 *
 * @category models
 */
export interface PgliteOptions {
  /** Start from a data directory dumped with `dumpDataDir` (only when the directory holds no database yet). */
  readonly loadDataDir?: Blob
}

/**
 * The SQL service.
 *
 * @category services
 */
export class Sql extends Context.Service<Sql, SqlShape>()("@weft/host-node/Sql") {
  /**
   * JSON text for a `$n::jsonb` parameter. `undefined` becomes JSON `null`; a NUL character in a string, which
   * jsonb cannot hold, becomes U+FFFD.
   *
   * @category constructors
   */
  static readonly json: (value: unknown) => string = jsonText

  /**
   * A postgres.js pool on `url` (e.g. `postgres://user@127.0.0.1:5432/weft`). Fails when the server cannot be
   * reached; closing the layer ends the pool.
   *
   * @category layers
   */
  static readonly layerPostgres = (url: string, options: PostgresOptions = {}): Layer.Layer<Sql, SqlError> =>
    Layer.effect(Sql, makePostgres(url, options))

  /**
   * A PGlite instance in `dir` (created on first use), or in memory when `dir` is undefined. Closing the layer
   * closes the instance.
   *
   * @category layers
   */
  static readonly layerPglite = (
    dir: string | undefined,
    options: PgliteOptions = {},
  ): Layer.Layer<Sql, SqlError> => Layer.effect(Sql, makePglite(dir, options))
}
