/**
 * `pnpm bench`: throughput benchmarks of @weft/engine, and the Node-RED peer on the same chain.
 *
 * Every benchmark runs in a child process of its own (this file, with `--child <kind> <n>`), so that its
 * peak RSS (getrusage maxRSS) is its own and JIT or heap state does not leak from one to the next. The
 * child prints one `@@bench {json}` line; this parent turns it into one human-readable line.
 *
 * - chain N: input node → N pass-through nodes → output node, in-memory store (runGraph's default).
 *   Warm-up runs, then a median of ≥5 timed runs (3 at N=100,000); µs per pass-through node.
 * - fan-out N: input node (a list of N items) → a block yielding each item on one pin → a pass-through
 *   node (N executions) → an output node collecting the N values; total ms of a run.
 * - node-red chain N: inject → N junction nodes → function node signalling completion (node-red@4.1.15,
 *   installed on demand into <repo>/.bench-peers, never a workspace dependency).
 *
 * Every run is checked (status COMPLETED, every value delivered, every pass-through node executed); a
 * failed check fails the benchmark and `pnpm bench` exits 1.
 *
 * Environment: BENCH_QUICK=1 small-N smoke run; BENCH_PEERS=0 skips the peers; BENCH_FILTER=<text> runs
 * only the benchmarks whose label contains <text> (e.g. "fan-out").
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { PerformanceObserver, performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { runChild as runBenchChild } from "./child.mjs"

const SELF = fileURLToPath(import.meta.url)
const ROOT = resolve(dirname(SELF), "../../..")
const PEERS_DIR = join(ROOT, ".bench-peers")
const NODE_RED = "node-red@4.1.15"
const MARK = "@@bench "

// ---------------------------------------------------------------------------------------------------
// Measuring, in a child
// ---------------------------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024

/** GC pauses seen by this process, as [startTime, duration] pairs (filled asynchronously). */
const gcPauses = []
const startGcObserver = () => {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauses.push([entry.startTime, entry.duration])
  })
  observer.observe({ entryTypes: ["gc"] })
  return observer
}

/**
 * Warm-up runs (at least `warmMin`, more until `warmMs` have passed), then timed runs: at least
 * `runsMin`, more until `timedMs` of timed runs or `runsMax` runs. No GC is forced between runs.
 * `runOnce(i)` must resolve once the run is complete and checked (it throws otherwise).
 */
const measure = async (runOnce, { warmMin, warmMs, runsMin, runsMax, timedMs }) => {
  let warm = 0
  const w0 = performance.now()
  // Short chains need many warm-up runs before the engine's code is optimised: no small cap on them.
  while (warm < warmMin || (warm < 10_000 && performance.now() - w0 < warmMs)) await runOnce(-1 - warm++)
  const observer = startGcObserver()
  const ms = []
  const cpuMs = []
  const t0 = performance.now()
  let total = 0
  while (ms.length < runsMin || (ms.length < runsMax && total < timedMs)) {
    const c0 = process.cpuUsage()
    const r0 = performance.now()
    await runOnce(ms.length)
    const dt = performance.now() - r0
    const c = process.cpuUsage(c0)
    ms.push(dt)
    cpuMs.push((c.user + c.system) / 1000)
    total += dt
  }
  const t1 = performance.now()
  await new Promise((r) => setTimeout(r, 50)) // let the observer deliver the last GC entries
  observer.disconnect()
  const gcMs = gcPauses.filter(([s]) => s >= t0 && s <= t1).reduce((sum, [, d]) => sum + d, 0)
  return { warm, ms, cpuMs, gcShare: gcMs / (t1 - t0) }
}

const settingsFor = (n) =>
  n >= 50_000
    ? { warmMin: 1, warmMs: 0, runsMin: 3, runsMax: 3, timedMs: 0 }
    : { warmMin: 2, warmMs: 1000, runsMin: 5, runsMax: 1000, timedMs: 2000 }

const emit = (result) => {
  process.stdout.write(
    `${MARK}${JSON.stringify({ ...result, peakRssMb: peakRssMb(), node: process.version, loadavg: loadavg()[0] })}\n`,
  )
}

const check = (ok, message) => {
  if (!ok) throw new Error(`check failed: ${message}`)
}

// ---------------------------------------------------------------------------------------------------
// Weft benchmarks, in a child
// ---------------------------------------------------------------------------------------------------

const weftBlocks = async () => {
  const { Schema } = await import("effect")
  const { Block } = await import("../dist/index.js")
  const counter = { pass: 0 }
  const Input = Block.make({
    id: "bench/input",
    title: "Input",
    description: "A graph input.",
    categories: ["io"],
    kind: "input",
    input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
    output: Schema.Struct({ result: Schema.Unknown }),
    run: ({ value }) => ({ result: value }),
  })
  const Pass = Block.make({
    id: "bench/pass",
    title: "Pass",
    description: "Passes its value through.",
    categories: ["bench"],
    input: Schema.Struct({ value: Schema.Unknown }),
    output: Schema.Struct({ value: Schema.Unknown }),
    run: ({ value }) => {
      counter.pass++
      return { value }
    },
  })
  const Each = Block.make({
    id: "bench/each",
    title: "Each",
    description: "Yields every item of a list on one pin.",
    categories: ["bench"],
    input: Schema.Struct({ items: Schema.Array(Schema.Unknown) }),
    output: Schema.Struct({ item: Schema.Unknown }),
    *run({ items }) {
      for (const item of items) yield ["item", item]
    },
  })
  const Output = Block.make({
    id: "bench/output",
    title: "Output",
    description: "A graph output.",
    categories: ["io"],
    kind: "output",
    input: Schema.Struct({ name: Schema.String, value: Schema.Unknown }),
    output: Schema.Struct({ output: Schema.Unknown }),
    run: ({ value }) => ({ output: value }),
  })
  return { counter, blocks: [Block.set("bench", [Input, Pass, Each, Output])] }
}

const link = (sourceId, sourceName, sinkId, sinkName) => ({ sourceId, sourceName, sinkId, sinkName })

const chainGraph = (n) => {
  const nodes = [{ id: "in", blockId: "bench/input", inputDefault: { name: "x" } }]
  const links = []
  let prev = ["in", "result"]
  for (let i = 0; i < n; i++) {
    nodes.push({ id: `p${i}`, blockId: "bench/pass" })
    links.push(link(prev[0], prev[1], `p${i}`, "value"))
    prev = [`p${i}`, "value"]
  }
  nodes.push({ id: "out", blockId: "bench/output", inputDefault: { name: "y" } })
  links.push(link(prev[0], prev[1], "out", "value"))
  return { id: `bench-chain-${n}`, version: 1, name: `chain of ${n}`, nodes, links }
}

const fanOutGraph = () => ({
  id: "bench-fan-out",
  version: 1,
  name: "fan-out",
  nodes: [
    { id: "in", blockId: "bench/input", inputDefault: { name: "items" } },
    { id: "each", blockId: "bench/each" },
    { id: "pass", blockId: "bench/pass" },
    { id: "out", blockId: "bench/output", inputDefault: { name: "collected" } },
  ],
  links: [
    link("in", "result", "each", "items"),
    link("each", "item", "pass", "value"),
    link("pass", "value", "out", "value"),
  ],
})

const weftChain = async (n) => {
  const { runGraph } = await import("../dist/index.js")
  const { counter, blocks } = await weftBlocks()
  const graph = chainGraph(n)
  const runOnce = async (i) => {
    const token = `token-${i}`
    counter.pass = 0
    const result = await runGraph(graph, { blocks, inputs: { x: token } })
    check(result.status === "COMPLETED", `status ${result.status} ${result.error ?? ""}`)
    const y = result.outputs.y
    check(y?.length === 1 && y[0] === token, `output y = ${JSON.stringify(y)?.slice(0, 200)}`)
    check(counter.pass === n, `${counter.pass} of ${n} pass-through nodes ran`)
  }
  const m = await measure(runOnce, settingsFor(n))
  emit({ kind: "chain", n, ...m })
}

const weftFanOut = async (n) => {
  const { runGraph } = await import("../dist/index.js")
  const { counter, blocks } = await weftBlocks()
  const graph = fanOutGraph()
  const runOnce = async (i) => {
    const base = (i + 100) * n // distinct values in every run
    const items = Array.from({ length: n }, (_, k) => base + k)
    counter.pass = 0
    const result = await runGraph(graph, { blocks, inputs: { items } })
    check(result.status === "COMPLETED", `status ${result.status} ${result.error ?? ""}`)
    const collected = result.outputs.collected ?? []
    check(collected.length === n, `${collected.length} of ${n} values collected`)
    const seen = new Uint8Array(n)
    for (const v of collected) {
      const k = v - base
      check(Number.isInteger(k) && k >= 0 && k < n && seen[k] === 0, `unexpected or repeated value ${v}`)
      seen[k] = 1
    }
    check(counter.pass === n, `${counter.pass} of ${n} pass-through executions ran`)
  }
  const m = await measure(runOnce, { warmMin: 2, warmMs: 1000, runsMin: 5, runsMax: 10, timedMs: 3000 })
  emit({ kind: "fan-out", n, ...m })
}

// ---------------------------------------------------------------------------------------------------
// Node-RED peer, in a child
// ---------------------------------------------------------------------------------------------------

const nodeRedVersion = () => {
  const p = join(PEERS_DIR, "node_modules/node-red/package.json")
  return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")).version : undefined
}

const nodeRedFlow = (n) => {
  const z = "bench"
  const at = { z, x: 0, y: 0 }
  const junction = (i) => `j${i}`
  const flow = [{ id: z, type: "tab", label: "bench", disabled: false }]
  flow.push({
    ...at,
    id: "inject",
    type: "inject",
    props: [{ p: "payload" }],
    payload: "weft-bench",
    payloadType: "str",
    repeat: "",
    crontab: "",
    once: false,
    wires: [[n > 0 ? junction(0) : "done"]],
  })
  for (let i = 0; i < n; i++) {
    flow.push({ ...at, id: junction(i), type: "junction", wires: [[i + 1 < n ? junction(i + 1) : "done"]] })
  }
  flow.push({
    ...at,
    id: "done",
    type: "function",
    name: "done",
    outputs: 0,
    noerr: 0,
    initialize: "",
    finalize: "",
    libs: [],
    // Node-RED's own function node runs this; it hands the message to the bench.
    func: "global.get('weftBenchDone')(msg);\nreturn null;",
    wires: [],
  })
  return flow
}

const nodeRedChain = async (n) => {
  const RED = createRequire(join(PEERS_DIR, "package.json"))("node-red")
  const userDir = mkdtempSync(join(tmpdir(), "weft-bench-node-red-"))
  process.on("exit", () => rmSync(userDir, { recursive: true, force: true }))
  let waiting
  RED.init({
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    userDir,
    flowFile: "flows.json",
    credentialSecret: false,
    logging: { console: { level: "error", metrics: false, audit: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionGlobalContext: {
      weftBenchDone: (msg) => {
        const resolveRun = waiting
        waiting = undefined
        resolveRun?.(msg)
      },
    },
  })
  await RED.start()
  await RED.runtime.flows.setFlows({ flows: { flows: nodeRedFlow(n) }, deploymentType: "full" })
  let inject
  for (let i = 0; i < 500 && inject === undefined; i++) {
    inject = RED.nodes.getNode("inject") ?? undefined
    if (inject === undefined) await new Promise((r) => setTimeout(r, 10))
  }
  check(inject !== undefined, "the inject node did not start")
  const runOnce = async () => {
    const arrived = new Promise((r) => {
      waiting = r
    })
    inject.receive({})
    const msg = await arrived
    check(msg.payload === "weft-bench", `payload ${JSON.stringify(msg.payload)}`)
  }
  const m = await measure(runOnce, settingsFor(n))
  emit({ kind: "node-red", n, version: nodeRedVersion(), ...m })
  await RED.stop()
}

// ---------------------------------------------------------------------------------------------------
// The parent: runs every benchmark in a child and prints one line per figure
// ---------------------------------------------------------------------------------------------------

const CHILD_TIMEOUT_MS = 150_000

/** Runs `--child kind n` and resolves with its result object, or `{ error }`. */
const runChild = (kind, n) =>
  runBenchChild({ self: SELF, cwd: ROOT, mark: MARK, timeoutMs: CHILD_TIMEOUT_MS }, [kind, n])

const f1 = (x) => x.toFixed(1)
const fmtUs = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1))
const stats = (r) =>
  `median of ${r.ms.length}, peak RSS ${Math.round(r.peakRssMb)} MB, GC ${Math.round(r.gcShare * 100)}%`

const usPerNode = (r) => (median(r.ms) * 1000) / r.n
/** Process CPU time (all threads, GC helpers included) per node: steadier than wall time on a shared machine. */
const cpuUsPerNode = (r) => (median(r.cpuMs) * 1000) / r.n

/** Makes sure node-red@4.1.15 is in .bench-peers; returns undefined, or why it is not available. */
const ensureNodeRed = () => {
  const wanted = NODE_RED.split("@")[1]
  if (nodeRedVersion() === wanted) return undefined
  console.log(`node-red: installing ${NODE_RED} into .bench-peers (once)…`)
  const res = spawnSync("npm", ["install", "--prefix", ".bench-peers", "--no-audit", "--no-fund", NODE_RED], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 180_000,
  })
  if (res.error !== undefined) return `npm install failed: ${res.error.message}`
  if (res.status !== 0) {
    const tail = `${res.stderr}`
      .split("\n")
      .filter((l) => /^npm (error|ERR!) \S/.test(l))
      .map((l) => l.replace(/^npm (error|ERR!) /, ""))
      .filter((l) => !/^(syscall|errno|A complete log)/.test(l))
      .slice(0, 2)
      .join(" | ")
    return `npm install exited ${res.status}${tail === "" ? "" : `: ${tail}`}`
  }
  return nodeRedVersion() === wanted ? undefined : `npm install did not produce ${NODE_RED}`
}

const parent = async () => {
  const quick = process.env.BENCH_QUICK === "1"
  const peers = process.env.BENCH_PEERS !== "0"
  const filter = process.env.BENCH_FILTER ?? ""
  const chainNs = quick ? [100, 1000] : [100, 1000, 10_000]
  const bigN = quick ? 5000 : 100_000
  const fanN = quick ? 1000 : 10_000
  const peerNs = quick ? [100, 1000] : [100, 1000, 10_000]
  const want = (label) => label.includes(filter)

  const cpu = cpus()[0]?.model ?? "unknown CPU"
  console.log(
    `weft bench${quick ? " (BENCH_QUICK)" : ""}: node ${process.version}, ${cpus().length} CPUs (${cpu}), load ${f1(loadavg()[0])}`,
  )
  let failed = false
  const weftUs = new Map()

  for (const n of [...chainNs, bigN]) {
    const label = `chain ${n} nodes`
    if (!want(label)) continue
    const r = await runChild("chain", n)
    if (r.error !== undefined) {
      failed = true
      console.log(`${label}: FAILED: ${r.error}`)
      continue
    }
    weftUs.set(n, usPerNode(r))
    console.log(`${label}: ${fmtUs(usPerNode(r))} µs per node (CPU ${fmtUs(cpuUsPerNode(r))}; ${stats(r)})`)
  }

  const fanLabel = `fan-out ${fanN} items`
  if (want(fanLabel)) {
    const r = await runChild("fan-out", fanN)
    if (r.error !== undefined) {
      failed = true
      console.log(`${fanLabel}: FAILED: ${r.error}`)
    } else {
      const ms = median(r.ms)
      console.log(
        `${fanLabel}: ${Math.round(ms)} ms total, ${fmtUs((ms * 1000) / fanN)} µs per item (${stats(r)}; target < 1000 ms: ${ms < 1000 ? "met" : "MISSED"})`,
      )
    }
  }

  const peerLabels = peerNs.map((n) => [n, `node-red chain ${n} nodes`]).filter(([, l]) => want(l))
  if (peerLabels.length > 0) {
    const why = !peers ? "BENCH_PEERS=0" : ensureNodeRed()
    if (why !== undefined) {
      console.log(`node-red: skipped (${why})`)
    } else {
      for (const [n, label] of peerLabels) {
        const r = await runChild("node-red", n)
        if (r.error !== undefined) {
          console.log(`${label}: skipped (${r.error})`)
          continue
        }
        const us = usPerNode(r)
        const weft = weftUs.get(n)
        const ratio = weft === undefined ? "" : `; Weft/Node-RED ${f1(weft / us)}×`
        console.log(
          `${label}: ${fmtUs(us)} µs per node (CPU ${fmtUs(cpuUsPerNode(r))}; node-red@${r.version}, ${stats(r)}${ratio})`,
        )
      }
    }
  }
  if (failed) process.exitCode = 1
}

const child = async (kind, n) => {
  try {
    if (kind === "chain") await weftChain(n)
    else if (kind === "fan-out") await weftFanOut(n)
    else if (kind === "node-red") await nodeRedChain(n)
    else throw new Error(`unknown benchmark ${kind}`)
    process.exit(0)
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
    console.error(
      `${MARK}${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}`,
    )
    process.exit(1)
  }
}

if (process.argv[2] === "--child") await child(process.argv[3], Number(process.argv[4]))
else await parent()
