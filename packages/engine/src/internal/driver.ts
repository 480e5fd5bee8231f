/**
 * Drives one run: applies block messages to the run machine, commits each batch, publishes its events,
 * and runs ready executions in their own fibers (retry, timeout, concurrency, review, sub-graphs).
 */
import { Cause, Clock, Deferred, Duration, Effect, Fiber, Queue, Semaphore, Stream } from "effect"
import type { AnyBlock, BlockContext, BlockLogger, ReviewDecision, SubgraphRequest } from "../Block.js"
import { BlockFailed, BlockTimedOut, RetriesExhausted } from "../Errors.js"
import type { Graph } from "../Graph.js"
import type { GraphLoaderShape } from "../GraphLoader.js"
import type { NodeProgressEvent, PersistedEvent, RunEvent } from "../RunEvent.js"
import type { RunStoreShape } from "../RunStore.js"
import type { Status } from "../Status.js"
import { AttemptFailure, checkOutput, decodeInput, invoke, retrySchedule } from "./invoke.js"
import type { ExecState, ExecutionFailure, Message, RunMachine } from "./machine.js"

/** The outcome of a run that stopped. */
export interface RunResult {
  readonly runId: string
  readonly status: Status
  readonly outputs: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly cost: number
  readonly error?: string
}

/** Shared by a run and its child runs: set before interrupting, so that interruption means cancellation. */
export interface CancelToken {
  cancelled: boolean
}

/** A run being driven in this process. */
export interface LiveRun {
  readonly runId: string
  readonly token: CancelToken
  readonly listeners: Set<(event: RunEvent) => void>
  readonly done: Deferred.Deferred<RunResult>
  readonly control: Queue.Queue<Message | Control>
  /** False once the driver has decided to stop: control messages must then go through the store. */
  accepting: boolean
}

/** Messages to the driver that do not come from a block fiber. */
export type Control =
  | { readonly tag: "Deadline" }
  | { readonly tag: "Decision"; readonly executionId: string; readonly decision: ReviewDecision }

/** What a driver needs from the executor. */
export interface DriverEnv {
  readonly store: RunStoreShape
  readonly loader: GraphLoaderShape | undefined
  readonly maxConcurrency: number
  readonly blockSemaphore: (block: AnyBlock) => Semaphore.Semaphore | undefined
  readonly runChild: (request: ChildRequest) => Effect.Effect<RunResult, Error>
}

/** A sub-graph run asked for by a block (R15). */
export interface ChildRequest {
  readonly runId: string
  readonly graph: Graph
  readonly inputs: Readonly<Record<string, unknown>>
  readonly parent: { readonly runId: string; readonly executionId: string }
  readonly token: CancelToken
  readonly onRunOutput: (name: string, value: unknown) => void
}

const publish = (live: LiveRun, events: ReadonlyArray<RunEvent>) => {
  if (live.listeners.size === 0) return
  for (const event of events) for (const listener of live.listeners) listener(event)
}

/**
 * Publishes a batch's events with its progress events in between: each progress event right after the
 * persisted event its `afterSeq` names, so that subscribers see them in the order they happened (W5).
 */
const publishBatch = (
  live: LiveRun,
  events: ReadonlyArray<PersistedEvent>,
  progress: ReadonlyArray<NodeProgressEvent>,
) => {
  if (progress.length === 0 || live.listeners.size === 0) return publish(live, events)
  const send = (event: RunEvent) => {
    for (const listener of live.listeners) listener(event)
  }
  let next = 0
  for (const event of events) {
    for (let p = progress[next]; p !== undefined && p.afterSeq < event.seq; p = progress[++next]) send(p)
    send(event)
  }
  for (const p of progress.slice(next)) send(p)
}

const resultOf = (machine: RunMachine): RunResult => ({
  runId: machine.runId,
  status: machine.status,
  outputs: machine.runRecord().outputs,
  cost: machine.cost,
  ...(machine.error === undefined ? {} : { error: machine.error }),
})

/** Commits the machine's current batch, then publishes its events and run outputs. */
export const commitBatch = (
  env: DriverEnv,
  machine: RunMachine,
  live: LiveRun,
  onRunOutput?: (name: string, value: unknown) => void,
) =>
  Effect.suspend(() => {
    if (!machine.hasBatch()) return Effect.void
    const { batch, progress, runOutputs } = machine.takeBatch()
    const after = Effect.sync(() => {
      publishBatch(live, batch.events, progress)
      if (onRunOutput !== undefined) for (const [name, value] of runOutputs) onRunOutput(name, value)
    })
    return batch.events.length === 0 && batch.executions.length === 0 && batch.run === undefined
      ? after
      : Effect.andThen(env.store.commit(machine.runId, batch), after)
  })

/**
 * Drives a run until it stops. Interruption means cancellation when `live.token.cancelled` is set
 * (everything unfinished becomes TERMINATED); otherwise it is a shutdown that leaves the run resumable.
 */
export const drive = (
  env: DriverEnv,
  machine: RunMachine,
  restart: ReadonlyArray<ExecState>,
  live: LiveRun,
  onRunOutput?: (name: string, value: unknown) => void,
): Effect.Effect<RunResult> => {
  const fibers = new Map<string, Fiber.Fiber<void>>()
  const queue = live.control
  const limit = machine.options.maxConcurrency ?? env.maxConcurrency
  const commit = commitBatch(env, machine, live, onRunOutput)
  const stopFibers = Effect.suspend(() => {
    const all = [...fibers.values()]
    fibers.clear()
    return all.length === 0 ? Effect.void : Fiber.interruptAll(all)
  })

  const loop = Effect.gen(function* () {
    if (machine.options.deadlineAt !== undefined) {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.forkChild(
        Effect.sleep(Duration.millis(Math.max(0, machine.options.deadlineAt - now))).pipe(
          Effect.andThen(Effect.sync(() => Queue.offerUnsafe(queue, { tag: "Deadline" }))),
        ),
      )
    }
    let pending: ReadonlyArray<ExecState> = restart
    let limitHit: "deadline" | "budget" | undefined
    while (true) {
      const started = machine.startReady(limit)
      yield* commit
      for (const exec of pending)
        fibers.set(
          exec.id,
          yield* Effect.forkChild(runExecution(env, machine, exec, live), { startImmediately: true }),
        )
      for (const exec of started)
        fibers.set(
          exec.id,
          yield* Effect.forkChild(runExecution(env, machine, exec, live), { startImmediately: true }),
        )
      pending = []
      if (machine.isIdle() && Queue.sizeUnsafe(queue) === 0) {
        live.accepting = false
        machine.finish()
        yield* commit
        break
      }
      const messages = yield* Queue.takeAll(queue)
      machine.now = yield* Clock.currentTimeMillis
      for (const message of messages) {
        if (message.tag === "Deadline") {
          limitHit = "deadline"
          break
        }
        if (message.tag === "Decision") {
          const exec = machine.execution(message.executionId)
          if (exec?.status === "REVIEW") machine.applyDecision(exec, message.decision)
          continue
        }
        if (machine.handle(message)) fibers.delete(message.exec.id)
        if (machine.overBudget) {
          limitHit = "budget"
          break
        }
      }
      if (limitHit !== undefined) {
        live.accepting = false
        yield* stopFibers
        machine.now = yield* Clock.currentTimeMillis
        if (limitHit === "deadline")
          machine.fail("run deadline exceeded", "timed out: the run's deadline passed")
        else
          machine.fail(
            `cost budget ${machine.options.budget} exceeded (spent ${machine.cost})`,
            "stopped: the run's cost budget was exceeded",
          )
        yield* commit
        break
      }
    }
    return resultOf(machine)
  })

  return loop.pipe(
    Effect.catchCause((cause) =>
      // A store failure (or a defect) is a run-level failure (R14). Try to record it; the store may be down.
      Effect.gen(function* () {
        if (Cause.hasInterruptsOnly(cause)) return yield* Effect.interrupt
        live.accepting = false
        yield* stopFibers
        machine.now = yield* Clock.currentTimeMillis
        const error = Cause.findErrorOption(cause)
        const reason =
          error._tag === "Some"
            ? `run store failed: ${error.value.message}`
            : `internal error: ${Cause.pretty(cause)}`
        machine.fail(reason, "stopped: the run failed")
        yield* Effect.ignore(commit)
        return resultOf(machine)
      }),
    ),
    Effect.onInterrupt(() =>
      Effect.gen(function* () {
        live.accepting = false
        yield* stopFibers
        if (!live.token.cancelled) return
        machine.now = yield* Clock.currentTimeMillis
        machine.terminate()
        yield* Effect.ignore(commit)
      }),
    ),
    Effect.tap((result) => Deferred.succeed(live.done, result)),
    Effect.onInterrupt(() => Deferred.succeed(live.done, resultOf(machine))),
  )
}

/**
 * The context of one attempt. The abort signal and the logger are made on first use: most blocks never
 * touch them, and a chain of pass-through nodes should not pay for them.
 */
class AttemptContext implements BlockContext {
  private controller: AbortController | undefined
  private logger: BlockLogger | undefined
  readonly runId: string
  readonly graphId: string
  readonly nodeId: string
  readonly executionId: string
  readonly review: ReviewDecision | undefined

  constructor(
    machine: RunMachine,
    private readonly exec: ExecState,
    readonly attempt: number,
    private readonly offer: (message: Message) => void,
    readonly subgraph: BlockContext["subgraph"],
    readonly reportCost: (amount: number) => void,
  ) {
    this.runId = machine.runId
    this.graphId = machine.graph.id
    this.nodeId = exec.info.node.id
    this.executionId = exec.id
    this.review = exec.review?.decision
  }

  get signal(): AbortSignal {
    this.controller ??= new AbortController()
    return this.controller.signal
  }

  get log(): BlockLogger {
    if (this.logger === undefined) {
      const { exec, offer } = this
      const at =
        (level: "debug" | "info" | "warn" | "error") =>
        (message: string, data?: unknown): void =>
          offer({ tag: "Log", exec, level, message: String(message), data })
      this.logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }
    }
    return this.logger
  }

  readonly progress = (delta: unknown): void => this.offer({ tag: "Progress", exec: this.exec, delta })

  /** Aborts the signal; a signal first read after this is already aborted. */
  abort(): void {
    this.controller ??= new AbortController()
    this.controller.abort()
  }
}

/** Runs one node execution in its own fiber: decode (R3), review gate (R16), attempts with retry (W1) and timeout (W2). */
const runExecution = (
  env: DriverEnv,
  machine: RunMachine,
  exec: ExecState,
  live: LiveRun,
): Effect.Effect<void> => {
  const block = exec.info.block
  const offer = (message: Message) => {
    Queue.offerUnsafe(live.control, message)
  }
  const body = Effect.suspend(() => {
    const ids = { nodeId: exec.info.node.id, blockId: block.id, executionId: exec.id }
    const decoded = decodeInput(block, exec.resolved ?? {})
    if (!decoded.ok) {
      const cause = new BlockFailed({
        ...ids,
        reason: "InvalidInput",
        message: decoded.message,
        ...(decoded.field === undefined ? {} : { field: decoded.field }),
        retryable: false,
      })
      offer({ tag: "Failed", exec, error: decoded.message, cost: 0, cause })
      return Effect.void
    }
    let input = decoded.value
    if (block.sensitive === true && machine.options.safeMode === true) {
      const decision = exec.review?.decision
      if (decision === undefined) {
        offer({ tag: "Review", exec, payload: input })
        return Effect.void
      }
      if (!decision.approved) {
        offer({
          tag: "Failed",
          exec,
          error: `rejected by reviewer${decision.message ? `: ${decision.message}` : ""}`,
          cost: 0,
        })
        return Effect.void
      }
      if (typeof decision.data === "object" && decision.data !== null) {
        input = { ...input, ...(decision.data as Record<string, unknown>) }
      }
    }
    let cost = typeof block.cost === "function" ? block.cost(input) : (block.cost ?? 0)
    const policy = block.retry
    const maxAttempts = policy?.maxAttempts ?? 1
    const firstAttempt = exec.attempts + 1
    let attempt = exec.attempts
    let emitted = 0
    let lastError = ""
    let subgraphs = 0
    const subgraph = (request: SubgraphRequest): Stream.Stream<readonly [string, unknown], Error> =>
      Stream.callback<readonly [string, unknown], Error>((queue) =>
        Effect.gen(function* () {
          if (env.loader === undefined) {
            return yield* Effect.fail(
              new Error(`no graph loader is configured to load sub-graph ${request.graphId}`),
            )
          }
          const graph = yield* env.loader.load(request.graphId, request.version)
          const result = yield* env.runChild({
            runId: `${exec.id}.sub${++subgraphs}`,
            graph,
            inputs: request.inputs,
            parent: { runId: machine.runId, executionId: exec.id },
            token: live.token,
            onRunOutput: (name, value) => {
              Queue.offerUnsafe(queue, [name, value] as const)
            },
          })
          if (result.status === "COMPLETED") yield* Queue.end(queue)
          else
            yield* Queue.fail(
              queue,
              new Error(
                `sub-graph ${graph.id} ended ${result.status}${result.error ? `: ${result.error}` : ""}`,
              ),
            )
        }),
      )

    const oneAttempt = Effect.suspend(() => {
      attempt++
      emitted = 0
      if (attempt > firstAttempt) offer({ tag: "Attempt", exec, attempt, error: lastError })
      const ctx = new AttemptContext(machine, exec, attempt, offer, subgraph, (amount) => {
        if (Number.isFinite(amount)) cost += amount
      })
      let run = invoke(block, input, ctx, (pin, value) => {
        const failure = checkOutput(block, pin, value)
        if (failure !== undefined) return failure
        emitted++
        offer({ tag: "Output", exec, pin, value })
        return undefined
      })
      if (block.timeoutMs !== undefined) {
        const ms = block.timeoutMs
        run = run.pipe(
          Effect.timeoutOrElse({
            duration: Duration.millis(ms),
            orElse: () =>
              Effect.fail(new AttemptFailure(`timed out after ${ms} ms`, true, { kind: "TimedOut" })),
          }),
        )
      }
      return run.pipe(
        Effect.onInterrupt(() => Effect.sync(() => ctx.abort())),
        Effect.tapError((failure) =>
          Effect.sync(() => {
            lastError = failure.message
            if (failure.kind === "TimedOut") ctx.abort()
          }),
        ),
      )
    })
    const attempts =
      maxAttempts > 1 && policy !== undefined
        ? Effect.retry(oneAttempt, {
            schedule: retrySchedule(policy),
            // A retry after outputs were routed would route them twice, so only clean failures retry.
            while: (failure: AttemptFailure) =>
              failure.retryable &&
              failure.review === undefined &&
              emitted === 0 &&
              attempt - firstAttempt + 1 < maxAttempts,
          })
        : oneAttempt
    /** The tagged error that explains a final failure: a timeout, exhausted retries, or the block's own error. */
    const tagged = (failure: AttemptFailure): ExecutionFailure => {
      const attempts = attempt - firstAttempt + 1
      if (attempts > 1) return new RetriesExhausted({ ...ids, attempts, lastError: failure.message })
      if (failure.kind === "TimedOut") return new BlockTimedOut({ ...ids, timeoutMs: block.timeoutMs ?? 0 })
      const field = failure.details.field
      return new BlockFailed({
        ...ids,
        reason: failure.kind,
        message: failure.message,
        ...(field === undefined ? {} : { field }),
        retryable: failure.retryable,
      })
    }
    return attempts.pipe(
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => offer({ tag: "Done", exec, cost })),
        onFailure: (failure) =>
          Effect.sync(() => {
            if (failure.review !== undefined) offer({ tag: "Review", exec, payload: failure.review.payload })
            else offer({ tag: "Failed", exec, error: failure.message, cost, cause: tagged(failure) })
          }),
      }),
    )
  })
  const semaphore = env.blockSemaphore(block)
  const guarded = semaphore === undefined ? body : Semaphore.withPermits(semaphore, 1)(body)
  // Whatever goes wrong, the driver must hear that this execution ended, or the run would never stop.
  return guarded.pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause)
        : Effect.sync(() =>
            offer({
              tag: "Failed",
              exec,
              error: `internal error: ${Cause.pretty(cause).split("\n")[0]}`,
              cost: 0,
            }),
          ),
    ),
  )
}
