/**
 * Sign-in with better-auth on an embedded (PGlite) host, over real sockets: sign-up, sign-in, sign-out,
 * refusals (no cookie, wrong password, cross-site requests, too many attempts), the cookie's flags, and
 * sessions that survive a restart on the same data directory.
 */
import { statSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SECRET_FILE } from "../src/Auth.js"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  helloGraph,
  type Session,
  signIn,
  signUp,
  startTestHost,
  TEST_PASSWORD,
  tempDir,
} from "./api-support.js"

const dir = tempDir("auth")
let host: RunningHost
let alice: Session

beforeAll(async () => {
  host = await startTestHost({ dataDir: dir.dir })
  alice = await signUp(host.url, "alice")
})
afterAll(async () => {
  await host?.close()
  dir.dispose()
})

const post = (path: string, body: unknown, headers: Record<string, string>) =>
  fetch(`${host.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  })

describe("sign-up and sign-in", () => {
  it("gives an HttpOnly, SameSite=Lax session cookie (not Secure on http)", () => {
    const session = alice.setCookies.find((line) => line.startsWith("better-auth.session_token="))
    expect(session).toBeDefined()
    const flags = (session ?? "").split(";").map((part) => part.trim().toLowerCase())
    expect(flags).toContain("httponly")
    expect(flags).toContain("samesite=lax")
    expect(flags).not.toContain("secure")
    expect(flags).toContain("path=/")
  })

  it("the cookie makes the API usable; the owner is the user", async () => {
    const api = client(host.url, alice)
    const created = await api.post<{ id: string }>("/api/graphs", helloGraph("Alice's"))
    expect(created.status).toBe(201)
    const list = await api.get<ReadonlyArray<{ id: string }>>("/api/graphs")
    expect(list.body.map((g) => g.id)).toContain(created.body.id)
  })

  it("signs in again with the password, and refuses a wrong one with 401", async () => {
    const again = await signIn(host.url, alice.email)
    expect(again.userId).toBe(alice.userId)
    expect((await client(host.url, again).get("/api/graphs")).status).toBe(200)
    const wrong = await post(
      "/api/auth/sign-in/email",
      { email: alice.email, password: "not the password" },
      {},
    )
    expect(wrong.status).toBe(401)
    expect(wrong.headers.getSetCookie().filter((c) => c.startsWith("better-auth.session_token="))).toEqual([])
    const unknown = await post(
      "/api/auth/sign-in/email",
      { email: "nobody@example.test", password: TEST_PASSWORD },
      {},
    )
    expect(unknown.status).toBe(401)
  })

  it("signs out: the old cookie no longer works", async () => {
    const session = await signIn(host.url, alice.email)
    expect((await client(host.url, session).get("/api/runs")).status).toBe(200)
    const out = await post("/api/auth/sign-out", {}, { ...session.headers, origin: host.url })
    expect(out.status).toBe(200)
    const after = await client(host.url, session).get<{ error: string }>("/api/runs")
    expect(after.status).toBe(401)
    // Alice's other session is still signed in.
    expect((await client(host.url, alice).get("/api/runs")).status).toBe(200)
  })
})

describe("refusals", () => {
  it("answers 401 with a JSON message without a session, except the public routes", async () => {
    const anonymous = client(host.url)
    for (const path of ["/api/graphs", "/api/runs", "/api/runs/x", "/api/runs/x/events", "/api/graphs/x"]) {
      const answer = await anonymous.get<{ _tag: string; error: string }>(path)
      expect(answer.status, path).toBe(401)
      expect(answer.body._tag, path).toBe("Unauthorized")
      expect(answer.body.error, path).toMatch(/Sign in first/)
    }
    expect((await anonymous.post("/api/graphs", helloGraph())).status).toBe(401)
    expect(
      (
        await anonymous.post(`/api/blocks/${encodeURIComponent("weft/text/fill-text-template")}/execute`, {
          input: {},
        })
      ).status,
    ).toBe(401)
    const forged = await client(host.url, {
      headers: { cookie: "better-auth.session_token=forged.value" },
    }).get("/api/graphs")
    expect(forged.status).toBe(401)
    expect((await anonymous.get("/api/blocks")).status).toBe(200)
    expect((await anonymous.get("/api/openapi.json")).status).toBe(200)
  })

  it("refuses state-changing requests from another origin, with or without the cookie", async () => {
    const before = (await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/graphs")).body.length
    const evil = await post("/api/graphs", helloGraph("CSRF"), {
      ...alice.headers,
      origin: "https://evil.example",
    })
    expect(evil.status).toBe(403)
    expect(((await evil.json()) as { error: string }).error).toMatch(/Cross-site/)
    const crossSite = await post("/api/graphs", helloGraph("CSRF"), {
      ...alice.headers,
      "sec-fetch-site": "cross-site",
    })
    expect(crossSite.status).toBe(403)
    const nullOrigin = await post("/api/graphs", helloGraph("CSRF"), { ...alice.headers, origin: "null" })
    expect(nullOrigin.status).toBe(403)
    const signInFromEvil = await post(
      "/api/auth/sign-in/email",
      { email: alice.email, password: TEST_PASSWORD },
      { origin: "https://evil.example" },
    )
    expect(signInFromEvil.status).toBe(403)
    expect((await client(host.url, alice).get<ReadonlyArray<unknown>>("/api/graphs")).body).toHaveLength(
      before,
    )
    // The server's own origin (and its localhost spelling) is accepted.
    const own = await post("/api/graphs", helloGraph("Same origin"), {
      ...alice.headers,
      origin: host.url,
      "sec-fetch-site": "same-origin",
    })
    expect(own.status).toBe(201)
    const localhost = host.url.replace("127.0.0.1", "localhost")
    expect(
      (await post("/api/graphs", helloGraph("localhost"), { ...alice.headers, origin: localhost })).status,
    ).toBe(201)
  })

  it("grants no CORS to other origins", async () => {
    const preflight = await fetch(`${host.url}/api/graphs`, {
      method: "OPTIONS",
      headers: {
        origin: "https://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    })
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull()
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull()
    const read = await fetch(`${host.url}/api/graphs`, {
      headers: { ...alice.headers, origin: "https://evil.example" },
    })
    expect(read.headers.get("access-control-allow-origin")).toBeNull()
    const authPreflight = await fetch(`${host.url}/api/auth/sign-in/email`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    })
    expect(authPreflight.headers.get("access-control-allow-origin")).toBeNull()
  })

  it("ignores a client-sent address header (the rate limit keys on the socket)", async () => {
    const spoofed = await post(
      "/api/auth/sign-in/email",
      { email: alice.email, password: TEST_PASSWORD },
      { "x-weft-client-ip": "203.0.113.9" },
    )
    expect(spoofed.status).toBe(200)
  })
})

describe("secret and restarts", () => {
  it("keeps a generated secret in the data directory with mode 0600, and sessions survive a restart", async () => {
    const file = join(dir.dir, SECRET_FILE)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const graphs = (await client(host.url, alice).get<ReadonlyArray<{ id: string }>>("/api/graphs")).body
    await host.close()
    host = await startTestHost({ dataDir: dir.dir })
    const after = await client(host.url, alice).get<ReadonlyArray<{ id: string }>>("/api/graphs")
    expect(after.status).toBe(200)
    expect(after.body.map((g) => g.id).sort()).toEqual(graphs.map((g) => g.id).sort())
    expect((await signIn(host.url, alice.email)).userId).toBe(alice.userId)
  })
})

describe("rate limit and development mode", () => {
  it("refuses sign-in attempts past the limit with 429", async () => {
    const limited = tempDir("auth-limit")
    const small = await startTestHost({
      dataDir: limited.dir,
      auth: { signInRateLimit: { window: 60, max: 3 } },
    })
    try {
      const user = await signUp(small.url, "carol")
      const attempt = () =>
        fetch(`${small.url}/api/auth/sign-in/email`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: user.email, password: "wrong password" }),
        })
      const statuses: Array<number> = []
      for (let i = 0; i < 4; i++) statuses.push((await attempt()).status)
      expect(statuses).toEqual([401, 401, 401, 429])
      // The API itself is not limited by it.
      expect((await client(small.url, user).get("/api/graphs")).status).toBe(200)
    } finally {
      await small.close()
      limited.dispose()
    }
  })

  it("with sign-in off, every request acts for the one local user and cross-site writes are still refused", async () => {
    const devDir = tempDir("auth-off")
    const dev = await startTestHost({ dataDir: devDir.dir, auth: { mode: "off" } })
    try {
      const api = client(dev.url)
      const created = await api.post<{ id: string }>("/api/graphs", helloGraph("Local"))
      expect(created.status).toBe(201)
      expect((await api.get<ReadonlyArray<{ id: string }>>("/api/graphs")).body.map((g) => g.id)).toEqual([
        created.body.id,
      ])
      const signUpOff = await fetch(`${dev.url}/api/auth/sign-up/email`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "x@example.test", password: TEST_PASSWORD, name: "x" }),
      })
      expect(signUpOff.status).toBe(404)
      const evil = await api.post("/api/graphs", helloGraph("CSRF"), { origin: "https://evil.example" })
      expect(evil.status).toBe(403)
    } finally {
      await dev.close()
      devDir.dispose()
    }
  })
})

describe("weft serve options", () => {
  it("signs in by default; --auth off / WEFT_AUTH=off is PGlite on loopback only; secrets come from the environment", async () => {
    const { serveOptions } = await import("../src/cli/serve.js")
    expect(serveOptions([], {}).options.auth).toEqual({ mode: "session" })
    expect(serveOptions(["--auth", "off"], {}).options.auth).toEqual({ mode: "off" })
    expect(serveOptions([], { WEFT_AUTH: "off" }).options.auth).toEqual({ mode: "off" })
    expect(serveOptions([], { BETTER_AUTH_SECRET: "s".repeat(40) }).options.auth).toMatchObject({
      secret: "s".repeat(40),
    })
    expect(serveOptions([], { WEFT_AUTH_SECRET: "w".repeat(40) }).options.auth).toMatchObject({
      secret: "w".repeat(40),
    })
    expect(() => serveOptions(["--auth", "maybe"], {})).toThrow(/expected on or off/)
    expect(() => serveOptions(["--auth", "off"], { DATABASE_URL: "postgres://x@127.0.0.1/db" })).toThrow(
      /PGlite/,
    )
    expect(() => serveOptions(["--auth", "off", "--host", "0.0.0.0"], {})).toThrow(/loopback/)
  })
})
