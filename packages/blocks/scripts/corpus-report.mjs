#!/usr/bin/env node
// Imports every AutoGPT export of the shared corpus (../shared/corpus/autogpt, next to the repository) with
// the built @weft/blocks (run `pnpm build` first), and runs each agent whose blocks all exist through the
// engine. Prints a Markdown table: imported (yes/no), blocks missing (names), and how the run ended.
//
//   node packages/blocks/scripts/corpus-report.mjs [--json] [--deadline ms] [--corpus dir]
//
// Runs touch no network beyond loopback: the AI blocks talk to a small OpenAI-compatible server started
// here on 127.0.0.1 (OPENAI_BASE_URL / OPENAI_API_KEY), and every HTTP request goes through a safe client
// that admits 127.0.0.1 only and never resolves a host name.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import { dirname, join, relative } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = join(here, "..", "..", "..")
const dist = join(here, "..", "dist", "index.js")

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    deadline: { type: "string", default: "20000" },
    corpus: { type: "string", default: join(repoRoot, "..", "shared", "corpus", "autogpt") },
    help: { type: "boolean", short: "h" },
  },
})
if (values.help) {
  console.log(
    "Usage: node packages/blocks/scripts/corpus-report.mjs [--json] [--deadline ms] [--corpus dir]\n" +
      "Imports and runs the AutoGPT corpus; prints a Markdown table, or JSON with --json.",
  )
  process.exit(0)
}
const corpus = values.corpus
const deadlineMs = Number(values.deadline)
if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) {
  console.error(`--deadline ${values.deadline}: expected a number of milliseconds`)
  process.exit(2)
}
if (!existsSync(corpus)) {
  console.error(`No AutoGPT corpus at ${corpus}: nothing to report.`)
  if (values.json) console.log("[]")
  process.exit(0)
}
if (!existsSync(dist)) {
  console.error(`${relative(process.cwd(), dist)} is missing: run \`pnpm build\` first.`)
  process.exit(1)
}

// ---------------------------------------------------------------------------------------------------------
// A tiny OpenAI-compatible server on loopback: POST /v1/chat/completions, JSON mode, streaming (SSE).

const CANNED = "This is a canned answer from the Weft corpus test server."

/** Every balanced `{…}` in a text that parses as a JSON object with at least one key. */
const jsonObjectsIn = (text) => {
  const found = []
  for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
    let depth = 0
    for (let i = start; i < text.length; i++) {
      if (text[i] === "{") depth++
      else if (text[i] === "}" && --depth === 0) {
        try {
          const value = JSON.parse(text.slice(start, i + 1))
          if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0)
            found.push(value)
        } catch {}
        break
      }
    }
  }
  return found
}

/** A placeholder value for a JSON Schema. */
const sample = (schema) => {
  const type = Array.isArray(schema?.type) ? schema.type.find((t) => t !== "null") : schema?.type
  if (type === "object" || schema?.properties) {
    const out = {}
    for (const [key, sub] of Object.entries(schema?.properties ?? {})) out[key] = sample(sub)
    return out
  }
  if (type === "array") return []
  if (type === "number" || type === "integer") return 1
  if (type === "boolean") return true
  return "test"
}

const textOf = (content) =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("")
      : ""

/** The answer to a chat request: a JSON object when JSON is asked for, else the canned text. */
const answerFor = (body) => {
  const format = body.response_format
  if (format?.type === "json_schema") return JSON.stringify(sample(format.json_schema?.schema))
  const messages = Array.isArray(body.messages) ? body.messages : []
  const text = messages.map((m) => textOf(m?.content)).join("\n")
  const wantsJson = format?.type === "json_object" || /\bjson\b/i.test(text)
  if (!wantsJson) return CANNED
  const template = jsonObjectsIn(text).at(-1)
  if (template === undefined) return format?.type === "json_object" ? "{}" : CANNED
  return JSON.stringify(Object.fromEntries(Object.keys(template).map((key) => [key, "test"])))
}

/** Chat completions answered so far. */
let llmCalls = 0

const startServer = () =>
  new Promise((resolve) => {
    const server = createServer((req, res) => {
      let raw = ""
      req.on("data", (chunk) => {
        raw += chunk
      })
      req.on("end", () => {
        if (req.method === "GET" && req.url === "/v1/models") {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ object: "list", data: [{ id: "test-model", object: "model" }] }))
          return
        }
        if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
          res.writeHead(404, { "content-type": "application/json" })
          res.end(
            JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: "not_found" } }),
          )
          return
        }
        let body
        try {
          body = JSON.parse(raw)
        } catch {
          res.writeHead(400, { "content-type": "application/json" })
          res.end(
            JSON.stringify({ error: { message: "the body is not JSON", type: "invalid_request_error" } }),
          )
          return
        }
        llmCalls++
        const id = `chatcmpl-weft-${llmCalls}`
        const created = Math.floor(Date.now() / 1000)
        const model = typeof body.model === "string" ? body.model : "test-model"
        const content = answerFor(body)
        const usage = { prompt_tokens: 10, completion_tokens: 8, total_tokens: 18 }
        if (body.stream === true) {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
          const send = (chunk) => res.write(`data: ${JSON.stringify(chunk)}\n\n`)
          const base = { id, object: "chat.completion.chunk", created, model }
          send({
            ...base,
            choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
          })
          for (const piece of content.match(/\S+\s*/g) ?? [content])
            send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })
          send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })
          if (body.stream_options?.include_usage === true) send({ ...base, choices: [], usage })
          res.end("data: [DONE]\n\n")
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id,
            object: "chat.completion",
            created,
            model,
            choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
            usage,
          }),
        )
      })
    })
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

// ---------------------------------------------------------------------------------------------------------

const server = await startServer()
const port = server.address().port
process.env.OPENAI_BASE_URL = `http://127.0.0.1:${port}/v1`
process.env.OPENAI_API_KEY = "test"

const blocks = await import(pathToFileURL(dist).href)
const engine = await import("@weft/engine")
const { Context } = await import("effect")
const {
  coreBlocks,
  coreBlockRegistry,
  importAutoGPT,
  withCredentials,
  providerOf,
  SafeHttp,
  SafeHttpClient,
  HttpRefused,
} = blocks

/** The safe client, admitting 127.0.0.1 only: any other host is refused before a lookup or connection. */
class LoopbackOnlyClient extends SafeHttpClient {
  constructor() {
    super({
      allow: ["127.0.0.1"],
      lookup: async (hostname) => {
        throw new Error(`the corpus run resolves no host names (${hostname})`)
      },
    })
  }
  async request(request) {
    const url = new URL(String(request.url))
    if (url.hostname !== "127.0.0.1")
      throw new HttpRefused({ url: url.href, reason: "the corpus run reaches 127.0.0.1 only" })
    return super.request(request)
  }
}
const resources = Context.make(SafeHttp, new LoopbackOnlyClient())
// AutoGPT exports carry no credentials: fill every empty credential field, and resolve each to a test key.
const credentials = (ref, { requirement }) => ({
  provider: ref.provider,
  type: requirement.type,
  secret: "test",
})
const testCredentials = ({ requirement }) => ({
  id: "corpus-test",
  provider: providerOf(requirement),
  type: requirement.type,
  title: "test key",
})

const blockNamesFile = join(corpus, "block-ids.json")
const blockNames = existsSync(blockNamesFile) ? JSON.parse(readFileSync(blockNamesFile, "utf8")) : undefined
const registry = coreBlockRegistry()

/** A value for a graph input without a default: the first placeholder, else one fitting its JSON Schema. */
const placeholder = (property, defaults) => {
  const options = Array.isArray(defaults.placeholder_values) ? defaults.placeholder_values : []
  if (options.length > 0) return options[0]
  const types = [property?.type, ...(property?.anyOf ?? []).map((s) => s?.type)].flat().filter(Boolean)
  const type = types.find((t) => t !== "null")
  if (type === "number" || type === "integer") return 1
  if (type === "boolean") return true
  if (type === "array") return []
  if (type === "object") return {}
  const format = property?.format ?? (property?.anyOf ?? []).find((s) => s?.format)?.format
  if (format === "date") return "2025-01-01"
  if (format === "time") return "12:00:00"
  if (format === "date-time") return "2025-01-01T12:00:00Z"
  return "test"
}

/** Inputs for a graph's input nodes: their defaults, and placeholders where they have none. */
const inputsFor = (graph) => {
  const properties = engine.graphIO(graph, registry).inputJsonSchema.properties ?? {}
  const inputs = {}
  for (const node of graph.nodes) {
    if (registry.get(node.blockId)?.kind !== "input") continue
    const defaults = node.inputDefault ?? {}
    const name = defaults.name
    if (typeof name !== "string" || name === "") continue
    const value = defaults.value
    if (value === undefined || value === null || value === "")
      inputs[name] = placeholder(properties[name], defaults)
  }
  return inputs
}

const runOne = async (graph, subGraphs) => {
  const controller = new AbortController()
  const wall = setTimeout(() => controller.abort(), deadlineMs + 5_000)
  const failures = []
  const callsBefore = llmCalls
  try {
    const result = await engine.runGraph(graph, {
      blocks: [coreBlocks],
      graphs: subGraphs,
      inputs: inputsFor(graph),
      deadlineMs,
      signal: controller.signal,
      resources,
      credentials,
      onEvent: (event) => {
        if (event.type === "NodeStatus" && event.status === "FAILED")
          failures.push({ nodeId: event.nodeId, error: event.error ?? "failed" })
      },
    })
    return {
      status: result.status,
      ...(result.error === undefined ? {} : { error: result.error }),
      outputs: result.outputs,
      llmCalls: llmCalls - callsBefore,
      failedNodes: failures,
    }
  } catch (error) {
    return {
      status: "error",
      error: error instanceof Error ? error.message : String(error),
      failedNodes: failures,
    }
  } finally {
    clearTimeout(wall)
  }
}

const files = ["agents", "templates"].flatMap((dir) =>
  existsSync(join(corpus, dir))
    ? readdirSync(join(corpus, dir))
        .filter((name) => name.endsWith(".json"))
        .sort()
        .map((name) => join(dir, name))
    : [],
)

const rows = []
for (const file of files) {
  const row = { file, name: "", imported: false, missingBlocks: [], ran: "error" }
  rows.push(row)
  let imported
  try {
    imported = importAutoGPT(JSON.parse(readFileSync(join(corpus, file), "utf8")), { blockNames })
  } catch (error) {
    row.error = error instanceof Error ? error.message : String(error)
    continue
  }
  const { graph, subGraphs, report } = imported
  row.name = graph.name
  row.imported = true
  row.nodes = report.graph.nodes
  row.links = report.graph.links
  row.subGraphs = report.subGraphs.map((r) => ({ nodeId: r.nodeId, status: r.status, note: r.note }))
  row.missingBlocks = report.missingBlocks.map((m) => m.blockName ?? m.blockId)
  if (row.missingBlocks.length > 0) {
    row.ran = "skipped (missing blocks)"
    continue
  }
  const run = await runOne(
    withCredentials(graph, registry, testCredentials),
    subGraphs.map((sub) => withCredentials(sub, registry, testCredentials)),
  )
  row.ran = run.status
  row.run = run
}
server.close()

const ranCell = (row) => {
  if (row.run === undefined) return row.error === undefined ? row.ran : `error: ${row.error}`
  const failed = row.run.failedNodes.length
  const detail = [
    ...(row.run.error === undefined ? [] : [row.run.error]),
    ...(failed === 0
      ? []
      : [`${failed} node${failed === 1 ? "" : "s"} failed, first: ${row.run.failedNodes[0].error}`]),
  ]
  return detail.length === 0 ? row.ran : `${row.ran} (${detail.join("; ")})`
}
const cell = (text, max = 300) => {
  const flat = String(text).replace(/\|/g, "\\|").replace(/\s+/g, " ")
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

if (values.json) {
  console.log(JSON.stringify(rows, null, 2))
} else {
  console.log("| File | Agent | Imported | Missing blocks | Ran |")
  console.log("|---|---|---|---|---|")
  for (const row of rows) {
    const missing = row.missingBlocks.length === 0 ? "—" : [...new Set(row.missingBlocks)].join(", ")
    console.log(
      `| ${cell(row.file)} | ${cell(row.name)} | ${row.imported ? "yes" : "no"} | ${cell(missing, Number.POSITIVE_INFINITY)} | ${cell(ranCell(row))} |`,
    )
  }
  const imported = rows.filter((r) => r.imported).length
  const ran = rows.filter((r) => r.run !== undefined).length
  const completed = rows.filter((r) => r.ran === "COMPLETED").length
  console.log(
    `\n${imported}/${rows.length} imported; ${ran} had every block and ran; ${completed} COMPLETED (deadline ${deadlineMs} ms).`,
  )
}
