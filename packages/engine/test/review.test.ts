import { Effect, Schema, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Block, Executor, ReviewNotPending, ReviewRequested } from "../src/index.js"
import { countStatus, graph, harness, outputsOf } from "./support.js"

/** A human-in-the-loop block: asks for a review, then emits the decision (R16). */
const HumanReview = Block.make({
  id: "t/review",
  title: "Human review",
  description: "Waits for a person to approve or reject its data.",
  categories: ["agent"],
  input: Schema.Struct({ data: Schema.Unknown, name: Schema.optional(Schema.String) }),
  output: Schema.Struct({
    approved_data: Schema.Unknown,
    rejected_data: Schema.Unknown,
    review_message: Schema.String,
  }),
  run: ({ data }, ctx) => {
    const decision = ctx.review
    if (decision === undefined) throw new ReviewRequested({ payload: data })
    const value = decision.data ?? data
    return decision.approved
      ? { approved_data: value, review_message: decision.message ?? "" }
      : { rejected_data: value, review_message: decision.message ?? "" }
  },
})

let sends = 0
/** A block with a side effect, marked sensitive: safe mode holds it for review. */
const Send = Block.make({
  id: "t/send",
  title: "Send",
  description: "Pretends to send a message.",
  categories: ["test"],
  sensitive: true,
  input: Schema.Struct({ to: Schema.String }),
  output: Schema.Struct({ sent: Schema.String }),
  run: ({ to }) => {
    sends++
    return { sent: to }
  },
})

const reviewGraph = graph(
  [
    ["in", "t/input", { name: "draft" }],
    ["review", "t/review"],
    ["ok", "t/output", { name: "approved" }],
    ["no", "t/output", { name: "rejected" }],
    ["msg", "t/output", { name: "message" }],
    ["side", "t/const", { value: "independent" }],
    ["sideOut", "t/output", { name: "side" }],
  ],
  [
    "in.result -> review.data",
    "review.approved_data -> ok.value",
    "review.rejected_data -> no.value",
    "review.review_message -> msg.value",
    "side.value -> sideOut.value",
  ],
)

describe("human review", () => {
  it("R16 R14: a review block puts its execution and the run in REVIEW; other nodes still finish", async () => {
    const h = harness({ extra: [HumanReview] })
    const { result, events } = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(reviewGraph, { inputs: { draft: "hello" } })
        const events = yield* Stream.runCollect(handle.events)
        return { result: yield* handle.await, events }
      }),
    )
    expect(result.status).toBe("REVIEW")
    expect(result.outputs).toEqual({ side: ["independent"] })
    expect(countStatus(events, "review", "REVIEW")).toBe(1)
    expect(events.at(-1)).toMatchObject({ type: "RunStatus", status: "REVIEW" })
    const snapshot = await Effect.runPromise(h.store.load(result.runId))
    const pending = snapshot.executions.find((e) => e.nodeId === "review")
    expect(pending?.status).toBe("REVIEW")
    expect(pending?.review).toEqual({ payload: "hello" })
  })

  it("R16 W4: cancelling a run paused in REVIEW terminates it in the store; a later decision is refused", async () => {
    const h = harness({ extra: [HumanReview] })
    const { runId, pendingId, tail } = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(reviewGraph, { inputs: { draft: "hello" } })
        const paused = yield* handle.await
        const snapshot = yield* h.store.load(paused.runId)
        const pendingId = snapshot.executions.find((e) => e.nodeId === "review")?.id ?? ""
        const lastSeq = snapshot.run.lastSeq
        yield* executor.cancel(paused.runId)
        // A second cancel of a finished run changes nothing.
        yield* executor.cancel(paused.runId)
        const tail = yield* Stream.runCollect(executor.events(paused.runId, lastSeq))
        return { runId: paused.runId, pendingId, tail }
      }),
    )
    const snapshot = await Effect.runPromise(h.store.load(runId))
    expect(snapshot.run.status).toBe("TERMINATED")
    expect(snapshot.executions.find((e) => e.id === pendingId)?.status).toBe("TERMINATED")
    expect(tail.map((e) => (e.type === "RunStatus" || e.type === "NodeStatus" ? e.status : e.type))).toEqual([
      "TERMINATED",
      "TERMINATED",
    ])
    expect(tail.at(-1)).toMatchObject({ type: "RunStatus", status: "TERMINATED" })
    const refused = await h.run(
      Effect.flip(
        Effect.flatMap(Executor, (executor) => executor.review(runId, pendingId, { approved: true })),
      ),
    )
    expect(refused).toBeInstanceOf(ReviewNotPending)
  })

  it("R16: approving with edited data resumes the run; the node emits approved_data and review_message", async () => {
    const h = harness({ extra: [HumanReview] })
    const out = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const first = yield* executor.execute(reviewGraph, { inputs: { draft: "hello" } })
        const snapshot = yield* h.store.load(first.runId)
        const pending = snapshot.executions.find((e) => e.status === "REVIEW")!
        const handle = yield* executor.review(first.runId, pending.id, {
          approved: true,
          data: "hello, edited",
          message: "looks good",
        })
        const events = yield* Stream.runCollect(handle.events)
        return { result: yield* handle.await, events, pendingId: pending.id }
      }),
    )
    expect(out.result.status).toBe("COMPLETED")
    expect(out.result.outputs).toEqual({
      side: ["independent"],
      approved: ["hello, edited"],
      message: ["looks good"],
    })
    expect(outputsOf(out.events, "review", "approved_data")).toEqual(["hello, edited"])
    expect(outputsOf(out.events, "review", "rejected_data")).toEqual([])
    // The run log continues where it stopped: REVIEW → QUEUED → RUNNING → COMPLETED for the same execution.
    const statuses = out.events
      .filter((e) => e.type === "NodeStatus" && e.executionId === out.pendingId)
      .map((e) => (e.type === "NodeStatus" ? e.status : ""))
    expect(statuses.slice(-3)).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
    // `independent` ran once, before the pause: nothing finished is re-run.
    expect(countStatus(out.events, "side", "RUNNING")).toBe(1)
  })

  it("R16: rejecting emits rejected_data and the message", async () => {
    const h = harness({ extra: [HumanReview] })
    const result = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const first = yield* executor.execute(reviewGraph, { inputs: { draft: "hello" } })
        const pending = (yield* h.store.load(first.runId)).executions.find((e) => e.status === "REVIEW")!
        const handle = yield* executor.review(first.runId, pending.id, { approved: false, message: "no" })
        return yield* handle.await
      }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(result.outputs).toEqual({ side: ["independent"], rejected: ["hello"], message: ["no"] })
  })

  it("R16: a review action on an execution that is not in REVIEW fails with ReviewNotPending", async () => {
    const h = harness({ extra: [HumanReview] })
    const error = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const first = yield* executor.execute(reviewGraph, { inputs: { draft: "hello" } })
        const done = (yield* h.store.load(first.runId)).executions.find((e) => e.nodeId === "side")!
        return yield* Effect.flip(executor.review(first.runId, done.id, { approved: true }))
      }),
    )
    expect(error).toBeInstanceOf(ReviewNotPending)
  })

  it("R16: in safe mode a sensitive block waits for review; approved it runs once, rejected it fails", async () => {
    const g = graph(
      [
        ["send", "t/send", { to: "ops@example.org" }],
        ["out", "t/output", { name: "sent" }],
        ["err", "t/output", { name: "error" }],
      ],
      ["send.sent -> out.value", "send.error -> err.value"],
    )
    const h = harness({ extra: [Send] })
    sends = 0
    const results = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const unsafe = yield* executor.execute(g)
        const paused = yield* executor.execute(g, { safeMode: true })
        const sendsBeforeReview = sends
        const pending = (yield* h.store.load(paused.runId)).executions.find((e) => e.status === "REVIEW")!
        const approved = yield* (yield* executor.review(paused.runId, pending.id, { approved: true })).await
        const paused2 = yield* executor.execute(g, { safeMode: true })
        const pending2 = (yield* h.store.load(paused2.runId)).executions.find((e) => e.status === "REVIEW")!
        const rejected = yield* (yield* executor.review(paused2.runId, pending2.id, {
          approved: false,
          message: "not now",
        })).await
        return { unsafe, paused, sendsBeforeReview, approved, rejected }
      }),
    )
    expect(results.unsafe.outputs).toEqual({ sent: ["ops@example.org"] })
    expect(results.paused.status).toBe("REVIEW")
    expect(results.sendsBeforeReview).toBe(1) // only the run without safe mode sent
    expect(results.approved.status).toBe("COMPLETED")
    expect(results.approved.outputs).toEqual({ sent: ["ops@example.org"] })
    expect(results.rejected.status).toBe("COMPLETED")
    expect(results.rejected.outputs).toEqual({ error: ["rejected by reviewer: not now"] })
    expect(sends).toBe(2)
  })

  it("R16: a decision on a run that is still running is applied live, without a second driver", async () => {
    const g = graph(
      [
        ["in", "t/input", { name: "draft" }],
        ["review", "t/review"],
        ["slow", "t/sleep", { ms: 300, value: "slow" }],
        ["ok", "t/output", { name: "approved" }],
        ["slowOut", "t/output", { name: "slow" }],
      ],
      ["in.result -> review.data", "review.approved_data -> ok.value", "slow.value -> slowOut.value"],
    )
    const h = harness({ extra: [HumanReview] })
    const out = await h.run(
      Effect.gen(function* () {
        const executor = yield* Executor
        const handle = yield* executor.start(g, { inputs: { draft: "d" } })
        let pendingId: string | undefined
        for (let i = 0; i < 100 && pendingId === undefined; i++) {
          yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
          pendingId = (yield* h.store.load(handle.runId)).executions.find((e) => e.status === "REVIEW")?.id
        }
        const second = yield* executor.review(handle.runId, pendingId!, { approved: true })
        const events = yield* Stream.runCollect(handle.events)
        return { result: yield* handle.await, second, events }
      }),
    )
    expect(out.second.runId).toBe(out.result.runId)
    expect(out.result.status).toBe("COMPLETED")
    expect(out.result.outputs).toEqual({ approved: ["d"], slow: ["slow"] })
    // One run, one log: the run never stopped in REVIEW.
    expect(
      out.events.filter((e) => e.type === "RunStatus").map((e) => (e.type === "RunStatus" ? e.status : "")),
    ).toEqual(["RUNNING", "COMPLETED"])
  })
})
