/**
 * Where the CLI writes, so that commands can be run and tested without a terminal.
 *
 * @since 0.1.0
 */

/**
 * A failure the CLI reports as one line on stderr, then exits with `exitCode` (2 by default: a bad file or
 * bad arguments).
 *
 * @category errors
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message)
    this.name = "CliError"
  }
}

/**
 * The CLI's standard output and error.
 *
 * @category models
 */
export interface Io {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

/** Writes lines to the process's stdout and stderr. */
export const processIo: Io = {
  out: (line) => {
    process.stdout.write(`${line}\n`)
  },
  err: (line) => {
    process.stderr.write(`${line}\n`)
  },
}

/**
 * A value as one short line: JSON, cut at `max` characters.
 *
 * @category formatting
 */
export const preview = (value: unknown, max = 160): string => {
  let text: string
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
