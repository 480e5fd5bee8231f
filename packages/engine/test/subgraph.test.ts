import { Deferred, Effect, Fiber, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Block, Executor, makeMemory } from "../src/index.js"
import { graph, harness } from "./support.js"

/** An agent-executor block: runs a graph as a child run and re-emits its outputs on its own pins (R15). */
const Agent = Block.make({
  id: "t/agent",
  title: "Agent executor",
  description: "Runs another graph.",
  categories: ["agent"],
  openInputs: true,
  openOutputs: true,
  input: Schema.Struct({ graph_id: Schema.String, graph_version: Schema.optional(Schema.Number) }),
  output: Schema.Struct({}),
  run: ({ graph_id, graph_version, ...inputs }, ctx) =>
    ctx.subgraph({
      graphId: graph_id,
      ...(graph_version === undefined ? {} : { version: graph_version }),
      inputs,
    }),
})

const child = graph(
  [
    ["in", "t/input", { name: "items" }],
    ["each", "t/each"],
    ["pass", "t/pass"],
    ["out", "t/output", { name: "item" }],
    ["count", "t/const", { value: "done" }],
    ["status", "t/output", { name: "status" }],
  ],
  [
    "in.result -> each.items",
    "each.item -> pass.value",
    "pass.value -> out.value",
    "count.value -> status.value",
  ],
  "child",
)

const slowChild = graph(
  [
    ["s", "t/sleep", { ms: 10_000 }],
    ["out", "t/output", { name: "item" }],
  ],
  ["s.value -> out.value"],
  "slow",
)

describe("sub-graphs", () => {
  it("R15: an agent block runs a child run and re-emits its outputs on its own pins", async () => {
    const parent = graph(
      [
        ["agent", "t/agent", { graph_id: "child", items: ["x", "y"] }],
        ["collect", "t/output", { name: "items" }],
      ],
      ["agent.item -> collect.value"],
      "parent",
    )
    const h = harness({ extra: [Agent], graphs: [child, slowChild] })
    const { result, childRun } = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const result = yield* executor.execute(parent)
        const agentExec = (yield* h.store.load(result.runId)).executions.find((e) => e.nodeId === "agent")!
        const childRun = yield* h.store.load(`${agentExec.id}.sub1`)
        return { result, childRun }
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ items: ["x", "y"] })
    expect(childRun.run.status).toBe("COMPLETED")
    expect(childRun.run.parentRunId).toBe(result.runId)
    expect(childRun.run.outputs).toEqual({ item: ["x", "y"], status: ["done"] })
  })

  it("R15: an unknown sub-graph fails the agent node (routed on `error`), not the run", async () => {
    const parent = graph(
      [
        ["agent", "t/agent", { graph_id: "missing" }],
        ["err", "t/output", { name: "error" }],
      ],
      ["agent.error -> err.value"],
    )
    const result = await harness({ extra: [Agent], graphs: [child] }).run(
      Effect.gen(function* () {
        return yield* (yield* Executor).execute(parent)
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs.error?.[0]).toMatch(/Graph not found: missing/)
  })

  it("R15 W4: cancelling the parent cancels the child run", async () => {
    const parent = graph([["agent", "t/agent", { graph_id: "slow" }]], [], "parent")
    const h = harness({ extra: [Agent], graphs: [slowChild] })
    const { result, childStatus } = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(parent)
        const events = yield* Effect.forkChild(Stream.runCollect(handle.events))
        // Wait until the child run exists and its sleep is running.
        let childId: string | undefined
        for (let i = 0; i < 100 && childId === undefined; i++) {
          yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
          const agentExec = (yield* h.store.load(handle.runId)).executions.find((e) => e.nodeId === "agent")
          const candidate = agentExec === undefined ? undefined : `${agentExec.id}.sub1`
          if (candidate !== undefined) {
            const loaded = yield* Effect.result(h.store.load(candidate))
            if (loaded._tag === "Success" && loaded.success.executions.some((e) => e.status === "RUNNING")) {
              childId = candidate
            }
          }
        }
        yield* handle.cancel
        yield* Fiber.join(events)
        const result = yield* handle.await
        const childStatus = childId === undefined ? "none" : (yield* h.store.load(childId)).run.status
        return { result, childStatus }
      }),
    )
    expect(result.status).toBe("TERMINATED")
    expect(childStatus).toBe("TERMINATED")
  })

  it("R15 W7: a resumed parent resumes the same child run, and every child output reaches the parent once", async () => {
    const gate = { hang: true }
    const Gated = Block.make({
      id: "t/gated-child",
      title: "Gated",
      description: "Yields 1, waits for the gate, yields 2 and 3.",
      categories: ["test"],
      input: Schema.Struct({}),
      output: Schema.Struct({ n: Schema.Number }),
      async *run() {
        yield ["n", 1] as const
        if (gate.hang) await new Promise(() => {})
        yield ["n", 2] as const
        yield ["n", 3] as const
      },
    })
    const gatedChild = graph(
      [
        ["g", "t/gated-child"],
        ["out", "t/output", { name: "n" }],
      ],
      ["g.n -> out.value"],
      "gated",
    )
    const parent = graph(
      [
        ["agent", "t/agent", { graph_id: "gated" }],
        ["pass", "t/pass"],
        ["collect", "t/output", { name: "all" }],
      ],
      ["agent.n -> pass.value", "pass.value -> collect.value"],
      "parent",
    )
    const store = makeMemory()
    const runId = await harness({ extra: [Agent, Gated], graphs: [gatedChild], store }).run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(parent)
        const first = yield* Deferred.make<void>()
        yield* Effect.forkChild(
          Stream.runForEach(handle.events, (e) =>
            e.type === "NodeOutput" && e.nodeId === "collect"
              ? Deferred.succeed(first, undefined)
              : Effect.void,
          ),
        )
        yield* Deferred.await(first)
        return handle.runId // the scope closes here: the worker "dies" with parent and child mid-run
      }),
    )
    gate.hang = false
    const { result, childRuns } = await harness({ extra: [Agent, Gated], graphs: [gatedChild], store }).run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const result = yield* (yield* executor.resume(runId)).await
        const agentExec = (yield* store.load(runId)).executions.find((e) => e.nodeId === "agent")!
        const childRun = yield* store.load(`${agentExec.id}.sub1`)
        const secondChild = yield* Effect.result(store.load(`${agentExec.id}.sub2`))
        return { result, childRuns: [childRun.run.status, childRun.run.outputs, secondChild._tag] }
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ all: [1, 2, 3] })
    expect(childRuns).toEqual(["COMPLETED", { n: [1, 2, 3] }, "Failure"])
  })
})
