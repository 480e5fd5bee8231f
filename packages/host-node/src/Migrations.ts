/**
 * Schema migrations: numbered, immutable `.sql` files shipped in the package's `migrations/` directory
 * (`0001_init.sql`, `0002_….sql`), applied in order, each in its own transaction, and recorded with a
 * checksum in `weft_migrations`.
 *
 * - A recorded migration whose file changed since is refused (`MigrationChanged`): write a new file instead.
 * - On Postgres, concurrent `run` calls (several processes starting at once) take a transaction-level
 *   advisory lock per migration and re-check under it, so each migration is applied once.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Effect, Layer } from "effect"
import { Sql, type SqlError } from "./Sql.js"

/**
 * The directory of the migrations shipped with this package.
 *
 * @category constants
 */
export const directory: string = fileURLToPath(new URL("../migrations/", import.meta.url))

/**
 * An applied migration's file no longer matches the checksum recorded when it was applied.
 *
 * @category errors
 */
export class MigrationChanged extends Data.TaggedError("MigrationChanged")<{
  readonly name: string
  readonly recorded: string
  readonly current: string
}> {
  override get message(): string {
    return `Migration ${this.name} changed after it was applied (checksum ${this.recorded}, file now ${this.current}); add a new migration instead`
  }
}

/**
 * The migrations directory cannot be read, or holds a badly named or duplicated migration.
 *
 * @category errors
 */
export class MigrationFilesInvalid extends Data.TaggedError("MigrationFilesInvalid")<{
  readonly directory: string
  readonly reason: string
}> {
  override get message(): string {
    return `Migrations in ${this.directory}: ${this.reason}`
  }
}

/**
 * One migration file.
 *
 * @category models
 */
export interface MigrationFile {
  /** The file name, e.g. `0001_init.sql`. */
  readonly name: string
  readonly text: string
  /** SHA-256 of the text with line endings normalised to `\n`. */
  readonly checksum: string
}

/**
 * What `run` did.
 *
 * @category models
 */
export interface MigrateResult {
  /** Applied by this call, in order. */
  readonly applied: ReadonlyArray<string>
  /** Already applied before (by an earlier start or a concurrent process). */
  readonly skipped: ReadonlyArray<string>
}

const NAME = /^(\d{4})_[a-z0-9_]+\.sql$/

const checksumOf = (text: string) => createHash("sha256").update(text.replace(/\r\n/g, "\n")).digest("hex")

/**
 * Reads the migration files of `dir` (the package's own by default), in order.
 *
 * @category constructors
 */
export const files = (
  dir: string = directory,
): Effect.Effect<ReadonlyArray<MigrationFile>, MigrationFilesInvalid> =>
  Effect.gen(function* () {
    const invalid = (reason: string) => new MigrationFilesInvalid({ directory: dir, reason })
    const names = yield* Effect.tryPromise({
      try: () => readdir(dir),
      catch: (cause) => invalid(`cannot read the directory: ${String(cause)}`),
    })
    const sql = names.filter((n) => n.endsWith(".sql")).sort()
    const numbers = new Set<string>()
    const result: Array<MigrationFile> = []
    for (const name of sql) {
      const match = NAME.exec(name)
      if (match === null) return yield* Effect.fail(invalid(`${name} is not named like 0001_name.sql`))
      const number = match[1] ?? ""
      if (numbers.has(number)) return yield* Effect.fail(invalid(`two migrations are numbered ${number}`))
      numbers.add(number)
      const text = yield* Effect.tryPromise({
        try: () => readFile(join(dir, name), "utf8"),
        catch: (cause) => invalid(`cannot read ${name}: ${String(cause)}`),
      })
      result.push({ name, text, checksum: checksumOf(text) })
    }
    return result
  })

/** "weft" as a number: the key of the advisory lock that serialises migrations on Postgres. */
const LOCK_KEY = 0x77656674

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS weft_migrations (
  name text PRIMARY KEY,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

/**
 * Applies the migrations of `options.directory` (the package's own by default) that the database lacks.
 *
 * @category constructors
 */
export const run = (
  options: { readonly directory?: string } = {},
): Effect.Effect<MigrateResult, MigrationChanged | MigrationFilesInvalid | SqlError, Sql> =>
  Effect.gen(function* () {
    const sql = yield* Sql
    const migrations = yield* files(options.directory)
    const exists = yield* sql.query<{ found: boolean }>(
      "SELECT to_regclass('weft_migrations') IS NOT NULL AS found",
    )
    const recorded = new Map<string, string>()
    if (exists[0]?.found === true) {
      const rows = yield* sql.query<{ name: string; checksum: string }>(
        "SELECT name, checksum FROM weft_migrations",
      )
      for (const row of rows) recorded.set(row.name, row.checksum)
    }
    const applied: Array<string> = []
    const skipped: Array<string> = []
    for (const migration of migrations) {
      const known = recorded.get(migration.name)
      if (known !== undefined) {
        if (known !== migration.checksum) {
          return yield* new MigrationChanged({
            name: migration.name,
            recorded: known,
            current: migration.checksum,
          })
        }
        skipped.push(migration.name)
        continue
      }
      const outcome = yield* sql.transaction((tx) =>
        Effect.gen(function* () {
          if (sql.dialect === "postgres") yield* tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`)
          yield* tx.query(CREATE_TABLE)
          // Re-read under the lock: another process may have applied it meanwhile.
          const rows = yield* tx.query<{ checksum: string }>(
            "SELECT checksum FROM weft_migrations WHERE name = $1",
            [migration.name],
          )
          const row = rows[0]
          if (row !== undefined) {
            if (row.checksum !== migration.checksum) {
              return yield* new MigrationChanged({
                name: migration.name,
                recorded: row.checksum,
                current: migration.checksum,
              })
            }
            return "skipped" as const
          }
          yield* tx.script(migration.text)
          yield* tx.query("INSERT INTO weft_migrations (name, checksum) VALUES ($1, $2)", [
            migration.name,
            migration.checksum,
          ])
          return "applied" as const
        }),
      )
      ;(outcome === "applied" ? applied : skipped).push(migration.name)
    }
    return { applied, skipped }
  })

/**
 * A layer that applies the package's migrations when it is built. Put it before the stores.
 *
 * @category layers
 */
export const layer: Layer.Layer<never, MigrationChanged | MigrationFilesInvalid | SqlError, Sql> =
  Layer.effectDiscard(run())
