#!/usr/bin/env node
/**
 * The `weft` command line: run, validate, import, export and list blocks.
 *
 * Exit statuses: 0 success, 1 a run that did not complete or a graph that does not validate, 2 a bad file
 * or bad arguments (one line on stderr, never a stack trace), 130 a run cancelled with Ctrl-C.
 *
 * @since 0.1.0
 */
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { BLOCKS_HELP, EXPORT_HELP, HELP, IMPORT_HELP, RUN_HELP, VALIDATE_HELP } from "./help.js"
import { CliError, type Io, processIo } from "./output.js"

type Command = (argv: ReadonlyArray<string>, io: Io) => number | Promise<number>

/** Each command's module is loaded when the command runs, so that help and usage errors stay quick. */
const commands: Record<string, { readonly help: string; readonly load: () => Promise<Command> }> = {
  run: { help: RUN_HELP, load: async () => (await import("./run.js")).runCommand },
  validate: { help: VALIDATE_HELP, load: async () => (await import("./commands.js")).validateCommand },
  import: { help: IMPORT_HELP, load: async () => (await import("./commands.js")).importCommand },
  export: { help: EXPORT_HELP, load: async () => (await import("./commands.js")).exportCommand },
  blocks: { help: BLOCKS_HELP, load: async () => (await import("./commands.js")).blocksCommand },
}

/**
 * Runs the CLI with these arguments; resolves with the exit status. Never throws.
 *
 * @category main
 */
export const main = async (argv: ReadonlyArray<string>, io: Io = processIo): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? rest[0] : undefined
    const command = topic === undefined ? undefined : commands[topic]
    io.out(command?.help ?? HELP)
    return name === undefined ? 2 : 0
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (command === undefined) {
    io.err(`weft: unknown command "${name}" (commands: ${Object.keys(commands).join(", ")}; see weft --help)`)
    return 2
  }
  try {
    const run = await command.load()
    return await run(rest, io)
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`weft: ${error.message}`)
      return error.exitCode
    }
    const code = (error as { code?: unknown } | null)?.code
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      io.err(`weft ${name}: ${(error as Error).message} (see weft ${name} --help)`)
      return 2
    }
    const message = error instanceof Error ? error.message : String(error)
    io.err(`weft ${name}: ${message.split("\n")[0]}`)
    return 1
  }
}

/** Whether this file is the program node started (not a module imported by another). */
const isEntry = (): boolean => {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntry()) {
  // Started by `pnpm weft …`, which runs in the repository root: resolve file names where the user typed them.
  const initCwd = process.env.INIT_CWD
  if (process.env.npm_lifecycle_event === "weft" && initCwd !== undefined && initCwd !== "") {
    try {
      process.chdir(initCwd)
    } catch {
      // Stay in the current directory.
    }
  }
  const code = await main(process.argv.slice(2))
  process.exitCode = code
  // Do not wait for idle sockets or timers that a block may have left behind.
  setTimeout(() => process.exit(code), 500).unref()
}
