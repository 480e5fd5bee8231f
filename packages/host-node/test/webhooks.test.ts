/**
 * Webhooks over HTTP, on PGlite and on Postgres: the owner creates a webhook for a graph with a webhook
 * trigger (the secret shown once), a signed delivery starts a run whose outputs hold the payload, and
 * everything else is refused with nothing started: unsigned, wrongly signed, stale, oversize (declared or
 * streamed), not JSON, unknown or deleted webhook. Replays and re-signed retries with an `Idempotency-Key`
 * start one run. Another user can neither list nor delete someone's webhooks.
 */
import { randomBytes } from "node:crypto"
import { request as httpRequest } from "node:http"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import { sign } from "../src/triggers/webhooks/Signature.js"
import {
  type Answer,
  client,
  eventually,
  freshDatabase,
  type Session,
  signIn,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"

/** The AutoGPT id of the generic webhook trigger: an alias of `weft/io/webhook-trigger`. */
const AUTOGPT_TRIGGER = "8fa8c167-2002-47ce-aba8-97572fc5d387"

/** Trigger `event` → output `received` (the payload) and output `constants`. */
const webhookGraph = (blockId = "weft/io/webhook-trigger") => ({
  name: "On webhook",
  nodes: [
    { id: "hook", blockId, inputDefault: { name: "event", constants: { source: "test" } } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "received" } },
    { id: "consts", blockId: "weft/io/agent-output", inputDefault: { name: "constants" } },
  ],
  links: [
    { sourceId: "hook", sourceName: "payload", sinkId: "out", sinkName: "value" },
    { sourceId: "hook", sourceName: "constants", sinkId: "consts", sinkName: "value" },
  ],
})

interface Created {
  readonly id: string
  readonly graphId: string
  readonly description: string
  readonly url: string
  readonly secret: string
  readonly createdAt: number
}

interface ErrorBody {
  readonly _tag: string
  readonly error: string
  readonly fields?: Record<string, string>
}

interface RunView {
  readonly id: string
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
}

const now = () => Math.floor(Date.now() / 1000)

/** A credentials key: 32 random bytes in base64 (webhook secrets are sealed with it). */
const newKey = () => randomBytes(32).toString("base64")

/** POSTs `body` to a webhook URL, signed with `secret` at `t` unless `signature` says otherwise. */
const deliver = async (
  url: string,
  body: string,
  options: {
    readonly secret?: string
    readonly t?: number
    readonly signature?: string | null
    readonly headers?: Record<string, string>
  } = {},
): Promise<Answer<{ runId: string; existing: boolean } & ErrorBody>> => {
  const signature =
    options.signature === null
      ? undefined
      : (options.signature ?? sign(options.secret ?? "", options.t ?? now(), body))
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(signature === undefined ? {} : { "x-weft-signature": signature }),
      ...options.headers,
    },
    body,
  })
  const text = await response.text()
  return {
    status: response.status,
    body: text === "" ? undefined : JSON.parse(text),
    headers: response.headers,
  }
}

/** Streams `size` bytes with chunked encoding (no content-length), signed: the cap applies while reading. */
const deliverChunked = (url: string, secret: string, size: number) =>
  new Promise<{ status: number; body: ErrorBody }>((resolve, reject) => {
    const body = Buffer.alloc(size, "a")
    const req = httpRequest(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "transfer-encoding": "chunked",
          "x-weft-signature": sign(secret, now(), body),
        },
      },
      (res) => {
        let text = ""
        res.on("data", (chunk) => {
          text += String(chunk)
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
      },
    )
    req.on("error", reject)
    for (let offset = 0; offset < size; offset += 16 * 1024)
      req.write(body.subarray(offset, offset + 16 * 1024))
    req.end()
  })

type Setup = { readonly host: RunningHost; readonly dispose: () => Promise<void> }

const setups: ReadonlyArray<readonly [string, () => Promise<Setup>]> = [
  [
    "pglite",
    async () => {
      const dir = tempDir("webhooks")
      const host = await startTestHost({ dataDir: dir.dir })
      return {
        host,
        dispose: async () => {
          await host.close()
          dir.dispose()
        },
      }
    },
  ],
  [
    "postgres",
    async () => {
      const db = await freshDatabase("webhooks")
      const host = await startTestHost({ databaseUrl: db.url, credentials: { key: newKey() } })
      return {
        host,
        dispose: async () => {
          await host.close()
          await db.drop()
        },
      }
    },
  ],
]

describe.each(setups)("webhooks on %s", (_driver, setup) => {
  let env: Setup
  let base: string
  let aliceSession: Session
  let alice: ReturnType<typeof client>
  let bob: ReturnType<typeof client>
  let graphId: string
  let hook: Created

  const runsOf = async (graph: string) =>
    (await alice.get<ReadonlyArray<{ id: string }>>(`/api/runs?graphId=${graph}`)).body.length

  const finished = (runId: string) =>
    eventually(async () => {
      const run = await alice.get<RunView>(`/api/runs/${runId}`)
      return run.body.status === "COMPLETED" || run.body.status === "FAILED" ? run.body : undefined
    })

  beforeAll(async () => {
    env = await setup()
    base = env.host.url
    aliceSession = await signUp(base, "alice")
    alice = client(base, aliceSession)
    bob = client(base, await signUp(base, "bob"))
    graphId = (await alice.post<{ id: string }>("/api/graphs", webhookGraph())).body.id
    const created = await alice.post<Created>(`/api/graphs/${graphId}/webhooks`)
    expect(created.status).toBe(201)
    hook = created.body
  })
  afterAll(async () => {
    await env?.dispose()
  })

  it("creates a webhook: its URL, and a secret shown once", async () => {
    expect(hook.url).toBe(`${base}/api/webhooks/${hook.id}`)
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/)
    expect(hook.graphId).toBe(graphId)
    const list = await alice.get<ReadonlyArray<Record<string, unknown>>>(`/api/graphs/${graphId}/webhooks`)
    expect(list.status).toBe(200)
    expect(list.body).toEqual([
      { id: hook.id, graphId, description: "", url: hook.url, createdAt: hook.createdAt },
    ])
    expect(JSON.stringify(list.body)).not.toContain(hook.secret)
  })

  it("a signed delivery starts a run whose outputs hold the payload", async () => {
    const payload = { action: "opened", issue: { number: 7, title: "Hello" } }
    const answer = await deliver(hook.url, JSON.stringify(payload), { secret: hook.secret })
    expect(answer.status).toBe(202)
    expect(answer.body.existing).toBe(false)
    const run = await finished(answer.body.runId)
    expect(run.status).toBe("COMPLETED")
    expect(run.outputs).toEqual({ received: [payload], constants: [{ source: "test" }] })
  })

  it("needs no session and is not refused as cross-site: the signature is the authentication", async () => {
    const answer = await deliver(hook.url, JSON.stringify([1, "two"]), {
      secret: hook.secret,
      headers: { origin: "https://elsewhere.example", "sec-fetch-site": "cross-site" },
    })
    expect(answer.status).toBe(202)
    expect((await finished(answer.body.runId)).outputs.received).toEqual([[1, "two"]])
  })

  it("unsigned, malformed, wrongly signed and stale deliveries get 401 and start nothing", async () => {
    const before = await runsOf(graphId)
    const body = JSON.stringify({ hello: "world" })
    const cases = {
      missing: await deliver(hook.url, body, { signature: null }),
      malformed: await deliver(hook.url, body, { signature: "sha256=abc" }),
      mismatch: await deliver(hook.url, body, { secret: "whsec_not-the-secret" }),
      tampered: await deliver(hook.url, JSON.stringify({ hello: "evil" }), {
        signature: sign(hook.secret, now(), body),
      }),
      stale: await deliver(hook.url, body, { secret: hook.secret, t: now() - 301 }),
      future: await deliver(hook.url, body, { secret: hook.secret, t: now() + 400 }),
    }
    for (const [name, answer] of Object.entries(cases)) {
      expect(answer.status, name).toBe(401)
      expect(answer.body._tag, name).toBe("Unauthorized")
      expect(answer.body.fields, name).toHaveProperty("X-Weft-Signature")
    }
    expect(cases.missing.body.error).toContain("not signed")
    expect(cases.missing.body.fields?.["X-Weft-Signature"]).toBe("missing")
    expect(cases.malformed.body.fields?.["X-Weft-Signature"]).toBe("malformed")
    expect(cases.mismatch.body.fields?.["X-Weft-Signature"]).toBe("mismatch")
    expect(cases.tampered.body.fields?.["X-Weft-Signature"]).toBe("mismatch")
    expect(cases.stale.body.fields?.["X-Weft-Signature"]).toBe("stale")
    expect(cases.future.body.fields?.["X-Weft-Signature"]).toBe("stale")
    expect(await runsOf(graphId)).toBe(before)
  })

  it("an oversize body gets 413, declared or streamed, and starts nothing", async () => {
    const before = await runsOf(graphId)
    const big = JSON.stringify({ data: "x".repeat(256 * 1024) })
    const declared = await deliver(hook.url, big, { secret: hook.secret })
    expect(declared.status).toBe(413)
    expect(declared.body).toMatchObject({ _tag: "PayloadTooLarge", fields: { body: "at most 262144 bytes" } })
    const streamed = await deliverChunked(hook.url, hook.secret, 300 * 1024)
    expect(streamed.status).toBe(413)
    expect(streamed.body._tag).toBe("PayloadTooLarge")
    // Just under the cap is accepted.
    const fits = JSON.stringify({ data: "x".repeat(256 * 1024 - 20) })
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(256 * 1024)
    const accepted = await deliver(hook.url, fits, { secret: hook.secret })
    expect(accepted.status).toBe(202)
    expect(await runsOf(graphId)).toBe(before + 1)
  })

  it("a signed body that is not JSON gets 400 naming body", async () => {
    const before = await runsOf(graphId)
    const notJson = await deliver(hook.url, "action=opened", { secret: hook.secret })
    expect(notJson.status).toBe(400)
    expect(notJson.body.fields).toEqual({ body: "not valid JSON (UTF-8)" })
    const empty = await deliver(hook.url, "", { secret: hook.secret })
    expect(empty.status).toBe(400)
    expect(empty.body.fields).toEqual({ body: "send a JSON value" })
    expect(await runsOf(graphId)).toBe(before)
  })

  it("an unknown webhook id gets 404", async () => {
    const answer = await deliver(`${base}/api/webhooks/no-such-hook`, "{}", { secret: hook.secret })
    expect(answer.status).toBe(404)
    expect(answer.body).toEqual({ _tag: "NotFound", error: "No webhook no-such-hook" })
  })

  it("a replayed delivery starts nothing new; re-signed retries with one Idempotency-Key start one run", async () => {
    const before = await runsOf(graphId)
    const body = JSON.stringify({ delivery: "once" })
    const signature = sign(hook.secret, now(), body)
    const first = await deliver(hook.url, body, { signature })
    const replay = await deliver(hook.url, body, { signature, headers: { "idempotency-key": "changed" } })
    expect(first.status).toBe(202)
    expect(replay.status).toBe(202)
    expect(replay.body).toEqual({ runId: first.body.runId, existing: true })

    const retried = JSON.stringify({ delivery: "retried" })
    const key = { "idempotency-key": "delivery-42" }
    const a = await deliver(hook.url, retried, { secret: hook.secret, t: now() - 2, headers: key })
    const b = await deliver(hook.url, retried, { secret: hook.secret, t: now(), headers: key })
    expect([a.status, b.status]).toEqual([202, 202])
    expect(b.body).toEqual({ runId: a.body.runId, existing: true })
    // The same key for another payload is refused.
    const other = await deliver(hook.url, JSON.stringify({ delivery: "other" }), {
      secret: hook.secret,
      headers: key,
    })
    expect(other.status).toBe(422)
    expect(other.body.fields).toHaveProperty("Idempotency-Key")
    expect(await runsOf(graphId)).toBe(before + 2)
  })

  it("a graph without a named webhook trigger, or with another required input, cannot have a webhook", async () => {
    const plain = (
      await alice.post<{ id: string }>("/api/graphs", {
        name: "No trigger",
        nodes: [{ id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "o", value: 1 } }],
        links: [],
      })
    ).body.id
    const none = await alice.post<ErrorBody>(`/api/graphs/${plain}/webhooks`)
    expect(none.status).toBe(400)
    expect(none.body.fields?.graph).toContain("has no webhook trigger")

    const unnamedGraph = webhookGraph(AUTOGPT_TRIGGER)
    const unnamed = (
      await alice.post<{ id: string }>("/api/graphs", {
        ...unnamedGraph,
        nodes: unnamedGraph.nodes.map((n) =>
          n.id === "hook" ? { ...n, inputDefault: { constants: {} } } : n,
        ),
      })
    ).body.id
    const nameless = await alice.post<ErrorBody>(`/api/graphs/${unnamed}/webhooks`)
    expect(nameless.status).toBe(400)
    expect(Object.keys(nameless.body.fields ?? {})).toEqual(["nodes.hook.name"])

    const withInput = webhookGraph()
    const needsInput = (
      await alice.post<{ id: string }>("/api/graphs", {
        ...withInput,
        nodes: [
          ...withInput.nodes,
          { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } },
        ],
      })
    ).body.id
    const required = await alice.post<ErrorBody>(`/api/graphs/${needsInput}/webhooks`)
    expect(required.status).toBe(400)
    expect(Object.keys(required.body.fields ?? {})).toEqual(["inputs.topic"])

    const strict = await alice.post<ErrorBody>(`/api/graphs/${graphId}/webhooks`, { unknown: 1 })
    expect(strict.status).toBe(400)
    expect(strict.body.fields).toEqual({ unknown: "unknown field" })
    const wrongType = await alice.post<ErrorBody>(`/api/graphs/${graphId}/webhooks`, { description: 7 })
    expect(wrongType.status).toBe(400)
    expect(Object.keys(wrongType.body.fields ?? {})).toEqual(["description"])
    expect((await alice.get<ReadonlyArray<unknown>>(`/api/graphs/${graphId}/webhooks`)).body).toHaveLength(1)
  })

  it("the AutoGPT generic webhook trigger id works as the trigger block", async () => {
    const id = (await alice.post<{ id: string }>("/api/graphs", webhookGraph(AUTOGPT_TRIGGER))).body.id
    const created = await alice.post<Created>(`/api/graphs/${id}/webhooks`)
    expect(created.status).toBe(201)
    const answer = await deliver(created.body.url, '{"via":"alias"}', { secret: created.body.secret })
    expect(answer.status).toBe(202)
    expect((await finished(answer.body.runId)).outputs.received).toEqual([{ via: "alias" }])
  })

  it("another user cannot create, list or delete someone's webhooks (404, no data)", async () => {
    for (const answer of [
      await bob.post<ErrorBody>(`/api/graphs/${graphId}/webhooks`),
      await bob.get<ErrorBody>(`/api/graphs/${graphId}/webhooks`),
      await bob.call<ErrorBody>("DELETE", `/api/webhooks/${hook.id}`),
    ]) {
      expect(answer.status).toBe(404)
      expect(JSON.stringify(answer.body)).not.toContain(hook.secret)
      expect(JSON.stringify(answer.body)).not.toContain(hook.url)
    }
    expect((await alice.get<ReadonlyArray<unknown>>(`/api/graphs/${graphId}/webhooks`)).body).toHaveLength(1)
    // Without a session the owner routes are refused.
    expect((await client(base).get(`/api/graphs/${graphId}/webhooks`)).status).toBe(401)
  })

  it("deleting a webhook makes its URL 404; its secret no longer starts anything", async () => {
    const second = (
      await alice.post<Created>(`/api/graphs/${graphId}/webhooks`, { description: "from the CI" })
    ).body
    expect(second.description).toBe("from the CI")
    expect(second.secret).not.toBe(hook.secret)
    const removed = await alice.call("DELETE", `/api/webhooks/${second.id}`)
    expect(removed.status).toBe(204)
    const before = await runsOf(graphId)
    const answer = await deliver(second.url, "{}", { secret: second.secret })
    expect(answer.status).toBe(404)
    expect((await alice.call("DELETE", `/api/webhooks/${second.id}`)).status).toBe(404)
    expect(await runsOf(graphId)).toBe(before)
    const list = await alice.get<ReadonlyArray<{ id: string }>>(`/api/graphs/${graphId}/webhooks`)
    expect(list.body.map((w) => w.id)).toEqual([hook.id])
  })
})

describe("webhook secrets at rest (Postgres)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let admin: postgres.Sql
  const hosts: Array<RunningHost> = []
  const start = async (credentials: { key?: string; previousKeys?: ReadonlyArray<string> }) => {
    const host = await startTestHost({ databaseUrl: db.url, credentials })
    hosts.push(host)
    return host
  }
  const stop = async (host: RunningHost) => {
    await host.close()
    hosts.splice(hosts.indexOf(host), 1)
  }

  beforeAll(async () => {
    db = await freshDatabase("webhook_keys")
    admin = postgres(db.url, { max: 1, onnotice: () => {} })
  })
  afterAll(async () => {
    for (const host of hosts) await host.close()
    await admin?.end({ timeout: 5 })
    await db?.drop()
  })

  it("stores the secret sealed, reseals it when the key rotates, and refuses (503) without the key", async () => {
    const first = newKey()
    const second = newKey()
    let host = await start({ key: first })
    const session = await signUp(host.url, "carol")
    const carol = client(host.url, session)
    const graphId = (await carol.post<{ id: string }>("/api/graphs", webhookGraph())).body.id
    const hook = (await carol.post<Created>(`/api/graphs/${graphId}/webhooks`)).body
    const rawSecret = hook.secret.slice("whsec_".length)

    // Nowhere in the database in plain, base64 or hex form.
    const dump = JSON.stringify(await admin.unsafe("SELECT to_jsonb(w)::text AS row FROM webhooks w"))
    for (const form of [
      hook.secret,
      rawSecret,
      Buffer.from(hook.secret).toString("base64"),
      Buffer.from(hook.secret).toString("hex"),
    ]) {
      expect(dump).not.toContain(form)
    }
    const [before] = await admin.unsafe<Array<{ key_id: string }>>("SELECT key_id FROM webhooks")
    expect((await deliver(hook.url, "{}", { secret: hook.secret })).status).toBe(202)

    // Rotation: the new key seals, the previous one still opens; starting reseals.
    await stop(host)
    host = await start({ key: second, previousKeys: [first] })
    const [after] = await admin.unsafe<Array<{ key_id: string }>>("SELECT key_id FROM webhooks")
    expect(after?.key_id).not.toBe(before?.key_id)
    const url = `${host.url}/api/webhooks/${hook.id}`
    expect((await deliver(url, '{"n":1}', { secret: hook.secret })).status).toBe(202)

    // The previous key can go now.
    await stop(host)
    host = await start({ key: second })
    expect(
      (await deliver(`${host.url}/api/webhooks/${hook.id}`, '{"n":2}', { secret: hook.secret })).status,
    ).toBe(202)

    // Without a key nothing can be sealed or opened: 503, and nothing starts.
    await stop(host)
    host = await start({})
    const locked = client(host.url, await signUp(host.url, "dave"))
    const lockedGraph = (await locked.post<{ id: string }>("/api/graphs", webhookGraph())).body.id
    const refused = await locked.post<ErrorBody>(`/api/graphs/${lockedGraph}/webhooks`)
    expect(refused.status).toBe(503)
    expect(refused.body.error).toContain("WEFT_CREDENTIALS_KEY")
    const runs = await admin.unsafe<Array<{ n: number }>>("SELECT count(*)::int AS n FROM runs")
    const unopenable = await deliver(`${host.url}/api/webhooks/${hook.id}`, "{}", { secret: hook.secret })
    expect(unopenable.status).toBe(503)
    expect(unopenable.body._tag).toBe("WebhooksUnavailable")
    expect(await admin.unsafe("SELECT count(*)::int AS n FROM runs")).toEqual(runs)
  })
})

describe("webhook deliveries and the run-start limit (PGlite)", () => {
  const dir = tempDir("webhooks-limit")
  let host: RunningHost
  beforeAll(async () => {
    host = await startTestHost({ dataDir: dir.dir, limits: { runStarts: { window: 3600, max: 1 } } })
  })
  afterAll(async () => {
    await host?.close()
    dir.dispose()
  })

  it("a delivery counts as a run start of the owner: over the limit it gets 429 with Retry-After", async () => {
    const erin = client(host.url, await signUp(host.url, "erin"))
    const graphId = (await erin.post<{ id: string }>("/api/graphs", webhookGraph())).body.id
    const hook = (await erin.post<Created>(`/api/graphs/${graphId}/webhooks`)).body
    expect((await deliver(hook.url, '{"n":1}', { secret: hook.secret })).status).toBe(202)
    const limited = await deliver(hook.url, '{"n":2}', { secret: hook.secret })
    expect(limited.status).toBe(429)
    expect(limited.body._tag).toBe("TooManyRequests")
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0)
    // Refused before anything started: an unsigned delivery does not even reach the limit.
    expect((await deliver(hook.url, '{"n":3}', { signature: null })).status).toBe(401)
    expect((await erin.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graphId}`)).body).toHaveLength(1)
  })
})

describe("webhooks and disabled blocks (PGlite)", () => {
  const dir = tempDir("webhooks-disabled")
  afterAll(() => dir.dispose())

  it("a delivery cannot run a graph whose block was disabled since: 422 naming the node, no run", async () => {
    let host = await startTestHost({ dataDir: dir.dir })
    let frank = client(host.url, await signUp(host.url, "frank"))
    const graph = webhookGraph()
    const stored = await frank.post<{ id: string }>("/api/graphs", {
      ...graph,
      nodes: [
        ...graph.nodes,
        { id: "clock", blockId: "weft/time/get-current-time", inputDefault: { trigger: "now" } },
      ],
    })
    expect(stored.status, JSON.stringify(stored.body)).toBe(201)
    const graphId = stored.body.id
    const made = await frank.post<Created>(`/api/graphs/${graphId}/webhooks`)
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    const hook = made.body
    await host.close()

    host = await startTestHost({ dataDir: dir.dir, runs: { disabledBlocks: ["weft/time/get-current-time"] } })
    try {
      const url = `${host.url}/api/webhooks/${hook.id}`
      const refused = await deliver(url, '{"n":1}', { secret: hook.secret })
      expect(refused.status, JSON.stringify(refused.body)).toBe(422)
      expect(Object.keys(refused.body.fields ?? {})).toEqual(["nodes.clock.blockId"])
      expect(refused.body.fields?.["nodes.clock.blockId"]).toContain("disabled")
      frank = client(host.url, await signIn(host.url, "frank@example.test"))
      expect((await frank.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graphId}`)).body).toHaveLength(0)
      // Nor can a new webhook be made for it.
      const created = await frank.post<ErrorBody>(`/api/graphs/${graphId}/webhooks`)
      expect(created.status).toBe(400)
      expect(Object.keys(created.body.fields ?? {})).toEqual(["nodes.clock.blockId"])
    } finally {
      await host.close()
    }
  })
})
