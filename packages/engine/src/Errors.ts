/**
 * Tagged errors of the engine. Each carries enough to show a user which node and field went wrong.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * Per-node, per-field validation messages: `{ nodeId: { field: message } }` (R4).
 * Graph-level problems use the key `"$graph"`.
 *
 * @category models
 */
export type ValidationErrors = Record<string, Record<string, string>>

const summarize = (errors: ValidationErrors): string =>
  Object.entries(errors)
    .flatMap(([node, fields]) =>
      Object.entries(fields).map(([field, message]) => `${node}.${field}: ${message}`),
    )
    .join("; ")

/**
 * The graph failed validation (R4). `errors` maps node id → field → message.
 *
 * @category errors
 */
export class GraphInvalid extends Data.TaggedError("GraphInvalid")<{
  readonly graphId: string
  readonly errors: ValidationErrors
}> {
  override get message(): string {
    return `Graph ${this.graphId} is invalid: ${summarize(this.errors)}`
  }
}

/**
 * A run's inputs do not match the graph's input schema (R5). `errors` maps input name → message.
 *
 * @category errors
 */
export class RunInputInvalid extends Data.TaggedError("RunInputInvalid")<{
  readonly graphId: string
  readonly errors: Record<string, string>
}> {
  override get message(): string {
    return `Invalid run inputs for graph ${this.graphId}: ${Object.entries(this.errors)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ")}`
  }
}

/**
 * No block with this id (or alias) is registered.
 *
 * @category errors
 */
export class BlockNotFound extends Data.TaggedError("BlockNotFound")<{ readonly blockId: string }> {
  override get message(): string {
    return `Unknown block: ${this.blockId}`
  }
}

/**
 * Two blocks (or a block and an alias) claim the same id when a registry is built.
 *
 * @category errors
 */
export class DuplicateBlockId extends Data.TaggedError("DuplicateBlockId")<{
  readonly blockId: string
  readonly first: string
  readonly second: string
}> {
  override get message(): string {
    return `Duplicate block id ${this.blockId} (declared by ${this.first} and ${this.second})`
  }
}

/**
 * An error a block raises on purpose. `retryable: false` tells the executor not to retry it (W1).
 * Plain-TS blocks may `throw new BlockError({ message: "...", retryable: false })`.
 *
 * @category errors
 */
export class BlockError extends Data.TaggedError("BlockError")<{
  readonly message: string
  readonly retryable?: boolean
  readonly field?: string
}> {}

/**
 * A node execution failed: the block threw, yielded `error`, or its input or output was invalid (R2, R3).
 *
 * @category errors
 */
export class BlockFailed extends Data.TaggedError("BlockFailed")<{
  readonly nodeId: string
  readonly blockId: string
  readonly executionId: string
  readonly reason: "Thrown" | "ErrorPin" | "InvalidInput" | "InvalidOutput"
  readonly message: string
  readonly field?: string
  readonly retryable: boolean
}> {}

/**
 * The block must not run: it is disabled (`Block.disabled`, or by the registry's `disabled` option).
 *
 * @category errors
 */
export class BlockDisabled extends Data.TaggedError("BlockDisabled")<{
  readonly blockId: string
  readonly reason: string
}> {
  override get message(): string {
    return `Block ${this.blockId} is disabled: ${this.reason}`
  }
}

/**
 * A node execution took longer than its timeout (W2).
 *
 * @category errors
 */
export class BlockTimedOut extends Data.TaggedError("BlockTimedOut")<{
  readonly nodeId: string
  readonly blockId: string
  readonly executionId: string
  readonly timeoutMs: number
}> {
  override get message(): string {
    return `Node ${this.nodeId} (${this.blockId}) timed out after ${this.timeoutMs} ms`
  }
}

/**
 * A node execution failed on every attempt its retry policy allowed (W1).
 *
 * @category errors
 */
export class RetriesExhausted extends Data.TaggedError("RetriesExhausted")<{
  readonly nodeId: string
  readonly executionId: string
  readonly attempts: number
  readonly lastError: string
}> {
  override get message(): string {
    return `Node ${this.nodeId} failed after ${this.attempts} attempts: ${this.lastError}`
  }
}

/**
 * The run passed its deadline (W2) or its cost budget (W9).
 *
 * @category errors
 */
export class RunLimitExceeded extends Data.TaggedError("RunLimitExceeded")<{
  readonly runId: string
  readonly limit: "deadline" | "budget"
  readonly detail: string
}> {
  override get message(): string {
    return `Run ${this.runId} exceeded its ${this.limit}: ${this.detail}`
  }
}

/**
 * The run store failed. The run ends FAILED: this is a run-level failure (R14).
 *
 * @category errors
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Run store failed during ${this.operation}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/**
 * No run with this id in the store.
 *
 * @category errors
 */
export class RunNotFound extends Data.TaggedError("RunNotFound")<{ readonly runId: string }> {
  override get message(): string {
    return `Run not found: ${this.runId}`
  }
}

/**
 * A review action named an execution that is not waiting for review (R16).
 *
 * @category errors
 */
export class ReviewNotPending extends Data.TaggedError("ReviewNotPending")<{
  readonly runId: string
  readonly executionId: string
}> {
  override get message(): string {
    return `Execution ${this.executionId} of run ${this.runId} is not waiting for review`
  }
}

/**
 * A sub-graph named by an agent-executor block could not be loaded (R15).
 *
 * @category errors
 */
export class GraphNotFound extends Data.TaggedError("GraphNotFound")<{
  readonly graphId: string
  readonly version?: number
}> {
  override get message(): string {
    return `Graph not found: ${this.graphId}${this.version === undefined ? "" : ` v${this.version}`}`
  }
}

/**
 * A status change that the transition table (R13) does not allow. A defect in the executor or a store.
 *
 * @category errors
 */
export class IllegalTransition extends Data.TaggedError("IllegalTransition")<{
  readonly entity: string
  readonly from: string
  readonly to: string
}> {
  override get message(): string {
    return `Illegal status change for ${this.entity}: ${this.from} → ${this.to}`
  }
}

/**
 * Raised by a block to put its execution in REVIEW and wait for a person (R16). `payload` is what the
 * reviewer sees (and may edit). Plain-TS blocks may `throw new ReviewRequested({ payload })`.
 *
 * @category errors
 */
export class ReviewRequested extends Data.TaggedError("ReviewRequested")<{ readonly payload: unknown }> {}

/**
 * A run option (or executor setting) is out of range, e.g. `maxConcurrency: 0`.
 *
 * @category errors
 */
export class OptionsInvalid extends Data.TaggedError("OptionsInvalid")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid option ${this.field}: ${this.reason}`
  }
}
