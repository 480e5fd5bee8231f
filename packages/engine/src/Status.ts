/**
 * Run and node-execution statuses and their transition table (R13).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The seven statuses shared by runs and node executions.
 *
 * @category models
 */
export const Status = Schema.Literals([
  "INCOMPLETE",
  "QUEUED",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "TERMINATED",
  "REVIEW",
])
/** @category models */
export type Status = typeof Status.Type

/**
 * For each new status, the statuses it may be entered from (R13).
 *
 * @category models
 */
export const allowedFrom: { readonly [S in Status]: ReadonlySet<Status> } = {
  INCOMPLETE: new Set<Status>(),
  QUEUED: new Set<Status>(["INCOMPLETE", "TERMINATED", "REVIEW"]),
  RUNNING: new Set<Status>(["INCOMPLETE", "QUEUED", "TERMINATED", "REVIEW"]),
  COMPLETED: new Set<Status>(["RUNNING"]),
  FAILED: new Set<Status>(["INCOMPLETE", "QUEUED", "RUNNING", "REVIEW"]),
  TERMINATED: new Set<Status>(["INCOMPLETE", "QUEUED", "RUNNING", "REVIEW"]),
  REVIEW: new Set<Status>(["RUNNING"]),
}

/**
 * Whether `from → to` is allowed by R13.
 *
 * @category predicates
 */
export const canTransition = (from: Status, to: Status): boolean => allowedFrom[to].has(from)

/**
 * Statuses after which nothing more happens unless a person acts (review) or the run is resumed.
 *
 * @category predicates
 */
export const isFinal = (status: Status): boolean =>
  status === "COMPLETED" || status === "FAILED" || status === "TERMINATED"
