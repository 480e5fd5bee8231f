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
import { startWorker, type WorkerOptions } from "../Worker.js"
import { disabledBlocksOf } from "./disabled-blocks.js"

/**
 * The help text of `weft worker`.
 *
 * @category help
 */
export const WORKER_HELP = `Usage: weft worker [--concurrency N] [--stale-after SECONDS] [--heartbeat SECONDS] [--allow host]…

Runs the runs that the Weft API (weft serve with DATABASE_URL) enqueues. Needs DATABASE_URL.

Options:
  -c, --concurrency N       Runs driven at once by this worker (default 10).
      --heartbeat SECONDS   How often the worker writes its heartbeat (default 5).
      --stale-after SECONDS A worker silent for this long is dead: its runs resume elsewhere (default 30).
      --poll SECONDS        How often to poll for jobs besides LISTEN (default 2).
      --id ID               This worker's id (default: hostname-pid-random).
      --allow host          Let HTTP and AI blocks reach this private host, address or CIDR range. Repeatable.
  -h, --help                Show this help.

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
      help: { type: "boolean", short: "h" },
    },
  })
  if (values.help === true) return { help: true }
  if (positionals.length > 0) throw new UsageError(`weft worker takes no arguments (got ${positionals[0]})`)
  const databaseUrl = env.DATABASE_URL
  if (databaseUrl === undefined || databaseUrl === "") throw new UsageError("DATABASE_URL is not set")
  const concurrency = positive(values.concurrency, "--concurrency")
  const heartbeat = positive(values.heartbeat, "--heartbeat")
  const staleAfter = positive(values["stale-after"], "--stale-after")
  const poll = positive(values.poll, "--poll")
  const allow = values.allow ?? []
  const resources =
    allow.length > 0
      ? (Context.make(SafeHttp, new SafeHttpClient({ allow })) as Context.Context<never>)
      : undefined
  return {
    help: false,
    options: {
      databaseUrl,
      ...(concurrency === undefined ? {} : { concurrency: Math.floor(concurrency) }),
      ...(heartbeat === undefined ? {} : { heartbeatInterval: Duration.millis(heartbeat * 1000) }),
      ...(staleAfter === undefined ? {} : { staleAfter: Duration.millis(staleAfter * 1000) }),
      ...(poll === undefined ? {} : { pollInterval: Duration.millis(poll * 1000) }),
      ...(values.id === undefined ? {} : { id: values.id }),
      runs: {
        ...(resources === undefined ? {} : { resources }),
        ...disabledBlocksOf(env),
      },
    },
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
  const worker = await startWorker(parsed.options)
  io.out(`Weft worker ${worker.id} is running`)
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
