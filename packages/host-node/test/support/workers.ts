/**
 * `weft worker` child processes for the Postgres-mode tests: each is the real binary (`dist/cli/main.js
 * worker`) on a test database, started and waited for until it says it is running. Its output is kept, so
 * that a test can read it or show it when the worker fails.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The built `weft` entry point that the children run. */
export const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url))

/** The credentials key of test workers (a worker on Postgres refuses to start without one). */
export const TEST_CREDENTIALS_KEY = Buffer.alloc(32, 7).toString("base64")

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it answers something other than `undefined`; fails after `timeoutMs`. */
export const until = async <T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> => {
  const start = Date.now()
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** How to start one worker process. */
export interface WorkerProcessOptions {
  /** The Postgres database of the host. */
  readonly databaseUrl: string
  /** The worker's id (`--id`). */
  readonly id: string
  /** `--heartbeat` in seconds (default 0.2). */
  readonly heartbeatSeconds?: number
  /** `--stale-after` in seconds (default 1.5). */
  readonly staleSeconds?: number
  /** `--poll` in seconds (default 0.3). */
  readonly pollSeconds?: number
  /** `--concurrency` (the worker's default when absent). */
  readonly concurrency?: number
}

/** A running worker process. */
export interface WorkerProcess {
  readonly id: string
  readonly child: ChildProcess
  /** Resolves with the exit code once the process has exited (`null` when a signal ended it). */
  readonly exited: Promise<number | null>
  /** Everything the worker wrote to stdout and stderr so far. */
  readonly output: () => string
  /** SIGTERM (a graceful stop), then the exit code. */
  readonly stop: () => Promise<number | null>
}

/** Starts `weft worker` in a child process and waits until it prints that it is running. */
export const spawnWorker = async (options: WorkerProcessOptions): Promise<WorkerProcess> => {
  const args = [
    MAIN,
    "worker",
    "--id",
    options.id,
    "--heartbeat",
    String(options.heartbeatSeconds ?? 0.2),
    "--stale-after",
    String(options.staleSeconds ?? 1.5),
    "--poll",
    String(options.pollSeconds ?? 0.3),
    ...(options.concurrency === undefined ? [] : ["--concurrency", String(options.concurrency)]),
  ]
  const child = spawn(process.execPath, args, {
    env: { ...process.env, DATABASE_URL: options.databaseUrl, WEFT_CREDENTIALS_KEY: TEST_CREDENTIALS_KEY },
    stdio: ["ignore", "pipe", "pipe"],
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  let out = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`worker ${options.id} exited: ${out}`)
      return out.includes("is running") ? true : undefined
    },
    20_000,
    `worker ${options.id} to start`,
  )
  return {
    id: options.id,
    child,
    exited,
    output: () => out,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return exited
    },
  }
}
