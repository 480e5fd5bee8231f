import { createHash } from "node:crypto"
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit, ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Migrations, Sql } from "../src/index.js"
import { createDatabase, drivers, type TestDatabase } from "./support/db.js"

/** The migrations the package ships, in order: a new one is added here once. */
const SHIPPED = [
  "0001_init.sql",
  "0002_workers.sql",
  "0003_run_control.sql",
  "0004_credentials.sql",
  "0005_presets_schedules.sql",
  "0006_webhooks.sql",
  "0007_run_node_inputs.sql",
  "0008_collab.sql",
]

const TABLES = [
  "credentials",
  "files",
  "graph_docs",
  "graph_shares",
  "graph_versions",
  "graphs",
  "node_executions",
  "node_outputs",
  "presets",
  "run_decisions",
  "run_events",
  "run_leases",
  "run_requests",
  "runs",
  "schedule_runs",
  "schedules",
  "webhook_deliveries",
  "webhooks",
  "weft_migrations",
  "weft_workers",
]

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe.each(drivers)("Migrations on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Sql, unknown>
  let dir: string
  const run = <A, E>(effect: Effect.Effect<A, E, Sql>) => runtime.runPromise(effect)
  const query = <Row = Record<string, unknown>>(text: string, params?: ReadonlyArray<unknown>) =>
    run(Sql.use((sql) => sql.query<Row>(text, params)))

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = ManagedRuntime.make(db.layer())
    dir = await mkdtemp(join(tmpdir(), "weft-migrations-"))
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it("applies the package's migrations once, in order, and records each with its checksum", async () => {
    const first = await run(Migrations.run())
    expect(first).toEqual({
      applied: SHIPPED,
      skipped: [],
    })
    const tables = await query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    expect(tables.map((t) => t.name)).toEqual(TABLES)
    const text = await readFile(join(Migrations.directory, "0001_init.sql"), "utf8")
    const checksum = createHash("sha256").update(text).digest("hex")
    expect(await query("SELECT name, checksum FROM weft_migrations WHERE name = '0001_init.sql'")).toEqual([
      { name: "0001_init.sql", checksum },
    ])
    const again = await run(Migrations.run())
    expect(again).toEqual({
      applied: [],
      skipped: SHIPPED,
    })
    expect(await query("SELECT count(*)::int AS n FROM weft_migrations")).toEqual([
      { n: first.applied.length },
    ])
  })

  it("reads the shipped migration files in order", async () => {
    const files = await Effect.runPromise(Migrations.files())
    expect(files.map((f) => f.name)[0]).toBe("0001_init.sql")
    expect(files.map((f) => f.name)).toEqual([...files.map((f) => f.name)].sort())
  })

  it("applies a new migration, then refuses it once its file changed", async () => {
    await cp(Migrations.directory, dir, { recursive: true })
    await writeFile(
      join(dir, "0090_extra.sql"),
      "CREATE TABLE extra (n integer);\nINSERT INTO extra VALUES (1);\n",
    )
    expect(await run(Migrations.run({ directory: dir }))).toEqual({
      applied: ["0090_extra.sql"],
      skipped: SHIPPED,
    })
    await writeFile(join(dir, "0090_extra.sql"), "CREATE TABLE extra (n bigint);\n")
    await writeFile(join(dir, "0091_later.sql"), "CREATE TABLE later (n integer);\n")
    const exit = await runtime.runPromiseExit(Migrations.run({ directory: dir }))
    expect(failureOf(exit)).toMatchObject({ _tag: "MigrationChanged", name: "0090_extra.sql" })
    // Nothing after the changed migration ran.
    expect(await query("SELECT to_regclass('later') IS NULL AS missing")).toEqual([{ missing: true }])
    expect(await query("SELECT n FROM extra")).toEqual([{ n: 1 }])
  })

  it("rolls back a migration that fails part-way, and does not record it", async () => {
    const broken = await mkdtemp(join(tmpdir(), "weft-migrations-broken-"))
    try {
      await cp(Migrations.directory, broken, { recursive: true })
      await writeFile(join(broken, "0090_broken.sql"), "CREATE TABLE half_done (n integer);\nSELEKT 1;\n")
      const exit = await runtime.runPromiseExit(Migrations.run({ directory: broken }))
      expect(failureOf(exit)).toMatchObject({ _tag: "SqlError", code: "42601" })
      expect(await query("SELECT to_regclass('half_done') IS NULL AS missing")).toEqual([{ missing: true }])
      expect(await query("SELECT name FROM weft_migrations WHERE name = '0090_broken.sql'")).toEqual([])
    } finally {
      await rm(broken, { recursive: true, force: true })
    }
  })

  it("refuses badly named or duplicated migration files", async () => {
    const bad = await mkdtemp(join(tmpdir(), "weft-migrations-bad-"))
    try {
      await writeFile(join(bad, "0001_a.sql"), "SELECT 1;")
      await writeFile(join(bad, "0001_b.sql"), "SELECT 1;")
      expect(failureOf(await Effect.runPromiseExit(Migrations.files(bad)))).toMatchObject({
        _tag: "MigrationFilesInvalid",
        reason: "two migrations are numbered 0001",
      })
      await rm(join(bad, "0001_b.sql"))
      await writeFile(join(bad, "2_init.sql"), "SELECT 1;")
      expect(failureOf(await Effect.runPromiseExit(Migrations.files(bad)))).toMatchObject({
        _tag: "MigrationFilesInvalid",
      })
    } finally {
      await rm(bad, { recursive: true, force: true })
    }
  })

  if (driver === "postgres") {
    it("applies each migration once when two processes migrate at the same time", async () => {
      const fresh = await createDatabase("postgres")
      const slow = await mkdtemp(join(tmpdir(), "weft-migrations-slow-"))
      try {
        await cp(Migrations.directory, slow, { recursive: true })
        // Slow enough that both callers are inside `run` together; a second application would fail (the
        // table exists) or insert a second row.
        await writeFile(
          join(slow, "0090_slow.sql"),
          "SELECT pg_sleep(0.3);\nCREATE TABLE once (n integer);\nINSERT INTO once VALUES (1);\n",
        )
        const a = ManagedRuntime.make(fresh.layer({ max: 2 }))
        const b = ManagedRuntime.make(fresh.layer({ max: 2 }))
        try {
          const [ra, rb] = await Promise.all([
            a.runPromise(Migrations.run({ directory: slow })),
            b.runPromise(Migrations.run({ directory: slow })),
          ])
          const names = [...SHIPPED, "0090_slow.sql"]
          expect([...ra.applied, ...rb.applied].sort()).toEqual(names)
          expect([...ra.skipped, ...rb.skipped].sort()).toEqual(names)
          const recorded = await a.runPromise(
            Sql.use((sql) => sql.query("SELECT name FROM weft_migrations ORDER BY name")),
          )
          expect(recorded).toEqual(names.map((name) => ({ name })))
          expect(await a.runPromise(Sql.use((sql) => sql.query("SELECT n FROM once")))).toEqual([{ n: 1 }])
        } finally {
          await a.dispose()
          await b.dispose()
        }
      } finally {
        await fresh.drop()
        await rm(slow, { recursive: true, force: true })
      }
    })
  }
})
