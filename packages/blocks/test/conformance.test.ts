import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { checkExamples, makeRegistry } from "@weft/engine"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { coreBlocks } from "../src/index.js"

const packageDir = join(import.meta.dirname, "..")
const blockIdsFile = join(packageDir, "..", "..", "..", "shared", "corpus", "autogpt", "block-ids.json")

describe("core block conformance", () => {
  it("the generated block index lists every block file", () => {
    expect(() =>
      execFileSync(process.execPath, [join(packageDir, "scripts", "generate-index.mjs"), "--check"]),
    ).not.toThrow()
  })

  it("the core blocks form a registry with no duplicate id or alias", async () => {
    const registry = await Effect.runPromise(makeRegistry([coreBlocks]))
    expect(registry.list().length).toBe(coreBlocks.blocks.length)
  })

  describe.each(coreBlocks.blocks.map((block) => [block.id, block] as const))("%s", (_, block) => {
    it("has a title, a description, categories, described pins and at least one example", () => {
      expect(block.title.length).toBeGreaterThan(0)
      expect(block.description.length).toBeGreaterThan(10)
      expect(block.categories.length).toBeGreaterThan(0)
      expect(block.examples?.length ?? 0).toBeGreaterThan(0)
      for (const schema of [block.inputJsonSchema(), block.outputJsonSchema()]) {
        const properties = (schema.properties ?? {}) as Record<string, { description?: string }>
        for (const [pin, property] of Object.entries(properties)) {
          expect(property.description, `pin ${pin} has a description`).toBeTruthy()
        }
      }
    })

    it("every example yields exactly the expected outputs", async () => {
      const results = await checkExamples(block)
      for (const result of results) {
        expect(result.actual, result.description).toEqual(result.expected)
      }
    })

    it("its AutoGPT aliases are real AutoGPT block ids", () => {
      expect(existsSync(blockIdsFile), blockIdsFile).toBe(true)
      const known = JSON.parse(readFileSync(blockIdsFile, "utf8")) as Record<string, unknown>
      for (const alias of block.aliases ?? []) expect(Object.hasOwn(known, alias), alias).toBe(true)
    })
  })
})
