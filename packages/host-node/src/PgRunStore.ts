/**
 * The engine's `RunStore` on the `Sql` service (Postgres or PGlite).
 *
 * Each `commit` is one transaction. It locks the run row, refuses a batch whose first event is not
 * `last_seq + 1` (W6), then writes the run, its executions, outputs and events and moves `runs.last_seq`, so
 * two writers of one run are serialised and at most one of them succeeds with a given seq. The same
 * transaction sends `NOTIFY weft_run_events` with `{"runId", "lastSeq"}`; Postgres delivers it on commit
 * only, to every host process that listens ({@link listenCommits}).
 *
 * A commit that appends events is one statement, one round trip (its implicit transaction): its first part
 * moves `last_seq` compare-and-set style under the row lock, and the writes read that part's result. When it
 * writes nothing, the same batch goes through a transaction of several statements (`SELECT … FOR UPDATE`
 * first), which fails with the reason or writes it. See `docs/benchmarks.md` (Host) for what this saves.
 *
 * A run row made by `RunQueries.claim` keeps its owner, graph id and graph version; a child run (R15) takes
 * its owner from its parent. The graph, inputs and options are written by the first commit and never change.
 *
 * @since 0.1.0
 */
import {
  type CommitBatch,
  type PersistedEvent,
  RunNotFound,
  RunStore,
  type RunStoreShape,
  StoreError,
} from "@weft/engine"
import { Effect, Layer, type Scope } from "effect"
import {
  EXECUTION_COLUMNS,
  type ExecutionRow,
  jsonText,
  OUTPUT_COLUMNS,
  type OutputRow,
  RUN_COLUMNS,
  type RunRow,
  toExecutionRecord,
  toOutputRecord,
  toRunRecord,
  ts,
  UNFINISHED,
} from "./internal/sql-rows.js"
import { Sql, type SqlError, type SqlTx } from "./Sql.js"

/** The channel every commit that appends events notifies. */
const channel = "weft_run_events"

/**
 * The payload of a `weft_run_events` notification: the run and the seq of its last committed event.
 *
 * @category models
 */
export interface CommitNotice {
  readonly runId: string
  readonly lastSeq: number
}

/** Notification payloads must stay under Postgres' 8000-byte limit. */
const MAX_PAYLOAD = 7900

/** Whether the events' seqs follow on one from the next. */
const contiguous = (events: ReadonlyArray<PersistedEvent>) =>
  events.every((event, i) => i === 0 || event.seq === (events[i - 1]?.seq ?? 0) + 1)

const fail = (runId: string, message: string) =>
  Effect.fail(new StoreError({ operation: "commit", cause: new Error(`run ${runId}: ${message}`) }))

const writeRun = (tx: SqlTx, runId: string, batch: CommitBatch, firstCommit: boolean, lastSeq: number) => {
  const run = batch.run
  if (run === undefined) {
    return batch.events.length === 0
      ? Effect.void
      : tx.query("UPDATE runs SET last_seq = $2 WHERE id = $1", [runId, lastSeq])
  }
  const changing = [
    runId,
    run.status,
    jsonText(run.outputs),
    Number.isFinite(run.cost) ? run.cost : 0,
    run.error ?? null,
    run.updatedAt,
    lastSeq,
  ]
  if (!firstCommit) {
    return tx.query(
      `UPDATE runs SET status = $2, outputs = $3::jsonb, cost = $4, error = $5, updated_at = ${ts("$6")},
         last_seq = $7
       WHERE id = $1`,
      changing,
    )
  }
  return tx.query(
    `UPDATE runs SET status = $2, outputs = $3::jsonb, cost = $4, error = $5, updated_at = ${ts("$6")},
       last_seq = $7, created_at = ${ts("$8")}, graph = $9::jsonb, inputs = $10::jsonb, options = $11::jsonb,
       parent_run_id = COALESCE(parent_run_id, $12), parent_execution_id = COALESCE(parent_execution_id, $13),
       graph_id = COALESCE(graph_id, $14), graph_version = COALESCE(graph_version, $15::integer),
       owner_id = COALESCE(owner_id, (SELECT p.owner_id FROM runs p WHERE p.id = $12))
     WHERE id = $1`,
    [
      ...changing,
      run.createdAt,
      jsonText(run.graph),
      jsonText(run.inputs),
      jsonText(run.options),
      run.parentRunId ?? null,
      run.parentExecutionId ?? null,
      run.graph.id,
      run.graph.version,
    ],
  )
}

/** The rows of `node_executions` a batch writes, as JSON for `jsonb_to_recordset`. */
const executionRows = (batch: CommitBatch) =>
  jsonText(
    batch.executions.map((e) => ({
      id: e.id,
      node_id: e.nodeId,
      block_id: e.blockId,
      ord: e.order,
      status: e.status,
      inputs: e.inputs,
      output_count: e.outputCount,
      attempts: e.attempts,
      cost: e.cost,
      review: e.review,
      error: e.error,
      created_at: e.createdAt,
      started_at: e.startedAt,
      ended_at: e.endedAt,
    })),
  )

/** The rows of `node_outputs` a batch writes, as JSON for `jsonb_to_recordset`. */
const outputRows = (batch: CommitBatch) =>
  jsonText(
    batch.outputs.map((o) => ({
      execution_id: o.executionId,
      idx: o.index,
      node_id: o.nodeId,
      pin: o.pin,
      value: o.value,
      seq: o.seq,
    })),
  )

/**
 * Inserts or updates the node executions of `$rows` (a parameter) for the run id `runId` (an expression),
 * reading `from` (extra FROM items, e.g. a CTE that must have a row).
 */
const upsertExecutions = (runId: string, rows: string, from = "") =>
  `INSERT INTO node_executions (id, run_id, node_id, block_id, ord, status, inputs, output_count, attempts,
       cost, review, error, created_at, started_at, ended_at)
     SELECT x.id, ${runId}, x.node_id, x.block_id, x.ord, x.status, COALESCE(x.inputs, '{}'::jsonb),
       x.output_count, x.attempts, COALESCE(x.cost, 0), x.review, x.error, ${ts("x.created_at")},
       ${ts("x.started_at")}, ${ts("x.ended_at")}
     FROM ${from}jsonb_to_recordset(${rows}::jsonb) AS x(id text, node_id text, block_id text, ord integer,
       status text, inputs jsonb, output_count integer, attempts integer, cost float8, review jsonb,
       error text, created_at float8, started_at float8, ended_at float8)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, inputs = EXCLUDED.inputs,
       output_count = EXCLUDED.output_count, attempts = EXCLUDED.attempts, cost = EXCLUDED.cost,
       review = EXCLUDED.review, error = EXCLUDED.error, started_at = EXCLUDED.started_at,
       ended_at = EXCLUDED.ended_at
     WHERE node_executions.run_id = EXCLUDED.run_id`

/**
 * Inserts the outputs of `$rows`. A plain INSERT: (execution, output index) is the primary key, so an output
 * can never be stored twice.
 */
const insertOutputs = (runId: string, rows: string, from = "") =>
  `INSERT INTO node_outputs (run_id, execution_id, idx, node_id, pin, value, seq)
     SELECT ${runId}, x.execution_id, x.idx, x.node_id, x.pin, x.value, x.seq
     FROM ${from}jsonb_to_recordset(${rows}::jsonb) AS x(execution_id text, idx integer, node_id text,
       pin text, value jsonb, seq integer)`

/** Inserts the events of `$events` (a JSON array of persisted events). */
const insertEvents = (runId: string, events: string, from = "") =>
  `INSERT INTO run_events (run_id, seq, event)
     SELECT ${runId}, (e ->> 'seq')::integer, e FROM ${from}jsonb_array_elements(${events}::jsonb) AS e`

/** The notification payload of a commit that appended events, or undefined when it would be too long. */
const noticeOf = (runId: string, lastSeq: number): string | undefined => {
  const notice = JSON.stringify({ runId, lastSeq } satisfies CommitNotice)
  return Buffer.byteLength(notice) < MAX_PAYLOAD ? notice : undefined
}

const writeExecutions = (tx: SqlTx, runId: string, batch: CommitBatch) =>
  batch.executions.length === 0
    ? Effect.void
    : tx.query(upsertExecutions("$1", "$2"), [runId, executionRows(batch)])

const writeOutputs = (tx: SqlTx, runId: string, batch: CommitBatch) =>
  batch.outputs.length === 0 ? Effect.void : tx.query(insertOutputs("$1", "$2"), [runId, outputRows(batch)])

const writeEvents = (tx: SqlTx, runId: string, batch: CommitBatch, lastSeq: number) => {
  if (batch.events.length === 0) return Effect.void
  const notice = noticeOf(runId, lastSeq)
  return Effect.andThen(
    tx.query(insertEvents("$1", "$2"), [runId, jsonText(batch.events)]),
    // Delivered when the transaction commits, never for one that rolls back. A run id too long for a payload
    // gets no notification; its subscribers still catch up from the store.
    notice === undefined ? Effect.void : tx.query("SELECT pg_notify($1, $2)", [channel, notice]),
  )
}

/**
 * A commit as one statement (one round trip, its own implicit transaction). Its first part (`locked`) writes
 * the run row and checks `last_seq` under the row's lock, compare-and-set style (under a concurrent writer,
 * Postgres re-checks the condition on the row version it waited for); the inserts and the notification read
 * `locked`, so when the seq does not follow on (W6) the statement writes nothing and answers no row.
 *
 * - A later commit of a recorded run (`graph IS NOT NULL`): `UPDATE runs … WHERE last_seq = first seq - 1`.
 * - The first commit (a run record and seq 1): an upsert that records the run, over a row that
 *   `RunQueries.claim` made (its owner, graph id and version kept) or none (a child run takes its parent's
 *   owner), only while the row has no graph and no event yet.
 *
 * The events must follow on one from the next (the caller checks).
 */
const oneStatement = (runId: string, batch: CommitBatch, firstSeq: number, lastSeq: number) => {
  const params: Array<unknown> = [runId, firstSeq - 1, lastSeq, jsonText(batch.events)]
  const param = (value: unknown) => {
    params.push(value)
    return `$${params.length}`
  }
  const run = batch.run
  let locked: string
  if (firstSeq === 1 && run !== undefined) {
    const parent = param(run.parentRunId ?? null)
    locked = `INSERT INTO runs AS r (id, status, outputs, cost, error, updated_at, last_seq, created_at, graph,
         inputs, options, parent_run_id, parent_execution_id, graph_id, graph_version, owner_id)
       VALUES ($1, ${param(run.status)}, ${param(jsonText(run.outputs))}::jsonb,
         ${param(Number.isFinite(run.cost) ? run.cost : 0)}, ${param(run.error ?? null)},
         ${ts(param(run.updatedAt))}, $3, ${ts(param(run.createdAt))}, ${param(jsonText(run.graph))}::jsonb,
         ${param(jsonText(run.inputs))}::jsonb, ${param(jsonText(run.options))}::jsonb, ${parent}::text,
         ${param(run.parentExecutionId ?? null)}::text, ${param(run.graph.id)}::text,
         ${param(run.graph.version)}::integer, (SELECT p.owner_id FROM runs p WHERE p.id = ${parent}::text))
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, outputs = EXCLUDED.outputs,
         cost = EXCLUDED.cost, error = EXCLUDED.error, updated_at = EXCLUDED.updated_at,
         last_seq = EXCLUDED.last_seq, created_at = EXCLUDED.created_at, graph = EXCLUDED.graph,
         inputs = EXCLUDED.inputs, options = EXCLUDED.options,
         parent_run_id = COALESCE(r.parent_run_id, EXCLUDED.parent_run_id),
         parent_execution_id = COALESCE(r.parent_execution_id, EXCLUDED.parent_execution_id),
         graph_id = COALESCE(r.graph_id, EXCLUDED.graph_id),
         graph_version = COALESCE(r.graph_version, EXCLUDED.graph_version),
         owner_id = COALESCE(r.owner_id, EXCLUDED.owner_id)
       WHERE r.graph IS NULL AND r.last_seq = $2
       RETURNING r.id`
  } else {
    const set =
      run === undefined
        ? ""
        : `, status = ${param(run.status)}, outputs = ${param(jsonText(run.outputs))}::jsonb,
           cost = ${param(Number.isFinite(run.cost) ? run.cost : 0)}, error = ${param(run.error ?? null)},
           updated_at = ${ts(param(run.updatedAt))}`
    locked = `UPDATE runs SET last_seq = $3${set} WHERE id = $1 AND last_seq = $2 AND graph IS NOT NULL
       RETURNING id`
  }
  const parts = [`locked AS (${locked})`, `events AS (${insertEvents("locked.id", "$4", "locked, ")})`]
  if (batch.executions.length > 0)
    parts.push(`executions AS (${upsertExecutions("locked.id", param(executionRows(batch)), "locked, ")})`)
  if (batch.outputs.length > 0)
    parts.push(`outputs AS (${insertOutputs("locked.id", param(outputRows(batch)), "locked, ")})`)
  const notice = noticeOf(runId, lastSeq)
  const select =
    notice === undefined
      ? "SELECT 1 AS ok FROM locked"
      : `SELECT pg_notify(${param(channel)}, ${param(notice)}), 1 AS ok FROM locked`
  return { text: `WITH ${parts.join(",\n")}\n${select}`, params }
}

const make: Effect.Effect<RunStoreShape, never, Sql> = Effect.gen(function* () {
  const sql = yield* Sql
  const storeError =
    (operation: string) =>
    (cause: SqlError): StoreError =>
      new StoreError({ operation, cause })

  /** Any commit, in one transaction of several statements (the first commit of a run, and the rare cases). */
  const commitInTransaction = (runId: string, batch: CommitBatch) =>
    sql
      .transaction((tx) =>
        Effect.gen(function* () {
          if (batch.run !== undefined) {
            yield* tx.query("INSERT INTO runs (id, status) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [
              runId,
              batch.run.status,
            ])
          }
          const locked = yield* tx.query<{ last_seq: number; has_graph: boolean }>(
            "SELECT last_seq, graph IS NOT NULL AS has_graph FROM runs WHERE id = $1 FOR UPDATE",
            [runId],
          )
          const row = locked[0]
          if (row === undefined) return yield* fail(runId, "the run does not exist")
          // Contiguity is the store's promise (W6): refuse a batch that would leave a gap or a repeat.
          let expected = row.last_seq + 1
          for (const event of batch.events) {
            if (event.seq !== expected)
              return yield* fail(runId, `event seq ${event.seq}, expected ${expected}`)
            expected++
          }
          const lastSeq = expected - 1
          yield* writeRun(tx, runId, batch, !row.has_graph, lastSeq)
          yield* writeExecutions(tx, runId, batch)
          yield* writeOutputs(tx, runId, batch)
          yield* writeEvents(tx, runId, batch, lastSeq)
        }),
      )
      .pipe(Effect.mapError((e) => (e._tag === "SqlError" ? storeError("commit")(e) : e)))

  /**
   * Every commit of a run driven by the executor appends events: one statement ({@link oneStatement}). When
   * it writes nothing (a seq that does not follow on, a run not recorded), the transaction path runs the same
   * batch and fails with the reason or writes it; commits without events take that path too.
   */
  const commit: RunStoreShape["commit"] = (runId, batch) => {
    const first = batch.events[0]?.seq
    if (first === undefined || (first === 1 && batch.run === undefined) || !contiguous(batch.events))
      return commitInTransaction(runId, batch)
    const { text, params } = oneStatement(runId, batch, first, first + batch.events.length - 1)
    return sql.query<{ ok: number }>(text, params).pipe(
      Effect.mapError(storeError("commit")),
      Effect.flatMap((rows) => (rows.length > 0 ? Effect.void : commitInTransaction(runId, batch))),
    )
  }

  const load: RunStoreShape["load"] = (runId) =>
    sql
      .transaction((tx) =>
        Effect.gen(function* () {
          // One snapshot for the run and its rows, even while a writer commits.
          yield* tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
          const runs = yield* tx.query<RunRow & { events_seq: number }>(
            `SELECT ${RUN_COLUMNS},
               (SELECT COALESCE(max(v.seq), 0) FROM run_events v WHERE v.run_id = r.id) AS events_seq
             FROM runs r WHERE r.id = $1`,
            [runId],
          )
          const run = runs[0]
          if (run === undefined || run.graph === null) return yield* new RunNotFound({ runId })
          const executions = yield* tx.query<ExecutionRow>(
            `SELECT ${EXECUTION_COLUMNS} FROM node_executions e WHERE e.run_id = $1 ORDER BY e.ord`,
            [runId],
          )
          const outputs = yield* tx.query<OutputRow>(
            `SELECT ${OUTPUT_COLUMNS} FROM node_outputs o WHERE o.run_id = $1 ORDER BY o.seq`,
            [runId],
          )
          return {
            run: toRunRecord({ ...run, graph: run.graph }, run.events_seq),
            executions: executions.map(toExecutionRecord),
            outputs: outputs.map(toOutputRecord),
          }
        }),
      )
      .pipe(Effect.mapError((e) => (e._tag === "SqlError" ? storeError("load")(e) : e)))

  const events: RunStoreShape["events"] = (runId, afterSeq) =>
    sql
      .query<{ event: PersistedEvent }>(
        "SELECT event FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq",
        [runId, Math.max(0, Math.floor(afterSeq))],
      )
      .pipe(
        Effect.map((rows) => rows.map((r) => r.event)),
        Effect.mapError(storeError("events")),
      )

  const unfinished: RunStoreShape["unfinished"] = () =>
    sql
      .query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM runs r
         WHERE r.status IN ${UNFINISHED} AND r.graph IS NOT NULL ORDER BY r.created_at`,
      )
      .pipe(
        Effect.map((rows) =>
          rows.flatMap((row) => (row.graph === null ? [] : [toRunRecord({ ...row, graph: row.graph })])),
        ),
        Effect.mapError(storeError("unfinished")),
      )

  return { commit, load, events, unfinished } satisfies RunStoreShape
})

const listenCommits = (
  onCommit: (notice: CommitNotice) => void,
): Effect.Effect<void, SqlError, Sql | Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* Sql
    yield* sql.listen(channel, (payload) => {
      const notice = parseNotice(payload)
      if (notice !== undefined) onCommit(notice)
    })
  })

const parseNotice = (payload: string): CommitNotice | undefined => {
  try {
    const value: unknown = JSON.parse(payload)
    if (typeof value !== "object" || value === null) return undefined
    const { runId, lastSeq } = value as Record<string, unknown>
    return typeof runId === "string" && typeof lastSeq === "number" ? { runId, lastSeq } : undefined
  } catch {
    return undefined
  }
}

/**
 * The engine's `RunStore` on the `Sql` service.
 *
 * - `layer`: the `RunStore` layer. Apply the migrations first (`Migrations.layer`).
 * - `make`: the store itself, for callers that build their own layer.
 * - `channel`: `"weft_run_events"`, notified by every commit that appends events, with a `CommitNotice`.
 * - `listenCommits(onCommit)`: calls `onCommit` for each such commit, from any process on the same database
 *   (on PGlite: from the same instance), until the scope closes.
 * - `parseNotice(payload)`: reads a `channel` payload; `undefined` when it is not one.
 *
 * @category layers
 */
export const PgRunStore = {
  layer: Layer.effect(RunStore, make) as Layer.Layer<RunStore, never, Sql>,
  make,
  channel,
  listenCommits,
  parseNotice,
} as const
