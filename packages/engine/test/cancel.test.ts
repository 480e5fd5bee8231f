import { Deferred, Effect, Fiber, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Block, Executor, makeMemory, runGraph } from "../src/index.js"
import { countStatus, graph, harness } from "./support.js"

const started: Array<string> = []
const finalized: Array<string> = []
const aborted: Array<string> = []

/** Runs until aborted; records that its signal fired and its finalizer ran. */
const Forever = Block.make({
  id: "t/forever",
  title: "Forever",
  description: "Never finishes on its own.",
  categories: ["test"],
  input: Schema.Struct({ label: Schema.String }),
  output: Schema.Struct({ value: Schema.Unknown }),
  run: ({ label }, ctx) =>
    Effect.callback<Record<string, never>>(() => {
      started.push(label)
      ctx.signal.addEventListener("abort", () => aborted.push(label))
      return Effect.sync(() => finalized.push(label))
    }),
})

describe("cancellation", () => {
  it("W4 R14: cancel interrupts in-flight blocks (signal + finalizer) and ends everything TERMINATED within 1 s", async () => {
    started.length = 0
    finalized.length = 0
    aborted.length = 0
    const g = graph(
      [
        ["a", "t/forever", { label: "a" }],
        ["b", "t/forever", { label: "b" }],
        ["after", "t/pass"],
        ["out", "t/output", { name: "out" }],
      ],
      ["a.value -> after.value", "after.value -> out.value"],
    )
    const h = harness({ extra: [Forever] })
    const out = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(g)
        const collected = yield* Effect.forkChild(Stream.runCollect(handle.events))
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 30)))
        const t0 = Date.now()
        yield* handle.cancel
        const result = yield* handle.await
        const elapsed = Date.now() - t0
        return { result, elapsed, events: yield* Fiber.join(collected) }
      }),
    )
    expect(out.result.status).toBe("TERMINATED")
    expect(out.elapsed).toBeLessThan(1000)
    expect(started.sort()).toEqual(["a", "b"])
    expect(aborted.sort()).toEqual(["a", "b"])
    expect(finalized.sort()).toEqual(["a", "b"])
    expect(countStatus(out.events, "a", "TERMINATED")).toBe(1)
    expect(countStatus(out.events, "b", "TERMINATED")).toBe(1)
    expect(countStatus(out.events, "after", "RUNNING")).toBe(0)
    expect(out.events.at(-1)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
    const snapshot = await Effect.runPromise(h.store.load(out.result.runId))
    expect(snapshot.run.status).toBe("TERMINATED")
    expect(snapshot.executions.every((e) => e.status === "TERMINATED")).toBe(true)
  })

  it("W4: aborting runGraph's signal cancels a plain-TS run", async () => {
    const controller = new AbortController()
    const g = graph([["s", "t/sleep", { ms: 10_000 }]])
    setTimeout(() => controller.abort(), 20)
    const t0 = Date.now()
    const result = await runGraph(g, {
      blocks: [(await import("./support.js")).testBlocks],
      signal: controller.signal,
    })
    expect(result.status).toBe("TERMINATED")
    expect(Date.now() - t0).toBeLessThan(1000)
  })

  it("W4: closing the executor's scope is a shutdown, not a cancel: the run stays RUNNING in the store", async () => {
    const h = harness({ extra: [Forever] })
    const g = graph([["a", "t/forever", { label: "shutdown" }]])
    const runId = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const ready = yield* Deferred.make<void>()
        const handle = yield* executor.start(g)
        yield* Effect.forkChild(
          Stream.runForEach(handle.events, (e) =>
            e.type === "NodeStatus" && e.status === "RUNNING"
              ? Deferred.succeed(ready, undefined)
              : Effect.void,
          ),
        )
        yield* Deferred.await(ready)
        return handle.runId
      }),
    )
    const snapshot = await Effect.runPromise(h.store.load(runId))
    expect(snapshot.run.status).toBe("RUNNING")
    expect(snapshot.executions.map((e) => e.status)).toEqual(["RUNNING"])
  })

  it("W4: cancel of a run left RUNNING by a stopped process terminates it in the store", async () => {
    const store = makeMemory()
    const g = graph([["a", "t/forever", { label: "left" }]])
    const first = harness({ extra: [Forever], store })
    const runId = await first.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(g)
        yield* Stream.runForEach(
          Stream.takeUntil(handle.events, (e) => e.type === "NodeStatus" && e.status === "RUNNING"),
          () => Effect.void,
        )
        return handle.runId
      }),
    )
    expect((await Effect.runPromise(store.load(runId))).run.status).toBe("RUNNING")
    // Another executor on the same store (the next process) cancels it without driving it.
    started.length = 0
    await harness({ extra: [Forever], store }).run(
      Effect.flatMap(Executor, (executor) => executor.cancel(runId)),
    )
    const snapshot = await Effect.runPromise(store.load(runId))
    expect(snapshot.run.status).toBe("TERMINATED")
    expect(snapshot.executions.map((e) => e.status)).toEqual(["TERMINATED"])
    expect(started).toEqual([])
  })

  it("W4: release stops driving a live run without cancelling it; a resume finishes it", async () => {
    const g = graph([["a", "t/forever", { label: "released" }]])
    const h = harness({ extra: [Forever] })
    const { status, aborts } = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        aborted.length = 0
        const handle = yield* executor.start(g)
        yield* Stream.runForEach(
          Stream.takeUntil(handle.events, (e) => e.type === "NodeStatus" && e.status === "RUNNING"),
          () => Effect.void,
        )
        yield* executor.release(handle.runId)
        const snapshot = yield* h.store.load(handle.runId)
        return { status: snapshot.run.status, aborts: [...aborted] }
      }),
    )
    expect(status).toBe("RUNNING")
    // The block's fiber was interrupted (it saw its signal), but nothing was recorded as TERMINATED.
    expect(aborts).toEqual(["released"])
  })
})
