/**
 * Run events: the ordered log of everything that happens in a run (W5, W6).
 *
 * Every persisted event has a per-run sequence number: 1, 2, 3… with no gap and no repeat. Progress
 * deltas are live-only: they carry `afterSeq` (the last persisted event before them) instead of a `seq`.
 *
 * @since 0.1.0
 */
import type { Status } from "./Status.js"

interface Base {
  readonly runId: string
  readonly seq: number
  /** Epoch milliseconds from the effect `Clock`. */
  readonly at: number
}

/**
 * The run changed status. The last event of a run that stopped has a final status (or REVIEW) and its outputs.
 *
 * @category models
 */
export interface RunStatusEvent extends Base {
  readonly type: "RunStatus"
  readonly status: Status
  readonly graphId: string
  readonly error?: string
  readonly outputs?: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly cost?: number
}

/**
 * A node execution changed status. QUEUED events carry the execution's resolved inputs; FAILED events carry
 * the error; COMPLETED events carry the execution's cost.
 *
 * @category models
 */
export interface NodeStatusEvent extends Base {
  readonly type: "NodeStatus"
  readonly executionId: string
  readonly nodeId: string
  readonly status: Status
  readonly inputs?: Readonly<Record<string, unknown>>
  readonly error?: string
  /** For FAILED: `BlockFailed`, `BlockTimedOut` or `RetriesExhausted`. */
  readonly errorTag?: string
  /** For FAILED: the input field or output pin that was invalid, when one was. */
  readonly field?: string
  readonly cost?: number
}

/**
 * A node yielded a value on a pin (W5). `index` counts the execution's outputs from 0.
 *
 * @category models
 */
export interface NodeOutputEvent extends Base {
  readonly type: "NodeOutput"
  readonly executionId: string
  readonly nodeId: string
  readonly pin: string
  readonly value: unknown
  readonly index: number
}

/**
 * A retry of a node execution is about to start (W1): `attempt` is its number (2 for the first retry).
 *
 * @category models
 */
export interface NodeAttemptEvent extends Base {
  readonly type: "NodeAttempt"
  readonly executionId: string
  readonly nodeId: string
  readonly attempt: number
  readonly error: string
}

/**
 * A log line written by a block.
 *
 * @category models
 */
export interface NodeLogEvent extends Base {
  readonly type: "NodeLog"
  readonly executionId: string
  readonly nodeId: string
  readonly level: "debug" | "info" | "warn" | "error"
  readonly message: string
  readonly data?: unknown
}

/**
 * A persisted run event.
 *
 * @category models
 */
export type PersistedEvent =
  | RunStatusEvent
  | NodeStatusEvent
  | NodeOutputEvent
  | NodeAttemptEvent
  | NodeLogEvent

/**
 * A progress delta (e.g. an LLM token). Live only: not persisted and without a sequence number (W5).
 *
 * @category models
 */
export interface NodeProgressEvent {
  readonly type: "NodeProgress"
  readonly runId: string
  readonly afterSeq: number
  readonly at: number
  readonly executionId: string
  readonly nodeId: string
  readonly delta: unknown
}

/**
 * Anything a run subscriber receives.
 *
 * @category models
 */
export type RunEvent = PersistedEvent | NodeProgressEvent

/**
 * Whether an event has a sequence number and lives in the store.
 *
 * @category predicates
 */
export const isPersisted = (event: RunEvent): event is PersistedEvent => event.type !== "NodeProgress"

/**
 * Whether an event is the last one of a run that stopped (finished, or paused for review).
 *
 * @category predicates
 */
export const isRunStop = (event: RunEvent): event is RunStatusEvent =>
  event.type === "RunStatus" &&
  (event.status === "COMPLETED" ||
    event.status === "FAILED" ||
    event.status === "TERMINATED" ||
    event.status === "REVIEW")
