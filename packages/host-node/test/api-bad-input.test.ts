/**
 * Bad input everywhere (reliability.md 23), generated from the route table. Every route with a body gets
 * malformed JSON, JSON that is not an object, a wrong type in each of its top-level fields (and in nested
 * ones the sample lists), an unknown field, an oversize body (413) and a body that is not JSON (415); every
 * route with an id gets an unknown id, and every id a body names (graph, preset, credentials, execution,
 * version) gets an unknown one; query parameters and headers get wrong values; the webhook receiver gets
 * unknown, unsigned, badly signed, stale, malformed, empty and oversize deliveries. Each answer is a 4xx whose
 * body names the field (or, for an unknown id, the id), never a 500, and nothing is written: every table of
 * the database is compared before and after.
 */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sign } from "../src/triggers/webhooks/Signature.js"
import { type client, helloGraph, readSse } from "./api-support.js"
import { drivers } from "./support/db.js"
import { changedTables, fingerprint } from "./support/db-fingerprint.js"
import { type ProbedHost, startProbedHost } from "./support/probed-host.js"
import { pathWith, type Route, routeTable } from "./support/route-table.js"
import { makeTenant, type Tenant, YEARLY } from "./support/tenant.js"

/** Oversize: just over the 1 MiB limit this host is started with. */
const LIMIT = 1024 * 1024

/** The webhook deliveries' limit on this host. */
const DELIVERY_LIMIT = 64 * 1024

interface ErrorBody {
  readonly _tag: string
  readonly error: string
  readonly fields?: Record<string, string>
}

/** A route with a body: where to send it, and a valid body that sets every top-level field. */
interface BodySample {
  readonly path: string
  /** Valid as far as decoding goes, with every top-level field of the body's schema. */
  readonly valid: unknown
  /** Further wrong bodies and the field each must name (nested fields, values of the right type but wrong). */
  readonly wrong?: ReadonlyArray<readonly [body: unknown, field: string]>
}

/** A request naming an unknown id in its body (or a version that does not exist), and what must refuse it. */
interface UnknownRef {
  readonly path: string
  readonly body: unknown
  /** The unknown value the answer must name: in the 404's message, or as the 400's field. */
  readonly status: 400 | 404 | 409
  readonly names: string
}

const enc = encodeURIComponent

/**
 * A valid body for every route that takes one, keyed by `group.endpoint`. A route of `WeftApi` with a body
 * and no sample fails the test: add one for each new route.
 */
const bodySamples = (routes: ReadonlyMap<string, Route>, t: Tenant): Record<string, BodySample> => {
  const at = (name: string, id: string) => pathWith(routes.get(name) as Route, id)
  return {
    "blocks.execute": {
      path: at("blocks.execute", "weft/text/fill-text-template"),
      valid: { input: { values: {}, format: "x" } },
      wrong: [[{ input: { values: {} } }, "input.format"]],
    },
    "graphs.create": {
      path: "/api/graphs",
      valid: helloGraph(),
      wrong: [
        [{ ...helloGraph(), nodes: [{ id: "a", blockId: 7 }] }, "nodes.0.blockId"],
        [{ ...helloGraph(), name: 7 }, "name"],
        [{ ...helloGraph(), links: "none" }, "links"],
      ],
    },
    "graphs.update": {
      path: at("graphs.update", t.graphId),
      valid: helloGraph(),
      wrong: [
        [{ ...helloGraph(), name: ["not", "a", "name"] }, "name"],
        [{ ...helloGraph(), nodes: [{ id: "a", blockId: "weft/no/such-block" }] }, "nodes.a.blockId"],
      ],
    },
    "graphs.setActive": {
      path: at("graphs.setActive", t.graphId),
      valid: { version: 1 },
      wrong: [
        [{ version: 0 }, "version"],
        [{ version: 1.5 }, "version"],
      ],
    },
    "graphs.fork": {
      path: at("graphs.fork", t.graphId),
      valid: { version: 1 },
      wrong: [[{ version: 0 }, "version"]],
    },
    "sharing.share": {
      path: at("sharing.share", t.graphId),
      valid: { email: "someone@example.test", role: "viewer" },
      wrong: [
        [{ email: "not an email", role: "viewer" }, "email"],
        [{ email: "", role: "viewer" }, "email"],
        [{ email: "someone@example.test", role: "admin" }, "role"],
      ],
    },
    "runs.start": {
      path: at("runs.start", t.graphId),
      valid: { inputs: { topic: "x" }, version: 1, live: false },
      wrong: [
        [{ inputs: { nope: 1 } }, "inputs.nope"],
        [{ live: true, version: 1 }, "live"],
      ],
    },
    "runs.review": {
      path: at("runs.review", t.pausedRunId),
      valid: { executionId: t.reviewExecutionId, approved: true, data: "x", message: "m" },
      wrong: [[{ executionId: "", approved: true }, "executionId"]],
    },
    "apiKeys.create": {
      path: "/api/api-keys",
      valid: { name: "k", scopes: ["graphs:read"], expiresIn: 3600 },
      wrong: [
        [{ name: "k", scopes: ["graphs:fly"] }, "scopes.0"],
        [{ name: "k", scopes: [] }, "scopes"],
        [{ name: "", scopes: ["graphs:read"] }, "name"],
        [{ name: "k", scopes: ["graphs:read"], expiresIn: 0 }, "expiresIn"],
      ],
    },
    "credentials.create": {
      path: "/api/credentials",
      valid: {
        provider: "example",
        type: "host_scoped",
        title: "t",
        host: "api.example.com",
        secret: { headers: { "x-key": "v" } },
      },
      wrong: [
        [{ provider: "open ai", type: "api_key", secret: { api_key: "k" } }, "provider"],
        [{ provider: "openai", type: "api_keys", secret: { api_key: "k" } }, "type"],
        [{ provider: "openai", type: "api_key", secret: { api_key: 5 } }, "secret.api_key"],
        [{ provider: "openai", type: "api_key", secret: { api_key: "k", extra: "x" } }, "secret.extra"],
        [{ provider: "openai", type: "api_key", secret: "k" }, "secret"],
        [{ provider: "openai", type: "host_scoped", secret: { headers: {} } }, "host"],
      ],
    },
    "webhooks.create": {
      path: at("webhooks.create", t.hookGraphId),
      valid: { description: "d" },
      wrong: [[{ description: "d".repeat(201) }, "description"]],
    },
    "presets.create": {
      path: "/api/presets",
      valid: {
        graphId: t.judgeGraphId,
        name: "p",
        description: "d",
        inputs: { topic: "x" },
        credentials: { judge: { credentials: t.credentialId } },
        version: 1,
      },
      wrong: [
        [{ graphId: t.graphId, name: "p", inputs: { topic: 5, nope: 1 } }, "inputs.nope"],
        [{ graphId: t.graphId, name: "", inputs: {} }, "name"],
        [
          { graphId: t.judgeGraphId, name: "p", inputs: {}, credentials: { judge: { credentials: 5 } } },
          "credentials.judge.credentials",
        ],
        [
          {
            graphId: t.judgeGraphId,
            name: "p",
            inputs: {},
            credentials: { ghost: { credentials: t.credentialId } },
          },
          "credentials.ghost",
        ],
      ],
    },
    "presets.update": {
      path: at("presets.update", t.presetId),
      valid: {
        name: "p",
        description: "d",
        inputs: { topic: "x" },
        credentials: { judge: { credentials: t.credentialId } },
        version: null,
      },
      wrong: [
        [{ inputs: { nope: 1 } }, "inputs.nope"],
        [{ credentials: { judge: { model: t.credentialId } } }, "credentials.judge.model"],
      ],
    },
    "presets.execute": {
      path: at("presets.execute", t.presetId),
      valid: { inputs: { topic: "x" } },
      wrong: [[{ inputs: { nope: 1 } }, "inputs.nope"]],
    },
    "schedules.create": {
      path: "/api/schedules",
      valid: {
        graphId: t.judgeGraphId,
        presetId: t.presetId,
        cron: YEARLY,
        timezone: "UTC",
        inputs: { topic: "x" },
        version: 1,
        name: "s",
        paused: true,
      },
      wrong: [
        [{ graphId: t.graphId, cron: "every minute", timezone: "UTC", inputs: { topic: "x" } }, "cron"],
        [{ graphId: t.graphId, cron: "61 * * * *", timezone: "UTC", inputs: { topic: "x" } }, "cron"],
        [{ graphId: t.graphId, cron: YEARLY, timezone: "Mars/Olympus", inputs: { topic: "x" } }, "timezone"],
        [{ graphId: t.graphId, cron: YEARLY, timezone: "UTC", inputs: {} }, "inputs.topic"],
        [{ graphId: t.graphId, cron: YEARLY, timezone: "UTC", presetId: t.presetId }, "presetId"],
      ],
    },
    "schedules.update": {
      path: at("schedules.update", t.scheduleId),
      valid: { name: "s", cron: YEARLY, timezone: "UTC", inputs: { topic: "x" }, paused: true },
      wrong: [
        [{ cron: "* * *" }, "cron"],
        [{ timezone: "Nowhere/Land" }, "timezone"],
        [{ inputs: { nope: 1 } }, "inputs.nope"],
      ],
    },
  }
}

/** Every id a body names, pointed at nothing: keyed by `group.endpoint.field`. */
const unknownRefs = (routes: ReadonlyMap<string, Route>, t: Tenant): Record<string, UnknownRef> => {
  const at = (name: string, id: string) => pathWith(routes.get(name) as Route, id)
  const ghost = `ghost-${randomUUID()}`
  return {
    "runs.start.version": {
      path: at("runs.start", t.graphId),
      body: { version: 99 },
      status: 404,
      names: "99",
    },
    "runs.review.executionId": {
      path: at("runs.review", t.pausedRunId),
      body: { executionId: ghost, approved: true },
      status: 409,
      names: ghost,
    },
    "graphs.setActive.version": {
      path: at("graphs.setActive", t.graphId),
      body: { version: 99 },
      status: 404,
      names: "99",
    },
    "graphs.fork.version": {
      path: at("graphs.fork", t.graphId),
      body: { version: 99 },
      status: 404,
      names: "99",
    },
    "presets.create.graphId": {
      path: "/api/presets",
      body: { graphId: ghost, name: "p", inputs: {} },
      status: 404,
      names: ghost,
    },
    "presets.create.version": {
      path: "/api/presets",
      body: { graphId: t.graphId, name: "p", inputs: {}, version: 99 },
      status: 404,
      names: "99",
    },
    "presets.create.credentials": {
      path: "/api/presets",
      body: {
        graphId: t.judgeGraphId,
        name: "p",
        inputs: {},
        credentials: { judge: { credentials: ghost } },
      },
      status: 400,
      names: "credentials.judge.credentials",
    },
    "presets.update.credentials": {
      path: at("presets.update", t.presetId),
      body: { credentials: { judge: { credentials: ghost } } },
      status: 400,
      names: "credentials.judge.credentials",
    },
    "presets.update.version": {
      path: at("presets.update", t.presetId),
      body: { version: 99 },
      status: 404,
      names: "99",
    },
    "schedules.create.graphId": {
      path: "/api/schedules",
      body: { graphId: ghost, cron: YEARLY, timezone: "UTC" },
      status: 404,
      names: ghost,
    },
    "schedules.create.presetId": {
      path: "/api/schedules",
      body: { graphId: t.judgeGraphId, presetId: ghost, cron: YEARLY, timezone: "UTC" },
      status: 404,
      names: ghost,
    },
    "schedules.create.version": {
      path: "/api/schedules",
      body: { graphId: t.graphId, cron: YEARLY, timezone: "UTC", inputs: { topic: "x" }, version: 99 },
      status: 404,
      names: "99",
    },
  }
}

/** Body fields that name something stored: each needs an `unknownRefs` case. */
const isReference = (field: string) => /Id$/.test(field) || field === "version" || field === "credentials"

/** A value of another type than `value`, for the generated wrong-type requests. */
const wrongTypeFor = (value: unknown): unknown =>
  typeof value === "string"
    ? 12345
    : typeof value === "number"
      ? "12"
      : typeof value === "boolean"
        ? "yes"
        : Array.isArray(value)
          ? { not: "a list" }
          : "not an object"

/** Bad values for each query parameter and header, by name. */
const BAD_QUERY: Record<string, ReadonlyArray<string>> = {
  version: ["abc", "0", "1.5"],
  format: ["pdf"],
  after: ["-1", "1.5"],
  graphId: ["x".repeat(201), ""],
  provider: ["open ai", "x".repeat(101)],
}
const BAD_HEADERS: Record<string, ReadonlyArray<string>> = {
  "idempotency-key": ["k".repeat(201)],
  "last-event-id": ["seven", "-1"],
}

describe.each(drivers)("bad input on %s", (driver) => {
  let host: ProbedHost
  let alice: Tenant
  let api: ReturnType<typeof client>
  let routes: ReadonlyMap<string, Route>

  beforeAll(async () => {
    host = await startProbedHost(driver, "bad-input", {
      maxBodyBytes: LIMIT,
      webhooks: { maxBodyBytes: DELIVERY_LIMIT },
    })
    alice = await makeTenant(host.url, "alice")
    api = alice.api
    routes = new Map(routeTable().map((route) => [route.name, route]))
  }, 60_000)
  afterAll(async () => {
    await host?.close()
  })

  /** Runs `f`, then checks that no table changed. */
  const writesNothing = async (what: string, f: () => Promise<void>) => {
    const before = await fingerprint(host)
    await f()
    expect(changedTables(before, await fingerprint(host)), `${what} wrote`).toEqual([])
  }

  it("has a sample for every route with a body, setting every top-level field, and a case for every id it names", () => {
    const samples = bodySamples(routes, alice)
    const withBody = [...routes.values()].filter((route) => route.body !== undefined)
    expect(withBody.map((route) => route.name).sort(), "routes with a body").toEqual(
      Object.keys(samples).sort(),
    )
    const refs = unknownRefs(routes, alice)
    const needed: Array<string> = []
    for (const route of withBody) {
      const fields = route.body?.fields
      if (fields === undefined) continue
      const valid = samples[route.name]?.valid as Record<string, unknown>
      expect(Object.keys(valid).sort(), `${route.name}: the sample sets every field`).toEqual(
        fields.map((field) => field.name).sort(),
      )
      needed.push(...fields.filter((f) => isReference(f.name)).map((f) => `${route.name}.${f.name}`))
    }
    expect(Object.keys(refs).sort(), "every id a body names has an unknown-id case").toEqual(needed.sort())
  })

  it("malformed JSON, wrong types, unknown fields, oversize and non-JSON bodies get a 4xx naming the field, and write nothing", async () => {
    for (const [name, sample] of Object.entries(bodySamples(routes, alice))) {
      const route = routes.get(name) as Route
      const { method } = route
      await writesNothing(name, async () => {
        const malformed = await api.call<ErrorBody>(method, sample.path, '{"name": "x", ')
        expect.soft(malformed.status, `${name} malformed`).toBe(400)
        expect.soft(malformed.body.fields, `${name} malformed`).toEqual({ body: "not valid JSON" })

        for (const body of ["[]", "42", '"text"', "true"]) {
          const notObject = await api.call<ErrorBody>(method, sample.path, body)
          expect.soft(notObject.status, `${name} ${body}`).toBe(400)
          expect.soft(notObject.body._tag, `${name} ${body}`).toBe("BadRequest")
          expect.soft(Object.keys(notObject.body.fields ?? {}).length, `${name} ${body}`).toBeGreaterThan(0)
        }
        if (route.body?.optional !== true) {
          const empty = await api.call<ErrorBody>(method, sample.path, "", {
            "content-type": "application/json",
          })
          expect.soft(empty.status, `${name} empty`).toBe(400)
          const absent = await api.call<ErrorBody>(method, sample.path, "null")
          expect.soft(absent.status, `${name} null`).toBe(400)
        }

        // A wrong type in each top-level field (generated from the sample), then the sample's own cases.
        const valid = sample.valid as Record<string, unknown>
        const wrong: Array<readonly [unknown, string]> = []
        for (const field of route.body?.fields ?? []) {
          if (field.tag === "Unknown") continue
          wrong.push([{ ...valid, [field.name]: wrongTypeFor(valid[field.name]) }, field.name])
          if (!field.optional) {
            const { [field.name]: _, ...rest } = valid
            wrong.push([rest, field.name])
          }
        }
        wrong.push(...(sample.wrong ?? []))
        for (const [body, field] of wrong) {
          const typed = await api.call<ErrorBody>(method, sample.path, body)
          const label = `${name} ${JSON.stringify(body).slice(0, 120)} → ${JSON.stringify(typed.body)}`
          expect.soft(typed.status, label).toBe(400)
          expect
            .soft(
              Object.keys(typed.body.fields ?? {}).some(
                (key) => key === field || key.startsWith(`${field}.`),
              ),
              label,
            )
            .toBe(true)
          expect.soft(typed.body.error, label).toContain(field)
        }

        const extra = await api.call<ErrorBody>(method, sample.path, { ...valid, surprise: 1 })
        expect.soft(extra.status, `${name} unknown field`).toBe(400)
        expect.soft(extra.body.fields?.surprise, `${name} unknown field`).toBe("unknown field")

        const oversize = await api.call<ErrorBody>(
          method,
          sample.path,
          JSON.stringify({ ...valid, padding: "x".repeat(LIMIT) }),
        )
        expect.soft(oversize.status, `${name} oversize`).toBe(413)
        expect.soft(oversize.body._tag, `${name} oversize`).toBe("PayloadTooLarge")

        const notJson = await api.call<ErrorBody>(method, sample.path, "a=b", {
          "content-type": "text/plain",
        })
        expect.soft(notJson.status, `${name} text/plain`).toBe(415)
        expect.soft(notJson.body.error, `${name} text/plain`).toContain("application/json")
      })
    }
  })

  it("every route with an id answers an unknown one with a JSON 404 naming it, and writes nothing", async () => {
    const samples = bodySamples(routes, alice)
    const withId = [...routes.values()].filter((route) => route.params.some((p) => p.name === "id"))
    expect.soft(withId.length).toBeGreaterThan(20)
    await writesNothing("unknown ids", async () => {
      for (const route of withId) {
        const id = randomUUID()
        const path = pathWith(route, id)
        const label = `${route.method} ${path}`
        const body = route.body === undefined ? undefined : samples[route.name]?.valid
        const answer = await api.call<ErrorBody>(route.method, path, body)
        expect.soft(answer.status, `${label} ${JSON.stringify(answer.body)}`).toBe(404)
        expect.soft(answer.body._tag, label).toBe("NotFound")
        expect.soft(answer.body.error, label).toContain(id)
      }
    })
  })

  it("every id a body names, pointed at nothing, is refused naming it, and nothing is written", async () => {
    for (const [name, ref] of Object.entries(unknownRefs(routes, alice))) {
      const route = routes.get(name.split(".").slice(0, 2).join(".")) as Route
      await writesNothing(name, async () => {
        const answer = await api.call<ErrorBody>(route.method, ref.path, ref.body)
        const label = `${name} → ${answer.status} ${JSON.stringify(answer.body)}`
        expect.soft(answer.status, label).toBe(ref.status)
        if (ref.status === 400) expect.soft(Object.keys(answer.body.fields ?? {}), label).toContain(ref.names)
        else expect.soft(answer.body.error, label).toContain(ref.names)
      })
    }
  })

  it("query parameters and headers with wrong values, and unknown query parameters, get a 400 naming them", async () => {
    const samples = bodySamples(routes, alice)
    const ids: Record<string, string> = {
      graphs: alice.graphId,
      runs: alice.doneRunId,
      credentials: alice.credentialId,
      presets: alice.presetId,
      schedules: alice.scheduleId,
      apiKeys: alice.keyId,
      webhooks: alice.hookGraphId,
      blocks: "weft/text/fill-text-template",
    }
    await writesNothing("query and headers", async () => {
      for (const route of routes.values()) {
        // The runs routes under a graph take the graph's id.
        const id = route.path.startsWith("/api/graphs/")
          ? alice.graphId
          : (ids[route.name.split(".")[0] ?? ""] ?? "")
        const path = pathWith(route, id)
        const body = route.body === undefined ? undefined : samples[route.name]?.valid
        const send = async (query: string, headers: Record<string, string>) => {
          if (route.name === "runs.events") {
            const answer = await fetch(`${host.url}${path}${query}`, {
              headers: { ...alice.session.headers, ...headers },
            })
            return { status: answer.status, body: (await answer.json()) as ErrorBody }
          }
          return api.call<ErrorBody>(route.method, `${path}${query}`, body, headers)
        }
        for (const field of route.query) {
          const bad = BAD_QUERY[field.name]
          expect
            .soft(bad, `no bad values for query parameter ${field.name} of ${route.name}: add some`)
            .toBeDefined()
          for (const value of bad ?? []) {
            const answer = await send(`?${field.name}=${enc(value)}`, {})
            const label = `${route.name} ?${field.name}=${value.slice(0, 20)} → ${JSON.stringify(answer.body)}`
            expect.soft(answer.status, label).toBe(400)
            expect.soft(Object.keys(answer.body.fields ?? {}), label).toContain(`query.${field.name}`)
          }
        }
        if (route.query.length > 0) {
          const answer = await send("?surprise=1", {})
          expect.soft(answer.status, `${route.name} ?surprise`).toBe(400)
          expect.soft(Object.keys(answer.body.fields ?? {}), route.name).toContain("query.surprise")
        }
        for (const field of route.headers) {
          const bad = BAD_HEADERS[field.name]
          expect.soft(bad, `no bad values for header ${field.name} of ${route.name}: add some`).toBeDefined()
          for (const value of bad ?? []) {
            const answer = await send("", { [field.name]: value })
            const label = `${route.name} ${field.name}: ${value.slice(0, 20)} → ${JSON.stringify(answer.body)}`
            expect.soft(answer.status, label).toBe(400)
            expect.soft(Object.keys(answer.body.fields ?? {}), label).toContain(`header.${field.name}`)
          }
        }
      }
    })
  })

  it("the webhook receiver refuses unknown, unsigned, badly signed, stale, malformed, empty and oversize deliveries, and writes nothing", async () => {
    const url = `${host.url}/api/webhooks/${alice.webhookId}`
    const now = Math.floor(Date.now() / 1000)
    const payload = JSON.stringify({ event: "x" })
    const post = async (
      target: string,
      body: string | Uint8Array | ReadableStream<Uint8Array>,
      headers: Record<string, string>,
    ) => {
      const response = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit)
      const text = await response.text()
      return { status: response.status, body: JSON.parse(text) as ErrorBody, text }
    }
    const signed = (body: string, t = now) => ({ "x-weft-signature": sign(alice.webhookSecret, t, body) })
    /** A JSON string holding the byte 0xff, which is not UTF-8. */
    const notUtf8 = new Uint8Array([0x22, 0xff, 0x22])
    const big = JSON.stringify({ padding: "x".repeat(DELIVERY_LIMIT) })
    const cases: ReadonlyArray<
      readonly [
        what: string,
        target: string,
        body: string | Uint8Array | (() => ReadableStream<Uint8Array>),
        headers: Record<string, string>,
        status: number,
        field: string | undefined,
      ]
    > = [
      [
        "unknown webhook",
        `${host.url}/api/webhooks/${randomUUID()}`,
        payload,
        signed(payload),
        404,
        undefined,
      ],
      ["unsigned", url, payload, {}, 401, "X-Weft-Signature"],
      ["empty signature", url, payload, { "x-weft-signature": "" }, 401, "X-Weft-Signature"],
      ["malformed signature", url, payload, { "x-weft-signature": "t=abc,v1=zz" }, 401, "X-Weft-Signature"],
      ["no v1", url, payload, { "x-weft-signature": `t=${now}` }, 401, "X-Weft-Signature"],
      [
        "another secret",
        url,
        payload,
        { "x-weft-signature": sign("whsec_not-the-secret", now, payload) },
        401,
        "X-Weft-Signature",
      ],
      ["signed for another body", url, payload, signed("{}"), 401, "X-Weft-Signature"],
      ["stale", url, payload, signed(payload, now - 3600), 401, "X-Weft-Signature"],
      ["from the future", url, payload, signed(payload, now + 3600), 401, "X-Weft-Signature"],
      ["not JSON", url, "{not json", signed("{not json"), 400, "body"],
      [
        "not UTF-8",
        url,
        notUtf8,
        { "x-weft-signature": sign(alice.webhookSecret, now, notUtf8) },
        400,
        "body",
      ],
      ["empty", url, "", signed(""), 400, "body"],
      [
        "idempotency key too long",
        url,
        payload,
        { ...signed(payload), "idempotency-key": "k".repeat(201) },
        400,
        "header.idempotency-key",
      ],
      ["oversize", url, big, signed(big), 413, "body"],
      [
        "oversize, chunked",
        url,
        () =>
          new ReadableStream<Uint8Array>({
            start(controller) {
              for (let i = 0; i < 4; i++)
                controller.enqueue(new TextEncoder().encode("x".repeat(DELIVERY_LIMIT / 2)))
              controller.close()
            },
          }),
        { "x-weft-signature": `t=${now},v1=${"0".repeat(64)}` },
        413,
        "body",
      ],
    ]
    await writesNothing("refused deliveries", async () => {
      for (const [what, target, body, headers, status, field] of cases) {
        const answer = await post(target, typeof body === "function" ? body() : body, headers)
        expect.soft(answer.status, `${what}: ${answer.text}`).toBe(status)
        if (field !== undefined) expect.soft(Object.keys(answer.body.fields ?? {}), what).toContain(field)
        expect.soft(answer.text, what).not.toContain(alice.webhookSecret)
      }
    })
    // The receiver works: a well-signed delivery starts a run, and the fingerprint sees what it wrote.
    const before = await fingerprint(host)
    const accepted = await post(url, payload, signed(payload))
    expect(accepted.status, accepted.text).toBe(202)
    // Its run finishes before the next test looks at the database.
    const runId = (JSON.parse(accepted.text) as { runId: string }).runId
    await readSse(`${host.url}/api/runs/${runId}/events`, { headers: alice.session.headers })
    const written = changedTables(before, await fingerprint(host)).map((table) => table.split(" ")[0])
    expect(written).toEqual(expect.arrayContaining(["runs", "webhook_deliveries"]))
  })

  it("a NUL character in an id, a query parameter or a text field gets a 4xx, never a 500, and a refusal writes nothing", async () => {
    const samples = bodySamples(routes, alice)
    const nul = "a\u0000b"
    /** What went wrong, one line per request: the test lists them all at the end. */
    const problems: Array<string> = []
    /** Sends one request: never a 5xx; a 4xx writes nothing, and a 400 names `field`. */
    const check = async (
      label: string,
      field: string,
      send: () => Promise<{ status: number; body: ErrorBody }>,
    ) => {
      const before = await fingerprint(host)
      const answer = await send()
      const text = `${label} → ${answer.status} ${JSON.stringify(answer.body)}`
      if (answer.status >= 500) problems.push(text)
      else if (answer.status === 400 && !Object.keys(answer.body.fields ?? {}).includes(field)) {
        problems.push(`${text} (does not name ${field})`)
      }
      if (answer.status >= 400) {
        const written = changedTables(before, await fingerprint(host))
        if (written.length > 0) problems.push(`${text} wrote ${written.join(", ")}`)
      }
    }
    for (const route of routes.values()) {
      if (route.params.some((p) => p.name === "id")) {
        const path = pathWith(route, nul)
        const body = route.body === undefined ? undefined : samples[route.name]?.valid
        await check(`${route.name} id`, "path.id", () => api.call<ErrorBody>(route.method, path, body))
      }
      if (route.query.some((q) => q.name === "graphId")) {
        await check(`${route.name} ?graphId`, "query.graphId", () =>
          api.get<ErrorBody>(`${route.path}?graphId=${enc(nul)}`),
        )
      }
      // Every top-level text field of the body (but free text handed to a run as it is).
      const sample = samples[route.name]
      if (sample === undefined) continue
      const valid = sample.valid as Record<string, unknown>
      const textFields =
        route.body?.fields?.filter((f) => f.tag === "String").map((f) => f.name) ??
        Object.keys(valid).filter((name) => typeof valid[name] === "string")
      for (const field of textFields) {
        if (route.name === "runs.review" && field === "message") continue
        await check(`${route.name} ${field}`, field, () =>
          api.call<ErrorBody>(route.method, sample.path, { ...valid, [field]: nul }),
        )
      }
    }
    await check("webhook delivery id", "id", async () => {
      const delivery = await fetch(`${host.url}/api/webhooks/${enc(nul)}`, { method: "POST", body: "{}" })
      return { status: delivery.status, body: (await delivery.json()) as ErrorBody }
    })
    expect(problems).toEqual([])
  })

  it("a version beyond the database's integer range gets a 4xx naming it, never a 500, and writes nothing", async () => {
    const samples = bodySamples(routes, alice)
    const huge = 2 ** 31
    const problems: Array<string> = []
    let checked = 0
    await writesNothing("huge versions", async () => {
      for (const route of routes.values()) {
        const sample = samples[route.name]
        if (sample !== undefined && route.body?.fields?.some((f) => f.name === "version")) {
          const answer = await api.call<ErrorBody>(route.method, sample.path, {
            ...(sample.valid as object),
            version: huge,
          })
          if (![400, 404].includes(answer.status)) {
            problems.push(`${route.name} version ${huge} → ${answer.status} ${JSON.stringify(answer.body)}`)
          }
          checked++
        }
        if (route.query.some((q) => q.name === "version")) {
          const id = route.name.startsWith("graphs.") ? alice.graphId : ""
          const answer = await api.get<ErrorBody>(`${pathWith(route, id)}?version=${huge}`)
          if (![400, 404].includes(answer.status)) {
            problems.push(`${route.name} ?version=${huge} → ${answer.status} ${JSON.stringify(answer.body)}`)
          }
          checked++
        }
      }
    })
    expect(checked).toBeGreaterThanOrEqual(8)
    expect(problems).toEqual([])
  })

  it("unknown routes and methods get a JSON 404, never a 500", async () => {
    await writesNothing("unknown routes", async () => {
      const nope = await api.get<ErrorBody>("/api/nope")
      expect.soft([nope.status, nope.body._tag]).toEqual([404, "NotFound"])
      const method = await api.call<ErrorBody>("DELETE", `/api/graphs/${alice.graphId}`)
      expect.soft(method.status).toBe(404)
      const getWebhook = await api.get<ErrorBody>(`/api/webhooks/${alice.webhookId}`)
      expect.soft(getWebhook.status).toBe(404)
      const postHealth = await api.post<ErrorBody>("/healthz", { x: 1 })
      expect.soft(postHealth.status).toBe(404)
      // A path parameter longer than the router's limit (100 characters) matches no route.
      const long = await api.get<ErrorBody>(`/api/graphs/${"x".repeat(300)}`)
      expect.soft([long.status, long.body._tag]).toEqual([404, "NotFound"])
    })
  })
})
