/**
 * Helpers for the API tests: a host on a real socket (PGlite in a temp directory, or a fresh Postgres
 * database per file), JSON calls, and a Server-Sent Events reader.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RunEvent } from "@weft/engine"
import postgres from "postgres"
import { type HostOptions, type RunningHost, startHost } from "../src/Host.js"

/** A temp directory removed by `dispose`. */
export const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `weft-${prefix}-`))
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The session secret of test hosts on Postgres (PGlite hosts keep a generated one in their data directory). */
export const TEST_SECRET = "weft-test-secret-0123456789abcdefghijklmnop"

/** Starts a host on 127.0.0.1 and a free port (sign-in on, unless `auth.mode` says otherwise). */
export const startTestHost = (options: HostOptions): Promise<RunningHost> =>
  startHost({
    port: 0,
    host: "127.0.0.1",
    // The run-start limit has its own tests (rate-limit.test.ts); elsewhere tests start runs in bursts.
    limits: { runStarts: { window: 60, max: 1_000_000 } },
    ...options,
    ...(options.databaseUrl === undefined ? {} : { auth: { secret: TEST_SECRET, ...options.auth } }),
  })

/** The admin URL of the local Postgres. */
export const ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"

/** Creates a fresh database for one test file; `drop` removes it (after the host is closed). */
export const freshDatabase = async (prefix: string) => {
  const name = `weft_test_${prefix}_${Math.random().toString(36).slice(2, 10)}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

/** A JSON answer. */
export interface Answer<T = unknown> {
  readonly status: number
  readonly body: T
  readonly headers: Headers
}

/** A signed-in user: the session cookie to send, as a `cookie` header. */
export interface Session {
  readonly userId: string
  readonly email: string
  readonly password: string
  /** `{ cookie }`, for `fetch` and `readSse`. */
  readonly headers: Record<string, string>
  /** The `Set-Cookie` lines of the sign-up or sign-in answer. */
  readonly setCookies: ReadonlyArray<string>
}

/** The password of the test users. */
export const TEST_PASSWORD = "correct horse battery staple"

const sessionFrom = async (response: Response, email: string, password: string): Promise<Session> => {
  const text = await response.text()
  if (!response.ok) throw new Error(`sign-in of ${email} failed: ${response.status} ${text}`)
  const setCookies = response.headers.getSetCookie()
  const cookie = setCookies.map((line) => line.split(";")[0]).join("; ")
  const body = JSON.parse(text) as { user: { id: string } }
  return { userId: body.user.id, email, password, headers: { cookie }, setCookies }
}

/** Signs up `name` (as `<name>@example.test`) and returns the session. */
export const signUp = async (base: string, name: string, password = TEST_PASSWORD): Promise<Session> => {
  const email = `${name}@example.test`
  const response = await fetch(`${base}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, name }),
  })
  return sessionFrom(response, email, password)
}

/** Signs in an existing user and returns the new session. */
export const signIn = async (base: string, email: string, password = TEST_PASSWORD): Promise<Session> => {
  const response = await fetch(`${base}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  })
  return sessionFrom(response, email, password)
}

/** Calls the API with `session`'s cookie (or none). */
export const client = (base: string, session?: { readonly headers: Record<string, string> }) => {
  const call = async <T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<T>> => {
    const init: RequestInit = {
      method,
      headers: {
        ...session?.headers,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    }
    const response = await fetch(`${base}${path}`, init)
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = text === "" ? undefined : JSON.parse(text)
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed as T, headers: response.headers }
  }
  return {
    get: <T = unknown>(path: string, headers?: Record<string, string>) =>
      call<T>("GET", path, undefined, headers),
    post: <T = unknown>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>("POST", path, body, headers),
    put: <T = unknown>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>("PUT", path, body, headers),
    call,
  }
}

/** One Server-Sent Events frame. */
export interface Frame {
  readonly id?: string
  readonly event?: string
  readonly data?: RunEvent
  readonly comment?: string
}

/**
 * Reads an SSE stream until it ends, or until `stopAfter` says so (then hangs up). Resolves with every
 * frame, comments included, and the response status.
 */
export const readSse = async (
  url: string,
  options: {
    readonly headers?: Record<string, string>
    readonly stopAfter?: (frame: Frame, frames: ReadonlyArray<Frame>) => boolean
    /** Called with each frame as it arrives. */
    readonly onFrame?: (frame: Frame) => void
    readonly timeoutMs?: number
  } = {},
): Promise<{ status: number; contentType: string | null; frames: Array<Frame> }> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 30_000)
  const frames: Array<Frame> = []
  try {
    const response = await fetch(url, { headers: options.headers ?? {}, signal: controller.signal })
    if (response.body === null || !response.ok) {
      return { status: response.status, contentType: response.headers.get("content-type"), frames }
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end = buffer.indexOf("\n\n")
      while (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf("\n\n")
        const frame: { id?: string; event?: string; data?: RunEvent; comment?: string } = {}
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) frame.comment = line.slice(1).trim()
          else if (line.startsWith("id: ")) frame.id = line.slice(4)
          else if (line.startsWith("event: ")) frame.event = line.slice(7)
          else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6)) as RunEvent
        }
        frames.push(frame)
        options.onFrame?.(frame)
        if (options.stopAfter?.(frame, frames) === true) {
          controller.abort()
          return { status: response.status, contentType: response.headers.get("content-type"), frames }
        }
      }
    }
    return { status: response.status, contentType: response.headers.get("content-type"), frames }
  } catch (error) {
    if (controller.signal.aborted && options.stopAfter !== undefined) {
      return { status: 200, contentType: "text/event-stream", frames }
    }
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/** The frames that carry run events (no comments). */
export const eventFrames = (frames: ReadonlyArray<Frame>) => frames.filter((f) => f.event !== undefined)

/** The last run event among `frames`. */
export const lastEvent = (frames: ReadonlyArray<Frame>): RunEvent | undefined =>
  eventFrames(frames).at(-1)?.data

/** The sequence numbers of the persisted events among `frames`. */
export const seqs = (frames: ReadonlyArray<Frame>) =>
  frames.filter((f) => f.id !== undefined).map((f) => Number(f.id))

/** A small graph: input `topic` → template "Hello, {{topic}}!" → output `greeting`. */
export const helloGraph = (name = "Hello") => ({
  name,
  nodes: [
    { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "topic" } },
    {
      id: "fill",
      blockId: "weft/text/fill-text-template",
      inputDefault: { format: "Hello, {{ topic }}!" },
    },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "greeting" } },
  ],
  links: [
    { sourceId: "in", sourceName: "result", sinkId: "fill", sinkName: "values_#_topic" },
    { sourceId: "fill", sourceName: "output", sinkId: "out", sinkName: "value" },
  ],
})

/** A graph that waits `seconds` on a countdown timer, then outputs `done`. */
export const timerGraph = (seconds: number) => ({
  name: "Timer",
  nodes: [
    {
      id: "timer",
      blockId: "weft/time/countdown-timer",
      inputDefault: { seconds, input_message: "done" },
    },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "message" } },
  ],
  links: [{ sourceId: "timer", sourceName: "output_message", sinkId: "out", sinkName: "value" }],
})

/** Waits until `check` holds, polling. */
export const eventually = async <T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> => {
  const start = Date.now()
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 50))
  }
}
