/**
 * Blocks and helpers for the rule tests (R1–R14, W1–W3, W5, W6, W9). The shared basics live in `support.ts`.
 */
import { Effect, Schema } from "effect"
import {
  Block,
  type BlockRegistryShape,
  makeRegistry,
  type NodeStatusEvent,
  type RunEvent,
  type RunStoreShape,
  type Status,
  StoreError,
} from "../src/index.js"
import { type Harness, harness, testBlocks } from "./support.js"

/** The pins `Emit` may yield on. */
export const EmitPin = Schema.Literals(["a", "b", "c"])

/**
 * Yields each `[pin, value]` of `pairs`, in order, on the pins `a`, `b` and `c`: a scripted source that
 * fixes the order in which values reach a sink (R7, R9, R10).
 */
export const Emit = Block.make({
  id: "r/emit",
  title: "Emit",
  description: "Yields scripted [pin, value] pairs.",
  categories: ["test"],
  input: Schema.Struct({ pairs: Schema.Array(Schema.Tuple([EmitPin, Schema.Unknown])) }),
  output: Schema.Struct({ a: Schema.Unknown, b: Schema.Unknown, c: Schema.Unknown }),
  *run({ pairs }) {
    for (const [pin, value] of pairs) yield [pin, value] as const
  },
})

/** Takes dict, list and object inputs, to check dynamic pin assembly (R11) by base name. */
export const Gather = Block.make({
  id: "r/gather",
  title: "Gather",
  description: "Yields its assembled input.",
  categories: ["test"],
  input: Schema.Struct({
    values: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
    items: Schema.optional(Schema.Array(Schema.Unknown)),
    obj: Schema.optional(Schema.Unknown),
  }),
  output: Schema.Struct({ input: Schema.Unknown }),
  run: (input) => ({ input }),
})

/** A condition: `yes` when `value > 0`, else `no`. */
export const Positive = Block.make({
  id: "r/positive",
  title: "Positive?",
  description: "Routes a number by its sign.",
  categories: ["logic"],
  input: Schema.Struct({ value: Schema.Number }),
  output: Schema.Struct({ yes: Schema.Number, no: Schema.Number }),
  run: ({ value }) => (value > 0 ? { yes: value } : { no: value }),
})

/** `value - 1`. */
export const Decrement = Block.make({
  id: "r/decrement",
  title: "Decrement",
  description: "value - 1",
  categories: ["math"],
  input: Schema.Struct({ value: Schema.Number }),
  output: Schema.Struct({ value: Schema.Number }),
  run: ({ value }) => ({ value: value - 1 }),
})

/** The rule-test blocks above, as one set. */
export const ruleBlocks = [Emit, Gather, Positive, Decrement]

/** A registry of the shared test blocks, the rule blocks and `extra`. */
export const registryOf = (extra: ReadonlyArray<Block.AnyBlock> = []): Promise<BlockRegistryShape> =>
  Effect.runPromise(makeRegistry([testBlocks, Block.set("rules", ruleBlocks), Block.set("extra", extra)]))

/** `harness` with the rule blocks added to `extra`. */
export const rulesHarness = (options: Parameters<typeof harness>[0] = {}): Harness =>
  harness({ ...options, extra: [...ruleBlocks, ...(options.extra ?? [])] })

/** A promise and the function that resolves it. */
export interface Gate {
  readonly promise: Promise<void>
  readonly open: () => void
}

export const gate = (): Gate => {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** One node execution as seen in a run's events. */
export interface ObservedExecution {
  readonly executionId: string
  /** Creation order in the run (the number after the run id). */
  readonly order: number
  /** The resolved inputs of its QUEUED event. */
  readonly inputs: Readonly<Record<string, unknown>> | undefined
  readonly statuses: ReadonlyArray<Status>
  readonly outputs: ReadonlyArray<readonly [string, unknown]>
  readonly error: string | undefined
}

const orderOf = (executionId: string): number => Number(executionId.slice(executionId.lastIndexOf(".") + 1))

/** The executions of `nodeId` that have at least one event, in creation order. */
export const executionsOf = (events: ReadonlyArray<RunEvent>, nodeId: string): Array<ObservedExecution> => {
  const byId = new Map<
    string,
    {
      inputs: Readonly<Record<string, unknown>> | undefined
      statuses: Array<Status>
      outputs: Array<readonly [string, unknown]>
      error: string | undefined
    }
  >()
  const entry = (id: string) => {
    let e = byId.get(id)
    if (e === undefined) {
      e = { inputs: undefined, statuses: [], outputs: [], error: undefined }
      byId.set(id, e)
    }
    return e
  }
  for (const event of events) {
    if (event.type === "NodeStatus" && event.nodeId === nodeId) {
      const e = entry(event.executionId)
      e.statuses.push(event.status)
      if (event.status === "QUEUED") e.inputs = event.inputs
      if (event.error !== undefined) e.error = event.error
    } else if (event.type === "NodeOutput" && event.nodeId === nodeId) {
      entry(event.executionId).outputs.push([event.pin, event.value])
    }
  }
  return [...byId.entries()]
    .map(([executionId, e]) => ({ executionId, order: orderOf(executionId), ...e }))
    .sort((a, b) => a.order - b.order)
}

/** The NodeStatus events of a run, in order. */
export const nodeStatuses = (events: ReadonlyArray<RunEvent>): ReadonlyArray<NodeStatusEvent> =>
  events.filter((e): e is NodeStatusEvent => e.type === "NodeStatus")

/** The most executions RUNNING at once, replaying the events in order (optionally of some nodes only). */
export const maxRunning = (events: ReadonlyArray<RunEvent>, nodeIds?: ReadonlyArray<string>): number => {
  const running = new Set<string>()
  let max = 0
  for (const event of nodeStatuses(events)) {
    if (nodeIds !== undefined && !nodeIds.includes(event.nodeId)) continue
    if (event.status === "RUNNING") running.add(event.executionId)
    else running.delete(event.executionId)
    max = Math.max(max, running.size)
  }
  return max
}

/** A store that behaves like `inner` for its first `okCommits` commits, then fails every commit. */
export const failingAfter = (
  inner: RunStoreShape,
  okCommits: number,
): RunStoreShape & { readonly commits: () => number } => {
  let commits = 0
  return {
    ...inner,
    commits: () => commits,
    commit: (runId, batch) =>
      Effect.suspend(() =>
        ++commits > okCommits
          ? Effect.fail(new StoreError({ operation: "commit", cause: new Error("disk full") }))
          : inner.commit(runId, batch),
      ),
  }
}

/** Rejects when `promise` has not settled after `ms`, so that a hanging stream fails a test instead of timing it out. */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
