import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const run = promisify(execFile)
const packageDir = join(import.meta.dirname, "..")

describe("README", () => {
  it("the plain Node script in the README runs as printed, with no database and no server", async () => {
    const readme = await readFile(join(packageDir, "README.md"), "utf8")
    const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toBeDefined()
    expect(code?.split("\n").filter((l) => l.trim() !== "").length).toBeLessThanOrEqual(15)
    // Inside the package folder, `@weft/engine` resolves to the package itself (built to dist by `tsc -b`).
    const dir = await mkdtemp(join(packageDir, ".readme-"))
    try {
      const file = join(dir, "example.mjs")
      await writeFile(file, code ?? "")
      const { stdout } = await run(process.execPath, [file], { cwd: dir })
      expect(stdout.trim().split("\n")).toEqual(["4 word HELLO", "5 word WEFT", "COMPLETED"])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
