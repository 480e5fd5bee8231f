/**
 * The run store: runs, node executions (inputs, status, outputs) and events (W6, W7).
 *
 * The executor is the single writer of a run. It sends each batch of changes in one `commit`, which a SQL
 * store applies in one transaction: an output and the input changes it routes are durable together, and
 * event sequence numbers are written in the same transaction as the change they describe.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { ReviewDecision } from "./Block.js"
import { RunNotFound, StoreError } from "./Errors.js"
import type { Graph } from "./Graph.js"
import type { PersistedEvent } from "./RunEvent.js"
import type { Status } from "./Status.js"

/**
 * A run as stored.
 *
 * @category models
 */
export interface RunRecord {
  readonly id: string
  readonly graph: Graph
  readonly inputs: Readonly<Record<string, unknown>>
  readonly status: Status
  readonly parentRunId?: string
  readonly parentExecutionId?: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly outputs: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly cost: number
  readonly error?: string
  /**
   * The sequence number of the run's last persisted event. The executor sends the run record only when the
   * run itself changes, so a store must derive this from its events when it loads a run.
   */
  readonly lastSeq: number
  /** Execution options that resuming must keep (safe mode, budget, deadline). */
  readonly options: RunOptionsRecord
}

/**
 * Run options that are part of the run's durable state.
 *
 * @category models
 */
export interface RunOptionsRecord {
  readonly safeMode?: boolean
  readonly budget?: number
  /** Absolute deadline, epoch milliseconds. */
  readonly deadlineAt?: number
  readonly maxConcurrency?: number
}

/**
 * A node execution as stored.
 *
 * @category models
 */
export interface ExecutionRecord {
  readonly id: string
  readonly runId: string
  readonly nodeId: string
  readonly blockId: string
  /** Creation order within the run; FIFO pairing (R7) follows it. */
  readonly order: number
  readonly status: Status
  /** The values that arrived on linked pins, keyed by sink pin name (dynamic names kept). */
  readonly inputs: Readonly<Record<string, unknown>>
  /** How many outputs this execution has recorded. */
  readonly outputCount: number
  readonly attempts: number
  readonly cost: number
  readonly createdAt: number
  readonly startedAt?: number
  readonly endedAt?: number
  readonly error?: string
  /** Set when the execution asked for a human review (R16). */
  readonly review?: { readonly payload: unknown; readonly decision?: ReviewDecision }
}

/**
 * One recorded output value of a node execution.
 *
 * @category models
 */
export interface OutputRecord {
  readonly runId: string
  readonly executionId: string
  readonly nodeId: string
  readonly index: number
  readonly pin: string
  readonly value: unknown
  /** The sequence number of the `NodeOutput` event that announced it. */
  readonly seq: number
}

/**
 * One atomic change to one run.
 *
 * @category models
 */
export interface CommitBatch {
  readonly run?: RunRecord
  readonly executions: ReadonlyArray<ExecutionRecord>
  readonly outputs: ReadonlyArray<OutputRecord>
  readonly events: ReadonlyArray<PersistedEvent>
}

/**
 * Everything the store holds about one run.
 *
 * @category models
 */
export interface RunSnapshot {
  readonly run: RunRecord
  /** In creation order. */
  readonly executions: ReadonlyArray<ExecutionRecord>
  /** In sequence order. */
  readonly outputs: ReadonlyArray<OutputRecord>
}

/**
 * The store's interface.
 *
 * @category models
 */
export interface RunStoreShape {
  /**
   * Applies a batch atomically. The first commit of a run carries its `run` record; later ones carry it
   * only when the run's status, outputs, cost or error changed.
   */
  readonly commit: (runId: string, batch: CommitBatch) => Effect.Effect<void, StoreError>
  readonly load: (runId: string) => Effect.Effect<RunSnapshot, RunNotFound | StoreError>
  /** Persisted events with `seq > afterSeq`, in order. */
  readonly events: (
    runId: string,
    afterSeq: number,
  ) => Effect.Effect<ReadonlyArray<PersistedEvent>, StoreError>
  /** Runs whose status is not final: the candidates for resuming. */
  readonly unfinished: () => Effect.Effect<ReadonlyArray<RunRecord>, StoreError>
}

interface MemoryRun {
  run: RunRecord
  readonly executions: Map<string, ExecutionRecord>
  readonly outputs: Array<OutputRecord>
  readonly events: Array<PersistedEvent>
}

/**
 * An in-memory store. Each call to `makeMemory` gives an independent store; share the value to share data.
 *
 * @category constructors
 */
export const makeMemory = (): RunStoreShape => {
  const runs = new Map<string, MemoryRun>()
  const fail = (operation: string, message: string) =>
    Effect.fail(new StoreError({ operation, cause: new Error(message) }))
  return {
    commit: (runId, batch) =>
      Effect.suspend(() => {
        let entry = runs.get(runId)
        if (entry === undefined) {
          if (batch.run === undefined) return fail("commit", `run ${runId} does not exist`)
          entry = { run: batch.run, executions: new Map(), outputs: [], events: [] }
          runs.set(runId, entry)
        }
        // Contiguity is the store's promise (W6): refuse a batch that would leave a gap or a repeat.
        let expected = entry.events.length + 1
        for (const event of batch.events) {
          if (event.seq !== expected)
            return fail("commit", `run ${runId}: event seq ${event.seq}, expected ${expected}`)
          expected++
        }
        if (batch.run !== undefined) entry.run = batch.run
        for (const execution of batch.executions) entry.executions.set(execution.id, execution)
        for (const output of batch.outputs) entry.outputs.push(output)
        for (const event of batch.events) entry.events.push(event)
        return Effect.void
      }),
    load: (runId) =>
      Effect.suspend(() => {
        const entry = runs.get(runId)
        if (entry === undefined) return Effect.fail(new RunNotFound({ runId }))
        const executions = [...entry.executions.values()].sort((a, b) => a.order - b.order)
        const run = { ...entry.run, lastSeq: entry.events.length }
        return Effect.succeed({ run, executions, outputs: [...entry.outputs] })
      }),
    events: (runId, afterSeq) =>
      Effect.sync(() => {
        const entry = runs.get(runId)
        return entry === undefined ? [] : entry.events.slice(Math.max(0, afterSeq))
      }),
    unfinished: () =>
      Effect.sync(() =>
        [...runs.values()]
          .map((e) => e.run)
          .filter((r) => r.status === "QUEUED" || r.status === "RUNNING" || r.status === "INCOMPLETE"),
      ),
  }
}

/**
 * The run store service.
 *
 * @category services
 */
export class RunStore extends Context.Service<RunStore, RunStoreShape>()("@weft/engine/RunStore") {
  /**
   * A fresh in-memory store.
   *
   * @category layers
   */
  static readonly layerMemory: Layer.Layer<RunStore> = Layer.effect(RunStore, Effect.sync(makeMemory))
}
