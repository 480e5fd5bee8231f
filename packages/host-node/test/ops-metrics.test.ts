/**
 * `GET /metrics` on PGlite and on Postgres (inline): the text parses strictly (HELP/TYPE, escapes,
 * cumulative histograms), runs by status come from the database, node execution histograms per block grow
 * with the runs this host drives, the SSE and WebSocket gauges follow open streams, and a metrics token
 * closes the endpoint to everyone else. No session is needed.
 */
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import type { RunningHost } from "../src/Host.js"
import { escapeLabelValue, render } from "../src/ops/Prometheus.js"
import {
  client,
  eventually,
  freshDatabase,
  helloGraph,
  readSse,
  type Session,
  signUp,
  startTestHost,
  tempDir,
  timerGraph,
} from "./api-support.js"
import { parseExposition, sampleValue, scrape } from "./ops-support.js"

const TOKEN = "metrics-token-0123456789"

describe("the exposition format", () => {
  it("escapes label values and help texts so that they read back unchanged", () => {
    const nasty = 'a "quoted" \\ back\nslash'
    const text = render([
      {
        name: "weft_test_nasty",
        help: "help with \\ and\nnewline",
        type: "gauge",
        samples: [{ labels: { v: nasty }, value: 1.5 }],
      },
    ])
    expect(text).toContain(`v="${escapeLabelValue(nasty)}"`)
    expect(text.split("\n").filter((line) => line !== "")).toHaveLength(3)
    const families = parseExposition(text)
    expect(families.get("weft_test_nasty")?.samples[0]?.labels.v).toBe(nasty)
    expect(families.get("weft_test_nasty")?.help).toBe("help with \\\\ and\\nnewline")
  })

  it("the parser refuses what Prometheus would refuse", () => {
    expect(() => parseExposition("weft_x 1\n")).toThrow(/without HELP/)
    expect(() => parseExposition('# HELP weft_x x\n# TYPE weft_x gauge\nweft_x{a="b} 1\n')).toThrow()
    expect(() => parseExposition("# HELP weft_x x\n# TYPE weft_x gauge\nweft_x one\n")).toThrow(/bad value/)
    const histogram = (lines: string) => `# HELP weft_h h\n# TYPE weft_h histogram\n${lines}`
    expect(() =>
      parseExposition(
        histogram(
          'weft_h_bucket{le="1"} 3\nweft_h_bucket{le="2"} 2\nweft_h_bucket{le="+Inf"} 3\nweft_h_sum 1\nweft_h_count 3\n',
        ),
      ),
    ).toThrow(/cumulative/)
    expect(() =>
      parseExposition(histogram('weft_h_bucket{le="1"} 3\nweft_h_sum 1\nweft_h_count 3\n')),
    ).toThrow(/\+Inf/)
    expect(() =>
      parseExposition(histogram('weft_h_bucket{le="1"} 3\nweft_h_bucket{le="+Inf"} 3\nweft_h_count 3\n')),
    ).toThrow(/_sum/)
  })

  it("effect's registry is rendered with the same escaping (attributes become labels)", async () => {
    const nasty = 'x"y\\z\nw'
    const counter = Metric.withAttributes(
      Metric.counter("weft_test_escape_total", { description: "a test counter", incremental: true }),
      { v: nasty },
    )
    const text = await Effect.runPromise(
      Effect.andThen(Metric.update(counter, 2), PrometheusMetrics.format()),
    )
    const families = parseExposition(text)
    expect(sampleValue(families, "weft_test_escape_total", { v: nasty })).toBe(2)
  })
})

type Backend = "pglite" | "postgres"

describe.each<Backend>(["pglite", "postgres"])("GET /metrics on %s", (backend) => {
  let host: RunningHost
  let locked: RunningHost
  let alice: Session
  let dispose: () => Promise<void> = async () => {}

  beforeAll(async () => {
    if (backend === "pglite") {
      const dir = tempDir("ops-metrics")
      const lockedDir = tempDir("ops-metrics-locked")
      host = await startTestHost({ dataDir: dir.dir, metrics: { databaseTtl: "100 millis" } })
      locked = await startTestHost({ dataDir: lockedDir.dir, metrics: { token: TOKEN } })
      dispose = async () => {
        dir.dispose()
        lockedDir.dispose()
      }
    } else {
      const db = await freshDatabase("ops_metrics")
      host = await startTestHost({ databaseUrl: db.url, metrics: { databaseTtl: "100 millis" } })
      locked = await startTestHost({ databaseUrl: db.url, resume: false, metrics: { token: TOKEN } })
      dispose = () => db.drop()
    }
    alice = await signUp(host.url, "alice")
  })
  afterAll(async () => {
    await locked?.close()
    await host?.close()
    await dispose()
  })

  it("answers Prometheus text without a session, with runs by status for every status", async () => {
    const answer = await scrape(host.url)
    expect(answer.status).toBe(200)
    expect(answer.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
    const runs = answer.families.get("weft_runs")
    expect(runs?.type).toBe("gauge")
    expect(runs?.samples.map((s) => s.labels.status).sort()).toEqual([
      "COMPLETED",
      "FAILED",
      "INCOMPLETE",
      "QUEUED",
      "REVIEW",
      "RUNNING",
      "TERMINATED",
    ])
    expect(sampleValue(answer.families, "weft_queue_depth", { queue: "inline" })).toBe(0)
    expect(sampleValue(answer.families, "weft_database_up")).toBe(1)
  })

  it("counts runs by status and records node execution durations by block", async () => {
    const api = client(host.url, alice)
    const before = await scrape(host.url)
    const fillBefore =
      sampleValue(before.families, "weft_node_execution_seconds_count", {
        block: "weft/text/fill-text-template",
      }) ?? 0
    const graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph())).body.id
    const ids: Array<string> = []
    for (const topic of ["a", "b", "c"]) {
      ids.push((await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic } })).body.id)
    }
    for (const id of ids) {
      await eventually(async () =>
        (await api.get<{ status: string }>(`/api/runs/${id}`)).body.status === "COMPLETED" ? true : undefined,
      )
    }
    // The database gauges are cached (100 ms here): wait for a scrape that sees the three runs.
    const after = await eventually(async () => {
      const answer = await scrape(host.url)
      return sampleValue(answer.families, "weft_runs", { status: "COMPLETED" }) === 3 ? answer : undefined
    }, 15_000)
    expect(sampleValue(after.families, "weft_runs", { status: "RUNNING" })).toBe(0)
    const histogram = after.families.get("weft_node_execution_seconds")
    expect(histogram?.type).toBe("histogram")
    const fill = { block: "weft/text/fill-text-template" }
    expect(sampleValue(after.families, "weft_node_execution_seconds_count", fill)).toBe(fillBefore + 3)
    expect(sampleValue(after.families, "weft_node_execution_seconds_bucket", { ...fill, le: "+Inf" })).toBe(
      fillBefore + 3,
    )
    expect(sampleValue(after.families, "weft_node_execution_seconds_sum", fill)).toBeGreaterThanOrEqual(0)
    // Every bucket of the series is there, in order, ending with +Inf.
    const les = histogram?.samples
      .filter((s) => s.name.endsWith("_bucket") && s.labels.block === fill.block)
      .map((s) => s.labels.le)
    expect(les?.at(-1)).toBe("+Inf")
    expect(les?.length).toBeGreaterThan(10)
    expect(
      sampleValue(after.families, "weft_node_executions_total", { ...fill, status: "COMPLETED" }),
    ).toBeGreaterThanOrEqual(3)
    expect(
      sampleValue(after.families, "weft_run_status_changes_total", { status: "COMPLETED" }),
    ).toBeGreaterThanOrEqual(3)
  })

  it("counts open SSE streams and WebSocket connections of this server", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", timerGraph(30))).body.id
    const { id } = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body
    const server = { server: host.url }
    const sseValue = async () =>
      sampleValue((await scrape(host.url)).families, "weft_sse_subscribers", server) ?? 0
    const wsValue = async () => sampleValue((await scrape(host.url)).families, "weft_ws_sockets", server) ?? 0
    expect(await sseValue()).toBe(0)

    const controller = new AbortController()
    const stream = readSse(`${host.url}/api/runs/${id}/events`, {
      headers: alice.headers,
      stopAfter: () => controller.signal.aborted,
      timeoutMs: 20_000,
    })
    const second = readSse(`${host.url}/api/runs/${id}/events`, {
      headers: alice.headers,
      stopAfter: () => controller.signal.aborted,
      timeoutMs: 20_000,
    })
    await eventually(async () => ((await sseValue()) === 2 ? true : undefined))

    const socket = new WebSocket(`${host.url.replace(/^http/, "ws")}/api/ws`, { headers: alice.headers })
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve())
      socket.once("error", reject)
    })
    await eventually(async () => ((await wsValue()) === 1 ? true : undefined))
    socket.close()
    await eventually(async () => ((await wsValue()) === 0 ? true : undefined))

    // Stopping the run ends both streams: the gauge goes back to 0.
    controller.abort()
    expect((await api.post(`/api/runs/${id}/stop`)).status).toBe(200)
    await Promise.all([stream, second])
    await eventually(async () => ((await sseValue()) === 0 ? true : undefined))
  })

  it("needs the bearer token when one is configured; the health routes stay open", async () => {
    expect((await scrape(locked.url)).status).toBe(401)
    const wrong = await fetch(`${locked.url}/metrics`, { headers: { authorization: "Bearer nope" } })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get("www-authenticate")).toContain("Bearer")
    expect(await wrong.text()).not.toContain("weft_runs")
    // A session cookie is no substitute for the token.
    expect((await scrape(locked.url, alice.headers)).status).toBe(401)
    const right = await scrape(locked.url, { authorization: `Bearer ${TOKEN}` })
    expect(right.status).toBe(200)
    expect(sampleValue(right.families, "weft_database_up")).toBe(1)
    expect((await fetch(`${locked.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${locked.url}/readyz`)).status).toBe(200)
  })
})
