/**
 * Structured logs: one JSON object per line with `level`, `time`, `message`, and `runId`/`nodeId` for what
 * concerns a run (block logs, run status changes, failed nodes). Secrets never appear: values under secret
 * keys, values of the pins a block marks `secret`, cookies, bearer tokens and secret query parameters are
 * redacted. Checked in-process (a captured logger) and on a child `weft serve` process's stdout.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { coreBlocks } from "@weft/blocks"
import { Block } from "@weft/engine"
import { Cause, Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import * as Logging from "../src/ops/Logging.js"
import { isSecretKey, MASK, redact, redactText } from "../src/ops/Redact.js"
import { client, eventually, type Session, signUp, startTestHost, tempDir } from "./api-support.js"

/** A value that must never be written to a log. */
const canary = (name: string) => `CANARY-${name}-${Math.random().toString(36).slice(2, 10)}`

describe("redaction", () => {
  it("recognizes secret keys in any spelling", () => {
    for (const key of [
      "Authorization",
      "set-cookie",
      "Cookie",
      "password",
      "db_password",
      "clientSecret",
      "api_key",
      "X-API-Key",
      "apiKey",
      "access_token",
      "refreshToken",
      "private_key",
    ]) {
      expect(isSecretKey(key), key).toBe(true)
    }
    for (const key of ["runId", "nodeId", "message", "status", "url", "name"])
      expect(isSecretKey(key), key).toBe(false)
  })

  it("hides values under secret keys, and the same strings wherever else they appear", () => {
    const secret = canary("key")
    const out = redact({
      message: `calling with ${secret} now`,
      headers: { Authorization: `Bearer ${secret}`, accept: "text/plain" },
      nested: [{ api_key: secret, maxTokens: 100, completion_tokens: 7 }],
      note: "kept",
    })
    expect(JSON.stringify(out)).not.toContain(secret)
    expect(out.headers.Authorization).toBe(MASK)
    expect(out.headers.accept).toBe("text/plain")
    // Numbers under token-ish keys are counts, not secrets.
    expect(out.nested[0]).toEqual({ api_key: MASK, maxTokens: 100, completion_tokens: 7 })
    expect(out.message).toBe(`calling with ${MASK} now`)
    expect(out.note).toBe("kept")
  })

  it("hides credentials that look like credentials in text, and extra keys and secrets given", () => {
    expect(redactText("GET /x?token=abc123&page=2")).toBe(`GET /x?token=${MASK}&page=2`)
    expect(redactText("Authorization: Bearer abc.def-ghi")).toBe(`Authorization: Bearer ${MASK}`)
    expect(redactText("postgres://weft:hunter22@db:5432/weft")).toBe(`postgres://weft:${MASK}@db:5432/weft`)
    expect(redactText("http://127.0.0.1:8787/api/graphs")).toBe("http://127.0.0.1:8787/api/graphs")
    expect(redact({ pin: "1234-5678", text: "pin 1234-5678" }, { keys: new Set(["pin"]) })).toEqual({
      pin: MASK,
      text: `pin ${MASK}`,
    })
    expect(redact({ text: "the word swordfish" }, { secrets: ["swordfish"] })).toEqual({
      text: `the word ${MASK}`,
    })
  })
})

describe("logging options from the environment", () => {
  it("defaults to JSON when stdout is not a terminal, pretty on a terminal, level info", () => {
    expect(Logging.fromEnv({}, false)).toEqual({ format: "json", level: "Info" })
    expect(Logging.fromEnv({}, true)).toEqual({ format: "pretty", level: "Info" })
    expect(Logging.fromEnv({ WEFT_LOG_FORMAT: "pretty", WEFT_LOG_LEVEL: "DEBUG" }, false)).toEqual({
      format: "pretty",
      level: "Debug",
    })
    expect(Logging.fromEnv({ WEFT_LOG_FORMAT: "JSON", WEFT_LOG_LEVEL: "warn" }, true)).toEqual({
      format: "json",
      level: "Warn",
    })
  })

  it("refuses unknown values, naming the variable", () => {
    expect(() => Logging.fromEnv({ WEFT_LOG_FORMAT: "xml" }, false)).toThrow(
      /WEFT_LOG_FORMAT xml: expected json or pretty/,
    )
    expect(() => Logging.fromEnv({ WEFT_LOG_LEVEL: "loud" }, false)).toThrow(/WEFT_LOG_LEVEL loud/)
  })
})

describe("the logger", () => {
  const capture = (options: Omit<Logging.LoggingOptions, "write">, effect: Effect.Effect<void>) => {
    const lines: Array<string> = []
    Effect.runSync(Logging.provide({ ...options, write: (line) => lines.push(line) })(effect))
    return lines
  }

  it("writes one JSON object per entry: level, time, message, annotations, data and cause, redacted", () => {
    const token = canary("token")
    const lines = capture(
      { format: "json" },
      Effect.logWarning("lost the lease", { attempt: 2 }, Cause.fail(new Error("boom"))).pipe(
        Effect.annotateLogs({ runId: "r1", nodeId: "n1", token }),
      ),
    )
    expect(lines).toHaveLength(1)
    const entry = JSON.parse(lines[0] ?? "") as Record<string, unknown>
    expect(entry).toMatchObject({
      level: "warn",
      message: "lost the lease",
      runId: "r1",
      nodeId: "n1",
      token: MASK,
      data: { attempt: 2 },
    })
    expect(String(entry.cause)).toContain("boom")
    expect(Date.parse(String(entry.time))).toBeGreaterThan(0)
    expect(lines[0]).not.toContain(token)
  })

  it("drops entries below the level, and writes readable lines in the pretty format", () => {
    const lines = capture(
      { format: "pretty", level: "Warn" },
      Effect.andThen(
        Effect.logInfo("dropped"),
        Effect.logError("kept").pipe(Effect.annotateLogs({ runId: "r2", password: "hunter22" })),
      ),
    )
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\S+ ERROR kept runId=r2 password=\[REDACTED\]$/)
  })
})

/** A block that logs its secret pin, in its data and in its message, and a failing one. */
const PIN = canary("pin")
const Leaky = Block.make({
  id: "test/ops/leaky",
  title: "Leaky",
  description: "Logs its secret pin (a test of redaction).",
  categories: ["test"],
  input: Schema.Struct({ pin_code: Block.secret(Schema.String), note: Schema.String }),
  output: Schema.Struct({ note: Schema.String }),
  run: ({ pin_code, note }, ctx) => {
    ctx.log.info(`unlocking with ${pin_code}`, { pin_code, note })
    ctx.log.warn("plain warning", { detail: note })
    return { note }
  },
})
const Failing = Block.make({
  id: "test/ops/failing",
  title: "Failing",
  description: "Always fails.",
  categories: ["test"],
  input: Schema.Struct({ value: Schema.String }),
  output: Schema.Struct({ value: Schema.String }),
  run: () => {
    throw new Error("deliberate failure")
  },
})

const leakyGraph = (pin: string) => ({
  name: "Leaky",
  nodes: [
    { id: "leak", blockId: "test/ops/leaky", inputDefault: { pin_code: pin, note: "visible-note" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "note" } },
  ],
  links: [{ sourceId: "leak", sourceName: "note", sinkId: "out", sinkName: "value" }],
})

type Entry = Record<string, unknown> & { level: string; time: string; message: string }

/** Parses every line as one JSON log entry with level, time and message, or throws. */
const entriesOf = (lines: ReadonlyArray<string>): Array<Entry> =>
  lines.map((line) => {
    const entry = JSON.parse(line) as Entry
    expect(typeof entry.level, line).toBe("string")
    expect(Number.isNaN(Date.parse(entry.time)), line).toBe(false)
    expect(typeof entry.message, line).toBe("string")
    return entry
  })

describe("a host with JSON logs (in-process)", () => {
  const lines: Array<string> = []
  const dir = tempDir("ops-logging")
  let host: RunningHost
  let alice: Session

  beforeAll(async () => {
    host = await startTestHost({
      dataDir: dir.dir,
      logging: { format: "json", level: "Debug", write: (line) => lines.push(line) },
      runs: { blocks: [coreBlocks, Block.set("test-ops", [Leaky, Failing])] },
    })
    alice = await signUp(host.url, "alice")
  })
  afterAll(async () => {
    await host?.close()
    dir.dispose()
  })

  it("logs block logs and run changes with runId and nodeId, with secret pins redacted", async () => {
    const api = client(host.url, alice)
    const graphId = (await api.post<{ id: string }>("/api/graphs", leakyGraph(PIN))).body.id
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    const entries = await eventually(async () => {
      const all = entriesOf(lines)
      return all.some((e) => e.runId === runId && e.message === "run COMPLETED") ? all : undefined
    })
    const blockLogs = entries.filter((e) => e.runId === runId && e.source === "block")
    expect(blockLogs.map((e) => [e.level, e.nodeId, e.blockId])).toEqual([
      ["info", "leak", "test/ops/leaky"],
      ["warn", "leak", "test/ops/leaky"],
    ])
    const [unlock, warning] = blockLogs
    expect(unlock?.message).toBe(`unlocking with ${MASK}`)
    expect(unlock?.graphId).toBe(graphId)
    expect(unlock?.data).toEqual({ pin_code: MASK, note: "visible-note" })
    expect(typeof unlock?.executionId).toBe("string")
    expect(warning?.data).toEqual({ detail: "visible-note" })
    expect(entries.find((e) => e.runId === runId && e.message === "run RUNNING")).toMatchObject({
      level: "info",
      graphId,
      status: "RUNNING",
    })
    expect(lines.join("\n")).not.toContain(PIN)
  })

  it("logs a failed node as a warning with its ids and error", async () => {
    const api = client(host.url, alice)
    const graph = {
      name: "Failing",
      nodes: [{ id: "boom", blockId: "test/ops/failing", inputDefault: { value: "x" } }],
      links: [],
    }
    const graphId = (await api.post<{ id: string }>("/api/graphs", graph)).body.id
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    const failed = await eventually(async () =>
      entriesOf(lines).find((e) => e.runId === runId && e.message === "node FAILED"),
    )
    expect(failed).toMatchObject({ level: "warn", nodeId: "boom", blockId: "test/ops/failing" })
    expect(String(failed.error)).toContain("deliberate failure")
  })

  it("logs requests: the URL with secret parameters masked, headers redacted at debug", async () => {
    const bearer = canary("bearer")
    const query = canary("query")
    const response = await fetch(`${host.url}/healthz?token=${query}&verbose=1`, {
      headers: { authorization: `Bearer ${bearer}`, cookie: `session=${canary("cookie")}` },
    })
    expect(response.status).toBe(200)
    const api = client(host.url, alice)
    expect((await api.get("/api/graphs")).status).toBe(200)
    const entries = await eventually(async () => {
      const all = entriesOf(lines)
      return all.some((e) => e.message === "request" && e.method === "GET" && e.url === "/api/graphs")
        ? all
        : undefined
    })
    const probe = entries.find((e) => e.message === "request" && String(e.url).startsWith("/healthz"))
    expect(probe).toMatchObject({
      level: "debug",
      method: "GET",
      status: 200,
      url: `/healthz?token=${MASK}&verbose=1`,
    })
    expect(probe?.headers).toMatchObject({ authorization: MASK, cookie: MASK })
    const listed = entries.find(
      (e) => e.message === "request" && e.method === "GET" && e.url === "/api/graphs",
    )
    expect(listed).toMatchObject({ level: "info", method: "GET", status: 200 })
    expect(typeof listed?.durationMs).toBe("number")
    const all = lines.join("\n")
    expect(all).not.toContain(bearer)
    expect(all).not.toContain(query)
    // Alice's real session cookie was sent on /api/graphs: it is not in the logs either.
    const session = alice.headers.cookie?.split("=").slice(1).join("=") ?? ""
    expect(session.length).toBeGreaterThan(10)
    expect(all).not.toContain(session)
  })
})

describe("weft serve's stdout", () => {
  const cli = join(import.meta.dirname, "..", "dist", "cli", "main.js")
  const data = tempDir("ops-serve-logs")
  let child: ChildProcess | undefined
  let stdout = ""
  let stderr = ""

  afterAll(() => {
    if (child !== undefined && child.exitCode === null) child.kill("SIGKILL")
    data.dispose()
  })

  it("is one JSON object per line, with block logs carrying runId and nodeId, and no secret", async () => {
    const { WEFT_LOG_FORMAT: _format, ...env } = process.env
    const spawned = spawn(process.execPath, [cli, "serve", "--port", "0", "--data", data.dir], {
      env: { ...env, DATABASE_URL: "", WEFT_LOG_LEVEL: "debug" },
      stdio: ["ignore", "pipe", "pipe"],
    })
    child = spawned
    spawned.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    spawned.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const started = await eventually(async () => {
      const first = stdout.split("\n")[0] ?? ""
      return first.endsWith("}") ? (JSON.parse(first) as Entry & { url: string }) : undefined
    }, 20_000)
    expect(started.message).toBe(`Weft is running at ${started.url}`)
    const base = started.url

    const password = canary("password")
    const bearer = canary("bearer")
    const cookie = canary("cookie")
    const query = canary("query")
    const alice = await signUp(base, "alice")
    const api = client(base, alice)
    const graph = {
      name: "Print",
      nodes: [
        {
          id: "print",
          blockId: "weft/basic/print-to-console",
          inputDefault: { text: { password, note: "visible-note" } },
        },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "printed" } },
      ],
      links: [{ sourceId: "print", sourceName: "status", sinkId: "out", sinkName: "value" }],
    }
    const graphId = (await api.post<{ id: string }>("/api/graphs", graph)).body.id
    const runId = (await api.post<{ id: string }>(`/api/graphs/${graphId}/runs`, {})).body.id
    await eventually(async () =>
      (await api.get<{ status: string }>(`/api/runs/${runId}`)).body.status === "COMPLETED"
        ? true
        : undefined,
    )
    expect(
      (
        await fetch(`${base}/healthz?api_key=${query}`, {
          headers: { authorization: `Bearer ${bearer}`, cookie: `weft=${cookie}` },
        })
      ).status,
    ).toBe(200)
    await eventually(async () => (stdout.includes('"url":"/healthz?api_key=') ? true : undefined))

    const exited = new Promise<number | null>((resolve) => spawned.once("exit", (code) => resolve(code)))
    spawned.kill("SIGTERM")
    expect(await exited).toBe(0)

    const lines = stdout.split("\n").filter((line) => line !== "")
    const entries = entriesOf(lines)
    const printed = entries.find((e) => e.source === "block" && e.runId === runId)
    expect(printed).toMatchObject({ level: "info", nodeId: "print", blockId: "weft/basic/print-to-console" })
    expect(printed?.message).toContain("Print:")
    expect(printed?.message).toContain(MASK)
    expect(printed?.data).toEqual({ password: MASK, note: "visible-note" })
    expect(entries.some((e) => e.runId === runId && e.message === "run COMPLETED")).toBe(true)
    const probe = entries.find((e) => e.message === "request" && String(e.url).startsWith("/healthz"))
    expect(probe?.headers).toMatchObject({ authorization: MASK, cookie: MASK })
    for (const secret of [password, bearer, cookie, query, alice.password])
      expect(stdout).not.toContain(secret)
    const session = alice.headers.cookie?.split("=").slice(1).join("=") ?? ""
    expect(stdout).not.toContain(session)
    expect(stderr).toContain("SIGTERM: stopping")
  }, 60_000)
})
