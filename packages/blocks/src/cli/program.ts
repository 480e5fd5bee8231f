/**
 * Runs a command-line `main` when its module is the program node started, not a module imported by
 * another: shared by the `weft` binaries of `@weft/blocks` and `@weft/host-node`.
 */
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"

const isEntry = (moduleUrl: string): boolean => {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl))
  } catch {
    return false
  }
}

/**
 * When `moduleUrl` is the started script, runs `main` with the command-line arguments and exits with its
 * status. Started by `pnpm weft …` (which runs in the repository root), file names resolve where the user
 * typed them.
 *
 * @category cli
 */
export const runAsProgram = async (
  moduleUrl: string,
  main: (argv: ReadonlyArray<string>) => Promise<number>,
): Promise<void> => {
  if (!isEntry(moduleUrl)) return
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
