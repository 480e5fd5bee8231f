/**
 * Durability of the embedded queue: a run cut off by a server stop resumes to COMPLETED when the next
 * server starts on the same data directory; and `weft-host serve` itself starts, prints its URL, serves the
 * API and stops cleanly on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { Layer, ManagedRuntime } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { serveOptions } from "../src/cli/serve.js"
import { RunQueries, Sql } from "../src/index.js"
import {
  client,
  eventFrames,
  eventually,
  helloGraph,
  readSse,
  seqs,
  signUp,
  startTestHost,
  tempDir,
  timerGraph,
} from "./api-support.js"
import { storesLayer } from "./support/db.js"

const dir = tempDir("resume")
afterAll(() => dir.dispose())

interface RunView {
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly executions: ReadonlyArray<{ nodeId: string; status: string }>
}

describe("resume on start-up", () => {
  it("a run interrupted by a server stop resumes to COMPLETED on the next start with the same data dir", async () => {
    const first = await startTestHost({ dataDir: dir.dir })
    const session = await signUp(first.url, "alice")
    const api1 = client(first.url, session)
    const graphId = (await api1.post<{ id: string }>("/api/graphs", timerGraph(2))).body.id
    const runId = (await api1.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    await eventually(async () => {
      const run = await api1.get<RunView>(`/api/runs/${runId}`)
      return run.body.executions.some((e) => e.nodeId === "timer" && e.status === "RUNNING")
        ? true
        : undefined
    })
    // A subscriber is connected when the server stops: its stream ends, the run does not.
    let connected = false
    const stream = readSse(`${first.url}/api/runs/${runId}/events`, {
      headers: session.headers,
      onFrame: () => {
        connected = true
      },
    })
    await eventually(async () => (connected ? true : undefined))
    const stopping = Date.now()
    await first.close()
    expect(Date.now() - stopping).toBeLessThan(5000)
    const cut = await stream
    expect(
      eventFrames(cut.frames).some((f) => f.data?.type === "RunStatus" && f.data.status === "COMPLETED"),
    ).toBe(false)

    const second = await startTestHost({ dataDir: dir.dir })
    try {
      expect(second.resumed).toEqual([runId])
      const api2 = client(second.url, session)
      const sse = await readSse(`${second.url}/api/runs/${runId}/events`, { headers: session.headers })
      const ids = seqs(sse.frames)
      expect(ids).toEqual(ids.map((_, i) => i + 1))
      expect(eventFrames(sse.frames).at(-1)?.data).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
      const run = await api2.get<RunView>(`/api/runs/${runId}`)
      expect(run.body.status).toBe("COMPLETED")
      expect(run.body.outputs).toEqual({ message: ["done"] })
      // The timer's execution was unfinished: it ran again; nothing finished ran twice.
      expect(run.body.executions.filter((e) => e.nodeId === "out")).toHaveLength(1)
    } finally {
      await second.close()
    }
    // A third start finds nothing left to resume.
    const third = await startTestHost({ dataDir: dir.dir })
    expect(third.resumed).toEqual([])
    await third.close()
  })
})

describe("recovery of a claimed run that never started", () => {
  const claimedDir = tempDir("claimed")
  afterAll(() => claimedDir.dispose())

  it("a run claimed by a process that stopped before starting it is started, from the claim, on the next start", async () => {
    const first = await startTestHost({ dataDir: claimedDir.dir })
    const session = await signUp(first.url, "carol")
    const graph = (
      await client(first.url, session).post<{ id: string; version: number }>("/api/graphs", helloGraph())
    ).body
    await first.close()
    // The claim commits, then the process dies before the executor records the run.
    const runtime = ManagedRuntime.make(Layer.orDie(storesLayer(Sql.layerPglite(claimedDir.dir))))
    const runId = crypto.randomUUID()
    try {
      await runtime.runPromise(
        RunQueries.use((q) =>
          q.claim(session.userId, {
            runId,
            graphId: graph.id,
            graphVersion: graph.version,
            inputs: { topic: "owls" },
          }),
        ),
      )
    } finally {
      await runtime.dispose()
    }
    const second = await startTestHost({ dataDir: claimedDir.dir })
    try {
      expect(second.resumed).toEqual([runId])
      const sse = await readSse(`${second.url}/api/runs/${runId}/events`, { headers: session.headers })
      expect(eventFrames(sse.frames).at(-1)?.data).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
      const run = await client(second.url, session).get<RunView>(`/api/runs/${runId}`)
      expect(run.body.outputs).toEqual({ greeting: ["Hello, owls!"] })
    } finally {
      await second.close()
    }
  })
})

describe("weft-host serve", () => {
  it("reads --port, --host, --data, PORT, WEFT_DATA_DIR and DATABASE_URL", () => {
    expect(serveOptions([], {}).options).toMatchObject({
      port: 8787,
      host: "127.0.0.1",
      dataDir: "./.weft/data",
    })
    expect(serveOptions([], { PORT: "9001", WEFT_DATA_DIR: "/tmp/w" }).options).toMatchObject({
      port: 9001,
      dataDir: "/tmp/w",
    })
    expect(serveOptions(["--port", "9002", "--data", "d"], { PORT: "9001" }).options).toMatchObject({
      port: 9002,
      dataDir: "d",
    })
    expect(serveOptions([], { DATABASE_URL: "postgres://x@127.0.0.1/db" }).options.databaseUrl).toBe(
      "postgres://x@127.0.0.1/db",
    )
    expect(() => serveOptions(["--port", "http"], {})).toThrow(/--port http/)
    expect(() => serveOptions([], { PORT: "70000" })).toThrow(/PORT 70000/)
  })

  const cli = join(import.meta.dirname, "..", "dist", "cli", "main.js")
  const children: Array<ChildProcess> = []
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  })

  it("starts, prints its URL, serves the API and stops on SIGTERM", async () => {
    const data = tempDir("serve-cli")
    try {
      const child = spawn(process.execPath, [cli, "serve", "--port", "0", "--data", data.dir], {
        env: { ...process.env, DATABASE_URL: "", WEFT_LOG_FORMAT: "pretty" },
      })
      children.push(child)
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const url = await eventually(
        async () =>
          stdout.includes("Database:")
            ? stdout.match(/^Weft is running at (http:\/\/127\.0\.0\.1:\d+)$/m)?.[1]
            : undefined,
        20_000,
      )
      expect(stdout).toContain(`${url}/api/openapi.json`)
      const doc = await fetch(`${url}/api/openapi.json`)
      expect(doc.status).toBe(200)
      // Sign-in is on by default: the API needs a session.
      expect((await client(url).get("/api/graphs")).status).toBe(401)
      const graphs = await client(url, await signUp(url, "alice")).get<ReadonlyArray<unknown>>("/api/graphs")
      expect(graphs).toMatchObject({ status: 200, body: [] })
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      child.kill("SIGTERM")
      expect(await exited).toBe(0)
      expect(stderr).toContain("SIGTERM: stopping")
    } finally {
      data.dispose()
    }
  })

  it("hands the other commands to the weft CLI of @weft/blocks", async () => {
    const child = spawn(process.execPath, [cli, "blocks", "--json"])
    children.push(child)
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)))
    expect(code).toBe(0)
    const blocks = JSON.parse(stdout) as ReadonlyArray<{ id: string }>
    expect(blocks.map((b) => b.id)).toContain("weft/time/countdown-timer")
  })

  it("refuses a bad port with exit status 2 and one line", async () => {
    const child = spawn(process.execPath, [cli, "serve", "--port", "nope"])
    children.push(child)
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)))
    expect(code).toBe(2)
    expect(stderr.trim().split("\n")).toEqual([
      "weft serve: --port nope: expected a port number from 0 to 65535 (see weft serve --help)",
    ])
  })
})
