/**
 * `weft worker`: a worker process of the Postgres mode (`DATABASE_URL`). It takes the runs the API enqueues
 * and drives them; any number of workers may run, on any machine. A worker that dies loses its runs to the
 * others once its heartbeat is older than `--stale-after`.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { SafeHttp, SafeHttpClient } from "@weft/blocks"
import { Context, Duration } from "effect"
import { KEY_ENV, keyOptionsFromEnv } from "../credentials/Keys.js"
import * as Logging from "../ops/Logging.js"
import { startWorker, type WorkerOptions } from "../Worker.js"
import { disabledBlocksOf } from "./disabled-blocks.js"

/**
 * The help text of `weft worker`.
 *
 * @category help
 */
export const WORKER_HELP = `Usage: weft worker [--concurrency N] [--stale-after SECONDS] [--heartbeat SECONDS] [--allow host]…

Runs the runs that the Weft API (weft serve with DATABASE_URL) enqueues. Needs DATABASE_URL, and
WEFT_CREDENTIALS_KEY (the key of weft serve that encrypts stored credentials; previous keys in
WEFT_CREDENTIALS_PREVIOUS_KEYS, comma-separated).

Options:
  -c, --concurrency N       Runs driven at once by this worker (default 10).
      --heartbeat SECONDS   How often the worker writes its heartbeat (default 5).
      --stale-after SECONDS A worker silent for this long is dead: its runs resume elsewhere (default 30).
      --poll SECONDS        How often to poll for jobs besides LISTEN (default 2).
      --id ID               This worker's id (default: hostname-pid-random).
      --allow host          Let HTTP and AI blocks reach this private host, address or CIDR range. Repeatable.
      --metrics-port N      Serve GET /metrics, /healthz and /readyz on this port (or WEFT_METRICS_PORT).
      --metrics-host ADDR   Interface of that listener (default 127.0.0.1).
  -h, --help                Show this help.

Environment: DATABASE_URL; WEFT_LOG_FORMAT (json, the default when stdout is not a terminal, or pretty);
WEFT_LOG_LEVEL (trace, debug, info (default), warn, error, none); WEFT_METRICS_TOKEN (GET /metrics then
needs "Authorization: Bearer <token>"). Secrets are redacted from logs.

SIGINT or SIGTERM stops the worker gracefully: its runs are interrupted (not cancelled) and resumed by
another worker at once.`

/** Where `weft worker` writes. */
export interface WorkerIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
}

class UsageError extends Error {}

const positive = (text: string | undefined, name: string): number | undefined => {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0)
    throw new UsageError(`${name} ${text}: expected a positive number`)
  return value
}

/**
 * Reads `weft worker`'s arguments and environment into worker options, or throws.
 *
 * @category parsing
 */
export const workerOptions = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
): { readonly help: boolean; readonly options?: WorkerOptions } => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      concurrency: { type: "string", short: "c" },
      heartbeat: { type: "string" },
      "stale-after": { type: "string" },
      poll: { type: "string" },
      id: { type: "string" },
      allow: { type: "string", multiple: true },
      "metrics-port": { type: "string" },
      "metrics-host": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  })
  if (values.help === true) return { help: true }
  if (positionals.length > 0) throw new UsageError(`weft worker takes no arguments (got ${positionals[0]})`)
  const databaseUrl = env.DATABASE_URL
  if (databaseUrl === undefined || databaseUrl === "") throw new UsageError("DATABASE_URL is not set")
  const credentials = keyOptionsFromEnv(env)
  const concurrency = positive(values.concurrency, "--concurrency")
  const heartbeat = positive(values.heartbeat, "--heartbeat")
  const staleAfter = positive(values["stale-after"], "--stale-after")
  const poll = positive(values.poll, "--poll")
  const allow = values.allow ?? []
  const logging = loggingOptions(env)
  const ops = opsOptions(values["metrics-port"], values["metrics-host"], env)
  const resources =
    allow.length > 0
      ? (Context.make(SafeHttp, new SafeHttpClient({ allow })) as Context.Context<never>)
      : undefined
  return {
    help: false,
    options: {
      databaseUrl,
      credentials,
      ...(concurrency === undefined ? {} : { concurrency: Math.floor(concurrency) }),
      ...(heartbeat === undefined ? {} : { heartbeatInterval: Duration.millis(heartbeat * 1000) }),
      ...(staleAfter === undefined ? {} : { staleAfter: Duration.millis(staleAfter * 1000) }),
      ...(poll === undefined ? {} : { pollInterval: Duration.millis(poll * 1000) }),
      ...(values.id === undefined ? {} : { id: values.id }),
      runs: {
        ...(resources === undefined ? {} : { resources }),
        ...disabledBlocksOf(env),
      },
      logging,
      ...(ops === undefined ? {} : { ops }),
    },
  }
}

/** `WEFT_LOG_FORMAT` and `WEFT_LOG_LEVEL`. */
const loggingOptions = (env: Readonly<Record<string, string | undefined>>) => {
  try {
    return Logging.fromEnv(env, process.stdout.isTTY === true)
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
}

/** `--metrics-port` (or `WEFT_METRICS_PORT`), `--metrics-host` and `WEFT_METRICS_TOKEN`. */
const opsOptions = (
  portFlag: string | undefined,
  host: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): WorkerOptions["ops"] => {
  const text = portFlag ?? (env.WEFT_METRICS_PORT === "" ? undefined : env.WEFT_METRICS_PORT)
  if (text === undefined) return undefined
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(`--metrics-port ${text}: expected a port number from 0 to 65535`)
  }
  const token = env.WEFT_METRICS_TOKEN === "" ? undefined : env.WEFT_METRICS_TOKEN
  return {
    port,
    ...(host === undefined ? {} : { host }),
    ...(token === undefined ? {} : { metricsToken: token }),
  }
}

/**
 * Runs `weft worker` until SIGINT or SIGTERM; resolves with the exit status.
 *
 * @category commands
 */
export const workerCommand = async (argv: ReadonlyArray<string>, io: WorkerIo): Promise<number> => {
  let parsed: ReturnType<typeof workerOptions>
  try {
    parsed = workerOptions(argv, io.env)
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    if (error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
      io.err(`weft worker: ${(error as Error).message} (see weft worker --help)`)
      return 2
    }
    throw error
  }
  if (parsed.help || parsed.options === undefined) {
    io.out(WORKER_HELP)
    return 0
  }
  if ((parsed.options.credentials?.key ?? "") === "") {
    io.err(
      `weft worker: ${KEY_ENV} is not set: the worker needs the key that encrypts stored credentials, the same as weft serve's (32 random bytes as base64 or hex)`,
    )
    return 1
  }
  const worker = await startWorker(parsed.options)
  const logging = parsed.options.logging
  if (logging?.format === "json") {
    const log = { ...logging, write: logging.write ?? io.out }
    Logging.write(log, "Info", `Weft worker ${worker.id} is running`, {
      workerId: worker.id,
      ...(worker.opsUrl === undefined ? {} : { metrics: `${worker.opsUrl}/metrics` }),
    })
  } else {
    io.out(`Weft worker ${worker.id} is running`)
    if (worker.opsUrl !== undefined) io.out(`  Metrics: ${worker.opsUrl}/metrics`)
  }
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) return
      stopping = true
      io.err(`weft worker: ${signal}: stopping (its runs resume on another worker)`)
      worker.close().then(
        () => resolve(0),
        (error: unknown) => {
          io.err(`weft worker: shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
          resolve(1)
        },
      )
    }
    process.once("SIGINT", () => stop("SIGINT"))
    process.once("SIGTERM", () => stop("SIGTERM"))
  })
}
