/**
 * Reliability item 10: every redirect hop is checked again, credentials do not cross origins, and the
 * redirect count, response size and time are capped; plus cancellation and request bodies.
 */
import { gzipSync } from "node:zlib"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  HttpAborted,
  HttpFailed,
  HttpRefused,
  HttpTimeout,
  HttpTooLarge,
  type Resolver,
  TooManyRedirects,
} from "../src/index.js"
import { type Listener, listen, type Seen, testClient } from "./http-listener.js"

const failure = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error("expected the request to fail")
    },
    (error: unknown) => error,
  )

const SECRETS = {
  Authorization: "Bearer secret-token",
  Cookie: "session=secret-cookie",
  "Proxy-Authorization": "Basic c2VjcmV0",
  "X-Trace": "kept",
}

let a: Listener
let b: Listener
const pending: Array<() => void> = []

/** Routes of listener A. `b` is another origin (another port on the same address). */
const routeA = (req: Seen, res: import("node:http").ServerResponse) => {
  const path = req.url.split("?")[0]
  const redirect = (status: number, location: string) => {
    res.writeHead(status, { location })
    res.end()
  }
  switch (path) {
    case "/cross":
      return redirect(302, b.url("/landing"))
    case "/same":
      return redirect(302, "/landing")
    case "/cross-then-back":
      return redirect(307, b.url("/back"))
    case "/meta":
      return redirect(302, "http://169.254.169.254/latest/meta-data/")
    case "/private":
      return redirect(301, "http://10.0.0.1/")
    case "/mapped":
      return redirect(302, `http://[::ffff:127.0.0.1]:${a.port}/landing`)
    case "/file":
      return redirect(302, "file:///etc/passwd")
    case "/loop":
      return redirect(302, "/loop")
    case "/303":
      return redirect(303, "/landing")
    case "/301":
      return redirect(301, "/landing")
    case "/307":
      return redirect(307, "/landing")
    case "/to-name":
      return redirect(302, `http://other.test:${a.port}/landing`)
    case "/big": {
      res.writeHead(200, { "content-type": "application/octet-stream" })
      const chunk = Buffer.alloc(64 * 1024, 120)
      for (let i = 0; i < 40; i++) res.write(chunk) // 2.5 MB, chunked, no Content-Length
      return res.end()
    }
    case "/big-declared":
      res.writeHead(200, { "content-length": String(5_000_000) })
      return res.end(Buffer.alloc(5_000_000, 120))
    case "/gzip-bomb":
      res.writeHead(200, { "content-encoding": "gzip" })
      return res.end(gzipSync(Buffer.alloc(4_000_000)))
    case "/gzip-json":
      res.writeHead(200, { "content-encoding": "gzip", "content-type": "application/json" })
      return res.end(gzipSync(JSON.stringify({ zipped: true })))
    case "/slow":
      pending.push(() => res.end("too late"))
      return // never answers in time
    case "/slow-body":
      res.writeHead(200)
      res.write("first part")
      pending.push(() => res.end())
      return
    default:
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify({ path, method: req.method, body: req.body }))
  }
}

beforeAll(async () => {
  a = await listen(routeA)
  b = await listen((req, res) => {
    if (req.url === "/back") {
      res.writeHead(307, { location: a.url("/landing") })
      return res.end()
    }
    res.writeHead(200)
    res.end("b")
  })
})
afterAll(async () => {
  for (const finish of pending) finish()
  await Promise.all([a.close(), b.close()])
})

const lastOn = (listener: Listener) => listener.requests.at(-1)

describe("redirects", () => {
  const open = () => testClient({ allow: ["127.0.0.1"] })

  it("drop Authorization, Cookie and Proxy-Authorization when the origin changes", async () => {
    const response = await open().request({ url: a.url("/cross"), headers: SECRETS })
    expect(response.status).toBe(200)
    expect(response.url).toBe(b.url("/landing"))
    expect(response.redirects).toBe(1)
    const first = a.requests.at(-1)
    expect(first?.headers.authorization).toBe(SECRETS.Authorization)
    const second = lastOn(b)
    expect(second?.url).toBe("/landing")
    expect(second?.headers.authorization).toBeUndefined()
    expect(second?.headers.cookie).toBeUndefined()
    expect(second?.headers["proxy-authorization"]).toBeUndefined()
    expect(second?.headers["x-trace"]).toBe("kept")
  })

  it("keep them on a same-origin redirect", async () => {
    const response = await open().request({ url: a.url("/same"), headers: SECRETS })
    expect(response.json()).toMatchObject({ path: "/landing" })
    const second = lastOn(a)
    expect(second?.url).toBe("/landing")
    expect(second?.headers.authorization).toBe(SECRETS.Authorization)
    expect(second?.headers.cookie).toBe(SECRETS.Cookie)
    expect(second?.headers["proxy-authorization"]).toBe(SECRETS["Proxy-Authorization"])
  })

  it("do not give them back after coming back to the first origin", async () => {
    const response = await open().request({ url: a.url("/cross-then-back"), headers: SECRETS })
    expect(response.redirects).toBe(2)
    const last = lastOn(a)
    expect(last?.url).toBe("/landing")
    expect(last?.headers.authorization).toBeUndefined()
    expect(last?.headers.cookie).toBeUndefined()
  })

  it("a different host name on the same address is another origin; each hop is resolved once", async () => {
    const calls: Array<string> = []
    const lookup: Resolver = async (hostname) => {
      calls.push(hostname)
      return [{ address: "127.0.0.1", family: 4 }]
    }
    const client = testClient({ allow: ["127.0.0.1"], lookup })
    await client.request({ url: `http://app.test:${a.port}/to-name`, headers: SECRETS })
    expect(calls).toEqual(["app.test", "other.test"])
    const last = lastOn(a)
    expect(last?.headers.host).toBe(`other.test:${a.port}`)
    expect(last?.headers.authorization).toBeUndefined()
  })

  it.each([
    ["/meta", "169.254.169.254 is a link-local address"],
    ["/private", "10.0.0.1 is a private network address"],
    ["/file", "the scheme file: is not allowed"],
  ])("to a blocked target (%s) are refused", async (path, reason) => {
    const error = await failure(open().request({ url: a.url(path) }))
    expect(error).toBeInstanceOf(HttpRefused)
    expect((error as HttpRefused).reason).toContain(reason)
  })

  it("to an IPv4-mapped loopback address need the allow-list like plain IPv4", async () => {
    const open32 = testClient({ allow: ["127.0.0.1/32"] })
    const response = await open32.request({ url: a.url("/mapped") })
    expect(response.json()).toMatchObject({ path: "/landing" })
    expect(lastOn(a)?.headers.host).toBe(`[::ffff:7f00:1]:${a.port}`)
    // Only the name is allow-listed here, not the address the redirect goes to.
    const byName = testClient({
      allow: ["app.test"],
      lookup: async () => [{ address: "127.0.0.1", family: 4 }],
    })
    const before = a.requests.length
    const refused = await failure(byName.request({ url: `http://app.test:${a.port}/mapped` }))
    expect(refused).toBeInstanceOf(HttpRefused)
    expect((refused as HttpRefused).reason).toBe(
      "::ffff:7f00:1 is a loopback address; it is not on the allow-list",
    )
    expect(a.requests.length - before).toBe(1)
  })

  it("loops stop at maxRedirects", async () => {
    const before = a.requests.length
    const error = await failure(open().request({ url: a.url("/loop") }))
    expect(error).toBeInstanceOf(TooManyRedirects)
    expect((error as TooManyRedirects).maxRedirects).toBe(5)
    expect(a.requests.length - before).toBe(6) // the first request and 5 redirects
    const strict = testClient({ allow: ["127.0.0.1"], maxRedirects: 2 })
    const count = a.requests.length
    await expect(strict.request({ url: a.url("/loop") })).rejects.toBeInstanceOf(TooManyRedirects)
    expect(a.requests.length - count).toBe(3)
  })

  it("manual mode returns the redirect itself", async () => {
    const response = await open().request({ url: a.url("/cross"), redirect: "manual" })
    expect(response.status).toBe(302)
    expect(response.headers.location).toBe(b.url("/landing"))
  })

  it("303 turns a POST into a GET without body; 301 too; 307 keeps method and body", async () => {
    const client = open()
    const body = { name: "x" }
    const after303 = await client.request({ method: "POST", url: a.url("/303"), body, json: true })
    expect(after303.json()).toEqual({ path: "/landing", method: "GET", body: "" })
    expect(lastOn(a)?.headers["content-type"]).toBeUndefined()
    const after301 = await client.request({ method: "POST", url: a.url("/301"), body })
    expect(after301.json()).toEqual({ path: "/landing", method: "GET", body: "" })
    const after307 = await client.request({ method: "POST", url: a.url("/307"), body })
    expect(after307.json()).toEqual({ path: "/landing", method: "POST", body: '{"name":"x"}' })
    expect(lastOn(a)?.headers["content-type"]).toBe("application/json")
    const put303 = await client.request({ method: "PUT", url: a.url("/303"), body: "raw" })
    expect(put303.json()).toMatchObject({ method: "GET", body: "" })
  })
})

describe("caps", () => {
  const open = (options: { maxBytes?: number; timeoutMs?: number } = {}) =>
    testClient({ allow: ["127.0.0.1"], ...options })

  it("a streamed body over maxBytes is cut with HttpTooLarge", async () => {
    const error = await failure(open({ maxBytes: 100_000 }).request({ url: a.url("/big") }))
    expect(error).toBeInstanceOf(HttpTooLarge)
    expect((error as HttpTooLarge).message).toBe(`Response from ${a.url("/big")} is larger than 100000 bytes`)
    // the same body is fine under a larger cap
    const ok = await open({ maxBytes: 3_000_000 }).request({ url: a.url("/big") })
    expect(ok.body.byteLength).toBe(40 * 64 * 1024)
  })

  it("a declared Content-Length over maxBytes fails at once; per-request maxBytes overrides", async () => {
    await expect(open().request({ url: a.url("/big-declared"), maxBytes: 1000 })).rejects.toBeInstanceOf(
      HttpTooLarge,
    )
  })

  it("the cap counts decompressed bytes (gzip bomb)", async () => {
    const error = await failure(open({ maxBytes: 1_000_000 }).request({ url: a.url("/gzip-bomb") }))
    expect(error).toBeInstanceOf(HttpTooLarge)
  })

  it("gzip bodies are decoded", async () => {
    const response = await open().request({ url: a.url("/gzip-json") })
    expect(response.json()).toEqual({ zipped: true })
  })

  it("a server that does not answer trips the time limit", async () => {
    const started = Date.now()
    const error = await failure(open({ timeoutMs: 200 }).request({ url: a.url("/slow") }))
    expect(error).toBeInstanceOf(HttpTimeout)
    expect((error as HttpTimeout).message).toBe(`Request to ${a.url("/slow")} timed out after 200 ms`)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it("a body that stalls trips the time limit too", async () => {
    const error = await failure(open().request({ url: a.url("/slow-body"), timeoutMs: 200 }))
    expect(error).toBeInstanceOf(HttpTimeout)
  })

  it("a resolver that hangs trips the time limit", async () => {
    const client = testClient({ timeoutMs: 100, lookup: () => new Promise(() => {}) })
    await expect(client.request({ url: "http://hang.test/" })).rejects.toBeInstanceOf(HttpTimeout)
  })
})

describe("cancellation", () => {
  it("aborting the signal cancels a request in flight", async () => {
    const controller = new AbortController()
    const request = testClient({ allow: ["127.0.0.1"] }).request({
      url: a.url("/slow"),
      signal: controller.signal,
    })
    setTimeout(() => controller.abort(), 50)
    const error = await failure(request)
    expect(error).toBeInstanceOf(HttpAborted)
  })

  it("an already aborted signal sends nothing", async () => {
    const before = a.connections
    const error = await failure(
      testClient({ allow: ["127.0.0.1"] }).request({ url: a.url("/"), signal: AbortSignal.abort() }),
    )
    expect(error).toBeInstanceOf(HttpAborted)
    expect(a.connections).toBe(before)
  })

  it("the Effect variant fails with the tagged error and is cancelled by interruption", async () => {
    const client = testClient({ allow: ["127.0.0.1"] })
    const ok = await Effect.runPromise(client.requestEffect({ url: a.url("/effect") }))
    expect(ok.json()).toMatchObject({ path: "/effect" })
    const refused = await Effect.runPromiseExit(testClient().requestEffect({ url: a.url("/") }))
    expect(Exit.isFailure(refused)).toBe(true)
    expect(JSON.stringify(refused)).toContain("HttpRefused")
    const started = Date.now()
    const timedOut = await Effect.runPromiseExit(
      client.requestEffect({ url: a.url("/slow") }).pipe(Effect.timeout("100 millis")),
    )
    expect(Exit.isFailure(timedOut)).toBe(true)
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe("request bodies and headers", () => {
  const client = testClient({ allow: ["127.0.0.1"] })

  it("JSON values are sent as JSON; strings and bytes as they are", async () => {
    const json = await client.request({ method: "POST", url: a.url("/echo"), body: { a: [1, 2] } })
    expect(json.json()).toEqual({ path: "/echo", method: "POST", body: '{"a":[1,2]}' })
    expect(lastOn(a)?.headers["content-type"]).toBe("application/json")
    const text = await client.request({ method: "PUT", url: a.url("/echo"), body: "plain" })
    expect(text.json()).toMatchObject({ method: "PUT", body: "plain" })
    expect(lastOn(a)?.headers["content-type"]).toBeUndefined()
    const bytes = await client.request({
      method: "POST",
      url: a.url("/echo"),
      body: new TextEncoder().encode("bytes"),
    })
    expect(bytes.json()).toMatchObject({ body: "bytes" })
    const quoted = await client.request({ method: "POST", url: a.url("/echo"), body: "s", json: true })
    expect(quoted.json()).toMatchObject({ body: '"s"' })
  })

  it("a caller cannot set the Host header; user info becomes Basic auth", async () => {
    await client.request({
      url: `http://user:p%40ss@127.0.0.1:${a.port}/auth`,
      headers: { Host: "evil.example" },
    })
    const seen = lastOn(a)
    expect(seen?.headers.host).toBe(`127.0.0.1:${a.port}`)
    expect(seen?.headers.authorization).toBe(`Basic ${Buffer.from("user:p@ss").toString("base64")}`)
  })

  it("an unresolvable name and a refused connection are HttpFailed", async () => {
    const nx = testClient({
      lookup: async () => {
        throw new Error("getaddrinfo ENOTFOUND nowhere.test")
      },
    })
    const error = await failure(nx.request({ url: "http://nowhere.test/" }))
    expect(error).toBeInstanceOf(HttpFailed)
    expect((error as HttpFailed).message).toContain("could not resolve nowhere.test")
    const closedPort = await failure(client.request({ url: "http://127.0.0.1:1/" }))
    expect(closedPort).toBeInstanceOf(HttpFailed)
    expect((closedPort as HttpFailed).reason).toContain("ECONNREFUSED")
  })
})
