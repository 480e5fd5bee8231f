/**
 * The Weft host in one call: the database (Postgres at `databaseUrl`, else PGlite in `dataDir`), its
 * migrations, the stores, the run service (which resumes unfinished runs), and the HTTP API.
 *
 * @example
 * ```ts
 * const host = await startHost({ dataDir: "./.weft/data", port: 8787 })
 * console.log(host.url) // http://127.0.0.1:8787
 * await host.close()    // runs in flight stay unfinished and resume on the next start
 * ```
 *
 * @since 0.1.0
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { Cause, Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { SECRET_FILE } from "./Auth.js"
import { CredentialStore } from "./credentials/CredentialStore.js"
import { type CredentialKeyOptions, KEY_FILE } from "./credentials/Keys.js"
import { runServiceLayer } from "./credentials/resolver.js"
import { GraphStore } from "./GraphStore.js"
import * as Migrations from "./Migrations.js"
import * as Logging from "./ops/Logging.js"
import { RunQueue } from "./Queue.js"
import { RunQueries } from "./RunQueries.js"
import { RunService, type RunServiceOptions } from "./RunService.js"
import * as Server from "./Server.js"
import { Sql } from "./Sql.js"
import * as Triggers from "./triggers/schedules/Triggers.js"
import { WebhookStore } from "./triggers/webhooks/WebhookStore.js"

/**
 * How to start a host.
 *
 * @category models
 */
export interface HostOptions extends Server.ServerOptions {
  /** A Postgres URL: when set, the host uses Postgres instead of PGlite. */
  readonly databaseUrl?: string
  /** PGlite's data directory (created when missing). Default `./.weft/data`. Ignored with `databaseUrl`. */
  readonly dataDir?: string
  /** Blocks, resources and credentials of the executor. */
  readonly runs?: RunServiceOptions
  /** Resume the runs a previous process left unfinished (default true; never with `queue: "workers"`). */
  readonly resume?: boolean
  /**
   * Who drives runs: this process (`"inline"`, the default), or `weft worker` processes (`"workers"`, needs
   * `databaseUrl`): a start enqueues a graphile-worker job, and recovery is the workers' (heartbeats).
   */
  readonly queue?: "inline" | "workers"
  /**
   * The key that seals stored credentials (`WEFT_CREDENTIALS_KEY`) and previous keys. An embedded (PGlite)
   * host generates one into `<dataDir>/weft-credentials-key` when none is given; a Postgres host without a
   * key cannot store or use credentials (`weft serve` refuses to start without one).
   */
  readonly credentials?: CredentialKeyOptions
  /**
   * Schedules: this process fires them with a timer unless `queue` is `"workers"` (then the workers' jobs
   * do); the timer's longest sleep, the clock, and when an interrupted fire is started again.
   */
  readonly schedules?: Triggers.ScheduleOptions
}

/** The default PGlite data directory of `weft serve`. */
export const DEFAULT_DATA_DIR = "./.weft/data"

/**
 * A running host.
 *
 * @category models
 */
export interface RunningHost {
  /** The server's base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string
  readonly port: number
  /** `postgres` or `pglite`. */
  readonly database: "postgres" | "pglite"
  /** The runs resumed at start-up. */
  readonly resumed: ReadonlyArray<string>
  /**
   * Stops accepting requests, ends event streams, interrupts runs without cancelling them (they resume on
   * the next start) and closes the database.
   */
  readonly close: () => Promise<void>
}

/**
 * The database layer for these options.
 *
 * @category layers
 */
export const sqlLayer = (options: HostOptions): Layer.Layer<Sql, unknown> => {
  if (options.databaseUrl !== undefined && options.databaseUrl !== "") {
    return Sql.layerPostgres(options.databaseUrl, { applicationName: "weft-host" })
  }
  const dir = options.dataDir ?? DEFAULT_DATA_DIR
  return Layer.unwrap(
    Effect.sync(() => {
      mkdirSync(dir, { recursive: true })
      return Sql.layerPglite(dir)
    }),
  )
}

/** An embedded (PGlite) host keeps a generated session secret in its data directory, so sessions survive restarts. */
const serverOptions = (options: HostOptions): Server.ServerOptions =>
  options.databaseUrl !== undefined && options.databaseUrl !== ""
    ? options
    : {
        ...options,
        auth: { secretFile: join(options.dataDir ?? DEFAULT_DATA_DIR, SECRET_FILE), ...options.auth },
      }

/** An embedded (PGlite) host keeps a generated credentials key in its data directory when none is given. */
const credentialOptions = (options: HostOptions): CredentialKeyOptions =>
  options.databaseUrl !== undefined && options.databaseUrl !== ""
    ? (options.credentials ?? {})
    : { keyFile: join(options.dataDir ?? DEFAULT_DATA_DIR, KEY_FILE), ...options.credentials }

/**
 * Everything but the database: migrations, stores, the run service and the HTTP server.
 *
 * @category layers
 */
export const layerWithoutSql = (options: HostOptions) => {
  const stores = Layer.mergeAll(
    GraphStore.layer,
    RunQueries.layer,
    CredentialStore.layer(credentialOptions(options)),
    WebhookStore.layer(credentialOptions(options)),
  )
  const service =
    options.queue === "workers" && options.databaseUrl !== undefined && options.databaseUrl !== ""
      ? runServiceLayer(options.runs).pipe(Layer.provideMerge(RunQueue.layer(options.databaseUrl)))
      : runServiceLayer(options.runs)
  const runs = service.pipe(Layer.provideMerge(stores))
  const triggers = Triggers.layer({ ...options.schedules, timer: options.queue !== "workers" }).pipe(
    Layer.provideMerge(runs),
  )
  return Server.layer(serverOptions(options)).pipe(
    Layer.provideMerge(triggers),
    Layer.provideMerge(Migrations.layer),
  )
}

/**
 * Starts a host: migrations, recovery of unfinished runs, then the server.
 *
 * @category constructors
 */
export const startHost = async (options: HostOptions = {}): Promise<RunningHost> => {
  const scope = Effect.runSync(Scope.make())
  if (options.queue === "workers" && (options.databaseUrl === undefined || options.databaseUrl === "")) {
    throw new Error('The host did not start: queue "workers" needs a Postgres databaseUrl')
  }
  const layer = layerWithoutSql(options).pipe(Layer.provideMerge(sqlLayer(options)))
  const exit = await Effect.runPromiseExit(
    Effect.gen(function* () {
      const context = yield* Layer.buildWithScope(layer, scope)
      const runs = Context.get(context, RunService)
      const sql = Context.get(context, Sql)
      const server = Context.get(context, HttpServer.HttpServer)
      const resumed =
        options.resume === false || options.queue === "workers" ? [] : yield* runs.resumeUnfinished
      return { runs, sql, server, resumed }
    }).pipe(Logging.provide(options.logging)),
  )
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw new Error(`The host did not start: ${causeMessage(exit.cause)}`)
  }
  const { runs, sql, server, resumed } = exit.value
  const address = server.address
  const port = address._tag === "UnixPathAddress" ? 0 : address.port
  let closing: Promise<void> | undefined
  return {
    url: Server.urlOf(server.address),
    port,
    database: sql.dialect,
    resumed,
    close: () => {
      closing ??= Effect.runPromise(
        Effect.andThen(runs.shutdown, Scope.close(scope, Exit.void)).pipe(Logging.provide(options.logging)),
      )
      return closing
    },
  }
}

const causeMessage = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}
