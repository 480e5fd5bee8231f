/**
 * The Send web request block run inside graphs, with a configured safe client handed over through the
 * executor's resources, against a loopback listener.
 */
import type { ServerResponse } from "node:http"
import { type Graph, type RunEvent, runGraph } from "@weft/engine"
import { Context } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { coreBlocks, SafeHttp } from "../src/index.js"
import { type Listener, listen, type Seen, testClient } from "./http-listener.js"

let server: Listener
const stalled: Array<ServerResponse> = []

const route = (req: Seen, res: ServerResponse) => {
  const path = req.url.split("?")[0]
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify(value))
  }
  switch (path) {
    case "/ok":
      return json(200, { ok: true, method: req.method })
    case "/missing":
      return json(404, { detail: "not found" })
    case "/broken":
      res.writeHead(500, { "content-type": "text/plain" })
      return res.end("internal error")
    case "/text":
      res.writeHead(200, { "content-type": "text/plain" })
      return res.end("plain words")
    case "/no-content":
      res.writeHead(204, { "content-type": "application/json" })
      return res.end()
    case "/redirect":
      res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" })
      return res.end()
    case "/stall":
      stalled.push(res)
      return
    case "/echo":
      return json(200, {
        method: req.method,
        contentType: req.headers["content-type"] ?? null,
        auth: req.headers.authorization ?? null,
        body: req.body,
      })
    default:
      return json(404, { detail: path })
  }
}

beforeAll(async () => {
  server = await listen(route)
})
afterAll(async () => {
  for (const res of stalled) res.destroy()
  await server.close()
})

const allowLoopback = () => Context.make(SafeHttp, testClient({ allow: ["127.0.0.1"] }))

/** Runs one Send web request node and returns its outputs in order. */
const send = async (
  input: Record<string, unknown>,
  options: { resources?: Context.Context<never>; signal?: AbortSignal } = { resources: allowLoopback() },
) => {
  const graph: Graph = {
    id: "send",
    version: 1,
    name: "send one request",
    // The AutoGPT id: an imported agent's node resolves to the same block.
    nodes: [{ id: "req", blockId: "6595ae1f-b924-42cb-9a41-551a0611c4b4", inputDefault: input }],
    links: [],
  }
  const outputs: Array<readonly [string, unknown]> = []
  const nodeStatuses: Array<string> = []
  const result = await runGraph(graph, {
    blocks: [coreBlocks],
    ...(options.resources === undefined ? {} : { resources: options.resources }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onEvent: (event: RunEvent) => {
      if (event.type === "NodeOutput") outputs.push([event.pin, event.value])
      if (event.type === "NodeStatus") nodeStatuses.push(event.status)
    },
  })
  return { outputs, status: result.status, nodeStatuses }
}

describe("Send web request", () => {
  it("routes outputs by status class: 2xx response, 4xx client_error, 5xx server_error", async () => {
    expect((await send({ url: server.url("/ok"), method: "GET" })).outputs).toEqual([
      ["response", { ok: true, method: "GET" }],
    ])
    expect((await send({ url: server.url("/missing"), method: "GET" })).outputs).toEqual([
      ["client_error", { detail: "not found" }],
    ])
    expect((await send({ url: server.url("/broken"), method: "GET" })).outputs).toEqual([
      ["server_error", "internal error"],
    ])
  })

  it("parses JSON responses and returns other content types as text; 204 is null", async () => {
    expect((await send({ url: server.url("/text"), method: "GET" })).outputs).toEqual([
      ["response", "plain words"],
    ])
    expect((await send({ url: server.url("/no-content"), method: "DELETE" })).outputs).toEqual([
      ["response", null],
    ])
  })

  it("json_format sends the body as JSON; a JSON string body is parsed first; POST is the default", async () => {
    const asObject = await send({ url: server.url("/echo"), body: { name: "Ada", tags: ["x"] } })
    expect(asObject.outputs).toEqual([
      [
        "response",
        { method: "POST", contentType: "application/json", auth: null, body: '{"name":"Ada","tags":["x"]}' },
      ],
    ])
    const asString = await send({
      url: server.url("/echo"),
      method: "PUT",
      json_format: true,
      body: '{"n": 1}',
    })
    expect(asString.outputs).toEqual([
      ["response", { method: "PUT", contentType: "application/json", auth: null, body: '{"n":1}' }],
    ])
  })

  it("a body that is not JSON is sent as plain text; without json_format an object is a form", async () => {
    const text = await send({ url: server.url("/echo"), body: "hello there" })
    expect(text.outputs).toEqual([
      [
        "response",
        { method: "POST", contentType: "text/plain; charset=utf-8", auth: null, body: "hello there" },
      ],
    ])
    const form = await send({
      url: server.url("/echo"),
      json_format: false,
      body: { q: "a b", n: 2, ok: true, list: [1, 2] },
    })
    expect(form.outputs).toEqual([
      [
        "response",
        {
          method: "POST",
          contentType: "application/x-www-form-urlencoded",
          auth: null,
          body: "q=a+b&n=2&ok=True&list=1&list=2",
        },
      ],
    ])
  })

  it("sends headers, and uploads files as multipart with the form fields", async () => {
    const { outputs } = await send({
      url: server.url("/echo"),
      headers: { Authorization: "Bearer t" },
      json_format: false,
      body: { title: "report" },
      files_name: "attachment",
      files: ["data:text/plain;base64,aGVsbG8=", "data:image/png;base64,iVBORw=="],
    })
    expect(outputs).toHaveLength(1)
    const [pin, value] = outputs[0] ?? []
    expect(pin).toBe("response")
    const echoed = value as { contentType: string; auth: string; body: string }
    expect(echoed.auth).toBe("Bearer t")
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(echoed.contentType)?.[1]
    expect(boundary).toBeDefined()
    expect(echoed.body).toContain(
      `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nreport\r\n`,
    )
    expect(echoed.body).toContain(
      'Content-Disposition: form-data; name="attachment"; filename="file-1.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n',
    )
    expect(echoed.body).toContain('name="attachment"; filename="file-2.png"\r\nContent-Type: image/png')
    expect(echoed.body.endsWith(`--${boundary}--\r\n`)).toBe(true)
  })

  it("fetches files given as URLs through the same safe client; local paths are refused", async () => {
    const { outputs } = await send({
      url: server.url("/echo"),
      json_format: false,
      files: [server.url("/text")],
    })
    const echoed = (outputs[0]?.[1] ?? {}) as { body?: string }
    expect(outputs[0]?.[0]).toBe("response")
    expect(echoed.body).toContain(
      'name="file"; filename="text"\r\nContent-Type: text/plain\r\n\r\nplain words\r\n',
    )
    const refused = await send({
      url: server.url("/echo"),
      json_format: false,
      files: ["http://10.1.2.3/secret.png"],
    })
    expect(refused.outputs).toEqual([
      [
        "error",
        "Refused to request http://10.1.2.3/secret.png: 10.1.2.3 is a private network address; it is not on the allow-list",
      ],
    ])
    const path = await send({ url: server.url("/echo"), json_format: false, files: ["/etc/passwd"] })
    expect(path.outputs).toEqual([
      ["error", "files[0]: only data: URIs and http(s) URLs can be uploaded (Weft has no local file store)"],
    ])
  })

  it("refuses private addresses with the default client: the listener sees no connection", async () => {
    const before = server.connections
    const { outputs, nodeStatuses } = await send({ url: server.url("/ok"), method: "GET" }, {})
    expect(outputs).toEqual([
      [
        "error",
        `Refused to request ${server.url("/ok")}: 127.0.0.1 is a loopback address; it is not on the allow-list`,
      ],
    ])
    expect(nodeStatuses.at(-1)).toBe("FAILED")
    expect(server.connections).toBe(before)
  })

  it("a redirect to the metadata address is refused even when the first host is allowed", async () => {
    const { outputs } = await send({ url: server.url("/redirect"), method: "GET" })
    expect(outputs).toEqual([
      [
        "error",
        "Refused to request http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a link-local address (cloud metadata endpoints live here); it is not on the allow-list",
      ],
    ])
  })

  it("cancelling the run aborts the request (ctx.signal)", async () => {
    const controller = new AbortController()
    const before = server.requests.length
    const running = send(
      { url: server.url("/stall"), method: "GET" },
      { resources: allowLoopback(), signal: controller.signal },
    )
    // wait until the request has reached the server, then cancel the run
    for (let i = 0; i < 200 && server.requests.length === before; i++)
      await new Promise((r) => setTimeout(r, 5))
    expect(server.requests.length).toBe(before + 1)
    const closed = new Promise<void>((resolve) => stalled.at(-1)?.on("close", () => resolve()))
    controller.abort()
    const { status } = await running
    expect(status).toBe("TERMINATED")
    await closed // the client closed the connection
  })
})
