/**
 * Watches what the executor commits, for operations: every batch the `RunStore` commits successfully is
 * turned into metrics (node execution durations by block, finished executions, run status changes; see
 * `Metrics.ts`) and, when structured logging is installed (`Logging.Installed`), log entries annotated with
 * the run (`runId`, `graphId`) and node (`nodeId`, `executionId`, `blockId`): the blocks' own logs
 * (`NodeLog` events, at their level), run status changes, failed nodes and retried attempts.
 *
 * It decorates the store rather than following events, so it sees every run this process drives (started,
 * resumed, reviewed, sub-graphs) at no extra query. A block's log entry is redacted with the names of its
 * input pins that the engine marks `secret` or as credentials, and the values its execution received on
 * its `secret` pins are masked wherever they appear in it, besides the logger's own redaction.
 *
 * @since 0.1.0
 */
import {
  type AnyBlock,
  BlockRegistry,
  type CommitBatch,
  isFinal,
  type PersistedEvent,
  type RunRecord,
  RunStore,
  type RunStoreShape,
} from "@weft/engine"
import { Effect, Layer, Logger, type LogLevel, Metric, Option, References } from "effect"
import * as Logging from "./Logging.js"
import { recordExecution, runStatusChanges } from "./Metrics.js"
import { redact } from "./Redact.js"

/** How many runs' node-to-block maps are kept (the oldest are forgotten first). */
const MAX_RUNS = 10_000

const BLOCK_LOG_LEVELS: Record<string, LogLevel.Severity> = {
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
}

/**
 * The store of `RunStore` (the layer below) with commits observed. Reads the `BlockRegistry` if there is
 * one, and the logger and minimum level of the context it is built in: its entries go there whichever fiber
 * commits.
 *
 * @category layers
 */
export const layer: Layer.Layer<RunStore, never, RunStore> = Layer.effect(
  RunStore,
  Effect.gen(function* () {
    const inner: RunStoreShape = yield* RunStore
    const registry = Option.getOrUndefined(yield* Effect.serviceOption(BlockRegistry))
    const loggers = yield* Logger.CurrentLoggers
    const minimum = yield* References.MinimumLogLevel
    const logging = yield* Logging.Installed

    /** Node id → block id, by run. */
    const blocksOf = new Map<string, Map<string, string>>()
    const remember = (runId: string, nodeId: string, blockId: string) => {
      let nodes = blocksOf.get(runId)
      if (nodes === undefined) {
        nodes = new Map()
        blocksOf.set(runId, nodes)
        if (blocksOf.size > MAX_RUNS) {
          const oldest = blocksOf.keys().next().value
          if (oldest !== undefined) blocksOf.delete(oldest)
        }
      }
      nodes.set(nodeId, blockId)
    }
    /** Run id → graph id, for entries of batches without the run record. */
    const graphs = new Map<string, string>()
    const rememberRun = (run: RunRecord) => {
      for (const node of run.graph.nodes) remember(run.id, node.id, node.blockId)
      graphs.set(run.id, run.graph.id)
      if (graphs.size > MAX_RUNS) {
        const oldest = graphs.keys().next().value
        if (oldest !== undefined) graphs.delete(oldest)
      }
    }

    const blockOf = (blockId: string): AnyBlock | undefined => registry?.get(blockId)
    /** The canonical id of a block (aliases, such as AutoGPT UUIDs, count as their block). */
    const canonical = (blockId: string): string => blockOf(blockId)?.id ?? blockId
    const secretPins = new Map<string, ReadonlySet<string>>()
    const secretPinsOf = (blockId: string | undefined): ReadonlySet<string> => {
      if (blockId === undefined) return new Set()
      const known = secretPins.get(blockId)
      if (known !== undefined) return known
      const names = new Set<string>()
      for (const pin of blockOf(blockId)?.inputPins.values() ?? []) {
        if (pin.secret || pin.credentials !== undefined) names.add(pin.name)
      }
      secretPins.set(blockId, names)
      return names
    }

    /** The strings an execution received on its `secret` pins, until it ends. */
    const secretInputs = new Map<string, ReadonlyArray<string>>()
    const rememberSecrets = (execution: CommitBatch["executions"][number]) => {
      if (!logging) return
      const pins = secretPinsOf(execution.blockId)
      if (pins.size === 0) return
      const values: Array<string> = []
      for (const pin of pins) {
        const value = execution.inputs[pin]
        if (typeof value === "string" && value.length > 0) values.push(value)
      }
      if (values.length > 0) secretInputs.set(execution.id, values)
      if (secretInputs.size > MAX_RUNS) {
        const oldest = secretInputs.keys().next().value
        if (oldest !== undefined) secretInputs.delete(oldest)
      }
    }

    const log = (level: LogLevel.Severity, message: string, annotations: Record<string, unknown>) =>
      logging ? Effect.logWithLevel(level)(message).pipe(Effect.annotateLogs(annotations)) : Effect.void

    const observe = (runId: string, batch: CommitBatch) =>
      Effect.gen(function* () {
        if (batch.run !== undefined) rememberRun(batch.run)
        const executions = new Map(batch.executions.map((e) => [e.id, e]))
        for (const e of batch.executions) {
          remember(runId, e.nodeId, e.blockId)
          // Kept until the execution's final status is seen among the events (after its last logs).
          rememberSecrets(e)
        }
        const nodes = blocksOf.get(runId)
        const graphId = batch.run?.graph.id ?? graphs.get(runId)
        const run = { runId, ...(graphId === undefined ? {} : { graphId }) }
        for (const event of batch.events) yield* observeEvent(event, run, executions, nodes)
      })

    const observeEvent = (
      event: PersistedEvent,
      run: Record<string, unknown>,
      executions: ReadonlyMap<string, CommitBatch["executions"][number]>,
      nodes: ReadonlyMap<string, string> | undefined,
    ) =>
      Effect.gen(function* () {
        switch (event.type) {
          case "RunStatus": {
            yield* Metric.update(Metric.withAttributes(runStatusChanges, { status: event.status }), 1)
            const annotations = {
              ...run,
              graphId: event.graphId,
              status: event.status,
              ...(event.error === undefined ? {} : { error: event.error }),
            }
            yield* log(event.status === "FAILED" ? "Warn" : "Info", `run ${event.status}`, annotations)
            if (isFinal(event.status)) {
              blocksOf.delete(event.runId)
              graphs.delete(event.runId)
            }
            return
          }
          case "NodeStatus": {
            const record = executions.get(event.executionId)
            const rawBlock = record?.blockId ?? nodes?.get(event.nodeId)
            const blockId = rawBlock === undefined ? undefined : canonical(rawBlock)
            const node = {
              ...run,
              nodeId: event.nodeId,
              executionId: event.executionId,
              ...(blockId === undefined ? {} : { blockId }),
            }
            if (isFinal(event.status)) {
              const seconds =
                record?.startedAt !== undefined && record.endedAt !== undefined
                  ? Math.max(0, record.endedAt - record.startedAt) / 1000
                  : undefined
              yield* recordExecution(blockId ?? "unknown", event.status, seconds)
              secretInputs.delete(event.executionId)
            }
            if (event.status === "FAILED") {
              yield* log("Warn", "node FAILED", {
                ...node,
                status: event.status,
                ...(event.error === undefined ? {} : { error: event.error }),
              })
            } else {
              yield* log("Debug", `node ${event.status}`, { ...node, status: event.status })
            }
            return
          }
          case "NodeAttempt": {
            const raw = nodes?.get(event.nodeId)
            yield* log("Warn", "node attempt failed; retrying", {
              ...run,
              nodeId: event.nodeId,
              executionId: event.executionId,
              ...(raw === undefined ? {} : { blockId: canonical(raw) }),
              attempt: event.attempt,
              error: event.error,
            })
            return
          }
          case "NodeLog": {
            const raw = nodes?.get(event.nodeId)
            const cleaned = redact(
              { message: event.message, data: event.data },
              { keys: secretPinsOf(raw), secrets: secretInputs.get(event.executionId) ?? [] },
            )
            yield* log(BLOCK_LOG_LEVELS[event.level] ?? "Info", cleaned.message, {
              ...run,
              nodeId: event.nodeId,
              executionId: event.executionId,
              ...(raw === undefined ? {} : { blockId: canonical(raw) }),
              source: "block",
              ...(cleaned.data === undefined ? {} : { data: cleaned.data }),
            })
            return
          }
          case "NodeOutput":
            return
        }
      })

    /** Observation never fails or slows down a commit's outcome: it runs after, and its errors are dropped. */
    const observed = (runId: string, batch: CommitBatch) =>
      observe(runId, batch).pipe(
        Effect.provideService(Logger.CurrentLoggers, loggers),
        Effect.provideService(References.MinimumLogLevel, minimum),
        Effect.catchCause(() => Effect.void),
      )

    return {
      ...inner,
      commit: (runId, batch) => Effect.tap(inner.commit(runId, batch), () => observed(runId, batch)),
      load: (runId) =>
        Effect.tap(inner.load(runId), (snapshot) =>
          Effect.sync(() => {
            rememberRun(snapshot.run)
            for (const e of snapshot.executions) {
              remember(runId, e.nodeId, e.blockId)
              if (!isFinal(e.status)) rememberSecrets(e)
            }
          }),
        ),
    } satisfies RunStoreShape
  }),
)
