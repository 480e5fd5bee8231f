/**
 * Host benchmarks of @weft/host-node (run against the built `dist/`; `pnpm build` first).
 *
 * Every benchmark runs in a child process of its own (this file, with `--child <kind> …`), on a fresh
 * database of the local Postgres server (127.0.0.1:5432, trust auth) that it drops afterwards. The child
 * starts the processes it needs (the API host, `weft worker` processes, graphile-worker runners) as
 * grandchildren, and prints one `@@bench {json}` line; this parent turns it into human-readable lines.
 *
 * - throughput W: the API host (`startHost({ queue: "workers", auth: { mode: "off" } })`, its own process)
 *   and W `weft worker` processes (`node dist/cli/main.js worker`, default concurrency 10). K runs of a
 *   5-node graph (short-text input → replace text → store value → replace text → agent output, blocks of
 *   @weft/blocks) are started by `POST /api/graphs/:id/runs` with a bounded number of requests in flight;
 *   the time runs from the first POST to the last run's COMPLETED commit. Beside it, in the same child:
 *   W graphile-worker runner processes (`run` with the same `concurrentJobs`) and K no-op jobs added in one
 *   `add_jobs` call, timed from the add to the last job's completion, on a fresh database too; and the ratio.
 *   Both report the CPU time each process used per run (the Postgres server processes by application name,
 *   read from /proc: the server must run on this machine) and the database's transactions per run.
 * - latency inline: `startHost({ dataDir })` on PGlite (the `pnpm start` shape, auth off), R sequential runs:
 *   the time from sending `POST /api/graphs/:id/runs` to the first SSE event (`GET /api/runs/:id/events`,
 *   opened as soon as the POST answers, then read to its end); p50 and p99.
 * - latency workers: the same against the Postgres worker mode (host + 1 `weft worker` process).
 *
 * Every run is checked: status COMPLETED, its output equal to what its own input gives through the graph,
 * five node executions, all COMPLETED; every event stream holds seqs 1, 2, 3… and ends with COMPLETED; every
 * raw job ran exactly once. A failed check fails the benchmark and the script exits 1.
 *
 * Environment: BENCH_QUICK=1 small counts; BENCH_FILTER=<text> runs only the benchmarks whose label contains
 * <text>; BENCH_RUNS=<K> runs per throughput benchmark (default 2000); BENCH_CLIENTS=<C> requests in flight
 * (default 32); BENCH_LATENCY_RUNS=<R> (default 200); BENCH_JSON=1 prints every result as JSON too;
 * BENCH_HOST_DIST=<dir> measures another build of this package's dist/ (before/after comparisons);
 * DATABASE_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { Agent, request } from "node:http"
import { createRequire } from "node:module"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath, pathToFileURL } from "node:url"
import { runChild as runBenchChild } from "../../engine/bench/child.mjs"

const SELF = fileURLToPath(import.meta.url)
const PACKAGE = resolve(dirname(SELF), "..")
const ROOT = resolve(PACKAGE, "../..")
/** The built package to measure: `dist/` (BENCH_HOST_DIST may name another build of it, for A/B runs). */
const DIST = resolve(process.env.BENCH_HOST_DIST ?? join(PACKAGE, "dist"))
const MAIN = join(DIST, "cli/main.js")
const MARK = "@@bench "
const READY = "@@ready "
const require = createRequire(join(PACKAGE, "package.json"))
const postgres = require("postgres")

const ADMIN_URL = process.env.DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres"

const check = (ok, message) => {
  if (!ok) throw new Error(`check failed: ${message}`)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------------------------------
// Databases and processes
// ---------------------------------------------------------------------------------------------------

const withAdmin = async (f) => {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    return await f(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** A fresh database on the local server; `drop()` removes it. */
const freshDatabase = async (label) => {
  const name = `weft_bench_${label}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  await withAdmin((sql) => sql.unsafe(`CREATE DATABASE ${name}`))
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => withAdmin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  }
}

/** CPU time (user + system) of a process of this machine, in ms; undefined when it cannot be read. */
const processCpuMs = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  } catch {
    return undefined
  }
}
const CLOCK_TICKS = 100

/**
 * A CPU account: `take()` reads the CPU time of the named processes and of the Postgres server processes
 * serving the database (grouped by `application_name`; on this machine only), and of the server as a whole.
 */
const cpuAccount = (sql, processes) => async () => {
  const by = {}
  for (const [name, pid] of Object.entries(processes)) by[name] = processCpuMs(pid) ?? Number.NaN
  const backends = await sql`SELECT pid, application_name AS app FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()`
  for (const { pid, app } of backends) {
    const key = `postgres (${app === "" ? "graphile-worker" : app})`
    by[key] = (by[key] ?? 0) + (processCpuMs(pid) ?? Number.NaN)
  }
  const [{ xacts }] = await sql`SELECT (xact_commit + xact_rollback)::float8 AS xacts FROM pg_stat_database
    WHERE datname = current_database()`
  return { by, xacts }
}

/** CPU ms per unit between two takes of a `cpuAccount` (processes that came and went are left out). */
const cpuPer = (before, after, units) => {
  const per = {}
  for (const [name, ms] of Object.entries(after.by)) {
    const was = before.by[name]
    if (was !== undefined && Number.isFinite(ms - was)) per[name] = (ms - was) / units
  }
  return {
    per,
    total: Object.values(per).reduce((a, b) => a + b, 0),
    xacts: (after.xacts - before.xacts) / units,
  }
}

/** The stderr of every process this child started, shown when the benchmark fails. */
const logs = []

/** Every process this child started, killed on exit whatever happens. */
const started = new Set()
process.on("exit", () => {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL")
})

/**
 * Spawns a process and waits until its stdout has a line matching `ready` (returns the match).
 * `stop()` sends SIGTERM and waits for the exit (SIGKILL after 10 s).
 */
const startProcess = async (args, { env = {}, ready, label, timeoutMs = 30_000 }) => {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  started.add(child)
  let out = ""
  let err = ""
  child.stdout.on("data", (d) => {
    out += d
    if (out.length > 100_000) out = out.slice(-50_000)
  })
  child.stderr.on("data", (d) => {
    err += d
    if (err.length > 100_000) err = err.slice(-50_000)
  })
  const exited = new Promise((r) => child.once("exit", (code, signal) => r(code ?? signal)))
  logs.push({ label, stderr: () => err })
  const t0 = Date.now()
  let match
  for (;;) {
    match = out.match(ready)
    if (match !== null) break
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${label} exited before it was ready: ${err.trim().split("\n").slice(-5).join(" | ")}`)
    if (Date.now() - t0 > timeoutMs) throw new Error(`${label} was not ready after ${timeoutMs} ms`)
    await sleep(20)
  }
  return {
    match,
    pid: child.pid,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
      const code = await exited
      clearTimeout(timer)
      started.delete(child)
      return code
    },
  }
}

/** The API host in a process of its own (this file, `--child host`). */
const startHostProcess = async (options) => {
  const p = await startProcess([SELF, "--child", "host", JSON.stringify(options)], {
    ready: /@@ready (\S+)/,
    label: "the host",
  })
  return { url: p.match[1], pid: p.pid, stop: p.stop, stderr: p.stderr }
}

/** A `weft worker` process on `databaseUrl`. */
const startWorkerProcess = (databaseUrl, id, extra = []) =>
  startProcess([MAIN, "worker", "--id", id, ...extra], {
    env: { DATABASE_URL: databaseUrl, WEFT_CREDENTIALS_KEY: Buffer.alloc(32, 7).toString("base64") },
    ready: /is running/,
    label: `worker ${id}`,
  })

// ---------------------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 256 })

/** One JSON request; resolves with the parsed body (throws on a non-2xx status). */
const call = (base, method, path, body) =>
  new Promise((resolveCall, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        headers:
          payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (d) => {
          text += d
        })
        res.on("end", () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))
          else resolveCall(text === "" ? undefined : JSON.parse(text))
        })
        res.on("error", reject)
      },
    )
    req.on("error", reject)
    if (payload !== undefined) req.write(payload)
    req.end()
  })

/**
 * Reads `GET path` as an event stream to its end (the server ends it after the run's final status). Resolves
 * with the time (performance.now()) the first event frame arrived (a frame with an `event:` line; the
 * `: connected` comment does not count), and every event's type, seq and data.
 */
const readEvents = (base, path) =>
  new Promise((resolveEvents, reject) => {
    const req = request(
      `${base}${path}`,
      { method: "GET", headers: { accept: "text/event-stream" } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${path}: ${res.statusCode}`))
          res.resume()
          return
        }
        let firstAt
        const events = []
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (d) => {
          text += d
          const at = performance.now()
          for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
            const frame = text.slice(0, end)
            text = text.slice(end + 2)
            const type = frame.match(/^event: (.*)$/m)
            if (type === null) continue
            firstAt ??= at
            const id = frame.match(/^id: (.*)$/m)
            const data = frame.match(/^data: (.*)$/m)
            events.push({
              type: type[1],
              seq: id === null ? undefined : Number(id[1]),
              data: data === null ? undefined : JSON.parse(data[1]),
            })
          }
        })
        res.on("end", () => resolveEvents({ firstAt, events }))
        res.on("error", reject)
      },
    )
    req.on("error", reject)
    req.end()
  })

// ---------------------------------------------------------------------------------------------------
// The graph: five nodes of @weft/blocks
// ---------------------------------------------------------------------------------------------------

const link = (sourceId, sourceName, sinkId, sinkName) => ({ sourceId, sourceName, sinkId, sinkName })

/** input → replace "-" by "+" → store value (pass-through) → replace "x" by "X" → output "result". */
const GRAPH = {
  name: "bench: five nodes",
  nodes: [
    { id: "in", blockId: "weft/io/agent-short-text-input", inputDefault: { name: "text" } },
    { id: "dashes", blockId: "weft/text/text-replace", inputDefault: { old: "-", new: "+" } },
    { id: "keep", blockId: "weft/basic/store-value" },
    { id: "upper", blockId: "weft/text/text-replace", inputDefault: { old: "x", new: "X" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "result" } },
  ],
  links: [
    link("in", "result", "dashes", "text"),
    link("dashes", "output", "keep", "input"),
    link("keep", "output", "upper", "text"),
    link("upper", "output", "out", "value"),
  ],
}
const NODES = GRAPH.nodes.length

const tokenOf = (i) => `run-${i}-x-${Math.random().toString(36).slice(2, 8)}`
/** What the graph makes of a token. */
const expectedOf = (token) => token.split("-").join("+").split("x").join("X")

/**
 * Checks every run of `ids` in the database: COMPLETED, `{ result: [expected(token)] }`, five COMPLETED
 * node executions. `tokens` maps run id → input token.
 */
const checkRuns = async (sql, tokens) => {
  const ids = [...tokens.keys()]
  const rows = await sql`SELECT id, status, outputs, inputs FROM runs WHERE id IN ${sql(ids)}`
  check(rows.length === ids.length, `${rows.length} of ${ids.length} runs found`)
  for (const row of rows) {
    const token = tokens.get(row.id)
    check(row.status === "COMPLETED", `run ${row.id} is ${row.status}`)
    check(row.inputs?.text === token, `run ${row.id} inputs ${JSON.stringify(row.inputs)}`)
    const result = row.outputs?.result
    check(
      Array.isArray(result) && result.length === 1 && result[0] === expectedOf(token),
      `run ${row.id} outputs ${JSON.stringify(row.outputs)}, expected ${expectedOf(token)}`,
    )
  }
  const execs = await sql`
    SELECT run_id, count(*)::int AS n, count(*) FILTER (WHERE status = 'COMPLETED')::int AS done
    FROM node_executions WHERE run_id IN ${sql(ids)} GROUP BY run_id`
  check(execs.length === ids.length, `${execs.length} of ${ids.length} runs have node executions`)
  for (const e of execs)
    check(e.n === NODES && e.done === NODES, `run ${e.run_id}: ${e.done}/${e.n} of ${NODES}`)
}

// ---------------------------------------------------------------------------------------------------
// Children
// ---------------------------------------------------------------------------------------------------

/** `--child host <options json>`: a host until SIGTERM. */
const hostChild = async (json) => {
  const { startHost } = await import(pathToFileURL(join(DIST, "index.js")).href)
  // The per-user run-start limit would cap the measured rate: the benchmark measures the engine, not the limit.
  const host = await startHost({
    port: 0,
    host: "127.0.0.1",
    auth: { mode: "off" },
    limits: { runStarts: { window: 60, max: 100_000_000 } },
    ...JSON.parse(json),
  })
  process.stdout.write(`${READY}${host.url}\n`)
  await new Promise((r) => process.once("SIGTERM", r))
  await host.close()
}

/** `--child gw-runner <url> <concurrency>`: a graphile-worker runner with a no-op task until SIGTERM. */
const gwRunnerChild = async (url, concurrency) => {
  const { run } = require("graphile-worker")
  let done = 0
  let last = 0
  const runner = await run({
    preset: { worker: { connectionString: url, concurrentJobs: Number(concurrency), pollInterval: 2000 } },
    noHandleSignals: true,
    logger: quietLogger(),
    taskList: {
      bench_noop: async () => {
        done++
        last = Date.now()
      },
    },
  })
  process.stdout.write(`${READY}runner\n`)
  await new Promise((r) => process.once("SIGTERM", r))
  await runner.stop()
  process.stderr.write(`runner done ${done} ${last}\n`)
}

const quietLogger = () => {
  const { Logger } = require("graphile-worker")
  return new Logger(() => (level, message) => {
    if (level === "error") process.stderr.write(`${message}\n`)
  })
}

/** Runs `f(i)` for i in [0, n) with at most `limit` at once. */
const pool = async (n, limit, f) => {
  let next = 0
  const lane = async () => {
    while (next < n) await f(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, lane))
}

/** Polls `query` (a row `{ done, bad }`) until `done` reaches `total`; resolves with performance.now(). */
const drainDb = async (query, total, timeoutMs, what, everyMs = 20) => {
  const t0 = Date.now()
  for (;;) {
    const [row] = await query()
    if (row.bad > 0) throw new Error(`${row.bad} ${what} ended badly`)
    if (row.done >= total) return performance.now()
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`timed out: ${row.done} of ${total} ${what} after ${timeoutMs} ms`)
    await sleep(everyMs)
  }
}

/** Counts the runs of the database by outcome (every run in it belongs to this benchmark). */
const runCounts = (sql) => sql`SELECT count(*) FILTER (WHERE status = 'COMPLETED')::int AS done,
  count(*) FILTER (WHERE status IN ('FAILED', 'TERMINATED'))::int AS bad FROM runs`

/** Weft's part of a throughput benchmark: host + `workers` worker processes, `k` runs. */
const weftThroughput = async (workers, k, clients) => {
  const db = await freshDatabase(`tp${workers}`)
  const sql = postgres(db.url, { max: 1, onnotice: () => {} })
  const stops = []
  try {
    const host = await startHostProcess({ databaseUrl: db.url, queue: "workers" })
    stops.push(host.stop)
    const processes = { host: host.pid, client: process.pid }
    for (let w = 0; w < workers; w++) {
      const worker = await startWorkerProcess(db.url, `bench-${w}`)
      processes[`worker ${w + 1}`] = worker.pid
      stops.unshift(worker.stop)
    }
    const { id: graphId } = await call(host.url, "POST", "/api/graphs", GRAPH)
    const start = async (i, tokens) => {
      const token = tokenOf(i)
      const { id } = await call(host.url, "POST", `/api/graphs/${graphId}/runs`, { inputs: { text: token } })
      tokens.set(id, token)
    }
    // Warm-up: runs through every process (JIT, pools, prepared plans), not timed.
    const warm = new Map()
    await pool(Math.max(100, workers * 50), clients, (i) => start(-1 - i, warm))
    await drainDb(() => runCounts(sql), warm.size, 120_000, "warm-up runs")
    await checkRuns(sql, warm)

    const account = cpuAccount(sql, processes)
    const cpu0 = await account()
    const tokens = new Map()
    const t0 = performance.now()
    const wall0 = Date.now()
    await pool(k, clients, (i) => start(i, tokens))
    const postedAt = performance.now()
    await drainDb(() => runCounts(sql), warm.size + k, 600_000, "runs", 50)
    const cpu1 = await account()
    const ids = [...tokens.keys()]
    // The end is the last run's COMPLETED commit (its updatedAt, from a worker's clock on this machine).
    const [{ last }] =
      await sql`SELECT extract(epoch FROM max(updated_at)) * 1000 AS last FROM runs WHERE id IN ${sql(ids)}`
    const seconds = (Number(last) - wall0) / 1000
    await checkRuns(sql, tokens)
    const [stats] = await sql`SELECT
        (SELECT count(*)::int FROM run_events WHERE run_id IN ${sql(ids)}) AS events,
        (SELECT count(*)::int FROM node_outputs WHERE run_id IN ${sql(ids)}) AS outputs`
    return {
      workers,
      k,
      clients,
      seconds,
      runsPerSecond: k / seconds,
      postSeconds: (postedAt - t0) / 1000,
      cpu: cpuPer(cpu0, cpu1, k),
      eventsPerRun: stats.events / k,
      outputsPerRun: stats.outputs / k,
    }
  } finally {
    for (const stop of stops) await stop()
    await sql.end({ timeout: 5 })
    await db.drop()
  }
}

/** graphile-worker's part: `runners` runner processes with `concurrentJobs`, `k` no-op jobs. */
const rawThroughput = async (runners, k, concurrency) => {
  const db = await freshDatabase(`gw${runners}`)
  const { runMigrations } = require("graphile-worker")
  const sql = postgres(db.url, { max: 1, onnotice: () => {} })
  const stops = []
  try {
    await runMigrations({ preset: { worker: { connectionString: db.url } }, logger: quietLogger() })
    const processes = { client: process.pid }
    for (let r = 0; r < runners; r++) {
      const p = await startProcess([SELF, "--child", "gw-runner", db.url, String(concurrency)], {
        ready: /@@ready runner/,
        label: `runner ${r + 1}`,
      })
      processes[`runner ${r + 1}`] = p.pid
      stops.push(p)
    }
    const add = (n, offset) =>
      sql`SELECT count(*)::int AS n FROM graphile_worker.add_jobs(
        (SELECT array_agg(ROW('bench_noop', json_build_object('i', i), NULL, NULL, NULL, NULL, NULL,
          NULL)::graphile_worker.job_spec) FROM generate_series(${offset}::int, ${offset + n - 1}::int) i))`
    const left =
      () => sql`SELECT count(*)::int AS n, count(*) FILTER (WHERE last_error IS NOT NULL)::int AS bad
      FROM graphile_worker.jobs`
    const warmJobs = Math.max(100, runners * 50)
    await add(warmJobs, 0)
    await drainDb(
      async () => (await left()).map((r) => ({ done: r.n === 0 ? 1 : 0, bad: r.bad })),
      1,
      60_000,
      "warm-up jobs",
    )
    const account = cpuAccount(sql, processes)
    const cpu0 = await account()
    const wall0 = Date.now()
    const [{ n }] = await add(k, 1_000_000)
    check(n === k, `${n} of ${k} jobs added`)
    await drainDb(
      async () => (await left()).map((r) => ({ done: k - r.n, bad: r.bad })),
      k,
      600_000,
      "jobs",
      50,
    )
    const cpu1 = await account()
    let ran = 0
    let last = 0
    for (const p of stops) {
      await p.stop()
      const m = p.stderr().match(/runner done (\d+) (\d+)/)
      check(m !== null, "a runner did not report its jobs")
      ran += Number(m[1])
      last = Math.max(last, Number(m[2]))
    }
    stops.length = 0
    check(ran === k + warmJobs, `the runners ran ${ran} jobs, expected ${k + warmJobs} (each exactly once)`)
    // The end is the last job's completion (from a runner's clock on this machine).
    const seconds = (last - wall0) / 1000
    return { runners, k, concurrency, seconds, jobsPerSecond: k / seconds, cpu: cpuPer(cpu0, cpu1, k) }
  } finally {
    for (const p of stops) await p.stop()
    await sql.end({ timeout: 5 })
    await db.drop()
  }
}

const throughputChild = async (workers, k, clients) => {
  const weft = await weftThroughput(workers, k, clients)
  const raw = await rawThroughput(workers, k, 10)
  emit({ kind: "throughput", workers, weft, raw, ratio: weft.runsPerSecond / raw.jobsPerSecond })
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

/** Latency: R sequential runs, POST → first SSE event. */
const latencyChild = async (mode, runs) => {
  let db
  let dir
  const stops = []
  try {
    let options
    if (mode === "inline") {
      dir = mkdtempSync(join(tmpdir(), "weft-bench-pglite-"))
      options = { dataDir: dir }
    } else {
      db = await freshDatabase("lat")
      options = { databaseUrl: db.url, queue: "workers" }
    }
    const host = await startHostProcess(options)
    stops.push(host.stop)
    if (mode === "workers") {
      const worker = await startWorkerProcess(db.url, "bench-lat")
      stops.unshift(worker.stop)
    }
    const { id: graphId } = await call(host.url, "POST", "/api/graphs", GRAPH)
    const once = async (i) => {
      const token = tokenOf(i)
      const t0 = performance.now()
      const { id } = await call(host.url, "POST", `/api/graphs/${graphId}/runs`, { inputs: { text: token } })
      const answered = performance.now()
      // Read to the end of the stream: it must hold every event once, in order, up to COMPLETED.
      const { firstAt, events } = await readEvents(host.url, `/api/runs/${id}/events`)
      check(firstAt !== undefined, `no event for run ${id}`)
      const seqs = events.flatMap((e) => (e.seq === undefined ? [] : [e.seq]))
      check(
        seqs.every((seq, k) => seq === k + 1),
        `run ${id}: event seqs ${seqs.join(",")} are not 1, 2, 3, …`,
      )
      const last = events[events.length - 1]
      check(
        last?.type === "RunStatus" && last.data?.status === "COMPLETED",
        `run ${id}: the stream ended with ${JSON.stringify(last)?.slice(0, 200)}`,
      )
      return { id, token, ms: firstAt - t0, postMs: answered - t0, type: events[0].type }
    }
    for (let i = 0; i < 20; i++) await once(-1 - i)
    const samples = []
    for (let i = 0; i < runs; i++) samples.push(await once(i))
    // Every run must finish with the right output.
    const tokens = new Map(samples.map((s) => [s.id, s.token]))
    for (let tries = 0; ; tries++) {
      const results = await Promise.all(samples.map((s) => call(host.url, "GET", `/api/runs/${s.id}`)))
      const pending = results.filter((r) => r.status !== "COMPLETED")
      if (pending.some((r) => r.status === "FAILED" || r.status === "TERMINATED"))
        throw new Error(`a run ended badly: ${JSON.stringify(pending[0]).slice(0, 300)}`)
      if (pending.length === 0) {
        for (const r of results) {
          const want = expectedOf(tokens.get(r.id))
          check(
            JSON.stringify(r.outputs) === JSON.stringify({ result: [want] }),
            `run ${r.id}: ${JSON.stringify(r.outputs)}`,
          )
          check(r.executions.length === NODES, `run ${r.id}: ${r.executions.length} executions`)
        }
        break
      }
      check(tries < 100, `${pending.length} runs did not complete`)
      await sleep(100)
    }
    const ms = samples.map((s) => s.ms).sort((a, b) => a - b)
    const postMs = samples.map((s) => s.postMs).sort((a, b) => a - b)
    const types = [...new Set(samples.map((s) => s.type))]
    emit({
      kind: "latency",
      mode,
      runs,
      p50: percentile(ms, 50),
      p99: percentile(ms, 99),
      max: ms[ms.length - 1],
      min: ms[0],
      postP50: percentile(postMs, 50),
      postP99: percentile(postMs, 99),
      types,
    })
  } finally {
    for (const stop of stops) await stop()
    if (db !== undefined) await db.drop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
}

const emit = (result) => {
  process.stdout.write(
    `${MARK}${JSON.stringify({ ...result, node: process.version, loadavg: loadavg()[0] })}\n`,
  )
}

// ---------------------------------------------------------------------------------------------------
// The parent
// ---------------------------------------------------------------------------------------------------

const CHILD_TIMEOUT_MS = 900_000

const runChild = (args) =>
  runBenchChild({ self: SELF, cwd: ROOT, mark: MARK, timeoutMs: CHILD_TIMEOUT_MS }, args)

const f0 = (x) => Math.round(x).toString()
const f1 = (x) => x.toFixed(1)
const f2 = (x) => x.toFixed(2)

/** "name 1.23, name 4.56" for the CPU ms per unit of each process, largest first. */
const cpuLine = (cpu) =>
  Object.entries(cpu.per)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${f2(ms)}`)
    .join(", ")

const parent = async () => {
  const quick = process.env.BENCH_QUICK === "1"
  const filter = process.env.BENCH_FILTER ?? ""
  const k = Number(process.env.BENCH_RUNS ?? (quick ? 300 : 2000))
  const clients = Number(process.env.BENCH_CLIENTS ?? 32)
  const latencyRuns = Number(process.env.BENCH_LATENCY_RUNS ?? (quick ? 50 : 200))
  const want = (label) => label.includes(filter)
  const cpu = cpus()[0]?.model ?? "unknown CPU"
  console.log(
    `weft host bench${quick ? " (BENCH_QUICK)" : ""}: node ${process.version}, ${cpus().length} CPUs (${cpu}), load ${f1(loadavg()[0])}, ${new Date().toISOString()}`,
  )
  if (process.env.BENCH_HOST_DIST !== undefined) console.log(`measuring the build in ${DIST}`)
  let failed = false
  const results = []
  const fail = (label, r) => {
    failed = true
    console.log(`${label}: FAILED: ${r.error}`)
  }
  for (const workers of [1, 2]) {
    const label = `throughput ${workers} worker${workers === 1 ? "" : "s"}`
    if (!want(label)) continue
    const r = await runChild(["throughput", workers, k, clients])
    results.push({ label, ...r })
    if (r.error !== undefined) {
      fail(label, r)
      continue
    }
    const w = r.weft
    console.log(
      `${label}: ${f0(w.runsPerSecond)} runs/s (${k} runs of ${NODES} nodes in ${f1(w.seconds)} s, ${clients} requests in flight, every POST answered by ${f1(w.postSeconds)} s; target ≥ 300: ${w.runsPerSecond >= 300 ? "met" : "MISSED"}; load ${f1(r.loadavg)})`,
    )
    console.log(
      `  CPU ms per run: ${f1(w.cpu.total)} in all (${cpuLine(w.cpu)}); ${f1(w.cpu.xacts)} transactions per run; ${f1(w.eventsPerRun)} events per run`,
    )
    console.log(
      `  graphile-worker no-op jobs: ${f0(r.raw.jobsPerSecond)} jobs/s (${k} jobs in ${f2(r.raw.seconds)} s, ${workers} runner process${workers === 1 ? "" : "es"} × concurrentJobs ${r.raw.concurrency}; CPU ms per job ${f2(r.raw.cpu.total)}); Weft/raw ${(r.ratio * 100).toFixed(1)}%`,
    )
  }
  for (const mode of ["inline", "workers"]) {
    const label = `latency ${mode}`
    if (!want(label)) continue
    const r = await runChild(["latency", mode, latencyRuns])
    results.push({ label, ...r })
    if (r.error !== undefined) {
      fail(label, r)
      continue
    }
    const where = mode === "inline" ? "PGlite, runs driven by the host" : "Postgres, 1 weft worker"
    console.log(
      `${label} (${where}): POST → first SSE event p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms (min ${f1(r.min)}, max ${f1(r.max)}; the POST alone p50 ${f1(r.postP50)} ms, p99 ${f1(r.postP99)}; ${r.runs} sequential runs, first event ${r.types.join("/")})`,
    )
  }
  if (process.env.BENCH_JSON === "1") console.log(JSON.stringify(results, null, 2))
  if (failed) process.exitCode = 1
}

const child = async (kind, args) => {
  try {
    if (kind === "host") await hostChild(args[0])
    else if (kind === "gw-runner") await gwRunnerChild(args[0], args[1])
    else if (kind === "throughput") await throughputChild(Number(args[0]), Number(args[1]), Number(args[2]))
    else if (kind === "latency") await latencyChild(args[0], Number(args[1]))
    else throw new Error(`unknown benchmark ${kind}`)
    process.exit(0)
  } catch (error) {
    for (const { label, stderr } of logs) {
      const tail = stderr().trim().split("\n").slice(-15).join("\n")
      if (tail !== "") console.error(`--- ${label} (stderr, last lines):\n${tail}`)
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
    console.error(
      `${MARK}${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}`,
    )
    process.exit(1)
  }
}

if (process.argv[2] === "--child") await child(process.argv[3], process.argv.slice(4))
else await parent()
