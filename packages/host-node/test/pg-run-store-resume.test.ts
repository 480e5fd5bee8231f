/**
 * W7 on the SQL store: a worker stops mid-run (its executor and its pool or PGlite instance close, as when the
 * process dies), and a new executor on a new pool or instance resumes the run from the database.
 */
import { coreBlocks } from "@weft/blocks"
import { Block, BlockRegistry, Executor, type Graph, type PersistedEvent } from "@weft/engine"
import { Deferred, Effect, Layer, Schema, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createDatabase, drivers, rows, storesRuntime, type TestDatabase } from "./support/db.js"

/** While `hang` is true, gated blocks never finish: the worker "dies" under them. */
const state = { hang: true, calls: new Map<string, number>() }
const called = (key: string) => state.calls.set(key, (state.calls.get(key) ?? 0) + 1)

const Counted = Block.make({
  id: "test/counted",
  title: "Counted",
  description: "Counts its executions, then passes its value on.",
  categories: ["test"],
  input: Schema.Struct({ value: Schema.Unknown, key: Schema.String }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ value, key }) => {
    called(key)
    return { value }
  },
})

const Gated = Block.make({
  id: "test/gated",
  title: "Gated",
  description: "Yields `first` of its `total` outputs, then waits for the gate.",
  categories: ["test"],
  input: Schema.Struct({ total: Schema.Number, first: Schema.Number }),
  output: Schema.Struct({ n: Schema.Number }),
  async *run({ total, first }) {
    called("gated")
    for (let i = 1; i <= total; i++) {
      if (i === first + 1 && state.hang) await new Promise(() => {})
      yield ["n", i] as const
    }
  },
})

const executor = Executor.layer().pipe(
  Layer.provide(BlockRegistry.layer([coreBlocks, Block.set("test", [Counted, Gated])])),
  Layer.orDie,
)

const graph = (first: number): Graph => ({
  id: "resume-graph",
  version: 1,
  name: "Resume",
  nodes: [
    { id: "a", blockId: "test/counted", inputDefault: { value: 1, key: "a" } },
    { id: "gate", blockId: "test/gated", inputDefault: { total: 4, first } },
    { id: "b", blockId: "test/counted", inputDefault: { key: "b" } },
    { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "n" } },
    { id: "aOut", blockId: "weft/io/agent-output", inputDefault: { name: "a" } },
  ],
  links: [
    { sourceId: "a", sourceName: "value", sinkId: "aOut", sinkName: "value" },
    { sourceId: "gate", sourceName: "n", sinkId: "b", sinkName: "value" },
    { sourceId: "b", sourceName: "value", sinkId: "out", sinkName: "value" },
  ],
})

describe.each(drivers)("W7: crash and resume on %s", (driver) => {
  let db: TestDatabase

  beforeAll(async () => {
    db = await createDatabase(driver)
  })

  afterAll(async () => {
    await db?.drop()
  })

  it.each([1, 3])(
    "W7: a run stopped after %i output(s) of a node resumes on a new executor and database connection",
    async (outputsBefore) => {
      state.hang = true
      state.calls.clear()
      const runId = `resume-${driver}-${outputsBefore}`

      // The first worker: runs until `gate` has recorded `outputsBefore` outputs, then stops.
      const first = storesRuntime(db)
      await first.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const exec = yield* Executor
            const reached = yield* Deferred.make<void>()
            const handle = yield* exec.start(graph(outputsBefore), { runId })
            let seen = 0
            yield* Effect.forkChild(
              Stream.runForEach(handle.events, (e) =>
                e.type === "NodeOutput" && e.nodeId === "gate" && ++seen === outputsBefore
                  ? Deferred.succeed(reached, undefined)
                  : Effect.void,
              ),
            )
            yield* Deferred.await(reached)
            // Let the driver commit what the last output routed, then stop the worker.
            yield* Effect.sleep(30)
          }).pipe(Effect.provide(executor)),
        ),
      )
      await first.dispose()

      const before = storesRuntime(db)
      const stored = await rows<{ status: string }>(before, "SELECT status FROM runs WHERE id = $1", [runId])
      await before.dispose()
      expect(stored).toEqual([{ status: "RUNNING" }])
      expect(state.calls.get("a")).toBe(1)
      expect(state.calls.get("gated")).toBe(1)
      expect(state.calls.get("b")).toBe(outputsBefore)

      // The second worker: a new executor on a new pool (or a reopened PGlite directory).
      state.hang = false
      const second = storesRuntime(db)
      try {
        const result = await second.runPromise(
          Effect.scoped(
            Effect.gen(function* () {
              const exec = yield* Executor
              return yield* (yield* exec.resume(runId)).await
            }).pipe(Effect.provide(executor)),
          ),
        )
        expect(result.status).toBe("COMPLETED")
        expect(result.outputs).toEqual({ a: [1], n: [1, 2, 3, 4] })
        expect(state.calls.get("a")).toBe(1) // finished before the stop: not re-run
        expect(state.calls.get("gated")).toBe(2) // unfinished: run again, once
        expect(state.calls.get("b")).toBe(4) // one execution per value; those before the stop not repeated

        // Every (execution, output index) is stored exactly once, and matches exactly one NodeOutput event.
        const outputs = await rows<{
          execution_id: string
          idx: number
          node_id: string
          value: unknown
          seq: number
        }>(
          second,
          "SELECT execution_id, idx, node_id, value, seq FROM node_outputs WHERE run_id = $1 ORDER BY seq",
          [runId],
        )
        const keys = outputs.map((o) => `${o.execution_id}#${o.idx}`)
        expect(new Set(keys).size).toBe(keys.length)
        expect(outputs.filter((o) => o.node_id === "gate").map((o) => [o.idx, o.value])).toEqual([
          [0, 1],
          [1, 2],
          [2, 3],
          [3, 4],
        ])
        const events = (
          await rows<{ event: PersistedEvent }>(
            second,
            "SELECT event FROM run_events WHERE run_id = $1 ORDER BY seq",
            [runId],
          )
        ).map((r) => r.event)
        const outputEvents = events.filter((e) => e.type === "NodeOutput")
        expect(outputEvents.map((e) => `${e.executionId}#${e.index}`)).toEqual(keys)
        expect(outputEvents.map((e) => e.seq)).toEqual(outputs.map((o) => o.seq))
        // The log stays contiguous across the stop and the resume, and shows the gate's second attempt.
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
        expect(events.some((e) => e.type === "NodeAttempt" && e.nodeId === "gate")).toBe(true)
        const [run] = await rows<{ status: string; last_seq: number }>(
          second,
          "SELECT status, last_seq FROM runs WHERE id = $1",
          [runId],
        )
        expect(run).toEqual({ status: "COMPLETED", last_seq: events.length })
      } finally {
        await second.dispose()
      }
    },
  )
})
