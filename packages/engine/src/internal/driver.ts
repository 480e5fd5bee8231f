/**
 * Drives one run: applies block messages to the run machine, commits each batch, publishes its events,
 * and starts ready executions (retry, timeout, concurrency, review, sub-graphs); those that wait get a fiber.
 */
import { Cause, Clock, Deferred, Duration, Effect, Fiber, Queue, Semaphore, Stream } from "effect"
import type {
  AnyBlock,
  BlockContext,
  BlockLogger,
  BlockResources,
  CredentialResolver,
  CredentialsRef,
  ResolvedCredentials,
  ReviewDecision,
  SubgraphRequest,
} from "../Block.js"
import { acceptsProvider } from "../Block.js"
import { BlockFailed, BlockTimedOut, RetriesExhausted } from "../Errors.js"
import type { Graph } from "../Graph.js"
import type { GraphLoaderShape } from "../GraphLoader.js"
import type { NodeProgressEvent, PersistedEvent, RunEvent } from "../RunEvent.js"
import type { RunStoreShape } from "../RunStore.js"
import type { Status } from "../Status.js"
import {
  ASYNC,
  AttemptFailure,
  checkOutput,
  decodeInput,
  type Emit,
  invoke,
  lift,
  liftSync,
  retrySchedule,
  toFailure,
} from "./invoke.js"
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
  readonly resources: BlockResources
  readonly credentials?: CredentialResolver
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
const commitBatch = (
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
      for (const exec of pending.length === 0 ? started : [...pending, ...started]) {
        const effect = new Execution(env, machine, exec, live).start()
        if (effect !== undefined)
          fibers.set(exec.id, yield* Effect.forkChild(effect, { startImmediately: true }))
      }
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
  readonly safeMode: boolean | undefined

  constructor(
    machine: RunMachine,
    private readonly exec: ExecState,
    readonly attempt: number,
    private readonly offer: (message: Message) => void,
    readonly subgraph: BlockContext["subgraph"],
    readonly reportCost: (amount: number) => void,
    readonly credentials: Readonly<Record<string, ResolvedCredentials>>,
    readonly resources: BlockResources,
  ) {
    this.runId = machine.runId
    this.graphId = machine.graph.id
    this.nodeId = exec.info.node.id
    this.executionId = exec.id
    this.review = exec.review?.decision
    this.safeMode = machine.options.safeMode
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

const NO_CREDENTIALS: Readonly<Record<string, ResolvedCredentials>> = Object.freeze({})
const MASK = "********"

/** A copy of `value` with every secret replaced by a mask, in every string it holds. */
export const redact = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") {
    let out = value
    for (const secret of secrets) out = out.split(secret).join(MASK)
    return out
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets))
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, secrets)
    return out
  }
  return value
}

const redactMessage = (message: Message, secrets: ReadonlyArray<string>): Message => {
  switch (message.tag) {
    case "Output":
      return { ...message, value: redact(message.value, secrets) }
    case "Progress":
      return { ...message, delta: redact(message.delta, secrets) }
    case "Log":
      return {
        ...message,
        message: redact(message.message, secrets) as string,
        data: redact(message.data, secrets),
      }
    case "Failed":
      return { ...message, error: redact(message.error, secrets) as string }
    case "Attempt":
      return { ...message, error: redact(message.error, secrets) as string }
    default:
      return message
  }
}

/** The shape of an execution's decoded, reviewed input, or why it will not run. */
enum Prepared {
  Ready,
  Ended,
}

/**
 * One node execution: decode (R3), review gate (R16), attempts with retry (W1) and timeout (W2), and the
 * message that ends it. A block with no retry, timeout or concurrency limit whose `run` returns without
 * waiting (a record or a sync generator) finishes synchronously, without a fiber.
 */
class Execution {
  private readonly block: AnyBlock
  private input: Record<string, unknown> = {}
  private cost = 0
  private readonly firstAttempt: number
  private attempt: number
  private emitted = 0
  private lastError = ""
  private subgraphs = 0
  private credentials: Readonly<Record<string, ResolvedCredentials>> = NO_CREDENTIALS
  /** Resolved secrets: redacted from every message this execution sends. */
  private secrets: ReadonlyArray<string> = []

  constructor(
    private readonly env: DriverEnv,
    private readonly machine: RunMachine,
    private readonly exec: ExecState,
    private readonly live: LiveRun,
  ) {
    this.block = exec.info.block
    this.firstAttempt = exec.attempts + 1
    this.attempt = exec.attempts
  }

  private offer(message: Message): void {
    Queue.offerUnsafe(
      this.live.control,
      this.secrets.length === 0 ? message : redactMessage(message, this.secrets),
    )
  }

  /** Resolves the block's credential fields into `ctx.credentials`, failing with the field that is missing. */
  private resolveCredentials(): Effect.Effect<void, AttemptFailure> {
    const { block, exec, env } = this
    return Effect.forEach(
      block.credentialPins,
      (pin) =>
        Effect.gen({ self: this }, function* () {
          const requirement = pin.credentials!
          const field = pin.name
          const ref = this.input[field] as CredentialsRef | undefined
          const fail = (reason: string) =>
            Effect.fail(
              new AttemptFailure(`credentials ${field}: ${reason}`, false, { kind: "InvalidInput", field }),
            )
          // An optional credential field may stay empty: the block then falls back on what the host configured.
          if (ref === undefined) return pin.required ? yield* fail("no credentials are set") : undefined
          if (!acceptsProvider(requirement, ref.provider)) {
            const expected =
              typeof requirement.provider === "string"
                ? requirement.provider
                : requirement.provider.join(" or ")
            return yield* fail(`expected ${expected} credentials, got ${ref.provider}`)
          }
          const resolver = env.credentials
          if (resolver === undefined) return yield* fail("no credential store is configured")
          const request = {
            runId: this.machine.runId,
            nodeId: exec.info.node.id,
            blockId: block.id,
            field,
            requirement,
          }
          const resolved = yield* Effect.tryPromise({
            try: async () => resolver(ref, request),
            catch: (error) =>
              new AttemptFailure(
                `credentials ${field}: ${error instanceof Error ? error.message : String(error)}`,
                false,
                {
                  kind: "InvalidInput",
                  field,
                },
              ),
          })
          if (resolved === undefined) return yield* fail(`credentials ${ref.id} were not found`)
          this.credentials = { ...this.credentials, [field]: resolved }
          if (resolved.secret !== "") this.secrets = [...this.secrets, resolved.secret]
        }),
      { discard: true },
    )
  }

  private ids() {
    return { nodeId: this.exec.info.node.id, blockId: this.block.id, executionId: this.exec.id }
  }

  /** Decodes the input and applies the review gate. `Ended` means a Failed or Review message was sent. */
  private prepare(): Prepared {
    const { block, exec } = this
    const decoded = decodeInput(block, exec.resolved ?? {})
    if (!decoded.ok) {
      const cause = new BlockFailed({
        ...this.ids(),
        reason: "InvalidInput",
        message: decoded.message,
        ...(decoded.field === undefined ? {} : { field: decoded.field }),
        retryable: false,
      })
      this.offer({ tag: "Failed", exec, error: decoded.message, cost: 0, cause })
      return Prepared.Ended
    }
    let input = decoded.value
    if (block.sensitive === true && this.machine.options.safeMode === true) {
      const decision = exec.review?.decision
      if (decision === undefined) {
        this.offer({ tag: "Review", exec, payload: input })
        return Prepared.Ended
      }
      if (!decision.approved) {
        const error = `rejected by reviewer${decision.message ? `: ${decision.message}` : ""}`
        this.offer({ tag: "Failed", exec, error, cost: 0 })
        return Prepared.Ended
      }
      if (typeof decision.data === "object" && decision.data !== null) {
        input = { ...input, ...(decision.data as Record<string, unknown>) }
      }
    }
    this.input = input
    this.cost = typeof block.cost === "function" ? block.cost(input) : (block.cost ?? 0)
    return Prepared.Ready
  }

  private readonly emit: Emit = (pin, value) => {
    const failure = checkOutput(this.block, pin, value)
    if (failure !== undefined) return failure
    this.emitted++
    this.offer({ tag: "Output", exec: this.exec, pin, value })
    return undefined
  }

  private readonly reportCost = (amount: number): void => {
    if (Number.isFinite(amount)) this.cost += amount
  }

  /** Starts the next attempt: numbers it, reports a retry, and makes its context. */
  private nextAttempt(): AttemptContext {
    this.attempt++
    this.emitted = 0
    if (this.attempt > this.firstAttempt) {
      this.offer({ tag: "Attempt", exec: this.exec, attempt: this.attempt, error: this.lastError })
    }
    return new AttemptContext(
      this.machine,
      this.exec,
      this.attempt,
      (m) => this.offer(m),
      this.subgraph,
      this.reportCost,
      this.credentials,
      this.env.resources,
    )
  }

  private succeed(): void {
    this.offer({ tag: "Done", exec: this.exec, cost: this.cost })
  }

  private fail(failure: AttemptFailure): void {
    if (failure.review !== undefined)
      this.offer({ tag: "Review", exec: this.exec, payload: failure.review.payload })
    else
      this.offer({
        tag: "Failed",
        exec: this.exec,
        error: failure.message,
        cost: this.cost,
        cause: this.tagged(failure),
      })
  }

  /** The tagged error that explains a final failure: a timeout, exhausted retries, or the block's own error. */
  private tagged(failure: AttemptFailure): ExecutionFailure {
    const attempts = this.attempt - this.firstAttempt + 1
    if (attempts > 1) return new RetriesExhausted({ ...this.ids(), attempts, lastError: failure.message })
    if (failure.kind === "TimedOut")
      return new BlockTimedOut({ ...this.ids(), timeoutMs: this.block.timeoutMs ?? 0 })
    const field = failure.details.field
    return new BlockFailed({
      ...this.ids(),
      reason: failure.kind,
      message: failure.message,
      ...(field === undefined ? {} : { field }),
      retryable: failure.retryable,
    })
  }

  /** Runs another graph as a child run and streams its outputs (R15). */
  private readonly subgraph = (
    request: SubgraphRequest,
  ): Stream.Stream<readonly [string, unknown], Error> => {
    const { env, exec, machine, live } = this
    const next = () => ++this.subgraphs
    return Stream.callback<readonly [string, unknown], Error>((queue) =>
      Effect.gen(function* () {
        if (env.loader === undefined) {
          return yield* Effect.fail(
            new Error(`no graph loader is configured to load sub-graph ${request.graphId}`),
          )
        }
        const graph = yield* env.loader.load(request.graphId, request.version)
        const result = yield* env.runChild({
          runId: `${exec.id}.sub${next()}`,
          graph,
          inputs: request.inputs,
          parent: { runId: machine.runId, executionId: exec.id },
          token: live.token,
          onRunOutput: (name, value) => {
            Queue.offerUnsafe(queue, [name, value] as const)
          },
        })
        if (result.status === "COMPLETED") yield* Queue.end(queue)
        else {
          const detail = result.error ? `: ${result.error}` : ""
          yield* Queue.fail(queue, new Error(`sub-graph ${graph.id} ended ${result.status}${detail}`))
        }
      }),
    )
  }

  /** One attempt as an effect, with its timeout; the abort signal fires on interruption and on timeout. */
  private attemptEffect(): Effect.Effect<void, AttemptFailure> {
    return Effect.suspend(() => {
      const ctx = this.nextAttempt()
      let run = invoke(this.block, this.input, ctx, this.emit)
      const ms = this.block.timeoutMs
      if (ms !== undefined) {
        run = Effect.timeoutOrElse(run, {
          duration: Duration.millis(ms),
          orElse: () =>
            Effect.fail(new AttemptFailure(`timed out after ${ms} ms`, true, { kind: "TimedOut" })),
        })
      }
      return this.watch(run, ctx)
    })
  }

  private watch(
    run: Effect.Effect<void, AttemptFailure>,
    ctx: AttemptContext,
  ): Effect.Effect<void, AttemptFailure> {
    return run.pipe(
      Effect.onInterrupt(() => Effect.sync(() => ctx.abort())),
      Effect.tapError((failure) =>
        Effect.sync(() => {
          this.lastError = failure.message
          if (failure.kind === "TimedOut") ctx.abort()
        }),
      ),
    )
  }

  /** Ends the execution with the outcome of `attempts`, sending Done, Failed or Review. */
  private settle(attempts: Effect.Effect<void, AttemptFailure>): Effect.Effect<void> {
    const settled = attempts.pipe(
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => this.succeed()),
        onFailure: (failure) => Effect.sync(() => this.fail(failure)),
      }),
    )
    // Whatever goes wrong, the driver must hear that this execution ended, or the run would never stop.
    return settled.pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.sync(() => {
              const error = `internal error: ${Cause.pretty(cause).split("\n")[0]}`
              this.offer({ tag: "Failed", exec: this.exec, error, cost: 0 })
            }),
      ),
    )
  }

  /** Every attempt the retry policy allows, as an effect, under the block's concurrency limit (W3). */
  private fullEffect(semaphore: Semaphore.Semaphore | undefined): Effect.Effect<void> {
    const policy = this.block.retry
    const maxAttempts = policy?.maxAttempts ?? 1
    const attempts =
      maxAttempts > 1 && policy !== undefined
        ? Effect.retry(this.attemptEffect(), {
            schedule: retrySchedule(policy),
            // A retry after outputs were routed would route them twice, so only clean failures retry.
            while: (failure: AttemptFailure) =>
              failure.retryable &&
              failure.review === undefined &&
              this.emitted === 0 &&
              this.attempt - this.firstAttempt + 1 < maxAttempts,
          })
        : this.attemptEffect()
    const settled = this.settle(
      this.block.credentialPins.length === 0 ? attempts : Effect.andThen(this.resolveCredentials(), attempts),
    )
    return semaphore === undefined ? settled : Semaphore.withPermits(semaphore, 1)(settled)
  }

  /**
   * Starts the execution. Returns `undefined` when it already ended (synchronously), else the effect to run
   * in a fiber of its own.
   */
  start(): Effect.Effect<void> | undefined {
    try {
      if (this.prepare() === Prepared.Ended) return undefined
    } catch (error) {
      // A throwing `cost` function is the block's failure, not the driver's.
      this.fail(toFailure(error, undefined))
      return undefined
    }
    const block = this.block
    const semaphore = this.env.blockSemaphore(block)
    if (
      (block.retry?.maxAttempts ?? 1) > 1 ||
      block.timeoutMs !== undefined ||
      semaphore !== undefined ||
      block.credentialPins.length > 0
    ) {
      return this.fullEffect(semaphore)
    }
    const ctx = this.nextAttempt()
    let result: unknown
    try {
      result = block.run(this.input, ctx)
    } catch (error) {
      this.fail(toFailure(error, block.retry))
      return undefined
    }
    const sync = liftSync(block, result, this.emit)
    if (sync === ASYNC) return this.settle(this.watch(lift(block, result, ctx, this.emit), ctx))
    if (sync === undefined) this.succeed()
    else this.fail(sync)
    return undefined
  }
}
