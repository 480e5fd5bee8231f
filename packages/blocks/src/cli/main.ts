#!/usr/bin/env node
/**
 * The `weft` command line: run, validate, import, export and list blocks.
 *
 * Exit statuses: 0 success, 1 a run that did not complete or a graph that does not validate, 2 a bad file
 * or bad arguments (one line on stderr, never a stack trace), 130 a run cancelled with Ctrl-C.
 *
 * @since 0.1.0
 */
import { BLOCKS_HELP, EXPORT_HELP, HELP, IMPORT_HELP, RUN_HELP, VALIDATE_HELP } from "./help.js"
import { CliError, type Io, processIo } from "./output.js"
import { runAsProgram } from "./program.js"

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

await runAsProgram(import.meta.url, main)
