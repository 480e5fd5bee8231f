/**
 * `weft serve`: the Weft host on this machine. The API on PGlite in `./.weft/data` (or Postgres when
 * `DATABASE_URL` is set), with unfinished runs resumed at start-up.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { SafeHttp, SafeHttpClient } from "@weft/blocks"
import { Context } from "effect"
import type { AuthOptions } from "../Auth.js"
import { KEY_ENV, keyOptionsFromEnv } from "../credentials/Keys.js"
import { DEFAULT_DATA_DIR, type HostOptions, type RunningHost, startHost } from "../Host.js"
import * as Logging from "../ops/Logging.js"
import { DEFAULT_HOST, DEFAULT_PORT } from "../Server.js"
import { disabledBlocksOf } from "./disabled-blocks.js"

/**
 * The help text of `weft serve`.
 *
 * @category help
 */
export const SERVE_HELP = `Usage: weft serve [--port N] [--host ADDRESS] [--data DIR] [--allow host]… [--auth on|off]

Starts the Weft host: the HTTP API (OpenAPI document at /api/openapi.json) with live run events.

Options:
  -p, --port N        Port to listen on (default ${DEFAULT_PORT}, or the PORT environment variable; 0 picks a free one).
      --host ADDRESS  Interface to bind (default ${DEFAULT_HOST}).
  -d, --data DIR      PGlite data directory (default ${DEFAULT_DATA_DIR}, or WEFT_DATA_DIR).
      --allow host    Let HTTP and AI blocks reach this private host, address or CIDR range (e.g. 127.0.0.1
                      for a local model server). Repeatable.
      --inline        With DATABASE_URL: drive runs in this process instead of enqueueing them for workers.
      --auth on|off   Sign-in (default on, or WEFT_AUTH): every /api route but /api/auth/*, /api/openapi.json
                      and GET /api/blocks needs a session cookie from POST /api/auth/sign-up/email or
                      /api/auth/sign-in/email. "off" is a development mode for PGlite on a loopback
                      address only: every request acts as the one user "local".
  -h, --help          Show this help.

Environment:
  DATABASE_URL        Use this Postgres database instead of PGlite (e.g. postgres://postgres@127.0.0.1:5432/weft);
                      runs are then driven by "weft worker" processes.
  BETTER_AUTH_SECRET, WEFT_AUTH_SECRET
                      The secret that signs sessions (32+ characters). Required on Postgres; on PGlite one is
                      generated once and kept in DIR/weft-auth-secret.
  WEFT_CREDENTIALS_KEY
                      The key that encrypts stored credentials: 32 random bytes as base64 or hex (e.g.
                      \`openssl rand -base64 32\`), the same for every weft serve and weft worker. Required on
                      Postgres; on PGlite one is generated once and kept in DIR/weft-credentials-key.
  WEFT_CREDENTIALS_PREVIOUS_KEYS
                      Keys used before (comma-separated): what they encrypted is re-encrypted at start-up.
  WEFT_PUBLIC_URL     The URL browsers reach the server at (its origin may send requests with the cookie;
                      https makes the cookie Secure). Default: the address it listens on.
  WEFT_TRUSTED_PROXIES
                      Addresses of reverse proxies (comma-separated) whose X-Forwarded-For names the client,
                      for the sign-in limit per address. Default none: the socket address is the client's.
  OPENAI_BASE_URL, OPENAI_API_KEY
                      The model endpoint AI blocks call when a graph configures none.
  WEFT_LOG_FORMAT     json (one JSON object per line, the default when stdout is not a terminal) or pretty.
  WEFT_LOG_LEVEL      trace, debug, info (default), warn, error or none. Secrets are redacted from logs.
  WEFT_METRICS_TOKEN  When set, GET /metrics needs "Authorization: Bearer <token>" (open by default).
  REDIS_URL           Redis for co-editing across several weft serve processes (e.g. redis://127.0.0.1:6379):
                      each document's edits and presence reach the clients of every process.

Operations: GET /metrics (Prometheus text), GET /healthz (alive), GET /readyz (database and queue reachable).

Runs still going when the server stops (Ctrl-C, SIGTERM) are resumed on the next start.`

/** A bad argument: reported as one line, exit status 2. */
export class ServeUsageError extends Error {
  override readonly name = "ServeUsageError"
}

/**
 * Where `weft serve` writes.
 *
 * @category models
 */
export interface ServeIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

const parsePort = (text: string, where: string): number => {
  const port = Number(text)
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ServeUsageError(`${where} ${text}: expected a port number from 0 to 65535`)
  }
  return port
}

/**
 * Reads `weft serve`'s arguments and environment into host options, or throws `ServeUsageError`.
 *
 * @category parsing
 */
export const serveOptions = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  isTty: boolean = process.stdout.isTTY === true,
): { readonly help: boolean; readonly options: HostOptions } => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      port: { type: "string", short: "p" },
      host: { type: "string" },
      data: { type: "string", short: "d" },
      allow: { type: "string", multiple: true },
      auth: { type: "string" },
      inline: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  })
  if (values.help === true) return { help: true, options: {} }
  if (positionals.length > 0)
    throw new ServeUsageError(`weft serve takes no arguments (got ${positionals[0]})`)
  const port =
    values.port !== undefined
      ? parsePort(values.port, "--port")
      : env.PORT !== undefined && env.PORT !== ""
        ? parsePort(env.PORT, "PORT")
        : DEFAULT_PORT
  const dataDir =
    values.data ??
    (env.WEFT_DATA_DIR !== undefined && env.WEFT_DATA_DIR !== "" ? env.WEFT_DATA_DIR : DEFAULT_DATA_DIR)
  const allow = values.allow ?? []
  let resources: Context.Context<never> | undefined
  if (allow.length > 0) {
    try {
      resources = Context.make(SafeHttp, new SafeHttpClient({ allow })) as Context.Context<never>
    } catch (error) {
      throw new ServeUsageError(`--allow: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  const databaseUrl = env.DATABASE_URL !== undefined && env.DATABASE_URL !== "" ? env.DATABASE_URL : undefined
  const auth = authOptions(values.auth, env, databaseUrl, values.host ?? DEFAULT_HOST)
  const credentials = keyOptionsFromEnv(env)
  const logging = loggingOptions(env, isTty)
  const metricsToken = nonEmpty(env.WEFT_METRICS_TOKEN)
  const redisUrl = nonEmpty(env.REDIS_URL)
  return {
    help: false,
    options: {
      port,
      host: values.host ?? DEFAULT_HOST,
      dataDir,
      auth,
      credentials,
      logging,
      ...(metricsToken === undefined ? {} : { metrics: { token: metricsToken } }),
      ...(redisUrl === undefined ? {} : { collab: { redis: { url: redisUrl } } }),
      // With Postgres, `weft worker` processes drive the runs (`--inline`: this process does).
      ...(databaseUrl === undefined
        ? {}
        : { databaseUrl, queue: values.inline === true ? "inline" : "workers" }),
      runs: {
        ...(resources === undefined ? {} : { resources }),
        ...disabledBlocksOf(env),
      },
    },
  }
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === "" ? undefined : value

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"])

/** `WEFT_LOG_FORMAT` and `WEFT_LOG_LEVEL`. */
const loggingOptions = (env: Readonly<Record<string, string | undefined>>, isTty: boolean) => {
  try {
    return Logging.fromEnv(env, isTty)
  } catch (error) {
    throw new ServeUsageError(error instanceof Error ? error.message : String(error))
  }
}

/** `--auth`, `WEFT_AUTH`, the secret and the public URL. */
const authOptions = (
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  databaseUrl: string | undefined,
  host: string,
): AuthOptions => {
  const mode = flag ?? nonEmpty(env.WEFT_AUTH) ?? "on"
  const where = flag === undefined ? "WEFT_AUTH" : "--auth"
  if (mode !== "on" && mode !== "off") throw new ServeUsageError(`${where} ${mode}: expected on or off`)
  if (mode === "off") {
    if (databaseUrl !== undefined) {
      throw new ServeUsageError(
        `${where} off is a development mode for PGlite: unset DATABASE_URL or keep sign-in on`,
      )
    }
    if (!LOOPBACK.has(host)) {
      throw new ServeUsageError(`${where} off only listens on a loopback address (got --host ${host})`)
    }
    return { mode: "off" }
  }
  const secret = nonEmpty(env.BETTER_AUTH_SECRET) ?? nonEmpty(env.WEFT_AUTH_SECRET)
  const publicUrl = nonEmpty(env.WEFT_PUBLIC_URL)
  const trustedProxies = (env.WEFT_TRUSTED_PROXIES ?? "")
    .split(",")
    .map((address) => address.trim())
    .filter((address) => address !== "")
  return {
    mode: "session",
    ...(secret === undefined ? {} : { secret }),
    ...(publicUrl === undefined ? {} : { publicUrl }),
    ...(trustedProxies.length === 0 ? {} : { trustedProxies }),
  }
}

/** What the database is, for the start-up line (never the password). */
const describeDatabase = (options: HostOptions): string => {
  if (options.databaseUrl === undefined) return `PGlite in ${options.dataDir ?? DEFAULT_DATA_DIR}`
  try {
    const url = new URL(options.databaseUrl)
    return `Postgres at ${url.hostname}${url.port === "" ? "" : `:${url.port}`}${url.pathname}`
  } catch {
    return "Postgres (DATABASE_URL)"
  }
}

/**
 * Starts the host and prints where it runs. Resolves with the running host; `stopOnSignals` closes it on
 * SIGINT or SIGTERM and then resolves `stopped`.
 *
 * @category commands
 */
export const serve = async (options: HostOptions, io: ServeIo): Promise<RunningHost> => {
  // Production mode: stored credentials need a key that every process shares; never start without one.
  if (options.databaseUrl !== undefined && (options.credentials?.key ?? "") === "") {
    throw new Error(
      `${KEY_ENV} is not set: with DATABASE_URL the host needs the key that encrypts stored credentials (32 random bytes as base64 or hex, e.g. \`openssl rand -base64 32\`; the same for every weft serve and weft worker)`,
    )
  }
  const host = await startHost(options)
  if (options.auth?.mode === "off") {
    io.err(
      'weft serve: WARNING: sign-in is off (--auth off): every request acts as the one user "local". For development on this machine only.',
    )
  }
  if (options.logging?.format === "json") {
    // One JSON object per line on stdout: the start-up lines are a log entry too.
    const log = { ...options.logging, write: options.logging.write ?? io.out }
    Logging.write(log, "Info", `Weft is running at ${host.url}`, {
      url: host.url,
      api: `${host.url}/api`,
      openapi: `${host.url}/api/openapi.json`,
      database: describeDatabase(options),
      signIn: options.auth?.mode === "off" ? "off" : `POST ${host.url}/api/auth/sign-up/email`,
      resumed: host.resumed.length,
    })
    return host
  }
  io.out(`Weft is running at ${host.url}`)
  io.out(`  API:      ${host.url}/api  (OpenAPI: ${host.url}/api/openapi.json)`)
  io.out(`  Database: ${describeDatabase(options)}`)
  if (options.auth?.mode !== "off") {
    io.out(`  Sign-in:  POST ${host.url}/api/auth/sign-up/email, then send the session cookie`)
  }
  if (host.resumed.length > 0)
    io.out(`  Resumed ${host.resumed.length} unfinished run${host.resumed.length === 1 ? "" : "s"}`)
  return host
}

/**
 * Runs `weft serve` until SIGINT or SIGTERM; resolves with the exit status.
 *
 * @category commands
 */
export const serveCommand = async (argv: ReadonlyArray<string>, io: ServeIo): Promise<number> => {
  let parsed: ReturnType<typeof serveOptions>
  try {
    parsed = serveOptions(argv, io.env)
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    if (error instanceof ServeUsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      io.err(`weft serve: ${(error as Error).message} (see weft serve --help)`)
      return 2
    }
    throw error
  }
  if (parsed.help) {
    io.out(SERVE_HELP)
    return 0
  }
  let host: RunningHost
  try {
    host = await serve(parsed.options, io)
  } catch (error) {
    io.err(`weft serve: ${error instanceof Error ? error.message : String(error)}`)
    return 1
  }
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      io.err(`weft serve: ${signal}: stopping (runs in flight resume on the next start)`)
      host.close().then(
        () => resolve(0),
        (error: unknown) => {
          io.err(`weft serve: shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
          resolve(1)
        },
      )
    }
    process.once("SIGINT", () => stop("SIGINT"))
    process.once("SIGTERM", () => stop("SIGTERM"))
  })
}
