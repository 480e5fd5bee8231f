/**
 * Shared SQL fragments and row mappings of the stores.
 */
import type { ExecutionRecord, Graph, RunRecord, Status } from "@weft/engine"

/** A timestamptz column as epoch milliseconds (a float8, exact for millisecond times). */
export const ms = (column: string): string => `round(extract(epoch FROM ${column}) * 1000)::float8`

/** An epoch-milliseconds parameter as a timestamptz. */
export const ts = (param: string): string => `to_timestamp(${param}::float8 / 1000)`

/**
 * JSON text for a jsonb parameter. Postgres' jsonb cannot hold U+0000, so NUL characters in strings become
 * U+FFFD (the scan for them is cheap, the replacing pass only runs when one is present).
 */
export const jsonText = (value: unknown): string => {
  const text = JSON.stringify(value) ?? "null"
  if (!text.includes("\\u0000")) return text
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "string" ? v.replaceAll("\0", "\uFFFD") : v,
  )
}

/** The columns of `runs` that a `RunRow` reads (from a table aliased `r`). */
export const RUN_COLUMNS = `r.id, r.owner_id, r.graph_id, r.graph_version, r.parent_run_id, r.parent_execution_id,
  r.status, r.inputs, r.outputs, r.cost, r.error, r.options, r.graph, ${ms("r.created_at")} AS created_at,
  ${ms("r.updated_at")} AS updated_at, r.last_seq`

export interface RunRow {
  readonly id: string
  readonly owner_id: string | null
  readonly graph_id: string | null
  readonly graph_version: number | null
  readonly parent_run_id: string | null
  readonly parent_execution_id: string | null
  readonly status: Status
  readonly inputs: Record<string, unknown> | null
  readonly outputs: Record<string, ReadonlyArray<unknown>>
  readonly cost: number
  readonly error: string | null
  readonly options: RunRecord["options"]
  readonly graph: Graph | null
  readonly created_at: number
  readonly updated_at: number
  readonly last_seq: number
}

/** A run row with its graph as the engine's record. */
export const toRunRecord = (row: RunRow & { readonly graph: Graph }, lastSeq = row.last_seq): RunRecord => ({
  id: row.id,
  graph: row.graph,
  inputs: row.inputs ?? {},
  status: row.status,
  ...(row.parent_run_id === null ? {} : { parentRunId: row.parent_run_id }),
  ...(row.parent_execution_id === null ? {} : { parentExecutionId: row.parent_execution_id }),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  outputs: row.outputs,
  cost: row.cost,
  ...(row.error === null ? {} : { error: row.error }),
  lastSeq,
  options: row.options,
})

export const EXECUTION_COLUMNS = `e.id, e.run_id, e.node_id, e.block_id, e.ord, e.status, e.inputs, e.output_count,
  e.attempts, e.cost, e.review, e.error, ${ms("e.created_at")} AS created_at,
  ${ms("e.started_at")} AS started_at, ${ms("e.ended_at")} AS ended_at`

export interface ExecutionRow {
  readonly id: string
  readonly run_id: string
  readonly node_id: string
  readonly block_id: string
  readonly ord: number
  readonly status: Status
  readonly inputs: Record<string, unknown>
  readonly output_count: number
  readonly attempts: number
  readonly cost: number
  readonly review: NonNullable<ExecutionRecord["review"]> | null
  readonly error: string | null
  readonly created_at: number
  readonly started_at: number | null
  readonly ended_at: number | null
}

export const toExecutionRecord = (row: ExecutionRow): ExecutionRecord => ({
  id: row.id,
  runId: row.run_id,
  nodeId: row.node_id,
  blockId: row.block_id,
  order: row.ord,
  status: row.status,
  inputs: row.inputs,
  outputCount: row.output_count,
  attempts: row.attempts,
  cost: row.cost,
  createdAt: row.created_at,
  ...(row.started_at === null ? {} : { startedAt: row.started_at }),
  ...(row.ended_at === null ? {} : { endedAt: row.ended_at }),
  ...(row.error === null ? {} : { error: row.error }),
  ...(row.review === null ? {} : { review: row.review }),
})

export const OUTPUT_COLUMNS = "o.run_id, o.execution_id, o.node_id, o.idx, o.pin, o.value, o.seq"

export interface OutputRow {
  readonly run_id: string
  readonly execution_id: string
  readonly node_id: string
  readonly idx: number
  readonly pin: string
  readonly value: unknown
  readonly seq: number
}

export const toOutputRecord = (row: OutputRow) => ({
  runId: row.run_id,
  executionId: row.execution_id,
  nodeId: row.node_id,
  index: row.idx,
  pin: row.pin,
  value: row.value,
  seq: row.seq,
})

/** Statuses a run can still move on from without a person acting. */
export const UNFINISHED = "('INCOMPLETE', 'QUEUED', 'RUNNING')"
