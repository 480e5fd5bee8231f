/**
 * Cross-tenant matrix (reliability.md 16), generated from the route table: user B (signed in with a real
 * better-auth session) using user A's ids gets 404 on every route that takes an id, an empty list on every
 * list, and 0 event frames; A's data is unchanged afterwards.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { WeftApi } from "../src/api/Api.js"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventFrames,
  eventually,
  helloGraph,
  readSse,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"

const dir = tempDir("isolation")
let host: RunningHost

beforeAll(async () => {
  host = await startTestHost({ dataDir: dir.dir })
})
afterAll(async () => {
  await host?.close()
  dir.dispose()
})

interface RunView {
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly executions: ReadonlyArray<{ id: string; status: string }>
}

it("another owner gets 404 for every graph and run id, empty lists, and no events", async () => {
  const aliceSession = await signUp(host.url, "alice")
  const bobSession = await signUp(host.url, "bob")
  expect(aliceSession.userId).not.toBe(bobSession.userId)
  const alice = client(host.url, aliceSession)
  const bob = client(host.url, bobSession)

  // Alice: a graph with two versions, a finished run, and a run waiting for review.
  const graph = await alice.post<{ id: string }>("/api/graphs", helloGraph("Alice's"))
  const graphId = graph.body.id
  await alice.put(`/api/graphs/${graphId}`, helloGraph("Alice's v2"))
  const done = await alice.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic: "a" } })
  await readSse(`${host.url}/api/runs/${done.body.id}/events`, { headers: aliceSession.headers })
  const reviewGraph = await alice.post<{ id: string }>("/api/graphs", {
    name: "Review",
    nodes: [
      { id: "hitl", blockId: "weft/agent/human-in-the-loop", inputDefault: { name: "x", data: "secret" } },
      { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "o" } },
    ],
    links: [{ sourceId: "hitl", sourceName: "approved_data", sinkId: "out", sinkName: "value" }],
  })
  const paused = await alice.post<{ id: string }>(`/api/graphs/${reviewGraph.body.id}/runs`, {})
  const reviewId = await eventually(async () => {
    const run = await alice.get<RunView>(`/api/runs/${paused.body.id}`)
    return run.body.executions.find((e) => e.status === "REVIEW")?.id
  })

  /** A valid request for each route that takes an id, so that only ownership can refuse it. */
  const samples: Record<string, { id: string; body?: unknown; query?: string }> = {
    "graphs.get": { id: graphId, query: "?version=1" },
    "graphs.update": { id: graphId, body: helloGraph("Bob's takeover") },
    "graphs.versions": { id: graphId },
    "graphs.setActive": { id: graphId, body: { version: 1 } },
    "graphs.fork": { id: graphId },
    "graphs.export": { id: graphId, query: "?format=autogpt" },
    "runs.start": { id: graphId, body: { inputs: { topic: "b" } } },
    "runs.get": { id: done.body.id },
    "runs.stop": { id: paused.body.id },
    "runs.review": { id: paused.body.id, body: { executionId: reviewId, approved: true, data: "bob's" } },
    "runs.events": { id: done.body.id },
  }
  const tried: Array<string> = []
  for (const group of Object.values(WeftApi.groups)) {
    // Blocks are shared by every user: their ids are block ids, not anyone's data.
    if (group.identifier === "blocks") continue
    for (const endpoint of Object.values(group.endpoints)) {
      const name = `${group.identifier}.${endpoint.identifier}`
      if (!endpoint.path.includes(":id")) {
        // A list: Bob's is empty. (The other route without an id creates Bob's own graph.)
        if (endpoint.method === "GET") {
          const list = await bob.get<ReadonlyArray<unknown>>(
            `${endpoint.path}${name === "runs.list" ? `?graphId=${graphId}` : ""}`,
          )
          expect(list.status, name).toBe(200)
          expect(list.body, name).toEqual([])
        }
        tried.push(name)
        continue
      }
      const sample = samples[name]
      expect(sample, `no sample request for ${name}: add one`).toBeDefined()
      if (sample === undefined) continue
      const path = endpoint.path.replace(":id", encodeURIComponent(sample.id)) + (sample.query ?? "")
      if (name === "runs.events") {
        const sse = await readSse(`${host.url}${path}`, { headers: bobSession.headers })
        expect(sse.status, name).toBe(404)
        expect(eventFrames(sse.frames), name).toEqual([])
      } else {
        const answer = await bob.call(endpoint.method, path, sample.body)
        expect(answer.status, `${name} ${JSON.stringify(answer.body)}`).toBe(404)
      }
      tried.push(name)
    }
  }
  expect(tried.sort()).toEqual([...Object.keys(samples), "graphs.create", "graphs.list", "runs.list"].sort())

  // Alice's data is as she left it.
  const versions = await alice.get<ReadonlyArray<{ version: number; active: boolean }>>(
    `/api/graphs/${graphId}/versions`,
  )
  expect(versions.body.map((v) => [v.version, v.active])).toEqual([
    [1, false],
    [2, true],
  ])
  const pausedRun = await alice.get<RunView>(`/api/runs/${paused.body.id}`)
  expect(pausedRun.body.status).toBe("REVIEW")
  expect((await alice.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graphId}`)).body).toHaveLength(1)
  expect((await alice.get<ReadonlyArray<unknown>>("/api/graphs")).body).toHaveLength(2)
  // Bob created nothing either (the create route is his own; he made no graph in this test).
  expect((await bob.get<ReadonlyArray<unknown>>("/api/graphs")).body).toEqual([])
  expect((await bob.get<ReadonlyArray<unknown>>("/api/runs")).body).toEqual([])
  // A third user sees nothing; no session at all is refused.
  const carol = client(host.url, await signUp(host.url, "carol"))
  expect((await carol.get<ReadonlyArray<unknown>>("/api/graphs")).body).toEqual([])
  expect((await client(host.url).get("/api/graphs")).status).toBe(401)
})
