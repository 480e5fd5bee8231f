#!/usr/bin/env node
/**
 * `weft-host`: the `weft` command line with the host's commands. `serve` starts the API server; every
 * other command (`run`, `validate`, `import`, `export`, `blocks`) is the `weft` CLI of `@weft/blocks`.
 *
 * @since 0.1.0
 */
import { runAsProgram } from "@weft/blocks"

const HELP = `Usage: weft <command> [options]

Commands:
  serve             Start the Weft host: the HTTP API with live run events
  worker            Run the runs the API enqueues (Postgres mode, DATABASE_URL)
  migrate           Apply the database migrations and exit
  run <file>        Run a Weft graph or an AutoGPT export with the core blocks
  validate <file>   Check a graph against the core blocks
  import <file>     Convert an AutoGPT export into a Weft graph, with a report
  export <file>     Write a graph in the AutoGPT export format (--format autogpt)
  blocks            List the core blocks and their pins

Run "weft <command> --help" for a command's options.`

/** The `weft` CLI of `@weft/blocks`, found next to the package's entry point. */
const blocksCli = async (): Promise<(argv: ReadonlyArray<string>) => Promise<number>> => {
  const entry = import.meta.resolve("@weft/blocks")
  const cli = new URL(entry.endsWith(".ts") ? "./cli/main.ts" : "./cli/main.js", entry)
  const module = (await import(cli.href)) as { main: (argv: ReadonlyArray<string>) => Promise<number> }
  return module.main
}

/**
 * Runs the CLI with these arguments; resolves with the exit status.
 *
 * @category main
 */
export const main = async (
  argv: ReadonlyArray<string>,
  io = {
    out: (line: string) => process.stdout.write(`${line}\n`),
    err: (line: string) => process.stderr.write(`${line}\n`),
    env: process.env,
  },
): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    io.out(HELP)
    return name === undefined ? 2 : 0
  }
  if (name === "help" && rest[0] === "serve") return main(["serve", "--help"], io)
  if (name === "help" && (rest[0] === "worker" || rest[0] === "migrate")) return main([rest[0], "--help"], io)
  if (name === "worker" || name === "migrate") {
    const sink = {
      out: (line: string) => void io.out(line),
      err: (line: string) => void io.err(line),
      env: io.env,
    }
    try {
      return name === "worker"
        ? await (await import("./worker.js")).workerCommand(rest, sink)
        : await (await import("./migrate.js")).migrateCommand(rest, sink)
    } catch (error) {
      io.err(`weft ${name}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
      return 1
    }
  }
  if (name !== "serve") return (await blocksCli())(argv)
  const { serveCommand } = await import("./serve.js")
  try {
    return await serveCommand(rest, {
      out: (line) => void io.out(line),
      err: (line) => void io.err(line),
      env: io.env,
    })
  } catch (error) {
    io.err(`weft serve: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
    return 1
  }
}

await runAsProgram(import.meta.url, main)
