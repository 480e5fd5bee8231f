/**
 * Operations in the worker mode (Postgres): the API's `/metrics` shows the graphile-worker queue depth (runs
 * enqueued and not taken) and the live workers; a `weft worker --metrics-port` child process serves its own
 * `/metrics` (the node execution histograms of the runs it drove, behind its token), `/healthz` and
 * `/readyz`, and writes one JSON object per line, graphile-worker's own lines included.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventually,
  freshDatabase,
  helloGraph,
  type Session,
  signUp,
  startTestHost,
} from "./api-support.js"
import { sampleValue, scrape } from "./ops-support.js"
import { MAIN } from "./support/workers.js"

const TOKEN = "worker-metrics-token-0123"

let db: Awaited<ReturnType<typeof freshDatabase>>
let host: RunningHost
let alice: Session
let worker: ChildProcess | undefined
let output = ""

beforeAll(async () => {
  db = await freshDatabase("ops_worker")
  host = await startTestHost({ databaseUrl: db.url, queue: "workers", metrics: { databaseTtl: "50 millis" } })
  alice = await signUp(host.url, "alice")
}, 30_000)

afterAll(async () => {
  if (worker !== undefined && worker.exitCode === null) worker.kill("SIGKILL")
  await host?.close()
  await db?.drop()
})

/** Starts `weft worker --metrics-port 0`; answers its metrics URL (from its JSON start-up line). */
const startWorker = async (): Promise<string> => {
  const { WEFT_LOG_FORMAT: _format, ...env } = process.env
  const child = spawn(
    process.execPath,
    [MAIN, "worker", "--id", "ops-worker", "--heartbeat", "0.2", "--poll", "0.3", "--metrics-port", "0"],
    {
      env: {
        ...env,
        DATABASE_URL: db.url,
        WEFT_METRICS_TOKEN: TOKEN,
        WEFT_LOG_LEVEL: "debug",
        // The worker needs the key of stored credentials (none are used here).
        WEFT_CREDENTIALS_KEY: randomBytes(32).toString("base64"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  )
  worker = child
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  let errors = ""
  child.stderr.on("data", (chunk: Buffer) => {
    errors += chunk.toString()
  })
  return eventually(async () => {
    if (child.exitCode !== null) throw new Error(`the worker exited: ${output}${errors}`)
    for (const line of output.split("\n")) {
      if (!line.includes("is running")) continue
      const entry = JSON.parse(line) as { metrics?: string }
      return entry.metrics
    }
    return undefined
  }, 20_000)
}

describe("the worker mode", () => {
  it("shows the queue depth, then the workers' metrics, health and JSON logs", async () => {
    const api = client(host.url, alice)
    const idle = await scrape(host.url)
    expect(sampleValue(idle.families, "weft_queue_depth", { queue: "graphile_worker" })).toBe(0)
    expect(sampleValue(idle.families, "weft_workers", { state: "live" })).toBe(0)

    // No worker yet: the runs wait in the queue.
    const graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph())).body.id
    const runIds: Array<string> = []
    for (const topic of ["a", "b", "c"]) {
      runIds.push(
        (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic } })).body.id,
      )
    }
    const queued = await eventually(async () => {
      const answer = await scrape(host.url)
      return sampleValue(answer.families, "weft_queue_depth", { queue: "graphile_worker" }) === 3
        ? answer
        : undefined
    })
    expect(sampleValue(queued.families, "weft_queue_jobs", { state: "ready" })).toBe(3)
    expect(sampleValue(queued.families, "weft_queue_jobs", { state: "locked" })).toBe(0)
    expect(sampleValue(queued.families, "weft_runs", { status: "QUEUED" })).toBe(3)
    // The API process drives nothing here: it records no node execution.
    expect(
      sampleValue(queued.families, "weft_node_execution_seconds_count", {
        block: "weft/text/fill-text-template",
      }),
    ).toBeUndefined()

    const metricsUrl = await startWorker()
    for (const id of runIds) {
      await eventually(async () =>
        (await api.get<{ status: string }>(`/api/runs/${id}`)).body.status === "COMPLETED" ? true : undefined,
      )
    }
    const drained = await eventually(async () => {
      const answer = await scrape(host.url)
      return sampleValue(answer.families, "weft_queue_depth", { queue: "graphile_worker" }) === 0 &&
        sampleValue(answer.families, "weft_runs", { status: "COMPLETED" }) === 3
        ? answer
        : undefined
    })
    expect(sampleValue(drained.families, "weft_workers", { state: "live" })).toBe(1)
    expect(sampleValue(drained.families, "weft_runs_leased")).toBe(0)

    // The worker's own endpoint: its token, its histograms, its gauges.
    const base = metricsUrl.replace(/\/metrics$/, "")
    expect((await scrape(base)).status).toBe(401)
    const own = await scrape(base, { authorization: `Bearer ${TOKEN}` })
    expect(own.status).toBe(200)
    const fill = { block: "weft/text/fill-text-template" }
    expect(sampleValue(own.families, "weft_node_execution_seconds_count", fill)).toBe(3)
    expect(sampleValue(own.families, "weft_node_execution_seconds_bucket", { ...fill, le: "+Inf" })).toBe(3)
    expect(sampleValue(own.families, "weft_worker_runs_held", { worker: "ops-worker" })).toBe(0)
    expect(sampleValue(own.families, "weft_worker_concurrency", { worker: "ops-worker" })).toBe(10)
    // The deployment-wide database gauges are the API's, not repeated by workers.
    expect(own.families.has("weft_runs")).toBe(false)
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: { database: { status: "ok" }, queue: { status: "ok" }, shutdown: { status: "ok" } },
    })
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" })
    expect((await fetch(`${base}/nope`)).status).toBe(404)

    const child = worker
    if (child === undefined) throw new Error("no worker")
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    child.kill("SIGTERM")
    expect(await exited).toBe(0)

    const entries = output
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    for (const entry of entries) {
      expect(typeof entry.level).toBe("string")
      expect(typeof entry.time).toBe("string")
      expect(typeof entry.message).toBe("string")
    }
    for (const id of runIds) {
      expect(entries.some((e) => e.runId === id && e.message === "run COMPLETED")).toBe(true)
      // Node entries carry the node id (debug level here).
      expect(
        entries.some((e) => e.runId === id && e.nodeId === "fill" && e.message === "node COMPLETED"),
      ).toBe(true)
    }
    expect(entries.some((e) => e.source === "graphile-worker")).toBe(true)
  }, 90_000)
})
