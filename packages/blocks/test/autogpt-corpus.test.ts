import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import {
  type AutoGPTGraphJson,
  coreBlockRegistry,
  exportAutoGPT,
  importAutoGPT,
} from "../src/autogpt/index.js"

/** The shared corpus of real AutoGPT exports, next to the repository; never copied into it. */
const corpus = join(import.meta.dirname, "../../../../shared/corpus/autogpt")
const present = existsSync(corpus)

const files = present
  ? ["agents", "templates"].flatMap((dir) =>
      readdirSync(join(corpus, dir))
        .filter((name) => name.endsWith(".json"))
        .sort()
        .map((name) => join(dir, name)),
    )
  : []
const blockNames = present
  ? (JSON.parse(readFileSync(join(corpus, "block-ids.json"), "utf8")) as Record<string, { name: string }>)
  : {}

interface RawGraph {
  readonly id: string
  readonly version: number
  readonly nodes: ReadonlyArray<{ readonly id: string; readonly block_id: string }>
  readonly links: ReadonlyArray<{
    readonly id: string
    readonly source_id: string
    readonly sink_id: string
    readonly source_name: string
    readonly sink_name: string
    readonly is_static: boolean
  }>
  readonly sub_graphs?: ReadonlyArray<RawGraph>
}

const load = (file: string): RawGraph => JSON.parse(readFileSync(join(corpus, file), "utf8")) as RawGraph

describe("the AutoGPT corpus", () => {
  it("has all 21 exports (the corpus lives beside the repository, in ../shared, on every machine and in CI)", () => {
    expect(present, corpus).toBe(true)
    expect(files.length).toBe(21)
  })

  describe.each(files)("%s", (file) => {
    const raw = load(file)
    const registry = coreBlockRegistry()

    it("imports without throwing, with every node and link kept", () => {
      const { graph, subGraphs } = importAutoGPT(raw, { blockNames })
      const graphs = [raw, ...(raw.sub_graphs ?? [])]
      const imported = [graph, ...subGraphs]
      expect(imported.map((g) => [g.id, g.version, g.nodes.length, g.links.length])).toEqual(
        graphs.map((g) => [g.id, g.version, g.nodes.length, g.links.length]),
      )
      graphs.forEach((g, i) => {
        const mine = imported[i]!
        expect(mine.nodes.map((n) => [n.id, n.blockId])).toEqual(g.nodes.map((n) => [n.id, n.block_id]))
        expect(
          mine.links.map((l) => [l.id, l.sourceId, l.sourceName, l.sinkId, l.sinkName, l.isStatic]),
        ).toEqual(g.links.map((l) => [l.id, l.source_id, l.source_name, l.sink_id, l.sink_name, l.is_static]))
      })
    })

    it("reports every missing block by name", () => {
      const { report } = importAutoGPT(raw, { blockNames })
      const used = [raw, ...(raw.sub_graphs ?? [])].flatMap((g) => g.nodes.map((n) => n.block_id))
      const missing = [...new Set(used.filter((id) => registry.get(id) === undefined))]
      expect(report.missingBlocks.map((m) => m.blockId).sort()).toEqual(missing.sort())
      for (const m of report.missingBlocks) expect(m.blockName).toBe(blockNames[m.blockId]?.name)
      expect(report.missingBlocks.reduce((n, m) => n + m.nodes, 0)).toBe(
        used.filter((id) => registry.get(id) === undefined).length,
      )
      expect(report.nodes.filter((n) => n.status === "missing-block")).toHaveLength(
        used.filter((id) => registry.get(id) === undefined).length,
      )
    })

    it("resolves every agent-executor node to a sub-graph of the export", () => {
      const { report, subGraphs } = importAutoGPT(raw, { blockNames })
      const ids = new Set(subGraphs.map((g) => `${g.id}@${g.version}`))
      for (const resolution of report.subGraphs) {
        expect(resolution.status, `${resolution.nodeId}: ${resolution.note}`).toMatch(/^(exact|matched)$/)
        expect(ids.has(`${resolution.resolved?.graphId}@${resolution.resolved?.version}`)).toBe(true)
      }
      const executors = [raw, ...(raw.sub_graphs ?? [])].flatMap((g) =>
        g.nodes.filter((n) => n.block_id === "e189baac-8c20-45a1-94a7-55177ea42565"),
      )
      expect(report.subGraphs).toHaveLength(executors.length)
    })

    it("round-trips: import → export → import gives equal nodes and links", () => {
      const first = importAutoGPT(raw, { blockNames })
      const exported = JSON.parse(
        JSON.stringify(exportAutoGPT(first.graph, { subGraphs: first.subGraphs })),
      ) as AutoGPTGraphJson
      expect(exported.nodes.map((n) => n.block_id)).toEqual(raw.nodes.map((n) => n.block_id))
      const second = importAutoGPT(exported, { blockNames })
      expect(second.graph.nodes).toEqual(first.graph.nodes)
      expect(second.graph.links).toEqual(first.graph.links)
      expect(second.subGraphs.map((g) => g.nodes)).toEqual(first.subGraphs.map((g) => g.nodes))
      expect(second.subGraphs.map((g) => g.links)).toEqual(first.subGraphs.map((g) => g.links))
    })
  })

  it("the corpus report script imports every export and runs the agents it has every block for", () => {
    const script = join(import.meta.dirname, "..", "scripts", "corpus-report.mjs")
    const rows = JSON.parse(
      execFileSync(process.execPath, [script, "--json", "--corpus", corpus], {
        encoding: "utf8",
        timeout: 120_000,
      }),
    ) as Array<{
      file: string
      imported: boolean
      missingBlocks: Array<string>
      ran: string
      run?: { outputs: Record<string, Array<unknown>>; llmCalls: number }
    }>
    expect(rows.map((r) => r.file)).toEqual(files)
    for (const row of rows) {
      expect(row.imported, row.file).toBe(true)
      const { report } = importAutoGPT(load(row.file), { blockNames })
      expect(row.missingBlocks).toEqual(report.missingBlocks.map((m) => m.blockName))
      if (row.missingBlocks.length > 0) expect(row.ran).toBe("skipped (missing blocks)")
      else expect(["COMPLETED", "FAILED", "TERMINATED", "REVIEW"]).toContain(row.ran)
    }
    // "AI Function" uses core blocks alone: its AI block answers from the loopback test server.
    const aiFunction = rows.find((r) => r.file === "agents/agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json")
    expect(aiFunction?.ran).toBe("COMPLETED")
    expect(aiFunction?.run?.llmCalls).toBeGreaterThan(0)
    expect(aiFunction?.run?.outputs.return?.[0]).toEqual(expect.stringContaining("canned answer"))
  }, 150_000)
})
