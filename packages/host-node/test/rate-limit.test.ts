/**
 * Rate limits on real sockets, on PGlite and on Postgres: sign-in per client address and per account (from
 * many addresses: the loopback range 127.0.0.0/8 gives each request its own source address), 429 with
 * `Retry-After`, `X-Forwarded-For` believed only from a trusted proxy, and run starts per user (sessions and
 * API keys alike), allowed again once the window has passed. On Postgres, two hosts share the buckets.
 */
import { request as httpRequest } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  freshDatabase,
  helloGraph,
  type Session,
  startTestHost,
  TEST_PASSWORD,
  tempDir,
} from "./api-support.js"

interface Reply {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly body: Record<string, unknown>
}

/** A JSON POST sent from the local address `from` (any 127.x.y.z: all of 127.0.0.0/8 is this machine). */
const postFrom = (
  url: string,
  from: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const text = JSON.stringify(body)
    const req = httpRequest(
      url,
      {
        method: "POST",
        localAddress: from,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(text),
          ...headers,
        },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8")
          let parsed: Record<string, unknown> = {}
          try {
            parsed = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>)
          } catch {
            parsed = { raw }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed })
        })
      },
    )
    req.on("error", reject)
    req.end(text)
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Limits small enough to reach in a test. */
const LIMITS = {
  auth: {
    signInRateLimit: { window: 60, max: 3 },
    signInAccountRateLimit: { window: 6, max: 3 },
    trustedProxies: ["127.0.0.9"],
  },
  limits: { runStarts: { window: 4, max: 2 } },
} as const

describe.each(["pglite", "postgres"] as const)("rate limits on %s", (driver) => {
  let host: RunningHost
  let second: RunningHost | undefined
  let dispose: () => Promise<void>
  let users = 0

  /** Signs up a new user from its own address (sign-ups count against the address too). */
  const newUser = async (name: string): Promise<Session> => {
    users += 1
    const email = `${name}@example.test`
    const answer = await postFrom(`${host.url}/api/auth/sign-up/email`, `127.0.1.${users}`, {
      email,
      password: TEST_PASSWORD,
      name,
    })
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    const cookies = ([] as Array<string>).concat(answer.headers["set-cookie"] ?? [])
    const cookie = cookies.map((line) => line.split(";")[0]).join("; ")
    return {
      userId: (answer.body.user as { id: string }).id,
      email,
      password: TEST_PASSWORD,
      headers: { cookie },
      setCookies: cookies,
    }
  }

  const signInFrom = (from: string, email: string, password: string, headers: Record<string, string> = {}) =>
    postFrom(`${host.url}/api/auth/sign-in/email`, from, { email, password }, headers)

  beforeAll(async () => {
    if (driver === "postgres") {
      const db = await freshDatabase("ratelimit")
      host = await startTestHost({ databaseUrl: db.url, ...LIMITS })
      second = await startTestHost({ databaseUrl: db.url, ...LIMITS })
      dispose = db.drop
    } else {
      const dir = tempDir("ratelimit")
      host = await startTestHost({ dataDir: dir.dir, ...LIMITS })
      dispose = async () => dir.dispose()
    }
  })

  afterAll(async () => {
    await second?.close()
    await host?.close()
    await dispose?.()
  })

  it("limits sign-in attempts per address: 429 with Retry-After; another address is not affected", async () => {
    const from = "127.0.2.1"
    const statuses: Array<number> = []
    let refused: Reply | undefined
    // Different accounts each time: only the address is common.
    for (let i = 0; i < 4; i++) {
      const answer = await signInFrom(from, `nobody${i}@example.test`, "wrong password")
      statuses.push(answer.status)
      if (answer.status === 429) refused = answer
    }
    expect(statuses).toEqual([401, 401, 401, 429])
    const retryAfter = Number(refused?.headers["retry-after"])
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(refused?.body).toMatchObject({ _tag: "TooManyRequests", retryAfter })
    expect(String(refused?.body.error)).toMatch(/sign-in attempts from this address/)
    expect((await signInFrom("127.0.2.2", "nobody0@example.test", "wrong password")).status).toBe(401)
  })

  it("believes X-Forwarded-For only from a trusted proxy", async () => {
    // From an untrusted address the header is ignored: every attempt counts against 127.0.3.1.
    const spoofed: Array<number> = []
    for (let i = 0; i < 4; i++) {
      const answer = await signInFrom("127.0.3.1", `spoof${i}@example.test`, "wrong", {
        "x-forwarded-for": `198.51.100.${i}`,
      })
      spoofed.push(answer.status)
    }
    expect(spoofed).toEqual([401, 401, 401, 429])
    // Through the trusted proxy 127.0.0.9, each forwarded client has its own bucket...
    const forwarded: Array<number> = []
    for (let i = 0; i < 4; i++) {
      const answer = await signInFrom("127.0.0.9", `proxied${i}@example.test`, "wrong", {
        "x-forwarded-for": `203.0.113.7, 198.51.100.${10 + i}`,
      })
      forwarded.push(answer.status)
    }
    expect(forwarded).toEqual([401, 401, 401, 401])
    // ...and one forwarded client is limited like any other.
    const one: Array<number> = []
    for (let i = 0; i < 4; i++) {
      const answer = await signInFrom("127.0.0.9", `proxied-one${i}@example.test`, "wrong", {
        "x-forwarded-for": "198.51.100.99",
      })
      one.push(answer.status)
    }
    expect(one).toEqual([401, 401, 401, 429])
  })

  it("limits failed sign-ins per account from many addresses; successes do not count; the window passes", async () => {
    const carol = await newUser("carol")
    const dave = await newUser("dave")
    // Three failures, each from a different address (no address reaches its own limit).
    for (let i = 1; i <= 3; i++) {
      expect((await signInFrom(`127.0.4.${i}`, carol.email, "wrong password")).status).toBe(401)
    }
    // The account is now refused from any address, even with the right password (any spelling of the email).
    const refused = await signInFrom("127.0.4.10", carol.email.toUpperCase(), TEST_PASSWORD)
    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers["retry-after"])
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(6)
    expect(refused.body).toMatchObject({ _tag: "TooManyRequests", retryAfter })
    expect(String(refused.body.error)).toMatch(/failed sign-ins for this account/)
    // Another account from the same addresses is not affected.
    expect((await signInFrom("127.0.4.1", dave.email, TEST_PASSWORD)).status).toBe(200)
    // Successful sign-ins do not count.
    for (let i = 1; i <= 3; i++) {
      expect((await signInFrom(`127.0.5.${i}`, dave.email, TEST_PASSWORD)).status).toBe(200)
    }
    expect((await signInFrom("127.0.5.9", dave.email, TEST_PASSWORD)).status).toBe(200)
    // Once the window has passed, carol may sign in again.
    await sleep(retryAfter * 1000 + 100)
    const again = await signInFrom("127.0.4.11", carol.email, TEST_PASSWORD)
    expect(again.status).toBe(200)
  })

  it("limits run starts per user, sessions and API keys alike: 429 with Retry-After, then allowed again", async () => {
    const erin = await newUser("erin")
    const frank = await newUser("frank")
    const api = client(host.url, erin)
    const graph = await api.post<{ id: string }>("/api/graphs", helloGraph("Limited"))
    expect(graph.status).toBe(201)
    const key = await api.post<{ key: string }>("/api/api-keys", {
      name: "runner",
      scopes: ["graphs:execute"],
    })
    expect(key.status).toBe(201)
    const byKey = client(host.url, { headers: { authorization: `Bearer ${key.body.key}` } })
    const path = `/api/graphs/${graph.body.id}/runs`
    // A burst of two (the limit is 2 per 4 s), the first by the session, the second by the key.
    expect((await api.post(path, { inputs: { topic: "1" } })).status).toBe(201)
    expect((await byKey.post(path, { inputs: { topic: "2" } })).status).toBe(201)
    const refused = await (second === undefined ? api : client(second.url, erin)).post<
      Record<string, unknown>
    >(path, { inputs: { topic: "3" } })
    expect(refused.status).toBe(429)
    const retryAfter = Number(refused.headers.get("retry-after"))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(4)
    expect(refused.body).toMatchObject({ _tag: "TooManyRequests", retryAfter })
    expect(String(refused.body.error)).toMatch(/Too many run starts/)
    expect((await byKey.post<Record<string, unknown>>(path, { inputs: { topic: "4" } })).status).toBe(429)
    // Nothing was started by the refused calls.
    expect((await api.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${graph.body.id}`)).body).toHaveLength(2)
    // Another user has a bucket of their own.
    const frankGraph = await client(host.url, frank).post<{ id: string }>(
      "/api/graphs",
      helloGraph("Frank's"),
    )
    expect(
      (
        await client(host.url, frank).post(`/api/graphs/${frankGraph.body.id}/runs`, {
          inputs: { topic: "f" },
        })
      ).status,
    ).toBe(201)
    await sleep(retryAfter * 1000 + 50)
    expect((await byKey.post(path, { inputs: { topic: "5" } })).status).toBe(201)
  })

  it("parallel run starts, on every host of the database, never exceed the burst", async () => {
    const gina = await newUser("gina")
    const graph = await client(host.url, gina).post<{ id: string }>("/api/graphs", helloGraph("Parallel"))
    const hosts = second === undefined ? [host, host] : [host, second]
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        client((hosts[i % 2] ?? host).url, gina).post(`/api/graphs/${graph.body.id}/runs`, {
          inputs: { topic: String(i) },
        }),
      ),
    )
    const statuses = answers.map((a) => a.status).sort()
    expect(statuses).toEqual([201, 201, 429, 429, 429, 429, 429, 429])
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    }
  })

  it("a retry with the same Idempotency-Key is not a new start", async () => {
    const hank = await newUser("hank")
    const api = client(host.url, hank)
    const graph = await api.post<{ id: string }>("/api/graphs", helloGraph("Retried"))
    const path = `/api/graphs/${graph.body.id}/runs`
    const first = await api.post<{ id: string; existing: boolean }>(
      path,
      { inputs: { topic: "a" } },
      { "idempotency-key": "a" },
    )
    expect(first.body.existing).toBe(false)
    for (let i = 0; i < 3; i++) {
      const retry = await api.post<{ id: string; existing: boolean }>(
        path,
        { inputs: { topic: "a" } },
        { "idempotency-key": "a" },
      )
      expect(retry.status).toBe(201)
      expect(retry.body).toEqual({ id: first.body.id, existing: true })
    }
    expect((await api.post(path, { inputs: { topic: "b" } }, { "idempotency-key": "b" })).status).toBe(201)
    expect((await api.post(path, { inputs: { topic: "c" } }, { "idempotency-key": "c" })).status).toBe(429)
  })
})

describe("weft serve", () => {
  it("reads the trusted proxies from WEFT_TRUSTED_PROXIES, and trusts none without it", async () => {
    const { serveOptions } = await import("../src/cli/serve.js")
    expect(serveOptions([], {}).options.auth).not.toHaveProperty("trustedProxies")
    expect(
      serveOptions([], { WEFT_TRUSTED_PROXIES: " 10.0.0.1, ::1 ,," }).options.auth?.trustedProxies,
    ).toEqual(["10.0.0.1", "::1"])
  })

  it("refuses a limit that cannot work", async () => {
    const dir = tempDir("ratelimit-bad")
    try {
      await expect(
        startTestHost({ dataDir: dir.dir, limits: { runStarts: { window: 60, max: 0 } } }),
      ).rejects.toThrow(/max must be/)
      await expect(
        startTestHost({ dataDir: dir.dir, auth: { signInAccountRateLimit: { window: -1, max: 3 } } }),
      ).rejects.toThrow(/window must be/)
    } finally {
      dir.dispose()
    }
  })
})
