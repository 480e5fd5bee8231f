import { Cause, Deferred, Effect, Exit, Fiber, Layer, ManagedRuntime, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Sql, type SqlShape } from "../src/index.js"
import { createDatabase, drivers, type TestDatabase, withAdmin } from "./support/db.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it is true or `ms` pass. */
const eventually = async (check: () => boolean | Promise<boolean>, ms = 3000) => {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) return false
    await sleep(10)
  }
  return true
}

describe.each(drivers)("Sql on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Sql, unknown>
  const run = <A, E>(effect: Effect.Effect<A, E, Sql>) => runtime.runPromise(effect)
  const runExit = <A, E>(effect: Effect.Effect<A, E, Sql>) => runtime.runPromiseExit(effect)
  const query = <Row = Record<string, unknown>>(text: string, params?: ReadonlyArray<unknown>) =>
    run(Sql.use((sql) => sql.query<Row>(text, params)))
  const count = async (table: string) =>
    (await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]?.n

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = ManagedRuntime.make(db.layer())
    await run(
      Sql.use((sql) =>
        sql.script(`
          CREATE TABLE items (id integer PRIMARY KEY, label text NOT NULL);
          CREATE TABLE parents (id integer PRIMARY KEY);
          CREATE TABLE children (
            id integer PRIMARY KEY,
            parent_id integer NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED
          );
        `),
      ),
    )
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  it("reports its dialect and exposes the driver for Kysely", async () => {
    const sql = await run(Sql.useSync((sql) => sql))
    expect(sql.dialect).toBe(driver)
    expect(sql.raw.kind).toBe(driver)
    const viaRaw =
      sql.raw.kind === "postgres"
        ? await sql.raw.sql.unsafe("SELECT 40 + 2 AS n")
        : (await sql.raw.db.query<{ n: number }>("SELECT 40 + 2 AS n")).rows
    expect(viaRaw[0]?.n).toBe(42)
  })

  it("passes parameters and parses rows the same way on both drivers", async () => {
    const rows = await query(
      `SELECT $1::text AS t, $2::int AS i, $3::float8 AS f, $4::boolean AS b, $5::text AS n,
         $6::jsonb AS j, $7::jsonb AS s, $8::bytea AS bytes, 9007199254740993::int8 AS big, 42::int8 AS small,
         '2024-01-02T03:04:05.678Z'::timestamptz AS at, $9::jsonb AS nul`,
      [
        "héllo ✓",
        7,
        1.5,
        true,
        undefined,
        Sql.json({ a: [1, "x", null], nested: { deep: true } }),
        Sql.json("plain text"),
        new Uint8Array([0, 1, 255]),
        Sql.json({ text: "a\u0000b" }),
      ],
    )
    expect(rows).toEqual([
      {
        t: "héllo ✓",
        i: 7,
        f: 1.5,
        b: true,
        n: null,
        j: { a: [1, "x", null], nested: { deep: true } },
        s: "plain text",
        bytes: new Uint8Array([0, 1, 255]),
        big: 9007199254740993n,
        small: 42,
        at: new Date("2024-01-02T03:04:05.678Z"),
        nul: { text: "a\uFFFDb" },
      },
    ])
    expect(Array.isArray(rows)).toBe(true)
    expect(Object.keys(rows)).toEqual(["0"])
  })

  it("round-trips bytea of any size, empty and large included, and compares it in SQL", async () => {
    const large = new Uint8Array(300_000)
    for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 256
    for (const bytes of [new Uint8Array(0), new Uint8Array([0]), new Uint8Array([255, 0, 92, 120]), large]) {
      const rows = await run(
        Sql.use((sql) =>
          sql.query<{ back: Uint8Array; length: number; head: string }>(
            "SELECT $1::bytea AS back, octet_length($1::bytea) AS length, encode(substring($1::bytea FROM 1 FOR 2), 'hex') AS head",
            [bytes],
          ),
        ),
      )
      const row = rows[0]
      expect(row?.length).toBe(bytes.length)
      expect(row?.head).toBe(Buffer.from(bytes.subarray(0, 2)).toString("hex"))
      expect(Buffer.from(row?.back ?? new Uint8Array()).equals(Buffer.from(bytes))).toBe(true)
    }
  })

  it("fails with a SqlError that carries the SQLSTATE", async () => {
    await query("INSERT INTO items (id, label) VALUES (1, 'one')")
    const duplicate = await runExit(
      Sql.use((sql) => sql.query("INSERT INTO items (id, label) VALUES (1, 'again')")),
    )
    const syntax = await runExit(Sql.use((sql) => sql.query("SELEKT 1")))
    const errorOf = (exit: Exit.Exit<unknown, unknown>) =>
      Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(errorOf(duplicate)).toMatchObject({ _tag: "SqlError", code: "23505" })
    expect(errorOf(syntax)).toMatchObject({ _tag: "SqlError", code: "42601", query: "SELEKT 1" })
  })

  it("commits a transaction's statements together, on one connection", async () => {
    const pids = await run(
      Sql.use((sql) =>
        sql.transaction((tx) =>
          Effect.gen(function* () {
            const first = yield* tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")
            yield* tx.query("INSERT INTO items (id, label) VALUES (10, 'ten'), (11, 'eleven')")
            const second = yield* tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")
            const seen = yield* tx.query<{ n: number }>("SELECT count(*)::int AS n FROM items WHERE id >= 10")
            expect(seen[0]?.n).toBe(2)
            return [first[0]?.pid, second[0]?.pid]
          }),
        ),
      ),
    )
    expect(pids[0]).toBeTypeOf("number")
    expect(pids[0]).toBe(pids[1])
    expect(await query("SELECT id, label FROM items WHERE id >= 10 ORDER BY id")).toEqual([
      { id: 10, label: "ten" },
      { id: 11, label: "eleven" },
    ])
  })

  it("rolls back when the transaction fails", async () => {
    const exit = await runExit(
      Sql.use((sql) =>
        sql.transaction((tx) =>
          Effect.gen(function* () {
            yield* tx.query("INSERT INTO items (id, label) VALUES (20, 'twenty')")
            return yield* Effect.fail("boom" as const)
          }),
        ),
      ),
    )
    expect(exit).toEqual(Exit.fail("boom"))
    expect(await query("SELECT id FROM items WHERE id = 20")).toEqual([])
  })

  it("rolls back when the transaction dies", async () => {
    const exit = await runExit(
      Sql.use((sql) =>
        sql.transaction((tx) =>
          Effect.gen(function* () {
            yield* tx.query("INSERT INTO items (id, label) VALUES (21, 'twenty-one')")
            return yield* Effect.die(new Error("defect"))
          }),
        ),
      ),
    )
    expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
    expect(await query("SELECT id FROM items WHERE id = 21")).toEqual([])
  })

  it("rolls back when the transaction is interrupted, and the connection stays usable", async () => {
    const exit = await run(
      Effect.gen(function* () {
        const sql = yield* Sql
        const inserted = yield* Deferred.make<void>()
        const fiber = yield* Effect.forkChild(
          sql.transaction((tx) =>
            Effect.gen(function* () {
              yield* tx.query("INSERT INTO items (id, label) VALUES (22, 'twenty-two')")
              yield* Deferred.succeed(inserted, undefined)
              return yield* Effect.never
            }),
          ),
        )
        yield* Deferred.await(inserted)
        yield* Fiber.interrupt(fiber)
        return yield* Fiber.await(fiber)
      }),
    )
    expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
    expect(await query("SELECT id FROM items WHERE id = 22")).toEqual([])
    expect(await query("SELECT 1 AS one")).toEqual([{ one: 1 }])
  })

  it("keeps statements from outside a transaction out of it", async () => {
    // On PGlite (one connection) the outside insert waits for the transaction; on Postgres it runs on another
    // connection. Either way the rollback must not take it along.
    await run(
      Effect.gen(function* () {
        const sql = yield* Sql
        let outside: Fiber.Fiber<unknown, unknown> | undefined
        const exit = yield* Effect.exit(
          sql.transaction((tx) =>
            Effect.gen(function* () {
              yield* tx.query("INSERT INTO items (id, label) VALUES (30, 'inside')")
              outside = yield* Effect.forkDetach(
                sql.query("INSERT INTO items (id, label) VALUES (31, 'outside')"),
              )
              yield* Effect.sleep(50)
              return yield* Effect.fail("abort")
            }),
          ),
        )
        expect(exit).toEqual(Exit.fail("abort"))
        if (outside !== undefined) yield* Fiber.join(outside)
      }),
    )
    expect(await query("SELECT id, label FROM items WHERE id IN (30, 31) ORDER BY id")).toEqual([
      { id: 31, label: "outside" },
    ])
  })

  it("fails with a SqlError when COMMIT fails, and nothing is written", async () => {
    const exit = await runExit(
      Sql.use((sql) =>
        sql.transaction((tx) => tx.query("INSERT INTO children (id, parent_id) VALUES (1, 999)")),
      ),
    )
    expect(Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined).toMatchObject({
      _tag: "SqlError",
      code: "23503",
    })
    expect(await count("children")).toBe(0)
  })

  it("runs a script of several statements", async () => {
    await run(
      Sql.use((sql) =>
        sql.script(`
          CREATE TABLE scripted (n integer);
          INSERT INTO scripted VALUES (1), (2);
          INSERT INTO scripted VALUES (3);
        `),
      ),
    )
    expect(await count("scripted")).toBe(3)
  })

  it("delivers notifications to listeners until their scope closes", async () => {
    const received: Array<string> = []
    const sql: SqlShape = await run(Sql.useSync((sql) => sql))
    const scope = await Effect.runPromise(Scope.make())
    await Effect.runPromise(Scope.provide(scope)(sql.listen("weft_test_channel", (p) => received.push(p))))
    await run(sql.notify("weft_test_channel", "first"))
    expect(await eventually(() => received.length === 1)).toBe(true)
    expect(received).toEqual(["first"])
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await run(sql.notify("weft_test_channel", "after close"))
    await sleep(150)
    expect(received).toEqual(["first"])
  })

  it("delivers a notification sent in a transaction on commit only", async () => {
    const received: Array<string> = []
    await run(
      Effect.scoped(
        Effect.gen(function* () {
          const sql = yield* Sql
          yield* sql.listen("weft_tx_channel", (p) => received.push(p))
          yield* Effect.exit(
            sql.transaction((tx) =>
              Effect.andThen(
                tx.query("SELECT pg_notify('weft_tx_channel', 'rolled back')"),
                Effect.fail("abort"),
              ),
            ),
          )
          yield* sql.transaction((tx) => tx.query("SELECT pg_notify('weft_tx_channel', 'committed')"))
          yield* Effect.promise(() => eventually(() => received.length > 0))
          yield* Effect.sleep(100)
        }),
      ),
    )
    expect(received).toEqual(["committed"])
  })

  it("refuses a channel name that is not a lowercase identifier", async () => {
    const exit = await runExit(Sql.use((sql) => sql.notify("Bad-Channel; DROP", "x")))
    expect(Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined).toMatchObject({ _tag: "SqlError" })
  })

  if (driver === "postgres") {
    it("carries notifications across pools", async () => {
      const received: Array<string> = []
      const other = ManagedRuntime.make(db.layer({ max: 1 }))
      try {
        await run(
          Effect.scoped(
            Effect.gen(function* () {
              const sql = yield* Sql
              yield* sql.listen("weft_cross_channel", (p) => received.push(p))
              yield* Effect.promise(() =>
                other.runPromise(Sql.use((o) => o.notify("weft_cross_channel", "from another pool"))),
              )
              yield* Effect.promise(() => eventually(() => received.length > 0))
            }),
          ),
        )
      } finally {
        await other.dispose()
      }
      expect(received).toEqual(["from another pool"])
    })

    it("closes every connection of its pool when the layer closes", async () => {
      const name = `weft_leak_${Math.random().toString(36).slice(2, 10)}`
      const connections = () =>
        withAdmin(async (admin) => {
          const rows =
            await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${name}`
          return rows[0]?.n as number
        })
      const pool = ManagedRuntime.make(db.layer({ max: 4, applicationName: name }))
      await pool.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* Sql
            yield* sql.listen("weft_leak_channel", () => {})
            yield* Effect.all(
              Array.from({ length: 8 }, () => sql.query("SELECT pg_sleep(0.05)")),
              { concurrency: "unbounded" },
            )
          }),
        ),
      )
      // Listening and the parallel queries opened several connections…
      expect(await connections()).toBeGreaterThanOrEqual(2)
      await pool.dispose()
      // …and closing the layer ended every one of them.
      expect(await eventually(async () => (await connections()) === 0)).toBe(true)
    })
  } else {
    it("closes the instance when the layer closes, keeping its data in the directory", async () => {
      // The file's own runtime has the directory open: close it, then use a fresh instance.
      await runtime.dispose()
      const first = ManagedRuntime.make(db.layer())
      const sql = await first.runPromise(Sql.useSync((sql) => sql))
      await first.runPromise(sql.query("INSERT INTO items (id, label) VALUES (40, 'persisted')"))
      await first.dispose()
      const afterClose = await Effect.runPromiseExit(sql.query("SELECT 1"))
      expect(Exit.isFailure(afterClose) ? Cause.squash(afterClose.cause) : undefined).toMatchObject({
        _tag: "SqlError",
      })
      runtime = ManagedRuntime.make(db.layer())
      expect(await query("SELECT label FROM items WHERE id = 40")).toEqual([{ label: "persisted" }])
    })

    it("opens an in-memory PGlite when no directory is given", { timeout: 60_000 }, async () => {
      const memory = ManagedRuntime.make(Layer.orDie(Sql.layerPglite(undefined)))
      try {
        const rows = await memory.runPromise(Sql.use((sql) => sql.query<{ n: number }>("SELECT 2 * 21 AS n")))
        expect(rows).toEqual([{ n: 42 }])
      } finally {
        await memory.dispose()
      }
    })
  }
})
