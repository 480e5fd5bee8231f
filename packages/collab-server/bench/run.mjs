/**
 * Collaboration benchmarks of @weft/collab-server: edit latency between real providers, and the load time of a
 * 1,000-node graph document. Run after a build (`npx tsc -b`): `node packages/collab-server/bench/run.mjs`.
 *
 * Every benchmark runs in a child process of its own (this file, `--child <kind> <target> <n> <hz>`). That child
 * holds the editing and observing providers and starts the processes it needs, each a separate Node process talking
 * to it over IPC: the server and, with more than 2 clients, the crowd (`--crowd`: the other providers). Every
 * provider has its own WebSocket (`ws`), as separate browsers would. Each benchmark runs against two servers
 * (targets), one after the other:
 *
 * - `standalone` (`--server standalone`): `makeCollabServer` from `dist/`, listening on 127.0.0.1 port 0,
 *   in-memory storage.
 * - `host` (`--server host`): a Weft host, `startHost` from packages/host-node/dist/ on PGlite in a temp directory
 *   with sign-in off, so every non-empty token is the local user. Clients connect to its `/collab` route. The
 *   graphs are created through `POST /api/graphs`; the document names are `graph:<id>`. Its documents are
 *   stored in SQL, and a new document is seeded from the graph's active version.
 *
 * - latency N clients: one editor, one fixed observer (in the editor's process, connected last, so the server
 *   writes to it after every other client) and N − 2 crowd clients, on one 200-node graph document. The editor
 *   makes one GraphDoc edit at a time, alternating `moveNode` and `setInput` on random nodes; the next edit
 *   follows 10–20 ms after the observer received the previous one, so each edit meets an idle server. Latency is
 *   from just before the edit call to the observer's Yjs observer firing for it (same process, same clock); for
 *   the crowd, to each crowd client's observer (another process: `process.hrtime`, CLOCK_MONOTONIC, which all
 *   processes of the machine share). Warm-up edits first, not counted.
 * - latency N clients + cursors: the same while every crowd client also moves its cursor (an awareness update,
 *   which the server relays to every client) BENCH_CURSOR_HZ times a second (default 2).
 * - load 1000 nodes: a graph of 1,000 nodes of real blocks, about 1,000 links, input defaults and positions.
 *   Standalone: its `GraphDoc.fromGraph` state is what the storage returns. Cold: a graph id that the server has
 *   never loaded (so it calls `storage.load` and applies the state), from creating the provider and its socket to
 *   `synced`. Host: one graph per sample, created through the API. First open: the document is seeded from the
 *   active version and stored. Then, once the host has unloaded every document (`weft_collab_documents` 0 in
 *   `/metrics`), cold: the same graphs again, loaded from SQL. Warm (both): the same while another client keeps
 *   the document loaded. Then `GraphDoc.toGraph` on each synced document.
 *
 * Checks: every timed edit reaches the observer and every crowd client, and the replicas end equal; every loaded
 * document reads back as the source graph (keys in any order: the host keeps versions as jsonb). A failed check prints `FAILED: …` and the script exits 1.
 *
 * Environment: BENCH_QUICK=1 small counts; BENCH_FILTER=<text> runs only the benchmarks whose label contains
 * <text>; BENCH_EDITS=<n> timed edits per latency benchmark (default 600); BENCH_CLIENTS=<a,b> client counts
 * (default 2,50); BENCH_LOADS=<n> samples per load kind (default 30); BENCH_COLLAB_DIST=<dir> measures another
 * build of this package's dist/ (before/after comparisons; its imports must resolve from there);
 * BENCH_CURSOR_HZ=<hz> (0 skips the "+ cursors" run); BENCH_TARGET=standalone|host|standalone,host (default both);
 * BENCH_HOST_DIST=<dir> measures another build of packages/host-node/dist/ (inside that package, so its imports
 * resolve).
 *
 * Diagnostics: BENCH_TRACE=1 splits each edit's latency into editor → server, in the server and server → observer
 * (a tracing extension added to the standalone server's Hocuspocus instance; the host gets no trace), and lists
 * the slowest 2% with the GC pauses and run-queue waits of every process during them; BENCH_PROF_DIR=<dir> writes
 * CPU profiles of the server and of the clients' process there.
 */
import { fork } from "node:child_process"
import { readFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { deflateRawSync } from "node:zlib"
import { runChild as runBenchChild } from "../../engine/bench/child.mjs"

const SELF = fileURLToPath(import.meta.url)
const PACKAGE = resolve(dirname(SELF), "..")
const ROOT = resolve(PACKAGE, "../..")
const MARK = "@@bench "
/** The built server to measure: `dist/` (BENCH_COLLAB_DIST may name another build of it, for A/B runs). */
const DIST = resolve(process.env.BENCH_COLLAB_DIST ?? join(PACKAGE, "dist"))
/** The built host, for the host target (BENCH_HOST_DIST may name another build of it, for A/B runs). */
const HOST_DIST = resolve(process.env.BENCH_HOST_DIST ?? join(ROOT, "packages/host-node/dist"))
/** Which servers to measure: `standalone` (makeCollabServer alone), `host` (a Weft host's /collab), or both. */
const TARGETS = (process.env.BENCH_TARGET ?? "standalone,host").split(",").map((t) => t.trim())
const QUICK = process.env.BENCH_QUICK === "1"
const FILTER = process.env.BENCH_FILTER ?? ""
const EDITS = Number(process.env.BENCH_EDITS ?? (QUICK ? 100 : 600))
const WARM_EDITS = QUICK ? 20 : 100
const CLIENTS = (process.env.BENCH_CLIENTS ?? "2,50").split(",").map(Number)
const LOADS = Number(process.env.BENCH_LOADS ?? (QUICK ? 8 : 30))
const TRACE = process.env.BENCH_TRACE === "1"
/** Cursor moves per second of each crowd client, in the extra "+ cursors" latency benchmark (0: not run). */
const CURSOR_HZ = Number(process.env.BENCH_CURSOR_HZ ?? 2)
const LATENCY_NODES = 200
const LOAD_NODES = 1000
/** Targets for edit latency with 50 clients on one document (ms). */
const TARGET = { p50: 5, p99: 25 }

const check = (ok, message) => {
  if (!ok) throw new Error(`check failed: ${message}`)
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
/** Milliseconds on CLOCK_MONOTONIC: comparable between the processes of this machine. */
const hr = () => Number(process.hrtime.bigint()) / 1e6

/**
 * Time the main thread of process `pid` spent runnable but waiting for a CPU, in ms (`/proc/<pid>/schedstat`);
 * 0 where it cannot be read. On a shared 2-vCPU machine this is where queueing for the CPU shows.
 */
const runQueueMs = (pid) => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6
  } catch {
    return 0
  }
}

/** With BENCH_TRACE=1: this process's GC pauses as [start (hr clock), duration] pairs. */
const gcPauses = []
const watchGc = async () => {
  if (!TRACE) return
  const { PerformanceObserver, performance } = await import("node:perf_hooks")
  const offset = hr() - performance.now()
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push(e.startTime + offset, e.duration)
  }).observe({ entryTypes: ["gc"] })
}

/** The client-side modules (resolved from this package, so providers, GraphDoc and server share one yjs). */
const modules = async () => {
  const [{ HocuspocusProvider, HocuspocusProviderWebsocket }, ws, Y, engine] = await Promise.all([
    import("@hocuspocus/provider"),
    import("ws"),
    import("yjs"),
    import("@weft/engine"),
  ])
  return {
    HocuspocusProvider,
    HocuspocusProviderWebsocket,
    WebSocket: ws.default,
    Y,
    GraphDoc: engine.GraphDoc,
  }
}

// ---------------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32), so every run edits the same nodes. */
const prng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Nearest-rank percentile of an array of numbers. */
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}
const stats = (xs) => ({
  n: xs.length,
  p50: pct(xs, 50),
  p90: pct(xs, 90),
  p99: pct(xs, 99),
  max: Math.max(...xs),
  min: Math.min(...xs),
})
const r2 = (x) => Math.round(x * 100) / 100
const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))

// ---------------------------------------------------------------------------------------------------
// The graph
// ---------------------------------------------------------------------------------------------------

/**
 * The blocks of the benchmark graphs: block id, input defaults, and the input pins that take a link (none: the
 * node only feeds others). Every graph passes the host's validation, so the host target creates it through its API.
 */
const BLOCKS = [
  ["weft/io/agent-short-text-input", (_r, i) => ({ name: `text_${i}` }), []],
  ["weft/text/text-replace", (r) => ({ old: "-", new: `+${Math.floor(r() * 100)}` }), ["text"]],
  ["weft/basic/store-value", () => ({}), ["input"]],
  [
    "weft/text/text-replace",
    (r) => ({ old: "x", new: "X", text: `sample ${Math.floor(r() * 1e6)}` }),
    ["old"],
  ],
  [
    "weft/text/fill-text-template",
    (r) => ({ format: `Summarise {a} and {b}, item {c} of ${Math.floor(r() * 1e4)}.` }),
    ["values_#_a", "values_#_b", "values_#_c"],
  ],
  ["weft/logic/calculator", (r) => ({ operation: "Add", a: Math.floor(r() * 100), b: 1 }), []],
  ["weft/io/agent-output", (_r, i) => ({ name: `result_${i}` }), ["value"]],
]
/** Output pins that are not `output`. */
const OUTPUT = { "weft/io/agent-short-text-input": "result", "weft/logic/calculator": "result" }

/**
 * A graph of `n` real blocks laid out on a grid, and about `n` links: each input pin that takes a link gets one
 * from one of the 20 nodes before it. Input defaults (1–3 fields) on most nodes, a position on each.
 */
const makeGraph = (n, seed = 1) => {
  const r = prng(seed)
  const nodes = []
  const links = []
  for (let i = 0; i < n; i++) {
    const [blockId, inputs, sinks] = BLOCKS[Math.floor(r() * BLOCKS.length)]
    const inputDefault = inputs(r, i)
    nodes.push({
      id: `n${i}`,
      blockId,
      ...(Object.keys(inputDefault).length === 0 ? {} : { inputDefault }),
      metadata: { position: { x: (i % 25) * 320 + Math.floor(r() * 40), y: Math.floor(i / 25) * 180 } },
    })
    for (const sinkName of i === 0 ? [] : sinks) {
      const j = Math.max(0, i - 1 - Math.floor(r() * 20))
      const sourceName = OUTPUT[nodes[j].blockId] ?? "output"
      links.push({ id: `l${links.length}`, sourceId: `n${j}`, sourceName, sinkId: `n${i}`, sinkName })
    }
  }
  return { id: `bench-${n}`, version: 1, name: `bench: ${n} nodes`, nodes, links }
}

/** The sequence number of an edit, from a Yjs deep-observer batch (position x, or the `text` input). */
const seqsOf = (events) => {
  const out = []
  for (const event of events) {
    for (const key of event.keysChanged ?? []) {
      const value = event.target.get(key)
      if (key === "position" && value !== undefined) out.push(value.x)
      else if (typeof value === "string" && value.startsWith("edit #")) out.push(Number(value.slice(6)))
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------

const started = new Set()
process.on("exit", () => {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL")
})

/** Forks this file with `args` and IPC; `call(message)` sends a request and resolves with the reply. */
const forkSelf = async (args, label) => {
  const prof = process.env.BENCH_PROF_DIR
  const child = fork(SELF, args, {
    cwd: ROOT,
    serialization: "advanced",
    stdio: ["ignore", "inherit", "pipe", "ipc"],
    execArgv: prof === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", prof],
  })
  started.add(child)
  let err = ""
  /** The end of the child's stderr without stack frames, for error messages. */
  const tail = () =>
    err
      .trim()
      .split("\n")
      .filter((l) => l.trim() !== "" && !/^\s+at /.test(l))
      .slice(-6)
      .join(" | ")
  child.stderr.on("data", (d) => {
    err += d
    if (err.length > 20_000) err = err.slice(-10_000)
  })
  let announce
  const announced = new Promise((r) => {
    announce = r
  })
  const waiting = []
  child.on("message", (m) => {
    if (m?.type === "ready") announce(m)
    else waiting.shift()?.resolve(m)
  })
  const exited = new Promise((r) => child.on("exit", r))
  exited.then((code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${label} exited (${code}): ${tail()}`))
  })
  const call = (message, timeoutMs = 120_000) =>
    new Promise((resolveCall, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: no reply to ${message.type}`)), timeoutMs)
      waiting.push({
        resolve: (m) => {
          clearTimeout(timer)
          if (m?.error !== undefined) reject(new Error(`${label}: ${m.error}`))
          else resolveCall(m)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      child.send(message)
    })
  const ready = await Promise.race([
    announced,
    exited.then((code) => Promise.reject(new Error(`${label} exited (${code}): ${tail()}`))),
  ])
  return {
    ready,
    call,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null) {
        await call({ type: "stop" }, 15_000).catch(() => child.kill("SIGKILL"))
      }
      started.delete(child)
    },
  }
}

/** Announces `ready` to the parent, then answers its requests with `handlers[type](message)` (or `{ error }`). */
const serve = (ready, handlers) => {
  process.on("disconnect", () => process.exit(0))
  process.on("message", async (m) => {
    try {
      const reply = await handlers[m.type](m)
      process.send(reply ?? {})
      if (m.type === "stop") process.exit(0)
    } catch (e) {
      process.send({ error: String(e?.stack ?? e) })
    }
  })
  process.send({ type: "ready", ...ready })
}

// ---------------------------------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------------------------------

/** `--server standalone`: `makeCollabServer` from dist/, in-memory storage; `template` is what unknown ids load. */
const serverChild = async () => {
  const { makeCollabServer } = await import(pathToFileURL(join(DIST, "index.js")).href)
  const states = new Map()
  let template
  let stores = 0
  const server = makeCollabServer({
    authenticate: async (token) => {
      const m = /^bench-(\d+)$/.exec(token)
      return m === null ? undefined : { userId: `u${m[1]}`, role: "editor", name: `User ${m[1]}` }
    },
    storage: {
      load: async (graphId) => states.get(graphId) ?? template,
      store: async (graphId, state) => {
        stores++
        states.set(graphId, state)
      },
    },
  })
  // BENCH_TRACE=1: when each edit's message reached the server (the first `beforeHandleMessage` hook) and when it
  // was applied to the server's document.
  const spans = []
  if (TRACE) {
    await watchGc()
    const extensions = server.hocuspocus?.configuration?.extensions
    check(Array.isArray(extensions), "BENCH_TRACE needs the server's hocuspocus instance")
    let received = 0
    extensions.unshift({
      extensionName: "bench-trace",
      beforeHandleMessage: async ({ context }) => {
        if (context?.userId === "u0") received = hr()
      },
      afterLoadDocument: async ({ document }) => {
        document.getMap("nodes").observeDeep((events) => {
          const at = hr()
          for (const seq of seqsOf(events)) spans.push(seq, received, at)
        })
      },
    })
  }
  const { url } = await server.listen(0)
  let cpu = process.cpuUsage()
  serve(
    { url },
    {
      trace: () => ({ spans: Float64Array.from(spans), gc: Float64Array.from(gcPauses) }),
      template: (m) => {
        template = m.state
      },
      /** CPU time since the last `cpu` request, in ms (user + system), and the heap. */
      cpu: () => {
        const d = process.cpuUsage(cpu)
        cpu = process.cpuUsage()
        return { cpuMs: (d.user + d.system) / 1000, heapMb: process.memoryUsage().heapUsed / 2 ** 20, stores }
      },
      stop: () => server.destroy(),
    },
  )
}

/**
 * `--server host`: a Weft host (`startHost` from packages/host-node/dist/) on PGlite in a temp directory, sign-in
 * off (every token is the local user, who owns the graphs it creates), with its collaboration server at /collab.
 */
const hostServerChild = async () => {
  const { mkdtempSync, rmSync } = await import("node:fs")
  const { tmpdir } = await import("node:os")
  const { startHost } = await import(pathToFileURL(join(HOST_DIST, "index.js")).href)
  const dataDir = mkdtempSync(join(tmpdir(), "weft-collab-bench-"))
  process.on("exit", () => rmSync(dataDir, { recursive: true, force: true }))
  const t0 = hr()
  const host = await startHost({ port: 0, host: "127.0.0.1", dataDir, auth: { mode: "off" } })
  const startMs = hr() - t0
  let cpu = process.cpuUsage()
  serve(
    { url: `${host.url.replace(/^http/, "ws")}/collab`, http: host.url, startMs },
    {
      cpu: () => {
        const d = process.cpuUsage(cpu)
        cpu = process.cpuUsage()
        return { cpuMs: (d.user + d.system) / 1000, heapMb: process.memoryUsage().heapUsed / 2 ** 20 }
      },
      stop: async () => {
        await host.close()
        rmSync(dataDir, { recursive: true, force: true })
      },
    },
  )
}

/** The local user's token on a host with sign-in off (any non-empty token). */
const HOST_TOKEN = "bench"

/** Creates `graph` through the host's API (`POST /api/graphs`): its id, and the time the request took. */
const createGraph = async (http, graph) => {
  const { id: _id, version: _version, ...body } = graph
  const t0 = hr()
  const res = await fetch(`${http}/api/graphs`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${HOST_TOKEN}` },
    body: JSON.stringify(body),
  })
  const text = await res.text()
  check(res.status === 201, `POST /api/graphs answered ${res.status}: ${text.slice(0, 300)}`)
  return { id: JSON.parse(text).id, ms: hr() - t0 }
}

/** The host's count of loaded collaboration documents (`/metrics`, refreshed once a second). */
const hostDocuments = async (http) => {
  const text = await (await fetch(`${http}/metrics`)).text()
  const found = text.split("\n").find((l) => l.startsWith("weft_collab_documents{"))
  return found === undefined ? undefined : Number(found.split(" ").at(-1))
}

/** Waits until the host has unloaded every collaboration document. */
const hostUnloaded = async (http) => {
  const deadline = hr() + 15_000
  for (;;) {
    if ((await hostDocuments(http)) === 0) return
    check(hr() < deadline, "the host unloads every document within 15 s of its last client leaving")
    await sleep(250)
  }
}

/** Starts the server process of `target`: `{ url, http?, pid, call, stop }` (see `forkSelf`). */
const startServer = (target) => forkSelf(["--server", target], `the ${target} server`)

// ---------------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------------

/** A provider on a socket of its own; `synced` resolves at the provider's `synced` event (with hr() then). */
const connectClient = (m, url, name, token, user) => {
  const doc = new m.Y.Doc()
  const socket = new m.HocuspocusProviderWebsocket({ url, WebSocketPolyfill: m.WebSocket, maxAttempts: 1 })
  let settle
  let fail
  const synced = new Promise((res, rej) => {
    settle = res
    fail = rej
  })
  const provider = new m.HocuspocusProvider({
    websocketProvider: socket,
    name,
    document: doc,
    token,
    onSynced: () => settle(hr()),
    onAuthenticationFailed: ({ reason }) => fail(new Error(`${token} denied: ${reason}`)),
  })
  provider.attach()
  if (user !== undefined) provider.setAwarenessField("user", user)
  return {
    doc,
    provider,
    synced,
    close: () => {
      provider.destroy()
      socket.destroy()
    },
  }
}

const colour = (i) => `hsl(${(i * 47) % 360} 70% 50%)`

/**
 * `--crowd <url> <graph> <first> <count> <cursorHz>`: `count` clients that note when each edit arrives and edit
 * nothing; with `cursorHz` > 0 each moves its cursor that often.
 */
const crowdChild = async (url, graph, first, count, cursorHz) => {
  const m = await modules()
  await watchGc()
  const clients = []
  const seen = [] // per client: [seq, hr()] pairs
  for (let i = 0; i < Number(count); i++) {
    const k = Number(first) + i
    const c = connectClient(m, url, graph, `bench-${k}`, { name: `User ${k}`, color: colour(k) })
    const mine = []
    seen.push(mine)
    c.doc.getMap("nodes").observeDeep((events) => {
      const at = hr()
      for (const seq of seqsOf(events)) mine.push(seq, at)
    })
    clients.push(c)
  }
  await Promise.all(clients.map((c) => c.synced))
  // Presence: every crowd client moves its cursor `cursorHz` times a second (an awareness update each).
  const hz = Number(cursorHz)
  const timers = []
  if (hz > 0) {
    const r = prng(Number(first))
    for (const c of clients) {
      const move = () =>
        c.provider.setAwarenessField("cursor", { x: Math.round(r() * 4000), y: Math.round(r() * 4000) })
      timers.push(
        setTimeout(
          () => {
            move()
            timers.push(setInterval(move, 1000 / hz))
          },
          r() * (1000 / hz),
        ),
      )
    }
  }
  let cpu = process.cpuUsage()
  serve(
    { clients: clients.length },
    {
      resetCpu: () => {
        cpu = process.cpuUsage()
      },
      /** Arrival times per client, and the crowd's CPU since `resetCpu`. */
      collect: () => {
        const d = process.cpuUsage(cpu)
        return {
          seen: seen.map((s) => Float64Array.from(s)),
          graphs: clients.map((c) => JSON.stringify(m.GraphDoc.toGraph(c.doc))),
          gc: Float64Array.from(gcPauses),
          cpuMs: (d.user + d.system) / 1000,
        }
      },
      stop: () => {
        for (const t of timers) clearTimeout(t)
        for (const c of clients) c.close()
      },
    },
  )
}

// ---------------------------------------------------------------------------------------------------
// Latency
// ---------------------------------------------------------------------------------------------------

const latencyBench = async (target, n, cursorHz) => {
  const m = await modules()
  await watchGc()
  const server = await startServer(target)
  const { url } = server.ready
  const graph = makeGraph(LATENCY_NODES, 7)
  let name = "graph:latency"
  if (target === "host") name = `graph:${(await createGraph(server.ready.http, graph)).id}`
  else await server.call({ type: "template", state: m.Y.encodeStateAsUpdate(m.GraphDoc.fromGraph(graph)) })
  const editor = connectClient(m, url, name, "bench-0", { name: "User 0", color: colour(0) })
  await editor.synced
  const crowdSize = Math.max(0, n - 2)
  const crowd =
    crowdSize > 0
      ? await forkSelf(["--crowd", url, name, "2", String(crowdSize), String(cursorHz)], "the crowd")
      : undefined
  const observer = connectClient(m, url, name, "bench-1", { name: "User 1", color: colour(1) })
  await observer.synced

  const arrived = new Map() // seq → hr() at the observer
  let waiter
  observer.doc.getMap("nodes").observeDeep((events) => {
    const at = hr()
    for (const seq of seqsOf(events)) {
      arrived.set(seq, at)
      if (waiter !== undefined && waiter.seq === seq) waiter.resolve()
    }
  })
  const r = prng(42)
  const total = WARM_EDITS + EDITS
  const sentAt = new Float64Array(total)
  const edit = (seq) => {
    const node = `n${Math.floor(r() * LATENCY_NODES)}`
    const t0 = hr()
    if (seq % 2 === 0) m.GraphDoc.moveNode(editor.doc, node, { x: seq, y: Math.round(r() * 4000) })
    else m.GraphDoc.setInput(editor.doc, node, "text", `edit #${seq}`)
    sentAt[seq] = t0
  }
  const arrival = (seq) =>
    arrived.has(seq)
      ? Promise.resolve()
      : new Promise((res, rej) => {
          const timer = setTimeout(
            () => rej(new Error(`edit ${seq} did not reach the observer in 5 s`)),
            5_000,
          )
          waiter = {
            seq,
            resolve: () => {
              clearTimeout(timer)
              waiter = undefined
              res()
            },
          }
        })

  const pids = {
    server: server.pid,
    editor: process.pid,
    ...(crowd === undefined ? {} : { crowd: crowd.pid }),
  }
  const waits = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, runQueueMs(pid)]))
  const waitPerEdit = [] // with BENCH_TRACE=1: run-queue wait of each process around each edit
  let cpuStart
  let waitStart
  let wallStart = 0
  for (let seq = 0; seq < total; seq++) {
    if (seq === WARM_EDITS) {
      await server.call({ type: "cpu" })
      await crowd?.call({ type: "resetCpu" })
      cpuStart = process.cpuUsage()
      waitStart = waits()
      wallStart = hr()
    }
    const before = TRACE ? waits() : undefined
    edit(seq)
    await arrival(seq)
    if (before !== undefined) {
      const after = waits()
      waitPerEdit[seq] = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]))
    }
    await sleep(10 + r() * 10)
  }
  const wall = hr() - wallStart
  const waitEnd = waits()
  const runQueueMsPerEdit = Object.fromEntries(
    Object.entries(waitEnd).map(([k, v]) => [k, Math.round(((v - waitStart[k]) / EDITS) * 1000) / 1000]),
  )
  const serverCpu = await server.call({ type: "cpu" })
  const clientCpu = process.cpuUsage(cpuStart)
  await sleep(200) // the crowd's last arrivals
  const crowdData = crowd === undefined ? undefined : await crowd.call({ type: "collect" })
  const serverTrace = TRACE && target === "standalone" ? await server.call({ type: "trace" }) : undefined

  const timed = (seq) => seq >= WARM_EDITS
  const observerLat = []
  for (let seq = WARM_EDITS; seq < total; seq++) observerLat.push(arrived.get(seq) - sentAt[seq])
  check(observerLat.every(Number.isFinite), "every timed edit reached the observer")
  const everyLat = [...observerLat]
  const lastPerEdit = new Float64Array(total).fill(Number.NEGATIVE_INFINITY)
  for (let seq = WARM_EDITS; seq < total; seq++) lastPerEdit[seq] = arrived.get(seq) - sentAt[seq]
  if (crowdData !== undefined) {
    for (const [i, s] of crowdData.seen.entries()) {
      const got = new Set()
      for (let k = 0; k < s.length; k += 2) {
        const seq = s[k]
        if (!timed(seq) || got.has(seq)) continue
        got.add(seq)
        const lat = s[k + 1] - sentAt[seq]
        everyLat.push(lat)
        if (lat > lastPerEdit[seq]) lastPerEdit[seq] = lat
      }
      check(got.size === EDITS, `crowd client ${i} received ${got.size} of ${EDITS} timed edits`)
    }
  }
  const want = JSON.stringify(m.GraphDoc.toGraph(editor.doc))
  check(JSON.stringify(m.GraphDoc.toGraph(observer.doc)) === want, "the observer's graph equals the editor's")
  for (const [i, g] of (crowdData?.graphs ?? []).entries())
    check(g === want, `crowd client ${i}'s graph equals the editor's`)

  const trace =
    serverTrace === undefined
      ? undefined
      : traceOf({
          sentAt,
          arrived,
          serverTrace,
          waitPerEdit,
          crowdGc: crowdData?.gc,
          clientGc: Float64Array.from(gcPauses),
        })
  editor.close()
  observer.close()
  await crowd?.stop()
  await server.stop()
  const observerStats = stats(observerLat)
  const allStats = stats(everyLat)
  const lastStats = stats(Array.from(lastPerEdit.subarray(WARM_EDITS)))
  return {
    kind: "latency",
    target,
    clients: n,
    cursorHz: crowdSize > 0 ? cursorHz : 0,
    nodes: LATENCY_NODES,
    edits: EDITS,
    warmEdits: WARM_EDITS,
    editsPerSecond: r2((EDITS / wall) * 1000),
    observer: mapStats(observerStats),
    everyReceiver: mapStats(allStats),
    lastReceiverPerEdit: mapStats(lastStats),
    serverCpuMsPerEdit: r2(serverCpu.cpuMs / EDITS),
    runQueueMsPerEdit,
    serverCpuShare: r2(serverCpu.cpuMs / wall),
    editorProcessCpuMsPerEdit: r2((clientCpu.user + clientCpu.system) / 1000 / EDITS),
    crowdCpuMsPerEdit: crowdData === undefined ? undefined : r2(crowdData.cpuMs / EDITS),
    targetMet: n >= 50 ? observerStats.p50 < TARGET.p50 && observerStats.p99 < TARGET.p99 : undefined,
    targetMetEveryReceiver: n >= 50 ? allStats.p50 < TARGET.p50 && allStats.p99 < TARGET.p99 : undefined,
    trace,
  }
}

/**
 * BENCH_TRACE=1: each timed edit's latency split into editor → server (message handled), server (applied), and
 * server → observer; and for the slowest 2%, that split and the GC pauses of any process overlapping the edit.
 */
const traceOf = ({ sentAt, arrived, serverTrace, waitPerEdit, crowdGc, clientGc }) => {
  const at = new Map()
  const s = serverTrace.spans
  for (let k = 0; k < s.length; k += 3) if (!at.has(s[k])) at.set(s[k], [s[k + 1], s[k + 2]])
  const rows = []
  for (let seq = WARM_EDITS; seq < sentAt.length; seq++) {
    const [received, applied] = at.get(seq) ?? [Number.NaN, Number.NaN]
    const t0 = sentAt[seq]
    const t3 = arrived.get(seq)
    rows.push({
      seq,
      total: t3 - t0,
      toServer: received - t0,
      inServer: applied - received,
      toObserver: t3 - applied,
    })
  }
  const pauses = (gc, who, t0, t1) => {
    const out = []
    for (let k = 0; k < (gc?.length ?? 0); k += 2)
      if (gc[k] < t1 && gc[k] + gc[k + 1] > t0) out.push(`${who} GC ${ms(gc[k + 1])} ms`)
    return out
  }
  const slow = [...rows].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(rows.length / 50)))
  return {
    toServer: mapStats(stats(rows.map((r) => r.toServer))),
    inServer: mapStats(stats(rows.map((r) => r.inServer))),
    toObserver: mapStats(stats(rows.map((r) => r.toObserver))),
    slowest: slow.map((r) => ({
      ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === "seq" ? v : r2(v)])),
      gc: [
        ...pauses(serverTrace.gc, "server", sentAt[r.seq], arrived.get(r.seq)),
        ...pauses(clientGc, "editor", sentAt[r.seq], arrived.get(r.seq)),
        ...pauses(crowdGc, "crowd", sentAt[r.seq], arrived.get(r.seq)),
      ],
      runQueueMs: Object.fromEntries(Object.entries(waitPerEdit[r.seq] ?? {}).map(([k, v]) => [k, r2(v)])),
    })),
  }
}

const mapStats = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === "n" ? v : r2(v)]))

// ---------------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------------

/** JSON with every object's keys sorted. */
const canonicalJson = (value) =>
  JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )

const loadBench = async (target, n) => {
  const m = await modules()
  const graph = makeGraph(n, 3)
  const source = m.GraphDoc.fromGraph(graph)
  const state = m.Y.encodeStateAsUpdate(source)
  const sourceGraph = m.GraphDoc.toGraph(source)
  check(
    sourceGraph.nodes.length === n && sourceGraph.links.length === graph.links.length,
    "the source graph's size",
  )
  const server = await startServer(target)
  const { url, http } = server.ready
  if (target === "standalone") await server.call({ type: "template", state })

  /** Connects a fresh client to graph `id`, times connect → synced and toGraph, checks the graph, closes it. */
  const sample = async (id, k) => {
    const t0 = hr()
    const c = connectClient(m, url, `graph:${id}`, `bench-${k}`)
    const t1 = await c.synced
    const g = m.GraphDoc.toGraph(c.doc)
    const t2 = hr()
    // Key order aside: the host keeps versions as jsonb, which orders keys its own way.
    const got = canonicalJson(g)
    const want = canonicalJson({ ...sourceGraph, id: g.id })
    if (got !== want) {
      let at = 0
      while (got[at] === want[at]) at++
      check(
        false,
        `the graph loaded from ${id} equals the source: at ${at}, ${got.slice(at - 40, at + 80)} ≠ ${want.slice(at - 40, at + 80)}`,
      )
    }
    check(target === "standalone" || g.id === id, `the document of graph ${id} holds its id`)
    c.close()
    await sleep(30)
    return { synced: t1 - t0, toGraph: t2 - t1 }
  }

  // Host: one graph per cold sample, created through the API. Its first open seeds the document from the active
  // version (and stores it); once every document is unloaded, the second open loads the stored state from SQL.
  const ids = []
  const creates = []
  for (let i = 0; i < LOADS; i++) {
    if (target === "standalone") ids.push(`cold-${i}`)
    else {
      const created = await createGraph(http, graph)
      ids.push(created.id)
      creates.push(created.ms)
    }
  }
  await server.call({ type: "cpu" })
  const seed = []
  if (target === "host") {
    for (const [i, id] of ids.entries()) seed.push(await sample(id, 300 + i))
  }
  const seedCpu = await server.call({ type: "cpu" })
  if (target === "host") {
    await hostUnloaded(http)
    await server.call({ type: "cpu" })
  }
  const cold = []
  for (const [i, id] of ids.entries()) cold.push(await sample(id, 100 + i))
  const coldCpu = await server.call({ type: "cpu" })

  const warmId = ids[0]
  const holder = connectClient(m, url, `graph:${warmId}`, "bench-1")
  await holder.synced
  await sleep(50)
  await server.call({ type: "cpu" })
  const warm = []
  for (let i = 0; i < LOADS; i++) warm.push(await sample(warmId, 200 + i))
  const warmCpu = await server.call({ type: "cpu" })
  holder.close()
  await server.stop()

  // toGraph on one document in a steady state (after the first calls compiled it).
  const steady = []
  for (let i = 0; i < 20; i++) {
    const t0 = hr()
    m.GraphDoc.toGraph(source)
    steady.push(hr() - t0)
  }
  return {
    kind: "load",
    target,
    nodes: n,
    links: graph.links.length,
    stateBytes: state.byteLength,
    // for comparison only: the same document in Yjs's v2 encoding, and the v1 state deflated
    stateBytesV2: m.Y.encodeStateAsUpdateV2(source).byteLength,
    stateBytesDeflated: deflateRawSync(state).byteLength,
    samples: LOADS,
    hostStartMs: server.ready.startMs === undefined ? undefined : r2(server.ready.startMs),
    create: creates.length === 0 ? undefined : mapStats(stats(creates)),
    seed: seed.length === 0 ? undefined : mapStats(stats(seed.map((s) => s.synced))),
    seedFirst: seed.length === 0 ? undefined : r2(seed[0].synced),
    cold: mapStats(stats(cold.map((s) => s.synced))),
    coldFirst: r2(cold[0].synced),
    warm: mapStats(stats(warm.map((s) => s.synced))),
    toGraphAfterLoad: mapStats(stats([...seed, ...cold, ...warm].map((s) => s.toGraph))),
    toGraphSteady: mapStats(stats(steady)),
    serverCpuMsPerSeed: seed.length === 0 ? undefined : r2(seedCpu.cpuMs / LOADS),
    serverCpuMsPerColdLoad: r2(coldCpu.cpuMs / LOADS),
    serverCpuMsPerWarmLoad: r2(warmCpu.cpuMs / LOADS),
  }
}

// ---------------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------------

const BENCHES = [
  ...CLIENTS.map((n) => ({ label: `latency ${n} clients`, args: ["latency", n, 0] })),
  ...(CURSOR_HZ > 0
    ? CLIENTS.filter((n) => n > 2).map((n) => ({
        label: `latency ${n} clients + cursors ${CURSOR_HZ} Hz`,
        args: ["latency", n, CURSOR_HZ],
      }))
    : []),
  { label: `load ${LOAD_NODES} nodes`, args: ["load", LOAD_NODES] },
].flatMap((b) =>
  TARGETS.map((target) => ({
    label: `[${target}] ${b.label}`,
    args: [b.args[0], target, ...b.args.slice(1)],
  })),
)

const who = (res) => `${res.clients} clients${res.cursorHz > 0 ? ` + cursors ${res.cursorHz} Hz` : ""}`
const tag = (res) => `[${res.target}]`

const line = (res) => {
  if (res.kind === "latency") {
    const o = res.observer
    const a = res.everyReceiver
    const target =
      res.targetMet === undefined
        ? ""
        : `; target p50 < ${TARGET.p50} ms, p99 < ${TARGET.p99} ms: ${res.targetMet ? "met" : "MISSED"} at the observer, ${res.targetMetEveryReceiver ? "met" : "MISSED"} over every receiver`
    return [
      `${tag(res)} latency ${who(res)}: edit → observer p50 ${ms(o.p50)} ms, p99 ${ms(o.p99)} ms, max ${ms(o.max)} ms (${res.edits} edits after ${res.warmEdits} warm-up, ${res.editsPerSecond} edits/s, ${res.nodes}-node graph${target})`,
      res.clients > 2
        ? `  every receiver (${res.clients - 1} per edit): p50 ${ms(a.p50)} ms, p99 ${ms(a.p99)} ms, max ${ms(a.max)} ms; last receiver of each edit: p50 ${ms(res.lastReceiverPerEdit.p50)} ms, p99 ${ms(res.lastReceiverPerEdit.p99)} ms`
        : undefined,
      res.trace === undefined
        ? undefined
        : [
            `  trace: editor → server p50 ${ms(res.trace.toServer.p50)} / p99 ${ms(res.trace.toServer.p99)} ms; in the server (handled → applied) ${ms(res.trace.inServer.p50)} / ${ms(res.trace.inServer.p99)} ms; applied → observer ${ms(res.trace.toObserver.p50)} / ${ms(res.trace.toObserver.p99)} ms`,
            ...res.trace.slowest.map(
              (r) =>
                `    slow edit ${r.seq}: ${ms(r.total)} ms = ${ms(r.toServer)} to the server + ${ms(r.inServer)} in it + ${ms(r.toObserver)} to the observer; waiting for a CPU: ${Object.entries(
                  r.runQueueMs,
                )
                  .map(([k, v]) => `${k} ${ms(v)}`)
                  .join(", ")} ms${r.gc.length === 0 ? "" : `; ${r.gc.join(", ")}`}`,
            ),
          ].join("\n"),
      `  CPU ms per edit: server ${res.serverCpuMsPerEdit} (${Math.round(res.serverCpuShare * 100)}% of a core), editor + observer process ${res.editorProcessCpuMsPerEdit}${res.crowdCpuMsPerEdit === undefined ? "" : `, crowd process ${res.crowdCpuMsPerEdit}`}; waiting for a CPU (run queue) per edit: ${Object.entries(
        res.runQueueMsPerEdit,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")} ms`,
    ]
      .filter((x) => x !== undefined)
      .join("\n")
  }
  const seed =
    res.seed === undefined
      ? ""
      : `first open (seeded from the active version) p50 ${ms(res.seed.p50)} ms, max ${ms(res.seed.max)} ms (first ${ms(res.seedFirst)}); `
  const cold = res.target === "host" ? "cold (from SQL, after the unload)" : "cold"
  return [
    `${tag(res)} load ${res.nodes} nodes (${res.links} links; stored state ${res.stateBytes} bytes, ${res.stateBytesDeflated} deflated, ${res.stateBytesV2} in Yjs v2 encoding): connect → synced ${seed}${cold} p50 ${ms(res.cold.p50)} ms, max ${ms(res.cold.max)} ms (first ${ms(res.coldFirst)}); warm p50 ${ms(res.warm.p50)} ms, max ${ms(res.warm.max)} ms (${res.samples} samples each)`,
    `  GraphDoc.toGraph: p50 ${ms(res.toGraphAfterLoad.p50)} ms, max ${ms(res.toGraphAfterLoad.max)} ms on each freshly loaded document; ${ms(res.toGraphSteady.p50)} ms steady; server CPU ms per load: ${res.serverCpuMsPerSeed === undefined ? "" : `seed ${res.serverCpuMsPerSeed}, `}cold ${res.serverCpuMsPerColdLoad}, warm ${res.serverCpuMsPerWarmLoad}`,
    res.create === undefined
      ? undefined
      : `  host: started in ${ms(res.hostStartMs)} ms; POST /api/graphs of the ${res.nodes}-node graph p50 ${ms(res.create.p50)} ms, max ${ms(res.create.max)} ms`,
  ]
    .filter((x) => x !== undefined)
    .join("\n")
}

const table = (results) => {
  const rows = []
  for (const r of results) {
    if (r.kind === "latency") {
      rows.push([`${tag(r)} edit latency, ${who(r)}, observer`, r.observer])
      if (r.clients > 2) {
        rows.push([`${tag(r)} edit latency, ${who(r)}, every receiver`, r.everyReceiver])
        rows.push([`${tag(r)} edit latency, ${who(r)}, last receiver`, r.lastReceiverPerEdit])
      }
    } else {
      if (r.seed !== undefined) rows.push([`${tag(r)} load ${r.nodes} nodes, first open (seed)`, r.seed])
      rows.push([`${tag(r)} load ${r.nodes} nodes, cold${r.target === "host" ? " (SQL)" : ""}`, r.cold])
      rows.push([`${tag(r)} load ${r.nodes} nodes, warm`, r.warm])
      rows.push([`${tag(r)} GraphDoc.toGraph, ${r.nodes} nodes, fresh doc`, r.toGraphAfterLoad])
    }
  }
  const width = Math.max(...rows.map(([l]) => l.length))
  const head = `${"".padEnd(width)}  ${["n", "p50 ms", "p90 ms", "p99 ms", "max ms"].map((h) => h.padStart(8)).join("")}`
  return [
    head,
    ...rows.map(
      ([l, s]) =>
        `${l.padEnd(width)}  ${[String(s.n), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max)].map((x) => x.padStart(8)).join("")}`,
    ),
  ].join("\n")
}

const cpuModel = () => {
  try {
    return readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model
  } catch {
    return cpus()[0]?.model
  }
}

const parent = async () => {
  console.log(
    `weft collab bench: node ${process.version}, ${cpus().length} CPUs (${cpuModel()}), load ${loadavg()[0].toFixed(1)}, ${new Date().toISOString()}`,
  )
  for (const t of TARGETS) check(t === "standalone" || t === "host", `BENCH_TARGET: unknown target "${t}"`)
  const results = []
  let failed = false
  for (const b of BENCHES) {
    if (FILTER !== "" && !b.label.includes(FILTER)) continue
    const res = await runBenchChild({ self: SELF, cwd: ROOT, mark: MARK, timeoutMs: 300_000 }, b.args)
    if (res.error !== undefined) {
      console.log(`${b.label}: FAILED: ${res.error}`)
      failed = true
      continue
    }
    console.log(`${line(res)}`)
    results.push(res)
  }
  if (results.length > 0) {
    console.log("")
    console.log(table(results))
    console.log("")
    console.log(
      JSON.stringify({
        bench: "collab",
        node: process.version,
        cpus: cpus().length,
        model: cpuModel(),
        date: new Date().toISOString(),
        results,
      }),
    )
  }
  if (failed) process.exitCode = 1
}

/** With BENCH_PROF_DIR: a CPU profile of this process (the clients), written by the returned function. */
const profileSelf = async () => {
  const dir = process.env.BENCH_PROF_DIR
  if (dir === undefined) return async () => {}
  const { Session } = await import("node:inspector/promises")
  const { writeFileSync } = await import("node:fs")
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  return async () => {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(join(dir, `clients-${process.pid}.cpuprofile`), JSON.stringify(profile))
  }
}

const benchChild = async (kind, target, n, cursorHz) => {
  try {
    const stopProfile = await profileSelf()
    const res =
      kind === "latency"
        ? await latencyBench(target, Number(n), Number(cursorHz))
        : await loadBench(target, Number(n))
    await stopProfile()
    process.stdout.write(`${MARK}${JSON.stringify(res)}\n`)
    for (const p of started) p.kill("SIGKILL")
    process.exit(0)
  } catch (e) {
    process.stderr.write(`${String(e?.stack ?? e)}\n`)
    process.stderr.write(`${MARK}${JSON.stringify({ error: String(e?.message ?? e) })}\n`)
    process.exit(1)
  }
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === "--server") await (rest[0] === "host" ? hostServerChild() : serverChild())
else if (mode === "--crowd") await crowdChild(...rest)
else if (mode === "--child") await benchChild(...rest)
else await parent()
