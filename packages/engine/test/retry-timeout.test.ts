import { Clock, Effect, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { Block, BlockError, Executor, type ExecutorConfig, type RunEvent } from "../src/index.js"
import { executionsOf, maxRunning, nodeStatuses, rulesHarness } from "./rules-support.js"
import { countStatus, execute, graph, harness } from "./support.js"

type RetryPolicy = Block.RetryPolicy

const attemptsOf = (events: ReadonlyArray<RunEvent>) =>
  events.flatMap((e) => (e.type === "NodeAttempt" ? [{ attempt: e.attempt, error: e.error }] : []))

/** A block that fails its first `failures` attempts (by `how`), then yields `v`. Counts its calls. */
const flaky = (options: {
  readonly failures: number
  readonly retry?: RetryPolicy
  readonly how?: (call: number) => unknown
  readonly id?: string
}) => {
  const calls: Array<number> = []
  const block = Block.make({
    id: options.id ?? "rt/flaky",
    title: "Flaky",
    description: "Fails, then succeeds.",
    categories: ["test"],
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    input: Schema.Struct({}),
    output: Schema.Struct({ v: Schema.Number }),
    run: (_, ctx) => {
      calls.push(ctx.attempt)
      if (calls.length <= options.failures)
        throw options.how?.(calls.length) ?? new Error(`boom ${calls.length}`)
      return { v: calls.length }
    },
  })
  return { block, calls }
}

const fast = (maxAttempts: number, extra: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts,
  initialDelayMs: 1,
  jitter: false,
  ...extra,
})

const runOne = async (block: Block.AnyBlock) => {
  const g = graph(
    [
      ["f", block.id],
      ["next", "t/pass"],
      ["err", "t/pass"],
    ],
    ["f.v -> next.value", "f.error -> err.value"],
  )
  return execute(g, { harness: rulesHarness({ extra: [block] }) })
}

describe("W1: retries", () => {
  it("W1: a block failing every attempt runs maxAttempts times; retries are NodeAttempt events 2..n; the last error is recorded", async () => {
    const { block, calls } = flaky({ failures: 10, retry: fast(4) })
    const { result, events, store } = await runOne(block)
    expect(result.status).toBe("COMPLETED")
    expect(calls).toEqual([1, 2, 3, 4])
    expect(attemptsOf(events)).toEqual([
      { attempt: 2, error: "boom 1" },
      { attempt: 3, error: "boom 2" },
      { attempt: 4, error: "boom 3" },
    ])
    const [f] = executionsOf(events, "f")
    expect(f?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(f?.error).toBe("boom 4")
    expect(f?.outputs).toEqual([["error", "boom 4"]])
    expect(executionsOf(events, "err").map((e) => e.inputs)).toEqual([{ value: "boom 4" }])
    const record = (await Effect.runPromise(store.load(result.runId))).executions.find(
      (e) => e.nodeId === "f",
    )
    expect(record).toMatchObject({ status: "FAILED", error: "boom 4", attempts: 4 })
  })

  it("W1: a block that succeeds on a retry completes, and its outputs are routed once", async () => {
    const { block, calls } = flaky({ failures: 2, retry: fast(5) })
    const { events } = await runOne(block)
    expect(calls).toEqual([1, 2, 3])
    expect(attemptsOf(events).map((a) => a.attempt)).toEqual([2, 3])
    const [f] = executionsOf(events, "f")
    expect(f?.statuses).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
    expect(f?.outputs).toEqual([["v", 3]])
    expect(executionsOf(events, "next").map((e) => e.inputs)).toEqual([{ value: 3 }])
    expect(executionsOf(events, "err")).toEqual([])
  })

  it("W1: without a retry policy a failure is final after one attempt", async () => {
    const { block, calls } = flaky({ failures: 1 })
    const { events } = await runOne(block)
    expect(calls).toEqual([1])
    expect(attemptsOf(events)).toEqual([])
    expect(countStatus(events, "f", "FAILED")).toBe(1)
  })

  it("W1: BlockError({retryable: false}) fails at once, with one attempt", async () => {
    const { block, calls } = flaky({
      failures: 10,
      retry: fast(5),
      how: () => new BlockError({ message: "bad request", retryable: false }),
    })
    const { events } = await runOne(block)
    expect(calls).toEqual([1])
    expect(attemptsOf(events)).toEqual([])
    expect(executionsOf(events, "f")[0]?.error).toBe("bad request")
  })

  it("W1: a BlockError that does not say retryable: false is retried", async () => {
    const { block, calls } = flaky({
      failures: 1,
      retry: fast(3),
      how: () => new BlockError({ message: "busy" }),
    })
    const { events } = await runOne(block)
    expect(calls).toEqual([1, 2])
    expect(attemptsOf(events)).toEqual([{ attempt: 2, error: "busy" }])
  })

  it("W1: the policy's retryable predicate decides which messages are retried", async () => {
    const { block, calls } = flaky({
      failures: 10,
      retry: fast(5, { retryable: (message) => message !== "boom 2" }),
    })
    const { events } = await runOne(block)
    expect(calls).toEqual([1, 2])
    expect(attemptsOf(events)).toEqual([{ attempt: 2, error: "boom 1" }])
    expect(executionsOf(events, "f")[0]?.error).toBe("boom 2")
  })

  it("W1: an attempt that already emitted an output is not retried, so no value is routed twice", async () => {
    let calls = 0
    const Partial = Block.make({
      id: "rt/partial",
      title: "Partial",
      description: "Yields, then throws.",
      categories: ["test"],
      retry: fast(4),
      input: Schema.Struct({}),
      output: Schema.Struct({ v: Schema.Number }),
      *run() {
        calls++
        yield ["v", 1] as const
        throw new Error("after an output")
      },
    })
    const { events } = await runOne(Partial)
    expect(calls).toBe(1)
    expect(attemptsOf(events)).toEqual([])
    const [f] = executionsOf(events, "f")
    expect(f?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(f?.outputs).toEqual([
      ["v", 1],
      ["error", "after an output"],
    ])
    expect(executionsOf(events, "next").map((e) => e.inputs)).toEqual([{ value: 1 }])
  })

  it("W1 R3: invalid input and invalid output are never retried", async () => {
    let calls = 0
    const Picky = Block.make({
      id: "rt/picky",
      title: "Picky",
      description: "Takes a number, yields a wrong type.",
      categories: ["test"],
      retry: fast(4),
      input: Schema.Struct({ n: Schema.Number }),
      output: Schema.Struct({ v: Schema.Number }),
      run: () => {
        calls++
        return { v: "not a number" as unknown as number }
      },
    })
    const h = rulesHarness({ extra: [Picky] })
    const badInput = await execute(graph([["f", "rt/picky", { n: "x" }]]), { harness: h })
    expect(calls).toBe(0)
    expect(attemptsOf(badInput.events)).toEqual([])
    expect(executionsOf(badInput.events, "f")[0]?.error).toMatch(/^invalid input: n: /)

    const badOutput = await execute(graph([["f", "rt/picky", { n: 1 }]]), { harness: h })
    expect(calls).toBe(1)
    expect(attemptsOf(badOutput.events)).toEqual([])
    expect(executionsOf(badOutput.events, "f")[0]?.error).toMatch(/^invalid output on pin "v"/)
  })

  /** Runs a block that always fails under a TestClock, and returns the virtual times of its attempts. */
  const attemptTimes = async (retry: RetryPolicy) => {
    const times: Array<number> = []
    const Timed = Block.make({
      id: "rt/timed",
      title: "Timed",
      description: "Fails, noting the time of each attempt.",
      categories: ["test"],
      retry,
      input: Schema.Struct({}),
      output: Schema.Struct({ v: Schema.Number }),
      run: () =>
        Effect.gen(function* () {
          times.push(yield* Clock.currentTimeMillis)
          return yield* Effect.fail(new Error(`attempt ${times.length}`))
        }),
    })
    const h = rulesHarness({ extra: [Timed] })
    const events = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const executor = yield* Executor
          const handle = yield* executor.start(graph([["f", "rt/timed"]]))
          const collecting = yield* Effect.forkChild(Stream.runCollect(handle.events))
          yield* TestClock.adjust("1 hour")
          return yield* Fiber.join(collecting)
        }).pipe(Effect.provide(h.layer), Effect.provide(TestClock.layer())),
      ),
    )
    const attemptAt = events.flatMap((e) => (e.type === "NodeAttempt" ? [e.at] : []))
    const delays = times.slice(1).map((t, i) => t - (times[i] ?? 0))
    return { times, delays, attemptAt }
  }

  it("W1: without jitter, delays grow from initialDelayMs by factor and are capped at maxDelayMs", async () => {
    const { times, delays, attemptAt } = await attemptTimes({
      maxAttempts: 6,
      initialDelayMs: 100,
      factor: 3,
      maxDelayMs: 1000,
      jitter: false,
    })
    expect(times).toHaveLength(6)
    expect(delays).toEqual([100, 300, 900, 1000, 1000])
    // Each NodeAttempt event is stamped when its retry starts.
    expect(attemptAt).toEqual(times.slice(1))
  })

  it("W1: the default backoff starts at 200 ms and doubles", async () => {
    const { delays } = await attemptTimes({ maxAttempts: 4, jitter: false })
    expect(delays).toEqual([200, 400, 800])
  })

  it("W1: with jitter, each delay stays near its nominal value, and the cap still holds", async () => {
    const { delays } = await attemptTimes({
      maxAttempts: 4,
      initialDelayMs: 1000,
      factor: 2,
      maxDelayMs: 3000,
    })
    expect(delays).toHaveLength(3)
    const [d1 = 0, d2 = 0, d3 = 0] = delays
    // Jitter scales a delay by 0.8 to 1.2 (give or take float rounding of the clock).
    expect(d1).toBeGreaterThan(800 - 1e-6)
    expect(d1).toBeLessThan(1200 + 1e-6)
    expect(d2).toBeGreaterThan(1600 - 1e-6)
    expect(d2).toBeLessThan(2400 + 1e-6)
    // 4000 ms jittered is 3200 to 4800 ms: always capped.
    expect(d3).toBeCloseTo(3000, 6)
  })
})

/** Waits until aborted; notes each abort. */
const hanging = (timeoutMs: number, retry?: RetryPolicy) => {
  const aborted: Array<number> = []
  const block = Block.make({
    id: "rt/hang",
    title: "Hang",
    description: "Waits for its abort signal.",
    categories: ["test"],
    timeoutMs,
    ...(retry === undefined ? {} : { retry }),
    input: Schema.Struct({}),
    output: Schema.Struct({ v: Schema.Number }),
    run: (_, ctx) =>
      new Promise<{ v: number }>((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          aborted.push(ctx.attempt)
          reject(new Error("aborted"))
        })
      }),
  })
  return { block, aborted }
}

describe("W2: timeouts and deadlines", () => {
  it("W2: an attempt past timeoutMs fails its execution with a timeout error, and its AbortSignal fires", async () => {
    const { block, aborted } = hanging(40)
    const started = Date.now()
    const { result, events } = await runOne(block)
    expect(Date.now() - started).toBeLessThan(1500)
    expect(result.status).toBe("COMPLETED")
    expect(aborted).toEqual([1])
    const [f] = executionsOf(events, "f")
    expect(f?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(f?.error).toBe("timed out after 40 ms")
    expect(executionsOf(events, "err").map((e) => e.inputs)).toEqual([{ value: "timed out after 40 ms" }])
  })

  it("W1 W2: a timeout is per attempt, and a timed-out attempt is retried", async () => {
    const { block, aborted } = hanging(20, fast(3))
    const { events } = await runOne(block)
    expect(aborted).toEqual([1, 2, 3])
    expect(attemptsOf(events)).toEqual([
      { attempt: 2, error: "timed out after 20 ms" },
      { attempt: 3, error: "timed out after 20 ms" },
    ])
    expect(executionsOf(events, "f")[0]?.error).toBe("timed out after 20 ms")
  })

  it("W2: a block that finishes within its timeout is unaffected", async () => {
    const Quick = Block.make({
      id: "rt/quick",
      title: "Quick",
      description: "Finishes in time.",
      categories: ["test"],
      timeoutMs: 500,
      input: Schema.Struct({}),
      output: Schema.Struct({ v: Schema.Number }),
      run: () => new Promise<{ v: number }>((resolve) => setTimeout(() => resolve({ v: 1 }), 5)),
    })
    const { events } = await runOne(Quick)
    expect(executionsOf(events, "f")[0]?.statuses).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
  })

  it("W2 R14: a passed deadline interrupts running blocks (their signal fires) and fails the run", async () => {
    const { block, aborted } = hanging(60_000)
    const g = graph(
      [
        ["f", block.id],
        ["k", "t/const", { value: 1 }],
        ["later", "t/sleep", { ms: 10_000 }],
        ["waiting", "t/pass"],
      ],
      ["later.value -> waiting.value"],
    )
    const started = Date.now()
    const { result, events } = await execute(g, { harness: rulesHarness({ extra: [block] }), deadlineMs: 50 })
    expect(Date.now() - started).toBeLessThan(1500)
    expect(result.status).toBe("FAILED")
    expect(result.error).toBe("run deadline exceeded")
    expect(aborted).toEqual([1])
    expect(executionsOf(events, "f")[0]).toMatchObject({
      statuses: ["QUEUED", "RUNNING", "FAILED"],
      error: "timed out: the run's deadline passed",
    })
    expect(executionsOf(events, "later")[0]?.statuses).toEqual(["QUEUED", "RUNNING", "FAILED"])
    expect(executionsOf(events, "k")[0]?.statuses).toEqual(["QUEUED", "RUNNING", "COMPLETED"])
    expect(executionsOf(events, "waiting")).toEqual([])
    expect(events.at(-1)).toMatchObject({
      type: "RunStatus",
      status: "FAILED",
      error: "run deadline exceeded",
    })
  })

  it("W2: a run that finishes before its deadline completes normally", async () => {
    const { result } = await execute(graph([["k", "t/sleep", { ms: 5, value: 1 }]]), { deadlineMs: 2000 })
    expect(result.status).toBe("COMPLETED")
  })
})

/** A block that notes how many of its executions run at once. */
const tracked = (id: string, concurrency?: number, ms = 15) => {
  const stats = { active: 0, max: 0, calls: 0 }
  const block = Block.make({
    id,
    title: "Tracked",
    description: "Notes concurrent executions.",
    categories: ["test"],
    ...(concurrency === undefined ? {} : { concurrency }),
    input: Schema.Struct({}),
    output: Schema.Struct({ done: Schema.Boolean }),
    run: async () => {
      stats.calls++
      stats.active++
      stats.max = Math.max(stats.max, stats.active)
      await new Promise((resolve) => setTimeout(resolve, ms))
      stats.active--
      return { done: true }
    },
  })
  return { block, stats }
}

const fanOut = (n: number, blockId: string, defaults?: Record<string, unknown>) =>
  graph(
    Array.from({ length: n }, (_, i) =>
      defaults === undefined ? ([`n${i}`, blockId] as const) : ([`n${i}`, blockId, defaults] as const),
    ),
  )

/** Runs `runs` copies of a graph at once on one executor. */
const concurrentRuns = (
  g: ReturnType<typeof graph>,
  runs: number,
  options: { readonly extra: ReadonlyArray<Block.AnyBlock>; readonly config?: ExecutorConfig },
) =>
  harness(options).run(
    Effect.gen(function* () {
      const executor = yield* Executor
      const handles = []
      for (let i = 0; i < runs; i++) handles.push(yield* executor.start(g))
      return yield* Effect.forEach(handles, (h) => h.await, { concurrency: "unbounded" })
    }),
  )

describe("W3: concurrency limits", () => {
  it("W3: maxConcurrency 2 on a fan-out of 6: never more than 2 RUNNING, the others wait QUEUED", async () => {
    const { result, events } = await execute(fanOut(6, "t/sleep", { ms: 15 }), { maxConcurrency: 2 })
    expect(result.status).toBe("COMPLETED")
    expect(maxRunning(events)).toBe(2)
    const statuses = nodeStatuses(events)
    expect(statuses.filter((e) => e.status === "COMPLETED")).toHaveLength(6)
    // All six are QUEUED at the start; the third starts only after one has finished.
    const firstRunning = statuses.find((e) => e.status === "RUNNING")?.seq ?? 0
    expect(statuses.filter((e) => e.status === "QUEUED" && e.seq < firstRunning)).toHaveLength(6)
    const running = statuses.filter((e) => e.status === "RUNNING")
    const firstDone = statuses.find((e) => e.status === "COMPLETED")?.seq ?? 0
    expect(running.filter((e) => e.seq < firstDone)).toHaveLength(2)
  })

  it("W3: without a run limit the same fan-out runs all at once", async () => {
    const { events } = await execute(fanOut(6, "t/sleep", { ms: 15 }))
    expect(maxRunning(events)).toBe(6)
  })

  it("W3: ExecutorConfig.maxConcurrency is the default per-run limit", async () => {
    const { events } = await execute(fanOut(6, "t/sleep", { ms: 10 }), {
      harness: harness({ config: { maxConcurrency: 3 } }),
    })
    expect(maxRunning(events)).toBe(3)
  })

  it("W3: Block concurrency 1 serialises its executions across two concurrent runs of one executor", async () => {
    const { block, stats } = tracked("rt/serial", 1)
    const results = await concurrentRuns(fanOut(3, block.id), 2, { extra: [block] })
    expect(results.map((r) => r.status)).toEqual(["COMPLETED", "COMPLETED"])
    expect(stats.calls).toBe(6)
    expect(stats.max).toBe(1)
  })

  it("W3: without a block limit the same two runs overlap", async () => {
    const { block, stats } = tracked("rt/free", undefined, 50)
    await concurrentRuns(fanOut(3, block.id), 2, { extra: [block] })
    expect(stats.calls).toBe(6)
    expect(stats.max).toBe(6)
  })

  it("W3: ExecutorConfig.blockConcurrency limits a block by id and overrides Block.concurrency", async () => {
    const free = tracked("rt/free")
    const serial = tracked("rt/serial", 1)
    const config = { blockConcurrency: { "rt/free": 2, "rt/serial": 3 } }
    const g = graph([
      ...fanOut(3, "rt/free").nodes,
      ...fanOut(3, "rt/serial").nodes.map((n) => ({ ...n, id: `s${n.id}` })),
    ])
    await concurrentRuns(g, 2, { extra: [free.block, serial.block], config })
    expect(free.stats).toMatchObject({ calls: 6, max: 2 })
    expect(serial.stats).toMatchObject({ calls: 6, max: 3 })
  })
})
