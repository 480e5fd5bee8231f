import { coreBlocks } from "@weft/blocks"
import { BlockRegistry, Executor, type Graph, RunStore } from "@weft/engine"
import { Cause, Effect, Exit, Layer, type ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RunQueries } from "../src/index.js"
import { createDatabase, drivers, rows, type Stores, storesRuntime, type TestDatabase } from "./support/db.js"

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

/** input(name) → output(echo). */
const echoGraph: Graph = {
  id: "echo-graph",
  version: 1,
  name: "Echo",
  nodes: [
    { id: "in", blockId: "weft/io/agent-input", inputDefault: { name: "name" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "echo" } },
  ],
  links: [{ sourceId: "in", sourceName: "result", sinkId: "out", sinkName: "value" }],
}

const executor = Executor.layer().pipe(Layer.provide(BlockRegistry.layer([coreBlocks])), Layer.orDie)

describe.each(drivers)("RunQueries on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Stores, never>
  const queries = <A, E>(f: (q: RunQueries["Service"]) => Effect.Effect<A, E>) =>
    runtime.runPromise(RunQueries.use(f))
  const queriesExit = <A, E>(f: (q: RunQueries["Service"]) => Effect.Effect<A, E>) =>
    runtime.runPromiseExit(RunQueries.use(f))
  let n = 0
  const newId = (prefix: string) => `${prefix}-${driver}-${++n}-${Math.random().toString(36).slice(2, 8)}`

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = storesRuntime(db)
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  it("reliability 5: 100 parallel claims with one idempotency key make exactly one run", async () => {
    const key = newId("key")
    const claims = await Promise.all(
      Array.from({ length: 100 }, () =>
        queries((q) =>
          q.claim("alice", {
            runId: crypto.randomUUID(),
            graphId: "g",
            graphVersion: 1,
            idempotencyKey: key,
          }),
        ),
      ),
    )
    const runIds = new Set(claims.map((c) => c.runId))
    expect(runIds.size).toBe(1)
    expect(claims.filter((c) => !c.existing)).toHaveLength(1)
    const [runId] = [...runIds]
    expect(
      await rows(
        runtime,
        "SELECT idempotency_key, run_id FROM run_requests WHERE owner_id = 'alice' AND idempotency_key = $1",
        [key],
      ),
    ).toEqual([{ idempotency_key: key, run_id: runId }])
    expect(
      await rows(
        runtime,
        "SELECT id, owner_id, status FROM runs WHERE id IN (SELECT run_id FROM run_requests WHERE idempotency_key = $1)",
        [key],
      ),
    ).toEqual([{ id: runId, owner_id: "alice", status: "QUEUED" }])
    // Later claims with the key keep answering with the same run.
    const later = await queries((q) =>
      q.claim("alice", { runId: crypto.randomUUID(), graphId: "g", graphVersion: 1, idempotencyKey: key }),
    )
    expect(later).toEqual({ runId, existing: true })
  })

  it("scopes idempotency keys to their owner, and claims without a key are all new", async () => {
    const key = newId("shared-key")
    const a = await queries((q) =>
      q.claim("alice", { runId: newId("r"), graphId: "g", graphVersion: 1, idempotencyKey: key }),
    )
    const b = await queries((q) =>
      q.claim("bob", { runId: newId("r"), graphId: "g", graphVersion: 1, idempotencyKey: key }),
    )
    expect(a.existing || b.existing).toBe(false)
    expect(a.runId).not.toBe(b.runId)
    const plain = await Promise.all(
      Array.from({ length: 5 }, () =>
        queries((q) => q.claim("alice", { runId: newId("plain"), graphId: "g", graphVersion: 1 })),
      ),
    )
    expect(new Set(plain.map((c) => c.runId)).size).toBe(5)
    expect(plain.every((c) => !c.existing)).toBe(true)
  })

  it("refuses a run id that is taken, leaving no request behind", async () => {
    const runId = newId("taken")
    await queries((q) => q.claim("alice", { runId, graphId: "g", graphVersion: 1 }))
    const key = newId("key")
    const exit = await queriesExit((q) =>
      q.claim("bob", { runId, graphId: "g", graphVersion: 1, idempotencyKey: key }),
    )
    expect(failureOf(exit)).toMatchObject({ _tag: "RunConflict", runId })
    expect(await rows(runtime, "SELECT 1 FROM run_requests WHERE idempotency_key = $1", [key])).toEqual([])
    expect(await rows(runtime, "SELECT owner_id FROM runs WHERE id = $1", [runId])).toEqual([
      { owner_id: "alice" },
    ])
  })

  it("keeps the claim's inputs, runs andThen in the claim's transaction, and rolls both back together", async () => {
    const runId = newId("then")
    const seen: Array<string> = []
    await queries((q) =>
      q.claim("alice", { runId, graphId: "g", graphVersion: 1, inputs: { name: "Ada" } }, (tx, claimed) =>
        Effect.asVoid(
          Effect.tap(tx.query("SELECT count(*)::int AS n FROM runs WHERE id = $1", [claimed]), (found) =>
            Effect.sync(() => seen.push(`${claimed}:${JSON.stringify(found)}`)),
          ),
        ),
      ),
    )
    // andThen saw the new row inside the transaction.
    expect(seen).toEqual([`${runId}:[{"n":1}]`])
    expect(await rows(runtime, "SELECT inputs FROM runs WHERE id = $1", [runId])).toEqual([
      { inputs: { name: "Ada" } },
    ])
    expect(await queries((q) => q.unstarted)).toContain(runId)

    // A failing andThen (the job could not be added) leaves neither the run nor its idempotency key.
    const failed = newId("then-failed")
    const key = newId("key")
    const exit = await queriesExit((q) =>
      q.claim("alice", { runId: failed, graphId: "g", graphVersion: 1, idempotencyKey: key }, (tx) =>
        Effect.asVoid(tx.query("SELECT * FROM no_such_table")),
      ),
    )
    expect(failureOf(exit)).toMatchObject({ _tag: "SqlError" })
    expect(await rows(runtime, "SELECT 1 FROM runs WHERE id = $1", [failed])).toEqual([])
    expect(await rows(runtime, "SELECT 1 FROM run_requests WHERE idempotency_key = $1", [key])).toEqual([])
  })

  it("gets a run with its executions and outputs, for its owner only", async () => {
    const owner = newId("getter")
    const runId = newId("echo")
    await queries((q) => q.claim(owner, { runId, graphId: "stored-echo", graphVersion: 2 }))
    const queued = await queries((q) => q.get(owner, runId))
    expect(queued).toMatchObject({
      run: { id: runId, status: "QUEUED", lastSeq: 0, inputs: {} },
      executions: [],
      outputs: {},
    })
    expect(queued.run.graph).toBeUndefined()

    const result = await runtime.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const exec = yield* Executor
          return yield* (yield* exec.start(echoGraph, { runId, inputs: { name: "owl" } })).await
        }).pipe(Effect.provide(executor)),
      ),
    )
    expect(result.status).toBe("COMPLETED")

    const view = await queries((q) => q.get(owner, runId))
    const snapshot = await runtime.runPromise(RunStore.use((s) => s.load(runId)))
    expect(view.outputs).toEqual({ echo: ["owl"] })
    expect(view.executions).toEqual(snapshot.executions)
    expect(view.executions.map((e) => [e.nodeId, e.status])).toEqual([
      ["in", "COMPLETED"],
      ["out", "COMPLETED"],
    ])
    expect(view.run).toEqual({
      id: runId,
      graphId: "stored-echo",
      graphVersion: 2,
      status: "COMPLETED",
      cost: 0,
      createdAt: snapshot.run.createdAt,
      updatedAt: snapshot.run.updatedAt,
      lastSeq: snapshot.run.lastSeq,
      inputs: { name: "owl" },
      options: {},
      graph: echoGraph,
    })
    const outputs = await queries((q) => q.nodeOutputs(owner, runId))
    expect(outputs).toEqual(snapshot.outputs)
    expect(outputs.map((o) => [o.nodeId, o.pin, o.value])).toEqual([
      ["in", "result", "owl"],
      ["out", "output", "owl"],
      ["out", "name", "echo"],
    ])

    expect(await queries((q) => q.owns(owner, runId))).toBe(true)
    expect(await queries((q) => q.owns("mallory", runId))).toBe(false)
    expect(await queries((q) => q.ownerOf(runId))).toBe(owner)
    for (const exit of [
      await queriesExit((q) => q.get("mallory", runId)),
      await queriesExit((q) => q.nodeOutputs("mallory", runId)),
      await queriesExit((q) => q.get(owner, newId("missing"))),
      await queriesExit((q) => q.ownerOf(newId("missing"))),
    ]) {
      expect(failureOf(exit)).toMatchObject({ _tag: "RunNotFound" })
    }
  })

  it("lists the owner's runs newest first, by graph, with a limit, without sub-graph runs", async () => {
    const owner = newId("lister")
    const ids: Array<string> = []
    for (const graphId of ["ga", "gb", "ga"]) {
      const runId = newId("listed")
      ids.push(runId)
      await queries((q) => q.claim(owner, { runId, graphId, graphVersion: 1 }))
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const child = newId("child")
    await rows(
      runtime,
      "INSERT INTO runs (id, owner_id, graph_id, graph_version, status, parent_run_id) VALUES ($1, $2, 'ga', 1, 'RUNNING', $3)",
      [child, owner, ids[0]],
    )
    await queries((q) =>
      q.claim(newId("someone-else"), { runId: newId("other"), graphId: "ga", graphVersion: 1 }),
    )

    const all = await queries((q) => q.list(owner))
    expect(all.map((r) => r.id)).toEqual([ids[2], ids[1], ids[0]])
    expect(all[0]).toMatchObject({ graphId: "ga", graphVersion: 1, status: "QUEUED", cost: 0, lastSeq: 0 })
    expect((await queries((q) => q.list(owner, { graphId: "ga" }))).map((r) => r.id)).toEqual([
      ids[2],
      ids[0],
    ])
    expect((await queries((q) => q.list(owner, { limit: 1 }))).map((r) => r.id)).toEqual([ids[2]])
    const withChildren = await queries((q) => q.list(owner, { includeChildren: true }))
    expect(withChildren.find((r) => r.id === child)).toMatchObject({ parentRunId: ids[0], status: "RUNNING" })
    expect(await queries((q) => q.list(newId("nobody")))).toEqual([])
  })
})
