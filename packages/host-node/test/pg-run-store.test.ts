import { coreBlocks } from "@weft/blocks"
import {
  Block,
  BlockRegistry,
  type CommitBatch,
  Executor,
  type Graph,
  makeMemory,
  type PersistedEvent,
  type RunEvent,
  type RunRecord,
  RunStore,
  type RunStoreShape,
} from "@weft/engine"
import { Cause, Effect, Exit, Layer, type ManagedRuntime, Schema, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CommitNotice, PgRunStore, RunQueries } from "../src/index.js"
import { createDatabase, drivers, rows, type Stores, storesRuntime, type TestDatabase } from "./support/db.js"

/** Yields each item of `items` on `item`. */
const Each = Block.make({
  id: "test/each",
  title: "Each",
  description: "Yields each item.",
  categories: ["test"],
  input: Schema.Struct({ items: Schema.Array(Schema.Unknown) }),
  output: Schema.Struct({ item: Schema.Unknown }),
  *run({ items }) {
    for (const item of items) yield ["item", item] as const
  },
})

const testBlocks = Block.set("test", [Each])

/** input(words) → each → template "<{{ w }}>" → output(wrapped): three executions of the template. */
const wordsGraph = (id: string): Graph => ({
  id,
  version: 1,
  name: "Words",
  nodes: [
    { id: "words", blockId: "weft/io/agent-input", inputDefault: { name: "words" } },
    { id: "each", blockId: "test/each" },
    { id: "tpl", blockId: "weft/text/fill-text-template", inputDefault: { format: "<{{ w }}>" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "wrapped" } },
  ],
  links: [
    { sourceId: "words", sourceName: "result", sinkId: "each", sinkName: "items" },
    { sourceId: "each", sourceName: "item", sinkId: "tpl", sinkName: "values_#_w" },
    { sourceId: "tpl", sourceName: "output", sinkId: "out", sinkName: "value" },
  ],
})

const executorWith = (store?: RunStoreShape) => {
  const base = Executor.layer().pipe(Layer.provide(BlockRegistry.layer([coreBlocks, testBlocks])))
  return Layer.orDie(store === undefined ? base : Layer.provide(base, Layer.succeed(RunStore, store)))
}

/** Commits to both stores; reads from `b`. */
const tee = (a: RunStoreShape, b: RunStoreShape): RunStoreShape => ({
  commit: (runId, batch) => Effect.andThen(a.commit(runId, batch), b.commit(runId, batch)),
  load: b.load,
  events: b.events,
  unfinished: b.unfinished,
})

const persisted = (events: ReadonlyArray<RunEvent>) =>
  events.filter((e): e is PersistedEvent => e.type !== "NodeProgress")

const GRAPH: Graph = { id: "g-synthetic", version: 2, name: "Synthetic", nodes: [], links: [] }

const runRecord = (id: string, extra: Partial<RunRecord> = {}): RunRecord => ({
  id,
  graph: GRAPH,
  inputs: { x: 1 },
  status: "RUNNING",
  createdAt: 1_700_000_000_123,
  updatedAt: 1_700_000_000_456,
  outputs: {},
  cost: 0,
  lastSeq: 0,
  options: { safeMode: true },
  ...extra,
})

const logEvent = (runId: string, seq: number, message = `log ${seq}`): PersistedEvent => ({
  type: "NodeLog",
  runId,
  seq,
  at: 1_700_000_000_000 + seq,
  executionId: `${runId}.1`,
  nodeId: "n",
  level: "info",
  message,
})

const batch = (parts: Partial<CommitBatch>): CommitBatch => ({
  executions: [],
  outputs: [],
  events: [],
  ...parts,
})

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe.each(drivers)("PgRunStore on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Stores, never>
  const run = <A, E>(effect: Effect.Effect<A, E, Stores>) => runtime.runPromise(effect)
  const runExit = <A, E>(effect: Effect.Effect<A, E, Stores>) => runtime.runPromiseExit(effect)
  const store = () => run(RunStore.useSync((s) => s))
  let n = 0
  const newId = (prefix: string) => `${prefix}-${driver}-${++n}-${Math.random().toString(36).slice(2, 8)}`

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = storesRuntime(db)
    await run(Effect.void)
  })

  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  it("W6 W7: stores a real run exactly as the engine committed it", async () => {
    const pg = await store()
    const memory = makeMemory()
    const runId = newId("words")
    const graph = wordsGraph(newId("graph"))
    const { result, events } = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const executor = yield* Executor
          const handle = yield* executor.start(graph, { runId, inputs: { words: ["a", "b", "c"] } })
          const events = yield* Stream.runCollect(handle.events)
          return { result: yield* handle.await, events }
        }).pipe(Effect.provide(executorWith(tee(memory, pg)))),
      ),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ wrapped: ["<a>", "<b>", "<c>"] })

    // Everything the engine committed reads back identically to the in-memory store's copy.
    const fromPg = await run(pg.load(runId))
    const fromMemory = await Effect.runPromise(memory.load(runId))
    expect(fromPg).toEqual(fromMemory)
    expect(fromPg.executions.filter((e) => e.nodeId === "tpl")).toHaveLength(3)

    // The event log: contiguous from 1, equal to what subscribers saw, and last_seq kept with it.
    const published = persisted(events)
    const stored = await run(pg.events(runId, 0))
    expect(stored).toEqual(published)
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1))
    expect(await run(pg.events(runId, 5))).toEqual(published.slice(5))
    const [row] = await rows<{ status: string; last_seq: number; graph_id: string; graph_version: number }>(
      runtime,
      "SELECT status, last_seq, graph_id, graph_version FROM runs WHERE id = $1",
      [runId],
    )
    expect(row).toEqual({
      status: "COMPLETED",
      last_seq: published.length,
      graph_id: graph.id,
      graph_version: 1,
    })
    expect(fromPg.run.lastSeq).toBe(published.length)

    // One output row per NodeOutput event, keyed by (execution, index).
    const outputEvents = published.filter((e) => e.type === "NodeOutput")
    const outputRows = await rows(
      runtime,
      "SELECT execution_id, idx, pin, value, seq FROM node_outputs WHERE run_id = $1 ORDER BY seq",
      [runId],
    )
    expect(outputRows).toEqual(
      outputEvents.map((e) => ({
        execution_id: e.executionId,
        idx: e.index,
        pin: e.pin,
        value: e.value,
        seq: e.seq,
      })),
    )
  })

  it("W6: refuses a batch that leaves a gap or repeats a seq, and writes none of it", async () => {
    const pg = await store()
    const runId = newId("gap")
    await run(
      pg.commit(runId, batch({ run: runRecord(runId), events: [logEvent(runId, 1), logEvent(runId, 2)] })),
    )
    const execution = {
      id: `${runId}.1`,
      runId,
      nodeId: "n",
      blockId: "b",
      order: 1,
      status: "RUNNING" as const,
      inputs: {},
      outputCount: 0,
      attempts: 1,
      cost: 0,
      createdAt: 1,
    }
    const gap = await runExit(
      pg.commit(runId, batch({ executions: [execution], events: [logEvent(runId, 4)] })),
    )
    expect(failureOf(gap)).toMatchObject({ _tag: "StoreError", operation: "commit" })
    expect(String(failureOf(gap))).toContain("event seq 4, expected 3")
    const repeat = await runExit(
      pg.commit(runId, batch({ executions: [execution], events: [logEvent(runId, 2)] })),
    )
    expect(failureOf(repeat)).toMatchObject({ _tag: "StoreError" })
    const inner = await runExit(pg.commit(runId, batch({ events: [logEvent(runId, 3), logEvent(runId, 5)] })))
    expect(failureOf(inner)).toMatchObject({ _tag: "StoreError" })
    expect(await rows(runtime, "SELECT id FROM node_executions WHERE run_id = $1", [runId])).toEqual([])
    expect((await run(pg.events(runId, 0))).map((e) => e.seq)).toEqual([1, 2])
    expect((await run(pg.load(runId))).run.lastSeq).toBe(2)

    await run(pg.commit(runId, batch({ executions: [execution], events: [logEvent(runId, 3)] })))
    expect((await run(pg.events(runId, 0))).map((e) => e.seq)).toEqual([1, 2, 3])
    expect((await run(pg.load(runId))).executions.map((e) => e.id)).toEqual([execution.id])
  })

  it("refuses a commit to a run it has no record of", async () => {
    const pg = await store()
    const exit = await runExit(pg.commit(newId("ghost"), batch({ events: [logEvent("ghost", 1)] })))
    expect(String(failureOf(exit))).toContain("does not exist")
    const missing = await runExit(pg.load(newId("missing")))
    expect(failureOf(missing)).toMatchObject({ _tag: "RunNotFound" })
  })

  it("W6: serialises concurrent commits to one run", async () => {
    const pg = await store()
    const runId = newId("race")
    await run(pg.commit(runId, batch({ run: runRecord(runId) })))

    // Twenty writers all try to append seq 1: exactly one wins.
    const first = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runExit(pg.commit(runId, batch({ events: [logEvent(runId, 1, `writer ${i}`)] }))),
      ),
    )
    expect(first.filter(Exit.isSuccess)).toHaveLength(1)
    expect(await run(pg.events(runId, 0))).toHaveLength(1)

    // Twenty writers each append one event, retrying on refusal: every event lands once, contiguously.
    const append = (i: number): Effect.Effect<number, never, Stores> =>
      Effect.gen(function* () {
        const { run: record } = yield* Effect.orDie(pg.load(runId))
        const seq = record.lastSeq + 1
        const exit = yield* Effect.exit(
          pg.commit(runId, batch({ events: [logEvent(runId, seq, `append ${i}`)] })),
        )
        return Exit.isSuccess(exit) ? seq : yield* append(i)
      })
    const seqs = await run(
      Effect.all(
        Array.from({ length: 20 }, (_, i) => append(i)),
        { concurrency: "unbounded" },
      ),
    )
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2))
    const all = await run(pg.events(runId, 0))
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
    const messages = all.slice(1).map((e) => (e.type === "NodeLog" ? e.message : ""))
    expect([...messages].sort()).toEqual(Array.from({ length: 20 }, (_, i) => `append ${i}`).sort())
    const [row] = await rows<{ last_seq: number }>(runtime, "SELECT last_seq FROM runs WHERE id = $1", [
      runId,
    ])
    expect(row?.last_seq).toBe(21)
  })

  it("notifies weft_run_events with {runId, lastSeq} for each commit that appends events", async () => {
    const pg = await store()
    const runId = newId("notify")
    const notices: Array<CommitNotice> = []
    // On Postgres the listener has its own pool, like another host process.
    const listener = driver === "postgres" ? storesRuntime(db) : runtime
    try {
      await listener.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            yield* PgRunStore.listenCommits((notice) => {
              if (notice.runId === runId) notices.push(notice)
            })
            yield* Effect.promise(() =>
              run(
                Effect.gen(function* () {
                  yield* pg.commit(runId, batch({ run: runRecord(runId) }))
                  yield* pg.commit(runId, batch({ events: [logEvent(runId, 1), logEvent(runId, 2)] }))
                  yield* Effect.exit(pg.commit(runId, batch({ events: [logEvent(runId, 9)] })))
                  yield* pg.commit(runId, batch({ events: [logEvent(runId, 3)] }))
                }),
              ),
            )
            const until = Date.now() + 3000
            while (notices.length < 2 && Date.now() < until) yield* Effect.sleep(10)
            yield* Effect.sleep(100)
          }),
        ),
      )
    } finally {
      if (listener !== runtime) await listener.dispose()
    }
    expect(notices).toEqual([
      { runId, lastSeq: 2 },
      { runId, lastSeq: 3 },
    ])
    expect(PgRunStore.parseNotice("not json")).toBeUndefined()
    expect(PgRunStore.parseNotice(JSON.stringify({ runId: "r", lastSeq: 4 }))).toEqual({
      runId: "r",
      lastSeq: 4,
    })
  })

  it("keeps the owner, graph id and version of a claimed run; a child run takes its parent's owner", async () => {
    const runId = newId("claimed")
    const graph = wordsGraph(newId("graph-own-id"))
    await run(
      Effect.gen(function* () {
        const queries = yield* RunQueries
        yield* queries.claim("alice", { runId, graphId: "stored-graph", graphVersion: 7 })
      }),
    )
    const result = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const executor = yield* Executor
          return yield* (yield* executor.start(graph, { runId, inputs: { words: ["x"] } })).await
        }).pipe(Effect.provide(executorWith())),
      ),
    )
    expect(result.status).toBe("COMPLETED")
    const childId = `${runId}.2.sub1`
    const pg = await store()
    await run(
      pg.commit(
        childId,
        batch({ run: runRecord(childId, { parentRunId: runId, parentExecutionId: `${runId}.2` }) }),
      ),
    )
    expect(
      await rows(
        runtime,
        "SELECT id, owner_id, graph_id, graph_version, parent_run_id FROM runs WHERE id IN ($1, $2) ORDER BY id",
        [runId, childId],
      ),
    ).toEqual([
      { id: runId, owner_id: "alice", graph_id: "stored-graph", graph_version: 7, parent_run_id: null },
      {
        id: childId,
        owner_id: "alice",
        graph_id: GRAPH.id,
        graph_version: GRAPH.version,
        parent_run_id: runId,
      },
    ])
    const child = await run(pg.load(childId))
    expect(child.run).toEqual({
      ...runRecord(childId, { parentRunId: runId, parentExecutionId: `${runId}.2` }),
    })
  })

  it("lists unfinished runs that the executor recorded, and no others", async () => {
    const pg = await store()
    const running = newId("running")
    const done = newId("done")
    const claimedOnly = newId("claimed-only")
    await run(pg.commit(running, batch({ run: runRecord(running, { status: "RUNNING" }) })))
    await run(pg.commit(done, batch({ run: runRecord(done, { status: "COMPLETED" }) })))
    await run(RunQueries.use((q) => q.claim("bob", { runId: claimedOnly, graphId: "g", graphVersion: 1 })))
    const unfinished = await run(pg.unfinished())
    const ids = unfinished.map((r) => r.id)
    expect(ids).toContain(running)
    expect(ids).not.toContain(done)
    expect(ids).not.toContain(claimedOnly)
    expect(unfinished.find((r) => r.id === running)).toEqual(runRecord(running))
    expect(failureOf(await runExit(pg.load(claimedOnly)))).toMatchObject({ _tag: "RunNotFound" })
  })

  it("stores values jsonb cannot hold as they are, replacing NUL characters", async () => {
    const pg = await store()
    const runId = newId("values")
    const value = { text: "a\u0000b", emoji: "🦉", deep: [[{ k: null }]], big: 1e300, neg: -0.5 }
    const event: PersistedEvent = {
      type: "NodeOutput",
      runId,
      seq: 1,
      at: 5,
      executionId: `${runId}.1`,
      nodeId: "n",
      pin: "out",
      value,
      index: 0,
    }
    const execution = {
      id: `${runId}.1`,
      runId,
      nodeId: "n",
      blockId: "b",
      order: 1,
      status: "RUNNING" as const,
      inputs: { "values_#_k": "\u0000" },
      outputCount: 1,
      attempts: 1,
      cost: 0.25,
      createdAt: 1_700_000_000_001,
      startedAt: 1_700_000_000_002,
      review: { payload: { ask: "ok?" }, decision: { approved: true, message: "fine" } },
    }
    await run(
      pg.commit(
        runId,
        batch({
          run: runRecord(runId),
          executions: [execution],
          outputs: [{ runId, executionId: `${runId}.1`, nodeId: "n", index: 0, pin: "out", value, seq: 1 }],
          events: [event],
        }),
      ),
    )
    const snapshot = await run(pg.load(runId))
    const cleaned = { ...value, text: "a\uFFFDb" }
    expect(snapshot.outputs[0]?.value).toEqual(cleaned)
    expect(snapshot.executions).toEqual([{ ...execution, inputs: { "values_#_k": "\uFFFD" } }])
    expect(await run(pg.events(runId, 0))).toEqual([{ ...event, value: cleaned }])
  })
})
