/**
 * The canary: a secret stored through the API reaches the block that needs it (the loopback model server
 * sees it as the bearer token) and nothing else. It is looked for, in plain text, JSON-escaped (once and
 * twice), base64 (standard and URL-safe, at every alignment) and hex, in:
 * - a full database dump: every row of every table of the `public` and `graphile_worker` schemas as JSON
 *   text (and, on PGlite, every byte of the data directory but the key file);
 * - everything the host processes wrote: stdout and stderr of `weft serve` (and of `weft worker` on
 *   Postgres), at log level debug;
 * - every API answer: credentials create, list and read, graphs read and export (both formats), runs list
 *   and read, the run events streams (SSE), and the WebSocket messages of `/api/ws`;
 * - the runs' outputs, including a model answer that echoes the key and a model error that quotes it.
 * Another user naming the canary's id is refused, and the model never sees a request of theirs.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { PGlite } from "@electric-sql/pglite"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { type OpenAIServer, startOpenAIServer } from "../../blocks/test/support/openai-server.js"
import { KEY_FILE } from "../src/credentials/Keys.js"
import {
  type Answer,
  client,
  eventually,
  freshDatabase,
  readSse,
  type Session,
  signUp,
  TEST_SECRET,
  tempDir,
} from "./api-support.js"

const MAIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url))

/** The part every form of the canary contains; the quote and backslash after it change under JSON escaping. */
const CORE = `sk-canary-${randomBytes(16).toString("hex")}`
const CANARY = `${CORE}"q\\z`

/** Every form of the canary that counts as a leak. */
const needles = (): ReadonlyArray<readonly [form: string, needle: string]> => {
  const forms: Array<readonly [string, string]> = [
    ["plain", CORE],
    ["JSON", JSON.stringify(CANARY).slice(1, -1)],
    ["JSON twice", JSON.stringify(JSON.stringify(CANARY).slice(1, -1)).slice(1, -1)],
    ["hex", Buffer.from(CORE).toString("hex")],
  ]
  const bytes = Buffer.from(CORE)
  // Base64 of a text containing the canary, whatever its offset: the canary's bytes from `shift` on fall on
  // 3-byte boundaries for one of the three shifts, and encode to the same characters.
  for (let shift = 0; shift < 3; shift++) {
    const whole = Math.floor((bytes.length - shift) / 3) * 3
    const part = bytes.subarray(shift, shift + whole)
    forms.push([`base64 (shift ${shift})`, part.toString("base64")])
    forms.push([`base64url (shift ${shift})`, part.toString("base64url")])
  }
  return forms
}

/** The forms of the canary found in `text`. */
const leaks = (text: string): ReadonlyArray<string> =>
  needles()
    .filter(([, needle]) => text.includes(needle))
    .map(([form]) => form)

/** The forms found in raw bytes (a data directory's files). */
const byteLeaks = (data: Buffer): ReadonlyArray<string> =>
  needles()
    .filter(([, needle]) => data.includes(Buffer.from(needle)))
    .map(([form]) => form)

/** A child `weft` process with its output kept. */
interface Cli {
  readonly child: ChildProcess
  readonly output: () => string
  readonly stop: () => Promise<number | null>
}

const children: Array<ChildProcess> = []

const spawnCli = async (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  ready: RegExp,
): Promise<Cli> => {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, WEFT_LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  children.push(child)
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  let out = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`weft ${args[0]} exited: ${out}`)
    return ready.test(out) ? true : undefined
  }, 30_000)
  return {
    child,
    output: () => out,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return exited
    },
  }
}

/** Every row of every table of the public and graphile_worker schemas, as JSON text. */
const DUMP_TABLES = `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
  WHERE table_schema IN ('public', 'graphile_worker') AND table_type = 'BASE TABLE' ORDER BY 1, 2`
const dumpQuery = (schema: string, name: string) =>
  `SELECT row_to_json(t)::text AS row FROM "${schema}"."${name}" t`

interface Dump {
  readonly tables: ReadonlyArray<string>
  readonly text: string
}

const dumpPostgres = async (url: string): Promise<Dump> => {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const tables = await sql.unsafe<{ schema: string; name: string }[]>(DUMP_TABLES)
    const parts: Array<string> = []
    for (const t of tables) {
      const rows = await sql.unsafe<{ row: string }[]>(dumpQuery(t.schema, t.name))
      parts.push(`-- ${t.schema}.${t.name}`, ...rows.map((r) => r.row))
    }
    return { tables: tables.map((t) => `${t.schema}.${t.name}`), text: parts.join("\n") }
  } finally {
    await sql.end()
  }
}

const dumpPglite = async (dir: string): Promise<Dump> => {
  const db = await PGlite.create({ dataDir: dir })
  try {
    const tables = (await db.query<{ schema: string; name: string }>(DUMP_TABLES)).rows
    const parts: Array<string> = []
    for (const t of tables) {
      const rows = (await db.query<{ row: string }>(dumpQuery(t.schema, t.name))).rows
      parts.push(`-- ${t.schema}.${t.name}`, ...rows.map((r) => r.row))
    }
    return { tables: tables.map((t) => `${t.schema}.${t.name}`), text: parts.join("\n") }
  } finally {
    await db.close()
  }
}

/** Every file under `dir` but the credentials key file. */
const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return filesUnder(path)
    return entry.isFile() && entry.name !== KEY_FILE ? [path] : []
  })

/** Every text message of a WebSocket subscription to these runs, until each run has finished. */
const wsMessages = async (url: string, session: Session, runIds: ReadonlyArray<string>): Promise<string> => {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/api/ws`, { headers: session.headers })
  const messages: Array<string> = []
  const finished = new Set<string>()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`WebSocket: runs not finished: ${messages.join("\n")}`)),
      30_000,
    )
    ws.on("error", reject)
    ws.on("open", () => {
      for (const runId of runIds) ws.send(JSON.stringify({ type: "subscribe", runId, after: 0 }))
    })
    ws.on("message", (data) => {
      const text = String(data)
      messages.push(text)
      const message = JSON.parse(text) as { type: string; runId?: string; reason?: string }
      if (message.type === "unsubscribed" && message.runId !== undefined) finished.add(message.runId)
      if (message.type === "error") messages.push(`(error) ${text}`)
      if (runIds.every((id) => finished.has(id))) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  ws.close()
  return messages.join("\n")
}

interface RunView {
  readonly status: string
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly executions: ReadonlyArray<{ nodeId: string; status: string; error?: string }>
}

/** An AI text generator with the canary's credentials → output `answer`. */
const aiGraph = (credentials: unknown, prompt: string) => ({
  name: `Canary ${prompt}`,
  nodes: [
    {
      id: "ai",
      blockId: "weft/ai/text-generator",
      inputDefault: { prompt, model: "gpt-4o", retry: 1, credentials },
    },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "answer" } },
  ],
  links: [{ sourceId: "ai", sourceName: "response", sinkId: "out", sinkName: "value" }],
})

const finalRun = (api: ReturnType<typeof client>, runId: string) =>
  eventually(async () => {
    const run = await api.get<RunView>(`/api/runs/${runId}`)
    return ["COMPLETED", "FAILED", "TERMINATED"].includes(run.body.status) ? run : undefined
  }, 30_000)

type Mode = "pglite" | "postgres"

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
})

it("the leak detector finds the canary in each form it looks for", () => {
  const wrapped = JSON.stringify({ secret: { api_key: CANARY } })
  expect(leaks(`x ${CANARY} y`)).toContain("plain")
  expect(leaks(wrapped)).toContain("JSON")
  expect(leaks(JSON.stringify({ text: wrapped }))).toContain("JSON twice")
  for (let pad = 0; pad < 3; pad++) {
    const text = `${"p".repeat(pad)}${wrapped}`
    expect(leaks(Buffer.from(text).toString("base64")).length, `base64 pad ${pad}`).toBeGreaterThan(0)
    expect(leaks(Buffer.from(text).toString("base64url")).length, `base64url pad ${pad}`).toBeGreaterThan(0)
  }
  expect(leaks(`\\x${Buffer.from(wrapped).toString("hex")}`)).toContain("hex")
  expect(leaks("sk-canary-something-else")).toEqual([])
})

describe.each<Mode>(["pglite", "postgres"])("canary on %s", (mode) => {
  const data = tempDir(`canary-${mode}`)
  let db: Awaited<ReturnType<typeof freshDatabase>> | undefined
  let llm: OpenAIServer
  const processes: Array<Cli> = []
  let url: string

  beforeAll(async () => {
    // The model echoes the bearer token it got, and quotes it in a 401 when the prompt asks for a failure.
    llm = await startOpenAIServer({
      handler: (request) => {
        const token = String(request.headers.authorization ?? "").replace(/^Bearer /, "")
        const prompt = JSON.stringify(request.body.messages)
        return prompt.includes("fail")
          ? { status: 401, error: `Incorrect API key provided: ${token}` }
          : `The key you sent is ${token} and that is all`
      },
    })
    const env: Record<string, string> = {
      OPENAI_BASE_URL: llm.baseURL,
      OPENAI_API_KEY: "host-environment-key",
      DATABASE_URL: "",
    }
    if (mode === "postgres") {
      db = await freshDatabase("canary")
      const key = randomBytes(32).toString("base64")
      Object.assign(env, { DATABASE_URL: db.url, BETTER_AUTH_SECRET: TEST_SECRET, WEFT_CREDENTIALS_KEY: key })
      processes.push(
        await spawnCli(["serve", "--port", "0", "--allow", "127.0.0.1"], env, /Weft is running at http/),
      )
      processes.push(
        await spawnCli(
          ["worker", "--id", "canary-worker", "--poll", "0.2", "--allow", "127.0.0.1"],
          env,
          /is running/,
        ),
      )
    } else {
      processes.push(
        await spawnCli(
          ["serve", "--port", "0", "--data", data.dir, "--allow", "127.0.0.1"],
          env,
          /Weft is running at http/,
        ),
      )
    }
    url = processes[0]?.output().match(/Weft is running at (http:\/\/127\.0\.0\.1:\d+)/)?.[1] ?? ""
    expect(url).not.toBe("")
  })
  afterAll(async () => {
    for (const cli of processes.reverse()) await cli.stop()
    await llm?.close()
    await db?.drop()
    data.dispose()
  })

  it("reaches the block as the bearer token, and appears in no dump, log, answer, event, message or output", async () => {
    const aliceSession = await signUp(url, "alice")
    const bobSession = await signUp(url, "bob")
    const alice = client(url, aliceSession)
    const bob = client(url, bobSession)
    /** Every API answer of the test, by what it was. */
    const answers: Array<readonly [string, string]> = []
    const keep = <T>(what: string, answer: Answer<T>) => {
      answers.push([what, typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body)])
      return answer
    }

    const created = keep(
      "credentials.create",
      await alice.post<{ id: string; provider: string; type: string; title: string }>("/api/credentials", {
        provider: "openai",
        type: "api_key",
        title: "Canary key",
        secret: { api_key: CANARY },
      }),
    )
    expect(created.status).toBe(201)
    const ref = { id: created.body.id, provider: "openai", type: "api_key", title: "Canary key" }
    keep("credentials.list", await alice.get("/api/credentials"))
    keep("credentials.get", await alice.get(`/api/credentials/${ref.id}`))

    const echo = keep(
      "graphs.create",
      await alice.post<{ id: string }>("/api/graphs", aiGraph(ref, "Echo the key")),
    )
    const failing = keep(
      "graphs.create",
      await alice.post<{ id: string }>("/api/graphs", aiGraph(ref, "Please fail")),
    )
    const stolen = keep("graphs.create", await bob.post<{ id: string }>("/api/graphs", aiGraph(ref, "Bob's")))
    for (const id of [echo.body.id, failing.body.id]) {
      keep("graphs.get", await alice.get(`/api/graphs/${id}`))
      keep("graphs.export", await alice.get(`/api/graphs/${id}/export`))
      keep("graphs.export autogpt", await alice.get(`/api/graphs/${id}/export?format=autogpt`))
    }

    const requestsBefore = llm.requests.length
    const echoRun = keep(
      "runs.start",
      await alice.post<{ id: string }>(`/api/graphs/${echo.body.id}/runs`, {}),
    )
    const failRun = keep(
      "runs.start",
      await alice.post<{ id: string }>(`/api/graphs/${failing.body.id}/runs`, {}),
    )
    const bobRun = keep(
      "runs.start",
      await bob.post<{ id: string }>(`/api/graphs/${stolen.body.id}/runs`, {}),
    )
    expect([echoRun.status, failRun.status, bobRun.status]).toEqual([201, 201, 201])

    const [aliceWs, bobWs] = await Promise.all([
      wsMessages(url, aliceSession, [echoRun.body.id, failRun.body.id]),
      wsMessages(url, bobSession, [bobRun.body.id]),
    ])
    answers.push(["ws alice", aliceWs], ["ws bob", bobWs])
    for (const [session, runId] of [
      [aliceSession, echoRun.body.id],
      [aliceSession, failRun.body.id],
      [bobSession, bobRun.body.id],
    ] as const) {
      const sse = await readSse(`${url}/api/runs/${runId}/events`, { headers: session.headers })
      expect(sse.status).toBe(200)
      answers.push([`sse ${runId}`, JSON.stringify(sse.frames)])
    }

    const done = keep("runs.get", await finalRun(alice, echoRun.body.id))
    const failed = keep("runs.get", await finalRun(alice, failRun.body.id))
    const refused = keep("runs.get", await finalRun(bob, bobRun.body.id))
    keep("runs.list", await alice.get("/api/runs"))
    keep("runs.list", await bob.get("/api/runs"))

    // The canary reached the block: the model saw it as the bearer token, for Alice's two runs only.
    const sent = llm.requests.slice(requestsBefore).map((r) => r.headers.authorization)
    expect(sent).toEqual([`Bearer ${CANARY}`, `Bearer ${CANARY}`])
    // The model echoed it; the output has the mask instead.
    expect(done.body.status).toBe("COMPLETED")
    expect(done.body.outputs).toEqual({ answer: ["The key you sent is ******** and that is all"] })
    // The model's error quoted it; the error has the mask instead.
    const failure = failed.body.executions.find((e) => e.nodeId === "ai")
    expect(failure?.status).toBe("FAILED")
    expect(failure?.error).toContain("Incorrect API key provided: ********")
    // Bob named Alice's id: refused, naming the field.
    expect(refused.body.executions.find((e) => e.nodeId === "ai")?.error).toBe(
      `credentials credentials: credentials ${ref.id} were not found`,
    )

    for (const [what, text] of answers) expect(leaks(text), what).toEqual([])
    expect(answers.length).toBeGreaterThan(20)

    // Stop the processes (PGlite's directory can then be opened here), then read their output and the database.
    for (const cli of [...processes].reverse()) expect(await cli.stop()).toBe(0)
    const logs = processes.map((cli) => cli.output()).join("\n")
    expect(logs).toMatch(/Weft is running at/)
    expect(leaks(logs), "host logs").toEqual([])

    const dump = db === undefined ? await dumpPglite(data.dir) : await dumpPostgres(db.url)
    expect(dump.tables).toEqual(
      expect.arrayContaining([
        "public.credentials",
        "public.node_executions",
        "public.run_events",
        "public.user",
      ]),
    )
    if (mode === "postgres") expect(dump.tables.some((t) => t.startsWith("graphile_worker."))).toBe(true)
    // The dump is not vacuous: it has the credentials row and the runs' events.
    expect(dump.text).toContain(ref.id)
    expect(dump.text).toContain("The key you sent is ********")
    expect(leaks(dump.text), "database dump").toEqual([])

    if (mode === "pglite") {
      const files = filesUnder(data.dir)
      expect(files.length).toBeGreaterThan(100)
      const found = files.flatMap((file) =>
        statSync(file).size === 0 ? [] : byteLeaks(readFileSync(file)).map((form) => `${file}: ${form}`),
      )
      expect(found, "PGlite data directory").toEqual([])
    }
  }, 120_000)
})
