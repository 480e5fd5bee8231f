import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const packageDir = join(import.meta.dirname, "..")

describe("SPEC.md coverage", () => {
  it("every rule in SPEC.md that is implemented is named by at least one test title", async () => {
    const spec = await readFile(join(packageDir, "SPEC.md"), "utf8")
    const rules = [...spec.matchAll(/^- \*\*([RW]\d+)\*\*(.*)$/gm)]
      .filter((m) => !/not implemented/i.test(m[2] ?? ""))
      .map((m) => m[1] ?? "")
    expect(rules.length).toBeGreaterThanOrEqual(24)
    const testDir = join(packageDir, "test")
    const titles: Array<string> = []
    for (const file of await readdir(testDir)) {
      if (!file.endsWith(".test.ts")) continue
      const source = await readFile(join(testDir, file), "utf8")
      for (const m of source.matchAll(/\bit\(\s*(["'`])(.*?)\1/g)) titles.push(m[2] ?? "")
    }
    const uncovered = rules.filter((rule) => !titles.some((t) => new RegExp(`\\b${rule}\\b`).test(t)))
    expect(uncovered).toEqual([])
  })
})
