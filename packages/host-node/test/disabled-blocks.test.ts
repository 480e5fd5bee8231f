/**
 * Blocks an operator disables (`runs.disabledBlocks`, `WEFT_DISABLED_BLOCKS`) cannot run through the API: a
 * run of a graph that uses one is refused naming the node, a stored graph that uses one cannot be saved
 * again, the single-block execute answers 409, and the catalogue says why.
 */
import { afterAll, describe, expect, it } from "vitest"
import { client, helloGraph, startTestHost, tempDir } from "./api-support.js"

const dir = tempDir("disabled")
afterAll(() => dir.dispose())

const TEMPLATE = "weft/text/fill-text-template"

describe("disabled blocks", () => {
  it("a graph stored before its block was disabled can no longer run, nor the block alone", async () => {
    const before = await startTestHost({ dataDir: dir.dir, auth: { mode: "off" } })
    const graphId = (await client(before.url).post<{ id: string }>("/api/graphs", helloGraph())).body.id
    await before.close()

    const host = await startTestHost({
      dataDir: dir.dir,
      auth: { mode: "off" },
      runs: { disabledBlocks: [TEMPLATE] },
    })
    try {
      const api = client(host.url)
      const started = await api.post<{ fields?: Record<string, string> }>(`/api/graphs/${graphId}/runs`, {
        inputs: { topic: "owls" },
      })
      expect(started.status).toBe(400)
      expect(started.body.fields).toEqual({
        "nodes.fill.blockId": `block ${TEMPLATE} is disabled: disabled on this server`,
      })
      expect((await api.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graphId}`)).body).toEqual([])

      const alone = await api.post<{ error: string }>(`/api/blocks/${encodeURIComponent(TEMPLATE)}/execute`, {
        input: { format: "{{ a }}", values: { a: 1 } },
      })
      expect(alone.status).toBe(409)
      expect(alone.body.error).toContain("disabled")

      const blocks = await api.get<ReadonlyArray<{ id: string; disabled?: string }>>("/api/blocks")
      expect(blocks.body.find((b) => b.id === TEMPLATE)?.disabled).toBe("disabled on this server")
      expect(blocks.body.find((b) => b.id === "weft/io/agent-input")?.disabled).toBeUndefined()

      const saved = await api.post<{ fields?: Record<string, string> }>("/api/graphs", helloGraph("Again"))
      expect(saved.status).toBe(400)
      expect(Object.keys(saved.body.fields ?? {})).toContain("nodes.fill.blockId")
    } finally {
      await host.close()
    }
  })
})
