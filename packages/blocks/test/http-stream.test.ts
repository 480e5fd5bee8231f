/**
 * The streaming side of the safe HTTP client: `stream()` hands out the body while the server is still
 * writing it, with the same checks as `request()`, and its size limit, time limit and signal keep working
 * (and close the connection) while the body streams.
 */
import type { ServerResponse } from "node:http"
import { createGzip } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type ConnectionInfo,
  HttpAborted,
  HttpRefused,
  HttpTimeout,
  HttpTooLarge,
  type Resolver,
} from "../src/index.js"
import { type Listener, listen, loopbackOnly, reply, type Seen, testClient } from "./http-listener.js"

const failure = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error("expected the request to fail")
    },
    (error: unknown) => error,
  )

/** A promise and the function that resolves it. */
const deferred = <A = void>() => {
  let resolve!: (value: A) => void
  const promise = new Promise<A>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

/** Fails with `what` when `promise` takes longer than `ms`: a test that would otherwise hang fails fast. */
const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} (still waiting after ${ms} ms)`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })

/** Resolves with true when the server's side of the response was closed before it was finished. */
const cutOff = (res: ServerResponse): Promise<boolean> =>
  new Promise((resolve) => res.on("close", () => resolve(!res.writableFinished)))

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes)

const readRest = async (reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> => {
  let out = ""
  for (;;) {
    const next = await reader.read()
    if (next.done) return out
    out += text(next.value)
  }
}

let server: Listener
/** What the listener answers; each test sets its own. */
let route: (request: Seen, res: ServerResponse) => void = reply(404)
const held: Array<ServerResponse> = []

beforeAll(async () => {
  server = await listen((request, res) => route(request, res))
})
afterAll(async () => {
  for (const res of held) res.destroy()
  await server.close()
})

const seen: Array<ConnectionInfo> = []
const open = (options: { maxBytes?: number; timeoutMs?: number } = {}) =>
  testClient({ allow: ["127.0.0.1"], beforeConnect: loopbackOnly(seen), ...options })

describe("stream()", () => {
  it("delivers the first chunk while the server is still writing, then the rest", async () => {
    const release = deferred()
    let finished = false
    route = (_, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "x-trace": "t1" })
      res.write("data: first\n\n")
      void release.promise.then(() => {
        finished = true
        res.end("data: second\n\n")
      })
    }
    const response = await within(
      open().stream({ url: server.url("/live") }),
      2000,
      "stream() did not resolve with the headers",
    )
    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toBe("text/event-stream")
    expect(response.headers["x-trace"]).toBe("t1")
    expect(response.url).toBe(server.url("/live"))
    const reader = response.body.getReader()
    const first = await within(reader.read(), 2000, "the first chunk did not arrive before the end")
    expect(text(first.value)).toBe("data: first\n\n")
    expect(finished).toBe(false)
    release.resolve()
    expect(await readRest(reader)).toBe("data: second\n\n")
    expect(finished).toBe(true)
  })

  it("follows redirects and decompresses chunk by chunk, like request()", async () => {
    const release = deferred()
    route = (request, res) => {
      if (request.url === "/moved") {
        res.writeHead(302, { location: "/gzip-live" })
        res.end()
        return
      }
      res.writeHead(200, { "content-encoding": "gzip", "content-type": "text/plain" })
      const gzip = createGzip()
      gzip.pipe(res)
      gzip.write("compressed first;")
      // A flush ends a deflate block: the client can decode it before the rest exists.
      gzip.flush(() => {
        void release.promise.then(() => gzip.end("compressed second"))
      })
    }
    const response = await open().stream({ url: server.url("/moved") })
    expect(response.redirects).toBe(1)
    expect(response.url).toBe(server.url("/gzip-live"))
    expect(response.headers["content-encoding"]).toBe("gzip")
    const reader = response.body.getReader()
    const first = await within(reader.read(), 2000, "the first decoded chunk did not arrive")
    expect(text(first.value)).toBe("compressed first;")
    release.resolve()
    expect(await readRest(reader)).toBe("compressed second")
  })

  it("errors the stream with HttpTooLarge once more than maxBytes arrived, and hangs up", async () => {
    const release = deferred()
    const closed = deferred<boolean>()
    route = (_, res) => {
      held.push(res)
      void cutOff(res).then(closed.resolve)
      res.writeHead(200, { "content-type": "application/octet-stream" })
      res.write(Buffer.alloc(1000, 97))
      void release.promise.then(() => res.write(Buffer.alloc(1000, 98))) // and never ends
    }
    const response = await open({ maxBytes: 1500 }).stream({ url: server.url("/big-live") })
    const reader = response.body.getReader()
    let received = 0
    while (received < 1000) {
      const next = await within(reader.read(), 2000, "the first 1000 bytes did not arrive")
      expect(next.done).toBe(false)
      received += next.value?.byteLength ?? 0
    }
    expect(received).toBe(1000)
    release.resolve()
    const error = await failure(
      (async () => {
        for (;;) if ((await reader.read()).done) return
      })(),
    )
    expect(error).toBeInstanceOf(HttpTooLarge)
    expect((error as HttpTooLarge).message).toBe(
      `Response from ${server.url("/big-live")} is larger than 1500 bytes`,
    )
    expect(await within(closed.promise, 2000, "the server never saw the connection close")).toBe(true)
  })

  it("rejects a declared Content-Length over maxBytes before handing out a body", async () => {
    route = (_, res) => {
      res.writeHead(200, { "content-length": "5000" })
      res.end(Buffer.alloc(5000))
    }
    const error = await failure(open({ maxBytes: 1000 }).stream({ url: server.url("/declared") }))
    expect(error).toBeInstanceOf(HttpTooLarge)
  })

  it("is refused exactly like request() for a blocked address: the listener sees 0 connections", async () => {
    const blocked = await listen(reply(200, "reached"))
    try {
      const client = testClient() // no allow-list: loopback is blocked
      const viaRequest = await failure(client.request({ url: blocked.url("/x") }))
      const viaStream = await failure(client.stream({ url: blocked.url("/x") }))
      expect(viaStream).toBeInstanceOf(HttpRefused)
      expect((viaStream as HttpRefused).message).toBe((viaRequest as HttpRefused).message)
      expect((viaStream as HttpRefused).reason).toContain("loopback")
      // A name that resolves to a blocked address, and a scheme other than http/https.
      const lookup: Resolver = async () => [{ address: "127.0.0.1", family: 4 }]
      const byName = testClient({ lookup })
      const nameError = await failure(byName.stream({ url: `http://evil.test:${blocked.port}/` }))
      expect((nameError as HttpRefused).reason).toBe(
        "evil.test resolves to 127.0.0.1, a loopback address; it is not on the allow-list",
      )
      const fileError = await failure(client.stream({ url: "file:///etc/passwd" }))
      expect(fileError).toBeInstanceOf(HttpRefused)
      expect(blocked.connections).toBe(0)
      expect(blocked.requests).toHaveLength(0)
    } finally {
      await blocked.close()
    }
  })

  it("checks every redirect hop: a redirect to a blocked address is refused", async () => {
    route = (_, res) => {
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" })
      res.end()
    }
    const before = seen.length
    const error = await failure(open().stream({ url: server.url("/to-metadata") }))
    expect(error).toBeInstanceOf(HttpRefused)
    expect((error as HttpRefused).reason).toContain("169.254.169.254 is a link-local address")
    // Only the first hop (to the loopback listener) was ever connected to.
    expect(seen.slice(before).map((c) => c.address)).toEqual(["127.0.0.1"])
  })

  describe("ends the connection", () => {
    /** A route that writes one chunk and then holds the response open; `closed` tells how it ended. */
    const holding = () => {
      const closed = deferred<boolean>()
      route = (_, res) => {
        held.push(res)
        void cutOff(res).then(closed.resolve)
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("tick")
      }
      return closed.promise
    }

    it("when the caller's signal aborts mid-stream", async () => {
      const closed = holding()
      const controller = new AbortController()
      const response = await open().stream({ url: server.url("/hold"), signal: controller.signal })
      const reader = response.body.getReader()
      expect(text((await within(reader.read(), 2000, "no first chunk")).value)).toBe("tick")
      controller.abort()
      const error = await failure(reader.read())
      expect(error).toBeInstanceOf(HttpAborted)
      expect(await within(closed, 2000, "the server never saw the connection close")).toBe(true)
    })

    it("when the signal aborts while nobody is reading", async () => {
      const closed = holding()
      const controller = new AbortController()
      const response = await open().stream({ url: server.url("/hold-idle"), signal: controller.signal })
      controller.abort()
      expect(await within(closed, 2000, "the server never saw the connection close")).toBe(true)
      const error = await failure(response.body.getReader().read())
      expect(error).toBeInstanceOf(HttpAborted)
    })

    it("when the total time limit runs out mid-stream", async () => {
      const closed = holding()
      const started = Date.now()
      const response = await open({ timeoutMs: 300 }).stream({ url: server.url("/hold-slow") })
      const reader = response.body.getReader()
      expect(text((await reader.read()).value)).toBe("tick")
      const error = await failure(reader.read())
      expect(error).toBeInstanceOf(HttpTimeout)
      expect((error as HttpTimeout).message).toBe(
        `Request to ${server.url("/hold-slow")} timed out after 300 ms`,
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(Date.now() - started).toBeLessThan(2000)
      expect(await within(closed, 2000, "the server never saw the connection close")).toBe(true)
    })

    it("when the reader cancels the body", async () => {
      const closed = holding()
      const response = await open().stream({ url: server.url("/hold-cancel") })
      const reader = response.body.getReader()
      expect(text((await reader.read()).value)).toBe("tick")
      await reader.cancel()
      expect(await within(closed, 2000, "the server never saw the connection close")).toBe(true)
    })

    it("when the signal aborts before the headers arrive", async () => {
      const closed = deferred<boolean>()
      route = (_, res) => {
        held.push(res)
        void cutOff(res).then(closed.resolve)
      }
      const controller = new AbortController()
      const streaming = open().stream({ url: server.url("/no-headers"), signal: controller.signal })
      setTimeout(() => controller.abort(), 50)
      expect(await failure(streaming)).toBeInstanceOf(HttpAborted)
      expect(await within(closed.promise, 2000, "the server never saw the connection close")).toBe(true)
    })
  })

  it("a HEAD request and a 204 give an empty body", async () => {
    route = (request, res) => {
      res.writeHead(request.method === "HEAD" ? 200 : 204, { "x-kind": request.method })
      res.end()
    }
    const head = await open().stream({ url: server.url("/head"), method: "HEAD" })
    expect(head.headers["x-kind"]).toBe("HEAD")
    expect(await readRest(head.body.getReader())).toBe("")
    const empty = await open().stream({ url: server.url("/empty") })
    expect(empty.status).toBe(204)
    expect(await readRest(empty.body.getReader())).toBe("")
  })
})
