/**
 * `GET /healthz` (the process answers: always 200 while serving) and `GET /readyz` (200 only when the
 * database answers and, in the worker mode, the graphile-worker queue can be read; 503 naming the failed
 * check otherwise). Neither needs a session. Checked on PGlite, on Postgres whose database is then dropped,
 * and on a worker-mode host whose queue schema is then dropped.
 */
import { Effect, ManagedRuntime } from "effect"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import * as Health from "../src/ops/Health.js"
import { ADMIN_URL, freshDatabase, startTestHost, tempDir } from "./api-support.js"
import { createDatabase } from "./support/db.js"

interface ReadyAnswer {
  readonly status: string
  readonly checks: Record<string, { readonly status: string; readonly reason?: string }>
}

const readyz = async (base: string) => {
  const response = await fetch(`${base}/readyz`)
  return { status: response.status, body: (await response.json()) as ReadyAnswer }
}

const healthz = async (base: string) => {
  const response = await fetch(`${base}/healthz`)
  return { status: response.status, body: (await response.json()) as unknown }
}

describe("on PGlite", () => {
  const dir = tempDir("ops-health")
  let host: RunningHost
  beforeAll(async () => {
    host = await startTestHost({ dataDir: dir.dir })
  })
  afterAll(async () => {
    await host?.close()
    dir.dispose()
  })

  it("is alive and ready without a session; the API itself still needs one", async () => {
    expect(await healthz(host.url)).toEqual({ status: 200, body: { status: "ok" } })
    expect(await readyz(host.url)).toEqual({
      status: 200,
      body: { status: "ready", checks: { database: { status: "ok" }, shutdown: { status: "ok" } } },
    })
    expect((await fetch(`${host.url}/api/graphs`)).status).toBe(401)
  })
})

describe("readiness when shutting down", () => {
  it("is unavailable, naming the shutdown check", async () => {
    const db = await createDatabase("pglite")
    const runtime = ManagedRuntime.make(db.layer())
    try {
      let closing = false
      const check = await runtime.runPromise(
        Health.make({ queue: "inline", shuttingDown: Effect.sync(() => closing) }),
      )
      expect((await runtime.runPromise(check)).status).toBe("ready")
      closing = true
      expect(await runtime.runPromise(check)).toEqual({
        status: "unavailable",
        checks: {
          database: { status: "ok" },
          shutdown: { status: "fail", reason: "the server is shutting down" },
        },
      })
    } finally {
      await runtime.dispose()
      await db.drop()
    }
  })
})

describe("on Postgres (inline)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let host: RunningHost
  beforeAll(async () => {
    db = await freshDatabase("ops_health")
    host = await startTestHost({ databaseUrl: db.url })
  })
  afterAll(async () => {
    await host?.close()
    await db?.drop()
  })

  it("is ready while the database answers, and unavailable (503, database) once it is gone", async () => {
    const ready = await readyz(host.url)
    expect(ready).toEqual({
      status: 200,
      body: { status: "ready", checks: { database: { status: "ok" }, shutdown: { status: "ok" } } },
    })
    const name = new URL(db.url).pathname.slice(1)
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    try {
      await admin.unsafe(`DROP DATABASE ${name} WITH (FORCE)`)
    } finally {
      await admin.end({ timeout: 5 })
    }
    const gone = await readyz(host.url)
    expect(gone.status).toBe(503)
    expect(gone.body.status).toBe("unavailable")
    expect(gone.body.checks.database?.status).toBe("fail")
    expect(gone.body.checks.database?.reason).toMatch(/database query failed|no answer within/)
    // The reason is ours: nothing of the database's own message (names, addresses) is exposed.
    expect(JSON.stringify(gone.body)).not.toContain(name)
    // Still alive: the process answers.
    expect(await healthz(host.url)).toEqual({ status: 200, body: { status: "ok" } })
  })
})

describe("on Postgres (worker mode)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let host: RunningHost
  beforeAll(async () => {
    db = await freshDatabase("ops_health_workers")
    host = await startTestHost({ databaseUrl: db.url, queue: "workers" })
  })
  afterAll(async () => {
    await host?.close()
    await db?.drop()
  })

  it("checks the graphile-worker queue too, and names it when it cannot be read", async () => {
    expect(await readyz(host.url)).toEqual({
      status: 200,
      body: {
        status: "ready",
        checks: { database: { status: "ok" }, queue: { status: "ok" }, shutdown: { status: "ok" } },
      },
    })
    const sql = postgres(db.url, { max: 1, onnotice: () => {} })
    try {
      await sql.unsafe("DROP SCHEMA graphile_worker CASCADE")
    } finally {
      await sql.end({ timeout: 5 })
    }
    const broken = await readyz(host.url)
    expect(broken.status).toBe(503)
    expect(broken.body.checks).toEqual({
      database: { status: "ok" },
      queue: { status: "fail", reason: "the graphile_worker queue could not be read" },
      shutdown: { status: "ok" },
    })
    expect((await healthz(host.url)).status).toBe(200)
  })
})
