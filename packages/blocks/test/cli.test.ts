import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { startOpenAIServer } from "./support/openai-server.js"

/** The built CLI (`pnpm test` builds first). */
const cli = join(import.meta.dirname, "..", "dist", "cli", "main.js")
const dir = mkdtempSync(join(tmpdir(), "weft-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const weft = (...args: Array<string>) => {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", timeout: 30_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Runs the CLI without blocking this process (so that a server in it can answer the CLI). */
const weftAsync = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk)
    })
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk)
    })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const file = (name: string, content: unknown): string => {
  const path = join(dir, name)
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2))
  return path
}

const lastLine = (text: string) => text.trimEnd().split("\n").at(-1) ?? ""

// AutoGPT block ids: the core blocks alias them, so graphs can name blocks this way.
const INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
const OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
const CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
const STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
const TIMER = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"

/** sum = a + b, and echo = the text input, through a store-value block. */
const adder = {
  id: "adder",
  version: 1,
  name: "Adder",
  nodes: [
    { id: "a", blockId: INPUT, inputDefault: { name: "a", value: 1 } },
    { id: "b", blockId: INPUT, inputDefault: { name: "b" } },
    { id: "text", blockId: INPUT, inputDefault: { name: "text", value: "none" } },
    { id: "calc", blockId: CALCULATOR, inputDefault: { operation: "Add", round_result: false } },
    { id: "store", blockId: STORE_VALUE },
    { id: "sum", blockId: OUTPUT, inputDefault: { name: "sum" } },
    { id: "echo", blockId: OUTPUT, inputDefault: { name: "echo" } },
  ],
  links: [
    { sourceId: "a", sourceName: "result", sinkId: "calc", sinkName: "a" },
    { sourceId: "b", sourceName: "result", sinkId: "calc", sinkName: "b" },
    { sourceId: "calc", sourceName: "result", sinkId: "sum", sinkName: "value" },
    { sourceId: "text", sourceName: "result", sinkId: "store", sinkName: "input" },
    { sourceId: "store", sourceName: "output", sinkId: "echo", sinkName: "value" },
  ],
}

describe("weft (built CLI)", () => {
  it("is built", () => {
    expect(existsSync(cli)).toBe(true)
  })

  describe("help", () => {
    it("prints the commands with --help, and exits 2 without a command", () => {
      const help = weft("--help")
      expect(help.code).toBe(0)
      for (const command of ["run", "validate", "import", "export", "blocks"])
        expect(help.stdout).toContain(command)
      expect(weft().code).toBe(2)
    })

    it.each(["run", "validate", "import", "export", "blocks"])("weft %s --help", (command) => {
      const result = weft(command, "--help")
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`Usage: weft ${command}`)
    })

    it("refuses an unknown command and an unknown option with exit 2 and one line", () => {
      const unknown = weft("frobnicate")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain('unknown command "frobnicate"')
      const option = weft("blocks", "--frob")
      expect(option.code).toBe(2)
      expect(option.stderr.trim().split("\n")).toHaveLength(1)
      expect(option.stderr).toContain("--frob")
    })
  })

  describe("run", () => {
    const graph = file("adder.json", adder)

    it("--input values parse as JSON, --json prints the result as the last line", () => {
      const result = weft(
        "run",
        graph,
        "--input",
        "a=2",
        "--input",
        "b=3.5",
        "--input",
        "text=hello",
        "--json",
      )
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(JSON.parse(lastLine(result.stdout))).toEqual({
        status: "COMPLETED",
        outputs: { sum: [5.5], echo: ["hello"] },
      })
    })

    it("takes JSON objects, and text that is not JSON as a string", () => {
      const result = weft("run", graph, "-i", "b=3", "-i", 'text={"deep":[1,true]}', "--json")
      expect(JSON.parse(lastLine(result.stdout))).toEqual({
        status: "COMPLETED",
        outputs: { sum: [4], echo: [{ deep: [1, true] }] },
      })
      const text = weft("run", graph, "-i", "b=3", "-i", "text=not json {", "--json")
      expect(JSON.parse(lastLine(text.stdout)).outputs.echo).toEqual(["not json {"])
    })

    it("shows live progress per node without --json", () => {
      const result = weft("run", graph, "--input", "b=40")
      expect(result.code).toBe(0)
      const lines = result.stdout.split("\n")
      expect(lines.some((l) => /RUNNING/.test(l) && l.includes("[calc]"))).toBe(true)
      expect(lines.some((l) => /COMPLETED/.test(l) && l.includes("[calc]"))).toBe(true)
      expect(lines.some((l) => l.includes("[calc] result = 41"))).toBe(true)
      expect(lines).toContain("Run COMPLETED")
      expect(lines).toContain("  sum = 41")
    })

    it("exits 1 with the problem when the inputs do not fit the graph", () => {
      const result = weft("run", graph, "--input", "nope=1", "--json")
      expect(result.code).toBe(1)
      expect(JSON.parse(lastLine(result.stdout)).status).toBe("FAILED")
      expect(result.stderr).toContain("nope")
      expect(result.stderr).not.toContain("    at ")
    })

    it("exits 1 when the run does not complete (deadline)", () => {
      const slow = file("slow.json", {
        id: "slow",
        version: 1,
        name: "Slow",
        nodes: [{ id: "wait", blockId: TIMER, inputDefault: { seconds: 30 } }],
        links: [],
      })
      const result = weft("run", slow, "--deadline", "200", "--json")
      expect(result.code).toBe(1)
      expect(JSON.parse(lastLine(result.stdout)).status).toBe("FAILED")
    })

    it("runs an AutoGPT export directly", () => {
      const exported = file("agent.json", {
        id: "agent",
        version: 3,
        name: "Agent",
        nodes: [
          { id: "in", block_id: INPUT, input_default: { name: "topic", value: null }, metadata: {} },
          { id: "out", block_id: OUTPUT, input_default: { name: "said" }, metadata: {} },
        ],
        links: [
          {
            id: "l",
            source_id: "in",
            sink_id: "out",
            source_name: "result",
            sink_name: "value",
            is_static: true,
          },
        ],
        sub_graphs: [],
      })
      const result = weft("run", exported, "--input", "topic=owls", "--json")
      expect(JSON.parse(lastLine(result.stdout))).toEqual({
        status: "COMPLETED",
        outputs: { said: ["owls"] },
      })
    })

    it("runs an AutoGPT AI agent that has no credentials against an OpenAI-compatible server on 127.0.0.1", async () => {
      const server = await startOpenAIServer({
        replies: ["Owls are birds.", "Owls hunt at night."],
        apiKey: "sk-cli",
      })
      try {
        const agent = file("ai-agent.json", {
          id: "ai-agent",
          version: 1,
          name: "AI agent",
          nodes: [
            { id: "topic", block_id: INPUT, input_default: { name: "topic", value: null }, metadata: {} },
            {
              id: "llm",
              block_id: "1f292d4a-41a4-4977-9684-7c8d560b9f91",
              input_default: { model: "gpt-4o", prompt: "Tell me about {{topic}}", retry: 1 },
              metadata: {},
            },
            { id: "answer", block_id: OUTPUT, input_default: { name: "answer" }, metadata: {} },
          ],
          links: [
            {
              id: "l1",
              source_id: "topic",
              sink_id: "llm",
              source_name: "result",
              sink_name: "prompt_values_#_topic",
              is_static: true,
            },
            { id: "l2", source_id: "llm", sink_id: "answer", source_name: "response", sink_name: "value" },
          ],
          sub_graphs: [],
        })
        const env = { OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: "sk-cli" }
        const json = await weftAsync(
          ["run", agent, "-i", "topic=owls", "--allow", "127.0.0.1", "--json"],
          env,
        )
        expect(json.stderr).toBe("")
        expect(JSON.parse(lastLine(json.stdout))).toEqual({
          status: "COMPLETED",
          outputs: { answer: ["Owls are birds."] },
        })
        expect(JSON.stringify(server.requests[0]?.body.messages)).toContain("Tell me about owls")

        const live = await weftAsync(["run", agent, "-i", "topic=owls", "--allow", "127.0.0.1"], env)
        expect(live.code).toBe(0)
        expect(live.stdout).toContain('[llm] response = "Owls hunt at night."')
        expect(live.stdout).toContain('  answer = "Owls hunt at night."')

        // Without --allow the safe client refuses the loopback server: the AI node fails, the run completes.
        const refused = await weftAsync(["run", agent, "-i", "topic=owls", "--json"], env)
        expect(JSON.parse(lastLine(refused.stdout))).toEqual({ status: "COMPLETED", outputs: {} })
        expect(server.requests).toHaveLength(2)
      } finally {
        await server.close()
      }
    })

    it("cancels the run on Ctrl-C (SIGINT) and exits 130", async () => {
      const slow = file("slower.json", {
        id: "slower",
        version: 1,
        name: "Slower",
        nodes: [{ id: "wait", blockId: TIMER, inputDefault: { seconds: 60 } }],
        links: [],
      })
      const child: ChildProcess = spawn(process.execPath, [cli, "run", slow], { cwd: dir })
      let stdout = ""
      let stderr = ""
      child.stderr?.on("data", (chunk) => {
        stderr += String(chunk)
      })
      const started = Date.now()
      let sent = false
      const code = await new Promise<number | null>((resolve) => {
        child.stdout?.on("data", (chunk) => {
          stdout += String(chunk)
          if (!sent && /\[wait\] RUNNING/.test(stdout)) {
            sent = true
            child.kill("SIGINT")
          }
        })
        child.on("exit", (exitCode) => resolve(exitCode))
      })
      expect(code).toBe(130)
      expect(Date.now() - started).toBeLessThan(20_000)
      expect(stdout).toContain("Run TERMINATED")
      expect(stderr).toContain("cancelling")
    })
  })

  describe("validate", () => {
    it("prints valid for a valid graph", () => {
      const result = weft("validate", file("valid.json", adder))
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe("valid")
    })

    it("exits 1 with per-node errors for a broken graph", () => {
      const broken = {
        ...adder,
        nodes: [...adder.nodes, { id: "ghost", blockId: "vendor/no-such-block" }],
        links: [
          ...adder.links,
          { sourceId: "calc", sourceName: "no_such_pin", sinkId: "sum", sinkName: "value" },
          { sourceId: "missing-node", sourceName: "result", sinkId: "echo", sinkName: "value" },
        ],
      }
      const result = weft("validate", file("broken.json", broken))
      expect(result.code).toBe(1)
      expect(result.stdout).toContain("invalid: 3 problems")
      const errors = JSON.parse(result.stdout.slice(result.stdout.indexOf("{")))
      expect(errors.ghost.blockId).toContain("unknown block vendor/no-such-block")
      expect(errors.calc.no_such_pin).toContain('no output pin "no_such_pin"')
      expect(errors.echo.value).toContain("missing-node")
    })
  })

  describe("bad files exit 2 with one line and no stack trace", () => {
    const notJson = file("not.json", "{ this is not json")
    const wrongShape = file("shape.json", { id: "x", version: 1, name: "x", nodes: [{ id: "n" }], links: [] })
    const badAutoGPT = file("bad-autogpt.json", {
      id: "x",
      version: 1,
      nodes: [{ id: "n", block_id: 7 }],
      links: [],
    })
    const array = file("array.json", [1, 2, 3])
    const folder = join(dir, "folder.json")
    mkdirSync(folder)
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["a missing file", join(dir, "nope.json"), "no such file"],
      ["text that is not JSON", notJson, "not valid JSON"],
      ["a graph of the wrong shape", wrongShape, "nodes.0.blockId"],
      ["a broken AutoGPT export", badAutoGPT, "nodes.0.block_id"],
      ["a JSON array", array, "not a Weft graph or an AutoGPT export"],
      ["a directory", folder, "is a directory"],
    ]
    for (const command of [["run"], ["validate"], ["import"], ["export", "--format", "autogpt"]] as const) {
      it.each(cases)(`${command[0]}: %s`, (_, path, message) => {
        const result = weft(command[0], path, ...command.slice(1))
        expect(result.code).toBe(2)
        expect(result.stdout).toBe("")
        expect(result.stderr).toContain(message)
        expect(result.stderr.trim().split("\n")).toHaveLength(1)
        expect(result.stderr).not.toContain("    at ")
      })
    }

    it("export refuses a missing or unknown --format with exit 2", () => {
      const graph = file("fmt.json", adder)
      expect(weft("export", graph).code).toBe(2)
      const xml = weft("export", graph, "--format", "xml")
      expect(xml.code).toBe(2)
      expect(xml.stderr).toContain("unknown format")
    })
  })

  describe("import and export", () => {
    const agent = {
      id: "exported-agent",
      version: 4,
      name: "Exported agent",
      description: "An agent with a sub-graph and a block Weft lacks",
      nodes: [
        {
          id: "in",
          block_id: INPUT,
          input_default: { name: "topic" },
          metadata: { position: { x: 1, y: 2 } },
        },
        { id: "web", block_id: "87840993-2053-44b7-8da4-187ad4ee518c", input_default: {}, metadata: {} },
        {
          id: "run-sub",
          block_id: "e189baac-8c20-45a1-94a7-55177ea42565",
          input_default: {
            graph_id: "stale",
            graph_version: 2,
            inputs: {},
            input_schema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
            output_schema: { type: "object", properties: { a: {} }, required: [] },
          },
          metadata: {},
        },
      ],
      links: [
        {
          id: "l1",
          source_id: "in",
          sink_id: "web",
          source_name: "result",
          sink_name: "query",
          is_static: true,
        },
        {
          id: "l2",
          source_id: "in",
          sink_id: "run-sub",
          source_name: "result",
          sink_name: "q",
          is_static: true,
        },
      ],
      sub_graphs: [
        {
          id: "sub",
          version: 2,
          name: "Sub",
          nodes: [
            { id: "s-in", block_id: INPUT, input_default: { name: "q" } },
            { id: "s-out", block_id: OUTPUT, input_default: { name: "a" } },
          ],
          links: [
            {
              id: "s-l",
              source_id: "s-in",
              sink_id: "s-out",
              source_name: "result",
              sink_name: "value",
              is_static: true,
            },
          ],
          input_schema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
          output_schema: { type: "object", properties: { a: {} }, required: [] },
        },
      ],
    }

    it("import writes a Weft graph with its sub-graphs and prints the report; export and re-import give the same graph", () => {
      const source = file("autogpt-agent.json", agent)
      const out = join(dir, "imported.json")
      const names = file("names.json", {
        "87840993-2053-44b7-8da4-187ad4ee518c": { name: "SearchTheWebBlock" },
      })
      const imported = weft("import", source, "-o", out, "--block-names", names)
      expect(imported.code).toBe(0)
      expect(imported.stdout).toContain("Missing blocks (1)")
      expect(imported.stdout).toContain("SearchTheWebBlock")
      expect(imported.stdout).toContain("node run-sub: matched")
      const graph = JSON.parse(readFileSync(out, "utf8"))
      expect(graph).toMatchObject({ id: "exported-agent", version: 4, name: "Exported agent" })
      expect(graph.nodes.map((n: { id: string }) => n.id)).toEqual(["in", "web", "run-sub"])
      expect(graph.nodes[2].inputDefault).toMatchObject({ graph_id: "sub", graph_version: 2 })
      expect(graph.subGraphs.map((g: { id: string }) => g.id)).toEqual(["sub"])

      const back = join(dir, "exported.json")
      const exported = weft("export", out, "--format", "autogpt", "-o", back)
      expect(exported.code).toBe(0)
      const json = JSON.parse(readFileSync(back, "utf8"))
      expect(json.nodes.map((n: { block_id: string }) => n.block_id)).toEqual(
        agent.nodes.map((n) => n.block_id),
      )
      expect(json.sub_graphs).toHaveLength(1)
      expect(json.links[0]).toEqual(agent.links[0])

      const again = join(dir, "again.json")
      expect(weft("import", back, "-o", again).code).toBe(0)
      const second = JSON.parse(readFileSync(again, "utf8"))
      expect(second.nodes).toEqual(graph.nodes)
      expect(second.links).toEqual(graph.links)
      expect(second.subGraphs).toEqual(graph.subGraphs)
    })

    it("import without -o prints the graph on stdout and the report on stderr; --json gives the report as JSON", () => {
      const source = file("autogpt-agent2.json", agent)
      const plain = weft("import", source)
      expect(plain.code).toBe(0)
      expect(JSON.parse(plain.stdout).id).toBe("exported-agent")
      expect(plain.stderr).toContain("Missing blocks (1)")
      const json = weft("import", source, "--json", "-o", join(dir, "ignored.json"))
      const report = JSON.parse(json.stdout)
      expect(report.missingBlocks).toMatchObject([
        { blockId: "87840993-2053-44b7-8da4-187ad4ee518c", nodes: 1 },
      ])
      expect(report.subGraphs[0].status).toBe("matched")
    })

    it("import refuses a Weft graph", () => {
      const result = weft("import", file("weft-graph.json", adder))
      expect(result.code).toBe(2)
      expect(result.stderr).toContain("not an AutoGPT export")
    })
  })

  describe("blocks", () => {
    it("--json lists the core blocks with their pins and AutoGPT aliases", () => {
      const result = weft("blocks", "--json")
      expect(result.code).toBe(0)
      const blocks = JSON.parse(result.stdout) as Array<{
        id: string
        aliases: Array<string>
        inputs: Array<{ name: string; type: string; required: boolean }>
        outputs: Array<{ name: string; type: string }>
      }>
      const store = blocks.find((b) => b.id === "weft/basic/store-value")
      expect(store?.aliases).toEqual([STORE_VALUE])
      expect(store?.inputs.map((p) => p.name)).toEqual(["input", "data"])
      expect(store?.inputs.find((p) => p.name === "data")).toMatchObject({ required: false })
      expect(store?.outputs.map((p) => p.name)).toEqual(["output"])
      const calculator = blocks.find((b) => b.aliases.includes(CALCULATOR))
      expect(calculator?.inputs.find((p) => p.name === "operation")).toMatchObject({ required: true })
      expect(new Set(blocks.map((b) => b.id)).size).toBe(blocks.length)
    })

    it("prints one entry per block as text", () => {
      const result = weft("blocks")
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("weft/basic/store-value  Store value")
      expect(result.stdout).toMatch(
        /weft\/basic\/store-value {2}Store value.*\n {2}in: {2}input\??: .*data\?: /,
      )
      expect(result.stdout).toMatch(/\n\d+ blocks\n$/)
    })
  })
})

describe("weft run on the AutoGPT corpus", () => {
  const aiFunction = join(
    import.meta.dirname,
    "../../../../shared/corpus/autogpt/agents/agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json",
  )

  it("runs the corpus agent whose blocks all exist (AI Function) to COMPLETED, its LLM on a loopback server", async () => {
    expect(existsSync(aiFunction), "the corpus lives beside the repository, in ../shared").toBe(true)
    const server = await startOpenAIServer({ handler: () => "[1, 1, 2, 3, 5]" })
    try {
      const result = await weftAsync(
        ["run", aiFunction, "--allow", "127.0.0.1", "--input", "Arguments=5", "--json"],
        {
          OPENAI_BASE_URL: server.baseURL,
          OPENAI_API_KEY: "test-key",
        },
      )
      expect(JSON.parse(lastLine(result.stdout))).toEqual({
        status: "COMPLETED",
        outputs: { return: ["[1, 1, 2, 3, 5]"] },
      })
      expect(result.code).toBe(0)
      expect(server.requests.length).toBe(1)
      expect(JSON.stringify(server.requests[0]?.body)).toContain("5")
    } finally {
      await server.close()
    }
  })
})
