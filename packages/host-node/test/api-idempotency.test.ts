/**
 * Idempotent start through HTTP (reliability 5), on PGlite (inline), Postgres inline and Postgres with
 * workers: 100 parallel `POST /api/graphs/:id/runs` with one `Idempotency-Key` make exactly one run (one
 * row, one request, one job, one execution per node), all answers are `201` with the same id, and exactly
 * one says `existing: false`. A key is scoped to its user: another user's same key makes another run, and
 * cannot reach the first user's graph or run. A repeated key with different inputs, or on another graph, is
 * refused (422, naming `Idempotency-Key`) and starts nothing; the same request again is a repeat; a repeated key with a body that is invalid is refused (400) before the key is looked at.
 */
import { PGlite } from "@electric-sql/pglite"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningHost } from "../src/Host.js"
import { type RunningWorker, startWorker } from "../src/Worker.js"
import {
  client,
  eventFrames,
  freshDatabase,
  helloGraph,
  readSse,
  type Session,
  signUp,
  startTestHost,
  tempDir,
} from "./api-support.js"
import { until } from "./support/workers.js"

const PARALLEL = 100

type Mode = "pglite" | "postgres inline" | "postgres workers"
const modes: ReadonlyArray<Mode> = ["pglite", "postgres inline", "postgres workers"]

interface Started {
  readonly id: string
  readonly existing: boolean
}

interface RunView {
  readonly id: string
  readonly graphId: string
  readonly status: string
  readonly inputs: Record<string, unknown>
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly executions: ReadonlyArray<{ nodeId: string; status: string }>
}

/** What the database holds about runs: one row per run, one per idempotent request. */
interface Stored {
  readonly runs: ReadonlyArray<{ id: string; owner_id: string; graph_id: string }>
  readonly requests: ReadonlyArray<{ owner_id: string; idempotency_key: string; run_id: string }>
}

describe.each(modes)("idempotent start on %s", (mode) => {
  const dir = tempDir("idem")
  let db: Awaited<ReturnType<typeof freshDatabase>> | undefined
  let sql: postgres.Sql | undefined
  let host: RunningHost
  let worker: RunningWorker | undefined
  let alice: Session
  let bob: Session
  /** Every run the answers named, by owner: the database must hold exactly these at the end. */
  const made = new Map<string, string>()

  beforeAll(async () => {
    if (mode === "pglite") {
      host = await startTestHost({ dataDir: dir.dir })
    } else {
      db = await freshDatabase("idem")
      host = await startTestHost({
        databaseUrl: db.url,
        queue: mode === "postgres workers" ? "workers" : "inline",
      })
      sql = postgres(db.url, { max: 2, onnotice: () => {} })
    }
    alice = await signUp(host.url, "alice")
    bob = await signUp(host.url, "bob")
  }, 60_000)

  afterAll(async () => {
    await worker?.close()
    await host?.close()
    await sql?.end({ timeout: 5 })
    await db?.drop()
    dir.dispose()
  })

  /** Makes sure runs of the worker mode get driven (a worker in this process) from now on. */
  const ensureWorker = async () => {
    if (mode !== "postgres workers" || worker !== undefined || db === undefined) return
    worker = await startWorker({
      databaseUrl: db.url,
      id: "idem-worker",
      heartbeatInterval: "200 millis",
      pollInterval: "300 millis",
    })
  }

  const startMany = (session: Session, graphId: string, n: number, key: string, body: unknown) =>
    Promise.all(
      Array.from({ length: n }, () =>
        client(host.url, session).post<Started>(`/api/graphs/${graphId}/runs`, body, {
          "idempotency-key": key,
        }),
      ),
    )

  const createGraph = async (session: Session, graph: unknown = helloGraph()) => {
    const created = await client(host.url, session).post<{ id: string }>("/api/graphs", graph)
    expect(created.status).toBe(201)
    return created.body.id
  }

  /** Waits for the run to end (its event stream ends with it) and answers it. */
  const finished = async (session: Session, runId: string) => {
    const sse = await readSse(`${host.url}/api/runs/${runId}/events`, { headers: session.headers })
    expect(sse.status).toBe(200)
    expect(eventFrames(sse.frames).at(-1)?.data).toMatchObject({ type: "RunStatus", status: "COMPLETED" })
    return (await client(host.url, session).get<RunView>(`/api/runs/${runId}`)).body
  }

  it(`${PARALLEL} parallel starts with one key make exactly one run, which runs once`, async () => {
    const graphId = await createGraph(alice)
    const key = `once-${crypto.randomUUID()}`
    const answers = await startMany(alice, graphId, PARALLEL, key, { inputs: { topic: "once" } })
    // 201 for the first start and for every repeat alike; only `existing` tells them apart.
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201))
    const ids = [...new Set(answers.map((a) => a.body.id))]
    expect(ids).toHaveLength(1)
    const runId = ids[0] as string
    expect(answers.filter((a) => a.body.existing === false)).toHaveLength(1)
    expect(answers.filter((a) => a.body.existing === true)).toHaveLength(PARALLEL - 1)
    made.set(runId, alice.userId)

    if (sql !== undefined) {
      expect(await sql`SELECT id, owner_id FROM runs WHERE graph_id = ${graphId}`).toEqual([
        { id: runId, owner_id: alice.userId },
      ])
      expect(await sql`SELECT owner_id, run_id FROM run_requests WHERE idempotency_key = ${key}`).toEqual([
        { owner_id: alice.userId, run_id: runId },
      ])
    }
    if (mode === "postgres workers" && sql !== undefined) {
      // Enqueued once: one job, keyed by the run, before any worker exists.
      expect(await sql`SELECT key, task_identifier FROM graphile_worker.jobs`).toEqual([
        { key: runId, task_identifier: "weft_run" },
      ])
      await ensureWorker()
    }
    const run = await finished(alice, runId)
    expect(run).toMatchObject({
      id: runId,
      graphId,
      status: "COMPLETED",
      outputs: { greeting: ["Hello, once!"] },
    })
    // Driven once: one execution per node.
    expect(run.executions.map((e) => [e.nodeId, e.status])).toEqual([
      ["in", "COMPLETED"],
      ["fill", "COMPLETED"],
      ["out", "COMPLETED"],
    ])
    const list = await client(host.url, alice).get<ReadonlyArray<{ id: string }>>(
      `/api/runs?graphId=${graphId}`,
    )
    expect(list.body.map((r) => r.id)).toEqual([runId])

    // A later start with the key, after the run has finished, still answers it and starts nothing.
    const again = await startMany(alice, graphId, 1, key, { inputs: { topic: "once" } })
    expect(again.map((a) => [a.status, a.body])).toEqual([[201, { id: runId, existing: true }]])
    if (mode === "postgres workers" && sql !== undefined) {
      expect(await sql`SELECT key FROM graphile_worker.jobs`).toEqual([])
    }
  })

  it("the same key used by another user makes that user's own run, and reaches nothing of the first", async () => {
    await ensureWorker()
    const aliceGraph = await createGraph(alice)
    const bobGraph = await createGraph(bob)
    const key = `shared-${crypto.randomUUID()}`
    const first = await startMany(alice, aliceGraph, 1, key, { inputs: { topic: "alice" } })
    const aliceRun = first[0]?.body.id as string
    made.set(aliceRun, alice.userId)
    // Both users race with the key at once.
    const [fromAlice, fromBob] = await Promise.all([
      startMany(alice, aliceGraph, PARALLEL / 2, key, { inputs: { topic: "alice" } }),
      startMany(bob, bobGraph, PARALLEL / 2, key, { inputs: { topic: "bob" } }),
    ])
    expect(fromAlice.map((a) => [a.status, a.body])).toEqual(
      fromAlice.map(() => [201, { id: aliceRun, existing: true }]),
    )
    expect(fromBob.map((a) => a.status)).toEqual(fromBob.map(() => 201))
    const bobIds = [...new Set(fromBob.map((a) => a.body.id))]
    expect(bobIds).toHaveLength(1)
    const bobRun = bobIds[0] as string
    expect(bobRun).not.toBe(aliceRun)
    expect(fromBob.filter((a) => !a.body.existing)).toHaveLength(1)
    made.set(bobRun, bob.userId)

    // Bob's key on Alice's graph is a graph Bob cannot see: 404, not Alice's run id.
    const intruder = await startMany(bob, aliceGraph, 1, key, { inputs: { topic: "bob" } })
    expect(intruder.map((a) => a.status)).toEqual([404])
    expect(JSON.stringify(intruder[0]?.body)).not.toContain(aliceRun)
    // Each run is its owner's only.
    expect((await client(host.url, bob).get(`/api/runs/${aliceRun}`)).status).toBe(404)
    expect((await client(host.url, alice).get(`/api/runs/${bobRun}`)).status).toBe(404)
    expect((await finished(bob, bobRun)).outputs).toEqual({ greeting: ["Hello, bob!"] })
    expect((await finished(alice, aliceRun)).outputs).toEqual({ greeting: ["Hello, alice!"] })
  })

  it("a repeated key with another body, or on another graph, is refused (422) and starts nothing", async () => {
    await ensureWorker()
    const graphId = await createGraph(alice)
    const otherGraph = await createGraph(alice, helloGraph("Other"))
    const key = `body-${crypto.randomUUID()}`
    const first = await startMany(alice, graphId, 1, key, { inputs: { topic: "first" } })
    expect(first.map((a) => [a.status, a.body.existing])).toEqual([[201, false]])
    const runId = first[0]?.body.id as string
    made.set(runId, alice.userId)

    // Other inputs, same key: refused, naming the header; the first run is untouched.
    const changed = await startMany(alice, graphId, 10, key, { inputs: { topic: "second" } })
    expect(changed.map((a) => [a.status, Object.keys((a.body as { fields?: object }).fields ?? {})])).toEqual(
      changed.map(() => [422, ["Idempotency-Key"]]),
    )
    // Another graph, same key: refused too.
    const elsewhere = await startMany(alice, otherGraph, 1, key, { inputs: { topic: "third" } })
    expect(elsewhere.map((a) => a.status)).toEqual([422])
    // The same request again is a repeat.
    const same = await startMany(alice, graphId, 1, key, { inputs: { topic: "first" } })
    expect(same.map((a) => [a.status, a.body])).toEqual([[201, { id: runId, existing: true }]])
    // An invalid body is refused before the key is looked at: 400, naming the input.
    const invalid = await startMany(alice, graphId, 1, key, { inputs: { topic: "x", colour: "red" } })
    expect(invalid.map((a) => [a.status, (a.body as { fields?: unknown }).fields])).toEqual([
      [400, { "inputs.colour": "unknown input" }],
    ])

    const run = await finished(alice, runId)
    expect(run).toMatchObject({
      graphId,
      inputs: { topic: "first" },
      outputs: { greeting: ["Hello, first!"] },
    })
    const api = client(host.url, alice)
    expect((await api.get<ReadonlyArray<unknown>>(`/api/runs?graphId=${otherGraph}`)).body).toEqual([])
    expect(
      (await api.get<ReadonlyArray<{ id: string }>>(`/api/runs?graphId=${graphId}`)).body.map((r) => r.id),
    ).toEqual([runId])
  })

  it("the database holds exactly the runs the answers named, and one request per user and key", async () => {
    let stored: Stored
    if (sql !== undefined) {
      stored = {
        runs: await sql`SELECT id, owner_id, graph_id FROM runs`,
        requests: await sql`SELECT owner_id, idempotency_key, run_id FROM run_requests`,
      }
    } else {
      // PGlite: one instance per directory, so close the host and read its directory.
      await host.close()
      const pg = await PGlite.create({ dataDir: dir.dir })
      try {
        stored = {
          runs: (await pg.query<Stored["runs"][number]>("SELECT id, owner_id, graph_id FROM runs")).rows,
          requests: (
            await pg.query<Stored["requests"][number]>(
              "SELECT owner_id, idempotency_key, run_id FROM run_requests",
            )
          ).rows,
        }
      } finally {
        await pg.close()
      }
    }
    const sorted = (pairs: Array<[string, string]>) => pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const expectedRuns = sorted([...made.entries()])
    expect(sorted(stored.runs.map((r) => [r.id, r.owner_id ?? ""]))).toEqual(expectedRuns)
    // Every run here was started with a key: one request row each.
    expect(sorted(stored.requests.map((r) => [r.run_id, r.owner_id]))).toEqual(expectedRuns)
    expect(new Set(stored.requests.map((r) => `${r.owner_id} ${r.idempotency_key}`)).size).toBe(
      stored.requests.length,
    )
    const pg = sql
    if (mode === "postgres workers" && pg !== undefined) {
      await until(
        async () => ((await pg`SELECT run_id FROM run_leases`).length === 0 ? true : undefined),
        5_000,
        "the leases to be released",
      )
      expect(await pg`SELECT key FROM graphile_worker.jobs`).toEqual([])
    }
  })
})
