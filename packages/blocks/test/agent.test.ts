import {
  type Block,
  BlockRegistry,
  Executor,
  type Graph,
  GraphLoader,
  makeMemory,
  RunStore,
  runGraph,
} from "@weft/engine"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { blocks, graph } from "./support/graphs.js"

const AGENT = "e189baac-8c20-45a1-94a7-55177ea42565"
const REVIEW = "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d"

/**
 * The child agent: inputs "Topic" and "Style"; outputs "Summary" (both inputs as a dictionary) and "Word"
 * (each word of the topic, one output per word).
 */
const child = graph(
  [
    ["topic", "test/input", { name: "Topic" }],
    ["style", "test/input", { name: "Style" }],
    ["dict", "b924ddf4-de4f-4b56-9a85-358930dcbc91", { values: {} }],
    ["summary", "test/output", { name: "Summary" }],
    ["split", "f66a3543-28d3-4ab5-8945-9b336371e2ce"],
    ["word", "test/output", { name: "Word" }],
  ],
  [
    "topic.result -> dict.values_#_topic",
    "style.result -> dict.values_#_style",
    "dict.dictionary -> summary.value",
    "topic.result -> split.items_str",
    "split.item -> word.value",
  ],
  "child",
)

const inputSchema = {
  type: "object",
  properties: { Topic: { type: "string" }, Style: { type: "string" } },
  required: ["Topic"],
}

/** A parent running the child: graph input "topic" is linked to the agent's "Topic" pin. */
const parent = (agentDefaults: Record<string, unknown>, extraLinks: ReadonlyArray<string> = []) =>
  graph(
    [
      ["topic", "test/input", { name: "topic" }],
      ["agent", AGENT, { graph_id: "child", graph_version: 1, input_schema: inputSchema, ...agentDefaults }],
      ["summary", "test/output", { name: "summary" }],
      ["words", "test/output", { name: "words" }],
      ["error", "test/output", { name: "error" }],
    ],
    [
      "topic.result -> agent.Topic",
      "agent.Summary -> summary.value",
      "agent.Word -> words.value",
      "agent.error -> error.value",
      ...extraLinks,
    ],
    "parent",
  )

describe("AgentExecutor", () => {
  it("runs the sub-graph with `inputs` and linked pins, and re-emits each child output on its name", async () => {
    const result = await runGraph(
      parent({ inputs: { Style: "short", Topic: "overridden" }, user_id: "u1" }),
      {
        blocks,
        graphs: [child],
        inputs: { topic: '["owls", "at", "night"]' },
      },
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({
      summary: [{ topic: '["owls", "at", "night"]', style: "short" }],
      words: ["owls", "at", "night"],
    })
  })

  it("passes on only the inputs the input schema lists", async () => {
    // "Extra" is not an input of the child: passing it on would make the child's inputs invalid.
    const g = parent({ inputs: { Style: "long", Extra: 1 } })
    const result = await runGraph(g, { blocks, graphs: [child], inputs: { topic: '["a"]' } })
    expect(result.outputs).toEqual({ summary: [{ topic: '["a"]', style: "long" }], words: ["a"] })
    // Without a schema to filter by, every input is passed on, and the child refuses the unknown one.
    const unfiltered = parent({ inputs: { Style: "long", Extra: 1 }, input_schema: {} })
    const refused = await runGraph(unfiltered, { blocks, graphs: [child], inputs: { topic: '["a"]' } })
    expect(refused.outputs.error?.[0]).toMatch(/Extra/)
  })

  it("fails, routed on `error`, when a required input is missing or the graph is unknown", async () => {
    const missing = graph(
      [
        ["agent", AGENT, { graph_id: "child", input_schema: inputSchema, inputs: { Style: "x" } }],
        ["error", "test/output", { name: "error" }],
      ],
      ["agent.error -> error.value"],
    )
    expect((await runGraph(missing, { blocks, graphs: [child] })).outputs).toEqual({
      error: ["missing inputs for graph child: Topic"],
    })
    const unknown = await runGraph(parent({ graph_id: "nope" }), {
      blocks,
      graphs: [child],
      inputs: { topic: "[]" },
    })
    expect(unknown.status).toBe("COMPLETED")
    expect(unknown.outputs.error?.[0]).toMatch(/Graph not found: nope/)
  })

  it("cancelling the parent ends a waiting child at once", async () => {
    const sleeper = graph(
      [
        ["timer", "d67a9c52-5e4e-11e2-bcfd-0800200c9a71", { hours: 1 }],
        ["out", "test/output", { name: "done" }],
      ],
      ["timer.output_message -> out.value"],
      "sleeper",
    )
    const g = graph(
      [
        ["agent", AGENT, { graph_id: "sleeper" }],
        ["out", "test/output", { name: "done" }],
      ],
      ["agent.done -> out.value"],
    )
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const started = Date.now()
    const result = await runGraph(g, { blocks, graphs: [sleeper], signal: controller.signal })
    expect(result.status).toBe("TERMINATED")
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})

describe("HumanInTheLoop", () => {
  const reviewGraph = (defaults: Record<string, unknown> = {}) =>
    graph(
      [
        ["draft", "test/input", { name: "draft" }],
        ["review", REVIEW, { name: "Draft email", ...defaults }],
        ["approved", "test/output", { name: "approved" }],
        ["rejected", "test/output", { name: "rejected" }],
        ["message", "test/output", { name: "message" }],
        ["other", "b924ddf4-de4f-4b56-9a85-358930dcbc91", { values: { independent: true } }],
        ["otherOut", "test/output", { name: "other" }],
      ],
      [
        "draft.result -> review.data",
        "review.approved_data -> approved.value",
        "review.rejected_data -> rejected.value",
        "review.review_message -> message.value",
        "other.dictionary -> otherOut.value",
      ],
    )

  /** Runs the graph until it stops in REVIEW, then acts on the pending review with `decision`. */
  const reviewed = (g: Graph, decision: Block.ReviewDecision) => {
    const store = makeMemory()
    const layer = Executor.layer().pipe(
      Layer.provide(BlockRegistry.layer(blocks)),
      Layer.provide(Layer.succeed(RunStore, store)),
      Layer.provide(GraphLoader.layer([])),
      Layer.orDie,
    )
    const program = Effect.gen(function* () {
      const executor = yield* Executor
      const paused = yield* executor.execute(g, { inputs: { draft: { subject: "Hi", body: "Hello" } } })
      const pending = (yield* store.load(paused.runId)).executions.find((e) => e.status === "REVIEW")
      if (pending === undefined) return yield* Effect.die(new Error("no execution in REVIEW"))
      const handle = yield* executor.review(paused.runId, pending.id, decision)
      return { paused, review: pending.review, result: yield* handle.await }
    })
    return Effect.runPromise(Effect.scoped(Effect.provide(program, layer)))
  }

  it("pauses the run in REVIEW with the data to review; other branches still finish", async () => {
    const result = await runGraph(reviewGraph(), { blocks, inputs: { draft: "text" } })
    expect(result.status).toBe("REVIEW")
    expect(result.outputs).toEqual({ other: [{ independent: true }] })
  })

  it("approved with edited data: emits the edited data and the reviewer's message", async () => {
    const { paused, review, result } = await reviewed(reviewGraph(), {
      approved: true,
      data: { subject: "Hi", body: "Hello, edited" },
      message: "ship it",
    })
    expect(paused.status).toBe("REVIEW")
    expect(review?.payload).toEqual({
      name: "Draft email",
      data: { subject: "Hi", body: "Hello" },
      editable: true,
    })
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({
      other: [{ independent: true }],
      approved: [{ subject: "Hi", body: "Hello, edited" }],
      message: ["ship it"],
    })
  })

  it("rejected with edited data and no message: emits the edited data and a default message", async () => {
    const { result } = await reviewed(reviewGraph(), { approved: false, data: "rewritten" })
    expect(result.outputs).toEqual({
      other: [{ independent: true }],
      rejected: ["rewritten"],
      message: ["Execution rejected by reviewer"],
    })
  })

  it("when not editable, a reviewer's edits are ignored", async () => {
    const { review, result } = await reviewed(reviewGraph({ editable: false }), {
      approved: true,
      data: "edited",
    })
    expect(review?.payload).toMatchObject({ editable: false })
    expect(result.outputs).toEqual({
      other: [{ independent: true }],
      approved: [{ subject: "Hi", body: "Hello" }],
      message: ["Execution approved by reviewer"],
    })
  })
})
