// One benchmark in a child process of its own (a fresh heap and JIT each time): `node <self> --child …args`.
// The child prints its result as one line `<mark><json>` on stdout (or, when it fails, on stderr); the parent
// resolves with that object, or with `{ error }` when the child died or ran out of time.
import { spawn } from "node:child_process"

/**
 * Runs `node self --child ...args` in `cwd` and resolves with the JSON after `mark`, or `{ error }`.
 *
 * @param {{ self: string, cwd: string, mark: string, timeoutMs: number }} options
 * @param {ReadonlyArray<string | number>} args
 * @returns {Promise<Record<string, unknown>>}
 */
export const runChild = ({ self, cwd, mark, timeoutMs }, args) =>
  new Promise((resolveChild) => {
    const child = spawn(process.execPath, [self, "--child", ...args.map(String)], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => {
      out += d
    })
    child.stderr.on("data", (d) => {
      err += d
    })
    const timer = setTimeout(() => {
      err += `\ntimed out after ${timeoutMs / 1000} s`
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const line = out.split("\n").find((l) => l.startsWith(mark))
      if (code === 0 && line !== undefined) return resolveChild(JSON.parse(line.slice(mark.length)))
      const marked = err.split("\n").find((l) => l.startsWith(mark))
      if (marked !== undefined) return resolveChild(JSON.parse(marked.slice(mark.length)))
      const tail = err.trim().split("\n").slice(-4).join(" | ")
      resolveChild({ error: `exit ${code ?? signal}${tail === "" ? "" : `: ${tail}`}` })
    })
  })
