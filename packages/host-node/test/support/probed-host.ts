/**
 * A test host (PGlite in a temp directory, or a fresh Postgres database) built from the same layers as
 * `startHost`, with its `Sql` service kept so that the tests can read the database it writes: on PGlite the
 * one instance is the host's own, so a second one could not open the directory.
 */
import { randomBytes } from "node:crypto"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { type HostOptions, layerWithoutSql, sqlLayer } from "../../src/Host.js"
import { RunService } from "../../src/RunService.js"
import * as Server from "../../src/Server.js"
import { Sql } from "../../src/Sql.js"
import { freshDatabase, TEST_SECRET, tempDir } from "../api-support.js"
import type { Driver } from "./db.js"

/** A running test host and a way to query its database. */
export interface ProbedHost {
  readonly driver: Driver
  readonly url: string
  /** Runs one statement on the host's database (the host's own connection pool or PGlite instance). */
  readonly query: <Row = Record<string, unknown>>(
    text: string,
    params?: ReadonlyArray<unknown>,
  ) => Promise<ReadonlyArray<Row>>
  /** Stops the host and removes its database. */
  readonly close: () => Promise<void>
}

/**
 * Starts a host on 127.0.0.1 and a free port with sign-in on, the run-start limit lifted (as
 * `startTestHost` does), a credentials key, and `options` over that.
 */
export const startProbedHost = async (
  driver: Driver,
  prefix: string,
  options: HostOptions = {},
): Promise<ProbedHost> => {
  const dir = driver === "pglite" ? tempDir(prefix) : undefined
  const db = driver === "postgres" ? await freshDatabase(prefix.replace(/\W/g, "_")) : undefined
  const full: HostOptions = {
    port: 0,
    host: "127.0.0.1",
    limits: { runStarts: { window: 60, max: 1_000_000 } },
    ...(db === undefined
      ? { dataDir: dir?.dir ?? "" }
      : {
          databaseUrl: db.url,
          auth: { secret: TEST_SECRET },
          credentials: { key: randomBytes(32).toString("base64") },
        }),
    ...options,
  }
  const scope = Effect.runSync(Scope.make())
  const dispose = async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await db?.drop()
    dir?.dispose()
  }
  const layer = layerWithoutSql(full).pipe(Layer.provideMerge(sqlLayer(full)))
  const exit = await Effect.runPromiseExit(
    Effect.gen(function* () {
      const context = yield* Layer.buildWithScope(layer, scope)
      return {
        sql: Context.get(context, Sql),
        runs: Context.get(context, RunService),
        server: Context.get(context, HttpServer.HttpServer),
      }
    }),
  )
  if (Exit.isFailure(exit)) {
    await dispose()
    throw new Error(`the test host did not start: ${String(exit.cause)}`)
  }
  const { sql, runs, server } = exit.value
  let closing: Promise<void> | undefined
  return {
    driver,
    url: Server.urlOf(server.address),
    query: <Row = Record<string, unknown>>(text: string, params?: ReadonlyArray<unknown>) =>
      Effect.runPromise(sql.query<Row>(text, params)),
    close: () => {
      closing ??= Effect.runPromise(runs.shutdown).then(dispose)
      return closing
    },
  }
}
