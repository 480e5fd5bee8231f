/**
 * The WebSocket API (`/api/ws`) over real sockets with the `ws` client: run and graph subscriptions to the
 * final status, reconnection with the last seq (no gap, no duplicate, compared with the stored events),
 * unsubscribe, another user's ids answered like unknown ones, the upgrade's session and origin checks,
 * malformed messages, ping/pong and heartbeats, limits, and closing sockets releasing every subscription.
 * On PGlite, then on Postgres with the subscriber on a second host process.
 */
import type { RunEvent } from "@weft/engine"
import { Effect, Metric } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { gaugesOf } from "../src/api/Ws.js"
import type { RunningHost } from "../src/Host.js"
import {
  client,
  eventFrames,
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

/** A server message, as the tests read it. */
interface Message {
  readonly type: string
  readonly runId?: string
  readonly graphId?: string
  readonly event?: RunEvent & { readonly seq?: number }
  readonly field?: string
  readonly message?: string
  readonly reason?: string
  readonly id?: string | number
  readonly after?: number
  readonly runs?: ReadonlyArray<{ runId: string; after: number }>
  readonly fields?: Record<string, string>
}

/** A `ws` client that records every message. */
class Client {
  readonly messages: Array<Message> = []
  private waiters: Array<() => void> = []
  closed: { code: number; reason: string } | undefined

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as Message)
      this.wake()
    })
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) }
      this.wake()
    })
  }

  private wake() {
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter()
  }

  /** Opens a socket; resolves when open, rejects with `{ status, body }` when the upgrade is refused. */
  static open(base: string, headers: Record<string, string> = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${base.replace(/^http/, "ws")}/api/ws`, { headers })
      const client = new Client(socket)
      socket.once("open", () => resolve(client))
      socket.once("unexpected-response", (_request, response) => {
        let body = ""
        response.on("data", (chunk: Buffer) => {
          body += String(chunk)
        })
        response.on("end", () => {
          reject({ status: response.statusCode, body: body === "" ? undefined : JSON.parse(body) })
          socket.terminate()
        })
      })
      socket.once("error", (error) => reject(error))
    })
  }

  send(message: unknown) {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message))
  }

  /** The messages that are not heartbeats. */
  get replies(): ReadonlyArray<Message> {
    return this.messages.filter((m) => m.type !== "heartbeat")
  }

  /** Waits until `check` finds something in the messages so far. */
  async until<T>(check: (messages: ReadonlyArray<Message>) => T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = check(this.messages)
      if (found !== undefined) return found
      if (this.closed !== undefined) throw new Error(`socket closed (${this.closed.code}) while waiting`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out; messages: ${JSON.stringify(this.replies.slice(-5))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Sends `message` and waits for the first reply after it that satisfies `match`. */
  async request(message: unknown, match: (m: Message) => boolean): Promise<Message> {
    const from = this.messages.length
    this.send(message)
    return this.until((messages) => messages.slice(from).find(match))
  }

  /** Sends a ping and waits for its pong: every message sent before the ping has been answered. */
  async roundTrip(): Promise<void> {
    const id = `rt-${Math.random()}`
    await this.request({ type: "ping", id }, (m) => m.type === "pong" && m.id === id)
  }

  /** The events of `runId` received so far (from any subscription, or only the graph's). */
  events(runId: string, graphId?: string): Array<RunEvent & { readonly seq?: number }> {
    return this.messages
      .filter(
        (m) => m.type === "event" && m.runId === runId && (graphId === undefined || m.graphId === graphId),
      )
      .map((m) => m.event as RunEvent & { readonly seq?: number })
  }

  /** Waits for the final status event of `runId`. */
  untilFinal(runId: string, graphId?: string) {
    return this.until(() =>
      this.events(runId, graphId).find(
        (e) => e.type === "RunStatus" && ["COMPLETED", "FAILED", "TERMINATED"].includes(e.status),
      ),
    )
  }

  close(): Promise<void> {
    if (this.closed !== undefined) return Promise.resolve()
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve())
      this.socket.close()
    })
  }
}

/** The persisted events' seqs. */
const seqsOf = (events: ReadonlyArray<{ readonly seq?: number }>) =>
  events.filter((e) => e.seq !== undefined).map((e) => e.seq as number)

/** The persisted events (progress events have no seq). */
const persisted = <E extends { readonly seq?: number }>(events: ReadonlyArray<E>) =>
  events.filter((e) => e.seq !== undefined)

/** The stored events of a run, as the SSE replays them from the store. */
const storedEvents = async (base: string, runId: string, session?: Session) => {
  const sse = await readSse(`${base}/api/runs/${runId}/events`, session === undefined ? {} : session)
  expect(sse.status).toBe(200)
  return persisted(eventFrames(sse.frames).map((f) => f.data as RunEvent & { seq?: number }))
}

/** The values of the WebSocket gauges of the server at `base`. */
const gauges = (base: string) => {
  const of = gaugesOf(base)
  const read = (gauge: Metric.Gauge<number>) => Effect.runSync(Metric.value(gauge)).value
  return { sockets: read(of.sockets), subscriptions: read(of.subscriptions), followers: read(of.followers) }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A graph that pauses for a review: its run stays in REVIEW (not final) until someone decides. */
const reviewGraph = {
  name: "Review",
  nodes: [
    { id: "hitl", blockId: "weft/agent/human-in-the-loop", inputDefault: { name: "x", data: "secret" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "o" } },
  ],
  links: [{ sourceId: "hitl", sourceName: "approved_data", sinkId: "out", sinkName: "value" }],
}

describe("on PGlite", () => {
  const dir = tempDir("ws")
  let host: RunningHost
  let alice: Session
  let bob: Session
  let api: ReturnType<typeof client>

  beforeAll(async () => {
    host = await startTestHost({
      dataDir: dir.dir,
      ws: { heartbeat: "150 millis", maxSubscriptions: 4, maxMessageBytes: 4096, maxFrameBytes: 65_536 },
    })
    alice = await signUp(host.url, "alice")
    bob = await signUp(host.url, "bob")
    api = client(host.url, alice)
  })
  afterAll(async () => {
    await host?.close()
    dir.dispose()
  })

  const createGraph = async (graph: unknown = helloGraph()) => {
    const created = await api.post<{ id: string }>("/api/graphs", graph)
    expect(created.status).toBe(201)
    return created.body.id
  }
  const startRun = async (graphId: string, inputs: Record<string, unknown> = {}) => {
    const started = await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs })
    expect(started.status).toBe(201)
    return started.body.id
  }
  const open = (session: Session = alice) => Client.open(host.url, session.headers)

  it("a run subscription receives every event of the run in order, to its final status", async () => {
    const graphId = await createGraph(timerGraph(1))
    const runId = await startRun(graphId)
    const ws = await open()
    const subscribed = await ws.request(
      { type: "subscribe", runId, id: "s1" },
      (m) => m.type === "subscribed" || m.type === "error",
    )
    expect(subscribed).toEqual({ type: "subscribed", runId, after: 0, id: "s1" })
    await ws.untilFinal(runId)
    const finished = await ws.until((ms) => ms.find((m) => m.type === "unsubscribed" && m.runId === runId))
    expect(finished.reason).toBe("finished")
    const received = persisted(ws.events(runId))
    const seqs = seqsOf(received)
    expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    expect(received.at(-1)).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    // Exactly the stored events, as the SSE stream and the run's lastSeq have them.
    expect(received).toEqual(await storedEvents(host.url, runId, alice))
    const run = await api.get<{ lastSeq: number }>(`/api/runs/${runId}`)
    expect(run.body.lastSeq).toBe(seqs.length)
    // Nothing follows the end of the stream.
    await ws.roundTrip()
    expect(ws.replies.findIndex((m) => m.type === "unsubscribed")).toBe(
      ws.replies.findLastIndex((m) => m.type === "event" || m.type === "unsubscribed"),
    )
    await ws.close()
  })

  it("a reconnect with the last seq replays exactly the missed events: no gap, no duplicate", async () => {
    const graphId = await createGraph(timerGraph(1))
    const runId = await startRun(graphId)
    const first = await open()
    first.send({ type: "subscribe", runId })
    // Hang up in the middle of the run.
    await first.until(() => (seqsOf(first.events(runId)).length >= 3 ? true : undefined))
    await first.close()
    const seen = persisted(first.events(runId))
    const last = seen.at(-1)?.seq ?? 0
    expect(last).toBeGreaterThanOrEqual(3)

    await sleep(200)
    const second = await open()
    const subscribed = await second.request(
      { type: "subscribe", runId, after: last },
      (m) => m.type === "subscribed",
    )
    expect(subscribed.after).toBe(last)
    await second.untilFinal(runId)
    const rest = persisted(second.events(runId))
    expect(rest[0]?.seq).toBe(last + 1)
    const all = [...seen, ...rest]
    expect(seqsOf(all)).toEqual(all.map((_, i) => i + 1))
    expect(all).toEqual(await storedEvents(host.url, runId, alice))
    await second.close()

    // A finished run: after=5 gives exactly the events after 5.
    const third = await open()
    third.send({ type: "subscribe", runId, after: 5 })
    await third.untilFinal(runId)
    expect(persisted(third.events(runId))).toEqual(all.slice(5))
    await third.close()
  })

  it("a graph subscription follows runs that start later, and resumes with after/since without loss", async () => {
    const graphId = await createGraph(timerGraph(1))
    const before = await startRun(graphId)
    const ws = await open()
    const subscribed = await ws.request(
      { type: "subscribe", graphId, id: 7 },
      (m) => m.type === "subscribed" || m.type === "error",
    )
    expect(subscribed).toMatchObject({ type: "subscribed", graphId, id: 7 })
    // The run started before is followed while unfinished, from its start.
    expect(subscribed.runs?.filter((r) => r.runId === before && r.after !== 0)).toEqual([])
    const first = await startRun(graphId)
    const second = await startRun(graphId)
    for (const runId of [first, second]) {
      await ws.untilFinal(runId, graphId)
      const received = persisted(ws.events(runId, graphId))
      expect(received).toEqual(await storedEvents(host.url, runId, alice))
    }

    // Disconnect in the middle of a run; another run starts and ends while nobody listens.
    const since = new Date().toISOString()
    const third = await startRun(graphId)
    await ws.until(() => (seqsOf(ws.events(third, graphId)).length >= 2 ? true : undefined))
    await ws.close()
    const seenOfThird = persisted(ws.events(third, graphId))
    const lastOfThird = seenOfThird.at(-1)?.seq ?? 0
    const fourth = await startRun(graphId)
    await readSse(`${host.url}/api/runs/${fourth}/events`, alice)
    await readSse(`${host.url}/api/runs/${third}/events`, alice)

    const again = await open()
    const resumed = await again.request(
      { type: "subscribe", graphId, after: { [third]: lastOfThird }, since },
      (m) => m.type === "subscribed" || m.type === "error",
    )
    expect(resumed.type).toBe("subscribed")
    expect(resumed.runs).toEqual(
      expect.arrayContaining([
        { runId: third, after: lastOfThird },
        { runId: fourth, after: 0 },
      ]),
    )
    // Runs that ended before `since` are not replayed.
    expect(resumed.runs?.map((r) => r.runId)).not.toContain(first)
    await again.untilFinal(third, graphId)
    await again.untilFinal(fourth, graphId)
    const thirdAll = [...seenOfThird, ...persisted(again.events(third, graphId))]
    expect(thirdAll).toEqual(await storedEvents(host.url, third, alice))
    expect(persisted(again.events(fourth, graphId))).toEqual(await storedEvents(host.url, fourth, alice))
    expect(again.events(first)).toEqual([])
    await again.close()
  })

  it("unsubscribe stops the events", async () => {
    const graphId = await createGraph(timerGraph(1))
    const ws = await open()
    // Replies keep the order of the requests, even sent back to back.
    const start = ws.messages.length
    ws.send({ type: "subscribe", graphId, id: "a" })
    ws.send({ type: "unsubscribe", graphId, id: "b" })
    ws.send({ type: "ping", id: "c" })
    await ws.until((ms) => ms.slice(start).find((m) => m.type === "pong"))
    expect(
      ws.messages
        .slice(start)
        .filter((m) => m.type !== "heartbeat")
        .map((m) => [m.type, m.id]),
    ).toEqual([
      ["subscribed", "a"],
      ["unsubscribed", "b"],
      ["pong", "c"],
    ])
    await ws.request({ type: "subscribe", graphId }, (m) => m.type === "subscribed")
    const runId = await startRun(graphId)
    await ws.until(() => (ws.events(runId).length > 0 ? true : undefined))
    const done = await ws.request(
      { type: "unsubscribe", graphId, id: "u" },
      (m) => m.type === "unsubscribed" || m.type === "error",
    )
    expect(done).toEqual({ type: "unsubscribed", graphId, reason: "requested", id: "u" })
    const at = ws.messages.indexOf(done)
    const later = await startRun(graphId)
    await readSse(`${host.url}/api/runs/${runId}/events`, alice)
    await readSse(`${host.url}/api/runs/${later}/events`, alice)
    await ws.roundTrip()
    expect(ws.messages.slice(at).filter((m) => m.type === "event")).toEqual([])
    // A run subscription too.
    const third = await startRun(graphId)
    await ws.request({ type: "subscribe", runId: third }, (m) => m.type === "subscribed")
    const off = await ws.request({ type: "unsubscribe", runId: third }, (m) => m.type === "unsubscribed")
    const from = ws.messages.indexOf(off)
    await readSse(`${host.url}/api/runs/${third}/events`, alice)
    await ws.roundTrip()
    expect(ws.messages.slice(from).filter((m) => m.type === "event")).toEqual([])
    // Unsubscribing again is an error naming the field.
    const twice = await ws.request({ type: "unsubscribe", runId: third }, (m) => m.type === "error")
    expect(twice).toMatchObject({ field: "runId", message: "not subscribed" })
    await ws.close()
  })

  it("another user's run or graph is answered exactly like an unknown id, with no data", async () => {
    const graphId = await createGraph(timerGraph(1))
    const runId = await startRun(graphId)
    const ws = await open(bob)
    const unknownRun = crypto.randomUUID()
    const unknownGraph = crypto.randomUUID()
    const answer = async (message: Record<string, unknown>) => {
      const reply = await ws.request(message, (m) => m.type === "error" || m.type === "subscribed")
      return JSON.stringify(reply)
    }
    const strip = (text: string, id: string) => text.replaceAll(id, "<id>")
    expect(strip(await answer({ type: "subscribe", runId }), runId)).toBe(
      strip(await answer({ type: "subscribe", runId: unknownRun }), unknownRun),
    )
    expect(JSON.parse(await answer({ type: "subscribe", runId }))).toEqual({
      type: "error",
      field: "runId",
      message: "run not found",
      runId,
    })
    expect(strip(await answer({ type: "subscribe", graphId }), graphId)).toBe(
      strip(await answer({ type: "subscribe", graphId: unknownGraph }), unknownGraph),
    )
    expect(JSON.parse(await answer({ type: "subscribe", graphId }))).toMatchObject({
      field: "graphId",
      message: "graph not found",
    })
    // Naming Alice's run in `after` of Bob's own graph is refused the same way.
    const bobs = await client(host.url, bob).post<{ id: string }>("/api/graphs", helloGraph("Bob's"))
    const sneaky = JSON.parse(
      await answer({ type: "subscribe", graphId: bobs.body.id, after: { [runId]: 0 } }),
    ) as Message
    expect(sneaky).toMatchObject({
      type: "error",
      field: `after.${runId}`,
      message: "run not found in this graph",
    })
    // Bob's subscription to his own graph sees nothing of Alice's runs of hers.
    await ws.request({ type: "subscribe", graphId: bobs.body.id }, (m) => m.type === "subscribed")
    const alicesNext = await startRun(graphId)
    await readSse(`${host.url}/api/runs/${alicesNext}/events`, alice)
    await readSse(`${host.url}/api/runs/${runId}/events`, alice)
    await ws.roundTrip()
    expect(ws.messages.filter((m) => m.type === "event")).toEqual([])
    expect(JSON.stringify(ws.messages)).not.toContain("Timer")
    await ws.close()
  })

  it("refuses an upgrade without a valid session (401) or from a foreign origin (403)", async () => {
    const refused = (headers: Record<string, string>) =>
      Client.open(host.url, headers).then(
        async (ws) => {
          await ws.close()
          return { status: 101, body: undefined }
        },
        (error: { status: number; body: { _tag: string } }) => error,
      )
    expect(await refused({})).toMatchObject({ status: 401, body: { _tag: "Unauthorized" } })
    expect(await refused({ cookie: "better-auth.session_token=forged.value" })).toMatchObject({ status: 401 })
    expect(await refused({ ...alice.headers, origin: "https://evil.example" })).toMatchObject({
      status: 403,
      body: { _tag: "Forbidden" },
    })
    expect(await refused({ origin: "https://evil.example" })).toMatchObject({ status: 403 })
    expect(await refused({ ...alice.headers, "sec-fetch-site": "cross-site" })).toMatchObject({ status: 403 })
    // The server's own origin (and its localhost spelling) is accepted, as is a client with no Origin.
    expect(await refused({ ...alice.headers, origin: host.url })).toMatchObject({ status: 101 })
    expect(
      await refused({ ...alice.headers, origin: host.url.replace("127.0.0.1", "localhost") }),
    ).toMatchObject({ status: 101 })
    expect(await refused(alice.headers)).toMatchObject({ status: 101 })
    // A plain GET (no upgrade) with a session is told to upgrade.
    const plain = await fetch(`${host.url}/api/ws`, { headers: alice.headers })
    expect(plain.status).toBe(426)
    expect(plain.headers.get("upgrade")).toBe("websocket")
    // The HTTP API is unaffected.
    expect((await api.get("/api/graphs")).status).toBe(200)
  })

  it("answers malformed messages with an error naming the field, and stays usable", async () => {
    const ws = await open()
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      ["not json", "message"],
      ["[1,2]", "message"],
      ["null", "message"],
      [{}, "type"],
      [{ type: "dance" }, "type"],
      [{ type: 3 }, "type"],
      [{ type: "subscribe" }, "runId"],
      [{ type: "subscribe", runId: "" }, "runId"],
      [{ type: "subscribe", runId: 5 }, "runId"],
      [{ type: "subscribe", runId: "r", graphId: "g" }, "graphId"],
      [{ type: "subscribe", runId: "r", after: -1 }, "after"],
      [{ type: "subscribe", runId: "r", after: 1.5 }, "after"],
      [{ type: "subscribe", runId: "r", extra: true }, "extra"],
      [{ type: "subscribe", graphId: "g", after: { r: "x" } }, "after.r"],
      [{ type: "subscribe", graphId: "g", after: [1] }, "after"],
      [{ type: "subscribe", graphId: "g", since: "yesterday-ish" }, "since"],
      [{ type: "unsubscribe" }, "runId"],
      [{ type: "unsubscribe", graphId: "g", after: 1 }, "after"],
      [{ type: "ping", extra: 1 }, "extra"],
      [JSON.stringify({ type: "ping", pad: "x".repeat(5000) }), "message"],
    ]
    for (const [message, field] of cases) {
      const reply = await ws.request(message, (m) => m.type !== "heartbeat")
      expect(reply, JSON.stringify(message).slice(0, 80)).toMatchObject({ type: "error", field })
      expect(typeof reply.message).toBe("string")
    }
    // The client's id is echoed, even on an error.
    const withId = await ws.request({ type: "subscribe", runId: "", id: "mine" }, (m) => m.type === "error")
    expect(withId).toMatchObject({ field: "runId", id: "mine" })
    // Still usable: ping, and a real subscription.
    expect(await ws.request({ type: "ping", id: 1 }, (m) => m.type === "pong")).toEqual({
      type: "pong",
      id: 1,
    })
    const graphId = await createGraph()
    const runId = await startRun(graphId, { topic: "owls" })
    await ws.request({ type: "subscribe", runId }, (m) => m.type === "subscribed")
    await ws.untilFinal(runId)
    expect(ws.closed).toBeUndefined()
    await ws.close()
    // A message above the frame limit closes that connection only (1009), not the server.
    const big = await open()
    big.send("x".repeat(70_000))
    await eventually(async () => big.closed)
    expect(big.closed?.code).toBe(1009)
    expect((await api.get("/api/graphs")).status).toBe(200)
  })

  it("answers ping with pong, sends heartbeats, and answers protocol pings", async () => {
    const ws = await open()
    expect(await ws.request({ type: "ping" }, (m) => m.type === "pong")).toEqual({ type: "pong" })
    const start = ws.messages.length
    await sleep(700)
    const beats = ws.messages.slice(start).filter((m) => m.type === "heartbeat")
    expect(beats.length).toBeGreaterThanOrEqual(3)
    expect(beats.every((b) => typeof (b as { at?: unknown }).at === "number")).toBe(true)
    // WebSocket ping frames are answered with pong frames.
    const pong = new Promise<string>((resolve) => ws.socket.once("pong", (data) => resolve(String(data))))
    ws.socket.ping("hello")
    expect(await pong).toBe("hello")
    await ws.close()
  })

  it("closes the socket of a session that ends (sign-out), and only that one", async () => {
    const carol = await signUp(host.url, "carol")
    const ws = await Client.open(host.url, carol.headers)
    const other = await open()
    await ws.roundTrip()
    const out = await fetch(`${host.url}/api/auth/sign-out`, {
      method: "POST",
      headers: { ...carol.headers, origin: host.url, "content-type": "application/json" },
      body: "{}",
    })
    expect(out.status).toBe(200)
    await eventually(async () => ws.closed)
    expect(ws.closed).toEqual({ code: 1008, reason: "the session ended: sign in again" })
    await sleep(400)
    expect(other.closed).toBeUndefined()
    await other.roundTrip()
    await other.close()
  })

  it("limits subscriptions per socket, and refuses a second subscription to the same run or graph", async () => {
    const ws = await open()
    const graphs = await Promise.all([1, 2, 3, 4, 5].map(() => createGraph()))
    for (const graphId of graphs.slice(0, 4)) {
      await ws.request({ type: "subscribe", graphId }, (m) => m.type === "subscribed")
    }
    const fifth = await ws.request({ type: "subscribe", graphId: graphs[4] }, (m) => m.type === "error")
    expect(fifth).toMatchObject({ field: "graphId" })
    expect(fifth.message).toContain("at most 4")
    await ws.request({ type: "unsubscribe", graphId: graphs[0] }, (m) => m.type === "unsubscribed")
    const again = await ws.request({ type: "subscribe", graphId: graphs[1] }, (m) => m.type === "error")
    expect(again).toMatchObject({ field: "graphId", message: "already subscribed" })
    expect(
      await ws.request({ type: "subscribe", graphId: graphs[4] }, (m) => m.type === "subscribed"),
    ).toMatchObject({ graphId: graphs[4] })
    await ws.close()
  })

  it("closing sockets releases every subscription and follower", async () => {
    await eventually(async () => (gauges(host.url).sockets === 0 ? true : undefined))
    expect(gauges(host.url)).toEqual({ sockets: 0, subscriptions: 0, followers: 0 })
    const graphId = await createGraph(reviewGraph)
    const paused = await startRun(graphId)
    await eventually(async () => {
      const run = await api.get<{ status: string }>(`/api/runs/${paused}`)
      return run.body.status === "REVIEW" ? true : undefined
    })
    const sockets = await Promise.all([open(), open()])
    for (const ws of sockets) {
      // The paused run's events are followed (it is not final) by the run and the graph subscriptions.
      await ws.request({ type: "subscribe", runId: paused }, (m) => m.type === "subscribed")
      await ws.request({ type: "subscribe", graphId }, (m) => m.type === "subscribed")
    }
    const second = await startRun(graphId)
    for (const ws of sockets) await ws.until(() => (ws.events(second).length > 0 ? true : undefined))
    await eventually(async () => {
      const now = gauges(host.url)
      return now.followers === 6 ? now : undefined
    })
    expect(gauges(host.url)).toEqual({ sockets: 2, subscriptions: 4, followers: 6 })
    await sockets[0]?.close()
    await eventually(async () => (gauges(host.url).sockets === 1 ? true : undefined))
    expect(gauges(host.url)).toEqual({ sockets: 1, subscriptions: 2, followers: 3 })
    // A client that vanishes without a close handshake is released too.
    sockets[1]?.socket.terminate()
    await eventually(async () => (gauges(host.url).sockets === 0 ? true : undefined))
    expect(gauges(host.url)).toEqual({ sockets: 0, subscriptions: 0, followers: 0 })
  })
})

describe("with sign-in off", () => {
  const dir = tempDir("ws-off")
  let host: RunningHost

  beforeAll(async () => {
    host = await startTestHost({ dataDir: dir.dir, auth: { mode: "off" }, shutdownTimeoutMs: 300 })
  })
  afterAll(async () => {
    await host?.close()
    dir.dispose()
  })

  it("acts for the development user without a cookie, and still refuses foreign origins", async () => {
    const api = client(host.url)
    const graphId = (await api.post<{ id: string }>("/api/graphs", helloGraph())).body.id
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, { inputs: { topic: "x" } }))
      .body.id
    const ws = await Client.open(host.url)
    await ws.request({ type: "subscribe", runId }, (m) => m.type === "subscribed")
    await ws.untilFinal(runId)
    expect(persisted(ws.events(runId))).toEqual(await storedEvents(host.url, runId))
    await ws.close()
    await expect(Client.open(host.url, { origin: "http://attacker.test" })).rejects.toMatchObject({
      status: 403,
    })
  })

  it("closing the host closes its sockets at once (1001, going away), without waiting for the shutdown timeout", async () => {
    const api = client(host.url)
    const graphId = (await api.post<{ id: string }>("/api/graphs", reviewGraph)).body.id
    const ws = await Client.open(host.url)
    await ws.request({ type: "subscribe", graphId }, (m) => m.type === "subscribed")
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    await ws.until(() => (ws.events(runId).length > 0 ? true : undefined))
    const start = Date.now()
    const closing = host.close()
    await eventually(async () => ws.closed)
    // The sockets close when the shutdown begins, before the open requests' timeout (300 ms here).
    expect(Date.now() - start).toBeLessThan(250)
    await closing
    expect(ws.closed?.code).toBe(1001)
    expect(gauges(host.url)).toEqual({ sockets: 0, subscriptions: 0, followers: 0 })
  })
})

describe("on Postgres, across host processes", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let driver: RunningHost
  let subscriber: RunningHost
  let alice: Session

  beforeAll(async () => {
    db = await freshDatabase("ws")
    driver = await startTestHost({ databaseUrl: db.url })
    // The subscriber's host drives nothing and re-reads the store only once a minute: what it sends promptly
    // it learned through LISTEN/NOTIFY.
    subscriber = await startTestHost({
      databaseUrl: db.url,
      resume: false,
      runs: { pollInterval: "60 seconds" },
    })
    alice = await signUp(driver.url, "alice")
  })
  afterAll(async () => {
    await subscriber?.close()
    await driver?.close()
    await db?.drop()
  })

  it("a graph subscription on one host sees runs started on another, to their final status", async () => {
    expect([driver.database, subscriber.database]).toEqual(["postgres", "postgres"])
    const api = client(driver.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", timerGraph(1))).body.id
    const ws = await Client.open(subscriber.url, alice.headers)
    await ws.request({ type: "subscribe", graphId }, (m) => m.type === "subscribed")
    const started = Date.now()
    const runs = await Promise.all(
      [1, 2].map(async () => (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id),
    )
    for (const runId of runs) {
      await ws.untilFinal(runId, graphId)
      expect(persisted(ws.events(runId, graphId))).toEqual(await storedEvents(driver.url, runId, alice))
    }
    // Well before the subscriber's one-minute poll.
    expect(Date.now() - started).toBeLessThan(20_000)

    // A run subscription on the subscriber's host, resumed from the middle of a run driven by the other.
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    const first = await Client.open(subscriber.url, alice.headers)
    first.send({ type: "subscribe", runId })
    await first.until(() => (seqsOf(first.events(runId)).length >= 2 ? true : undefined))
    await first.close()
    const seen = persisted(first.events(runId))
    const second = await Client.open(subscriber.url, alice.headers)
    second.send({ type: "subscribe", runId, after: seen.at(-1)?.seq })
    await second.untilFinal(runId)
    expect([...seen, ...persisted(second.events(runId))]).toEqual(
      await storedEvents(driver.url, runId, alice),
    )
    await second.close()
    await ws.close()
    await eventually(async () => (gauges(subscriber.url).sockets === 0 ? true : undefined))
    expect(gauges(subscriber.url)).toEqual({ sockets: 0, subscriptions: 0, followers: 0 })
  })
})
