/**
 * Test databases: a fresh Postgres database per test file (on the local server), or a fresh PGlite data
 * directory in a temp folder. Nothing is mocked.
 */
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite } from "@electric-sql/pglite"
import type { RunStore } from "@weft/engine"
import { type Effect, Layer, ManagedRuntime } from "effect"
import postgres from "postgres"
import {
  GraphStore,
  Migrations,
  PgRunStore,
  type PostgresOptions,
  RunQueries,
  Sql,
  type SqlError,
} from "../../src/index.js"

/** The local Postgres server's maintenance database. */
export const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"

export type Driver = "postgres" | "pglite"

/** Both drivers, for `describe.each`. */
export const drivers: ReadonlyArray<Driver> = ["postgres", "pglite"]

export interface TestDatabase {
  readonly driver: Driver
  /** Postgres: the database's URL. */
  readonly url: string | undefined
  /** PGlite: the data directory. */
  readonly dir: string | undefined
  /**
   * A new `Sql` layer on this database: a new pool (Postgres) or a new instance (PGlite) each time it is
   * built. Only one PGlite instance may have the directory open at a time.
   */
  readonly layer: (options?: PostgresOptions) => Layer.Layer<Sql, SqlError>
  /** Drops the database or deletes the directory. */
  readonly drop: () => Promise<void>
}

const randomName = () => `weft_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`

/** Runs `f` on a short-lived connection to the maintenance database. */
export const withAdmin = async <A>(f: (sql: postgres.Sql) => Promise<A>): Promise<A> => {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    return await f(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/**
 * A fresh, initialised PGlite data directory costs ≈3 s (initdb); a copy of one costs ≈0.3 s. The first test
 * process that needs one makes a template tarball in the temp folder (written under a unique name, then
 * renamed, so concurrent test files never read half a file).
 */
const pgliteTemplate = async (): Promise<Blob> => {
  const folder = join(tmpdir(), "weft-test-templates")
  const file = join(folder, "pglite-0.5.16-empty.tar")
  try {
    return new Blob([await readFile(file)])
  } catch {
    const db = await PGlite.create()
    const dump = await db.dumpDataDir("none")
    await db.close()
    await mkdir(folder, { recursive: true })
    const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()))
    await rename(partial, file)
    return dump
  }
}

/** A new empty database for one test file. */
export const createDatabase = async (driver: Driver): Promise<TestDatabase> => {
  if (driver === "postgres") {
    const name = randomName()
    await withAdmin((sql) => sql.unsafe(`CREATE DATABASE ${name}`))
    const url = `postgres://postgres@127.0.0.1:5432/${name}`
    return {
      driver,
      url,
      dir: undefined,
      layer: (options = {}) => Sql.layerPostgres(url, { max: 10, ...options }),
      drop: () =>
        withAdmin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "weft-pglite-"))
  // Load the template into the directory once; later instances just open it.
  const seeded = await PGlite.create({ dataDir: dir, loadDataDir: await pgliteTemplate() })
  await seeded.close()
  return {
    driver,
    url: undefined,
    dir,
    layer: () => Sql.layerPglite(dir),
    drop: () => rm(dir, { recursive: true, force: true }),
  }
}

/** `Sql` with the migrations applied, and the three stores on it. */
export type Stores = Sql | RunStore | GraphStore | RunQueries

/** The stores over a `Sql` layer, after the migrations. */
export const storesLayer = (sql: Layer.Layer<Sql, SqlError>) =>
  Layer.mergeAll(PgRunStore.layer, GraphStore.layer, RunQueries.layer).pipe(
    Layer.provideMerge(Migrations.layer),
    Layer.provideMerge(sql),
  )

/** A runtime with the stores on a new pool or instance of `db`; dispose it to close the pool or instance. */
export const storesRuntime = (db: TestDatabase) => ManagedRuntime.make(Layer.orDie(storesLayer(db.layer())))

/** Runs a query on the runtime's `Sql`. */
export const rows = <Row = Record<string, unknown>>(
  runtime: { readonly runPromise: <A, E>(effect: Effect.Effect<A, E, Sql>) => Promise<A> },
  text: string,
  params?: ReadonlyArray<unknown>,
): Promise<ReadonlyArray<Row>> => runtime.runPromise(Sql.use((sql) => sql.query<Row>(text, params)))
