/**
 * Bad input everywhere (reliability.md 23): every route with a body gets malformed JSON, wrong types,
 * unknown fields and an oversize body; query strings, path and headers get wrong types. Each answer is a
 * 4xx whose message names the field, never a 500, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WeftApi } from "../src/api/Api.js"
import type { RunningHost } from "../src/Host.js"
import { client, helloGraph, readSse, signUp, startTestHost, tempDir } from "./api-support.js"

const dir = tempDir("bad-input")
let host: RunningHost
let api: ReturnType<typeof client>
let graphId = ""
let runId = ""

/** Oversize: just over the 1 MiB limit this host is started with. */
const LIMIT = 1024 * 1024

beforeAll(async () => {
  host = await startTestHost({ dataDir: dir.dir, maxBodyBytes: LIMIT })
  const session = await signUp(host.url, "alice")
  api = client(host.url, session)
  graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph())).body.id
  runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic: "t" } })).body.id
  await readSse(`${host.url}/api/runs/${runId}/events`, { headers: session.headers })
})
afterAll(async () => {
  await host?.close()
  dir.dispose()
})

interface ErrorBody {
  readonly _tag: string
  readonly error: string
  readonly fields?: Record<string, string>
}

/** Everything the API could have written: graphs with their versions, runs. */
const snapshot = async () => {
  const graphs =
    await api.get<ReadonlyArray<{ id: string; latestVersion: number; activeVersion: number }>>("/api/graphs")
  const runs = await api.get<ReadonlyArray<{ id: string; status: string }>>("/api/runs")
  return { graphs: graphs.body, runs: runs.body }
}

/** For each route with a body: a path, a body with one wrong type, and the field that must be named. */
const bodyRoutes = (): Record<string, { path: string; wrongType: [unknown, string]; valid: unknown }> => ({
  "blocks.execute": {
    path: `/api/blocks/${encodeURIComponent("weft/text/fill-text-template")}/execute`,
    wrongType: [{ input: "not an object" }, "input"],
    valid: { input: { values: {}, format: "x" } },
  },
  "graphs.create": {
    path: "/api/graphs",
    wrongType: [{ ...helloGraph(), nodes: [{ id: "a", blockId: 7 }] }, "nodes.0.blockId"],
    valid: helloGraph(),
  },
  "graphs.update": {
    path: `/api/graphs/${graphId}`,
    wrongType: [{ ...helloGraph(), name: ["not", "a", "name"] }, "name"],
    valid: helloGraph(),
  },
  "graphs.setActive": {
    path: `/api/graphs/${graphId}/versions/active`,
    wrongType: [{ version: "one" }, "version"],
    valid: { version: 1 },
  },
  "graphs.fork": { path: `/api/graphs/${graphId}/fork`, wrongType: [{ version: 0 }, "version"], valid: {} },
  "runs.start": {
    path: `/api/graphs/${graphId}/runs`,
    wrongType: [{ inputs: [1, 2] }, "inputs"],
    valid: { inputs: { topic: "x" } },
  },
  "runs.review": {
    path: `/api/runs/${runId}/reviews`,
    wrongType: [{ executionId: "x", approved: "yes" }, "approved"],
    valid: { executionId: "x", approved: true },
  },
})

describe("bad input", () => {
  it("covers every route that takes a body", () => {
    const withBody = Object.values(WeftApi.groups).flatMap((group) =>
      Object.values(group.endpoints)
        .filter((endpoint) => endpoint.payload.size > 0)
        .map((endpoint) => `${group.identifier}.${endpoint.identifier}`),
    )
    expect(withBody.sort()).toEqual(Object.keys(bodyRoutes()).sort())
  })

  it("malformed JSON, wrong types, unknown fields and oversize bodies get a 4xx naming the field, and write nothing", async () => {
    const before = await snapshot()
    for (const [name, route] of Object.entries(bodyRoutes())) {
      const method = name === "graphs.update" || name === "graphs.setActive" ? "PUT" : "POST"

      const malformed = await api.call<ErrorBody>(method, route.path, '{"name": "x", ')
      expect(malformed.status, `${name} malformed`).toBe(400)
      expect(malformed.body.fields, `${name} malformed`).toEqual({ body: "not valid JSON" })

      const [wrong, field] = route.wrongType
      const typed = await api.call<ErrorBody>(method, route.path, wrong)
      expect(typed.status, `${name} wrong type ${JSON.stringify(typed.body)}`).toBe(400)
      expect(Object.keys(typed.body.fields ?? {}), `${name} wrong type`).toContain(field)
      expect(typed.body.error, `${name} wrong type`).toContain(field)

      const extra = await api.call<ErrorBody>(method, route.path, {
        ...(route.valid as object),
        surprise: 1,
      })
      expect(extra.status, `${name} unknown field`).toBe(400)
      expect(extra.body.fields?.surprise, `${name} unknown field`).toBe("unknown field")

      const oversize = await api.call<ErrorBody>(
        method,
        route.path,
        JSON.stringify({ ...(route.valid as object), padding: "x".repeat(LIMIT) }),
      )
      expect(oversize.status, `${name} oversize`).toBe(413)
      expect(oversize.body._tag, `${name} oversize`).toBe("PayloadTooLarge")

      const notJson = await api.call<ErrorBody>(method, route.path, "a=b", { "content-type": "text/plain" })
      expect(notJson.status, `${name} text/plain`).toBe(415)
      expect(notJson.body.error, `${name} text/plain`).toContain("application/json")
    }
    expect(await snapshot()).toEqual(before)
  })

  it("a body that is JSON but not an object is refused", async () => {
    for (const body of ["[]", "42", '"text"', "null"]) {
      const answer = await api.call<ErrorBody>("POST", "/api/graphs", body)
      expect(answer.status, body).toBe(400)
      expect(answer.body._tag).toBe("BadRequest")
    }
  })

  it("query strings, path parameters and headers of the wrong type name the parameter", async () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      [`/api/graphs/${graphId}?version=abc`, {}, "query.version"],
      [`/api/graphs/${graphId}?version=0`, {}, "query.version"],
      [`/api/graphs/${graphId}?colour=red`, {}, "query.colour"],
      [`/api/graphs/${graphId}/export?format=pdf`, {}, "query.format"],
      [`/api/runs/${runId}/events?after=-1`, {}, "query.after"],
      [`/api/runs/${runId}/events?after=1.5`, {}, "query.after"],
      [`/api/runs/${runId}/events`, { "last-event-id": "seven" }, "header.last-event-id"],
    ]
    for (const [path, headers, field] of cases) {
      const answer = await api.get<ErrorBody>(path, headers)
      expect(answer.status, path).toBe(400)
      expect(Object.keys(answer.body.fields ?? {}), path).toContain(field)
    }
    const key = await api.post<ErrorBody>(
      `/api/graphs/${graphId}/runs`,
      {},
      { "idempotency-key": "k".repeat(201) },
    )
    expect(key.status).toBe(400)
    expect(Object.keys(key.body.fields ?? {})).toContain("header.idempotency-key")
  })

  it("unknown routes and methods get a JSON 404, never a 500", async () => {
    const nope = await api.get<ErrorBody>("/api/nope")
    expect(nope.status).toBe(404)
    expect(nope.body._tag).toBe("NotFound")
    const method = await api.call<ErrorBody>("DELETE", `/api/graphs/${graphId}`)
    expect(method.status).toBe(404)
    // A path parameter longer than the router's limit (100 characters) matches no route.
    const long = await api.get<ErrorBody>(`/api/graphs/${"x".repeat(300)}`)
    expect([long.status, long.body._tag]).toEqual([404, "NotFound"])
  })
})
