/**
 * The run state machine: the readiness rules (R6–R12), statuses (R13, R14) and output routing (R10).
 *
 * It is synchronous and owned by one driver fiber per run. Each message from a block fiber is applied in
 * full before the next, and every change lands in the current batch, which the driver commits to the store
 * before it publishes events or starts executions (W7).
 */
import type { AnyBlock, ReviewDecision } from "../Block.js"
import type { BlockRegistryShape } from "../BlockRegistry.js"
import { assemble, type PathStep, parsePin, select } from "../DynamicPins.js"
import {
  type BlockFailed,
  BlockNotFound,
  type BlockTimedOut,
  IllegalTransition,
  type RetriesExhausted,
} from "../Errors.js"
import type { Graph, Node } from "../Graph.js"
import type { NodeProgressEvent, PersistedEvent } from "../RunEvent.js"
import type { CommitBatch, ExecutionRecord, OutputRecord, RunRecord, RunSnapshot } from "../RunStore.js"
import { canTransition, type Status } from "../Status.js"
import { ERROR_PIN } from "../Validation.js"
import { Deque } from "./deque.js"

interface Route {
  /** The sink's index in the plan. */
  readonly sink: number
  readonly sinkName: string
  readonly path: ReadonlyArray<PathStep> | undefined
  readonly isStatic: boolean
}

/** What a run needs to know of a node that does not change from run to run. */
interface PlanNode {
  readonly index: number
  readonly node: Node
  readonly block: AnyBlock
  /** Sink pin names (dynamic names kept) that have at least one incoming link. */
  readonly linkedPins: ReadonlySet<string>
  /** Outgoing routes by base source pin. */
  readonly outgoing: ReadonlyMap<string, ReadonlyArray<Route>>
  /** Input pins whose values are masked in events. */
  readonly secretPins: ReadonlyArray<string>
}

/** A graph's nodes with their links indexed for routing: built once per graph and block resolver. */
interface Plan {
  readonly nodes: ReadonlyArray<PlanNode>
  readonly byId: ReadonlyMap<string, PlanNode>
}

/** Where a plan finds its blocks. Plans are cached per graph value and per registry. */
export type BlockSource = Pick<BlockRegistryShape, "get">

const plans = new WeakMap<Graph, WeakMap<BlockSource, Plan>>()

const resolveBlock = (registry: BlockSource, blockId: string): AnyBlock => {
  const block = registry.get(blockId)
  if (block === undefined) throw new BlockNotFound({ blockId })
  return block
}

const buildPlan = (graph: Graph, registry: BlockSource): Plan => {
  const byId = new Map<string, { -readonly [K in keyof PlanNode]: PlanNode[K] }>()
  const nodes: Array<PlanNode> = []
  for (const node of graph.nodes) {
    const block = resolveBlock(registry, node.blockId)
    const secretPins = [...block.inputPins.values()].filter((p) => p.secret).map((p) => p.name)
    const plan = {
      index: nodes.length,
      node,
      block,
      linkedPins: new Set<string>(),
      outgoing: new Map(),
      secretPins,
    }
    byId.set(node.id, plan)
    nodes.push(plan)
  }
  for (const link of graph.links) {
    const source = byId.get(link.sourceId)
    const sink = byId.get(link.sinkId)
    if (source === undefined || sink === undefined) continue
    const parsed = parsePin(link.sourceName)
    if (typeof parsed === "string") continue
    const outgoing = source.outgoing as Map<string, Array<Route>>
    const routes = outgoing.get(parsed.base) ?? []
    routes.push({
      sink: sink.index,
      sinkName: link.sinkName,
      path: parsed.path.length > 0 ? parsed.path : undefined,
      isStatic: link.isStatic === true || source.block.staticOutput === true,
    })
    outgoing.set(parsed.base, routes)
    ;(sink.linkedPins as Set<string>).add(link.sinkName)
  }
  return { nodes, byId }
}

const planOf = (graph: Graph, registry: BlockSource): Plan => {
  let byRegistry = plans.get(graph)
  if (byRegistry === undefined) {
    byRegistry = new WeakMap()
    plans.set(graph, byRegistry)
  }
  let plan = byRegistry.get(registry)
  if (plan === undefined) {
    plan = buildPlan(graph, registry)
    byRegistry.set(registry, plan)
  }
  return plan
}

/** A node of one run: its plan plus the run's queues and static values, made on first use. */
export class NodeInfo {
  readonly node: Node
  readonly block: AnyBlock
  readonly linkedPins: ReadonlySet<string>
  readonly outgoing: ReadonlyMap<string, ReadonlyArray<Route>>
  readonly secretPins: ReadonlyArray<string>
  private lackingByPin: Map<string, Deque<ExecState>> | undefined
  private staticByPin: Map<string, unknown> | undefined

  constructor(plan: PlanNode) {
    this.node = plan.node
    this.block = plan.block
    this.linkedPins = plan.linkedPins
    this.outgoing = plan.outgoing
    this.secretPins = plan.secretPins
  }

  /** The incomplete executions that still lack `pin`, oldest first (R7). */
  lacking(pin: string): Deque<ExecState> | undefined {
    return this.lackingByPin?.get(pin)
  }

  addLacking(pin: string, exec: ExecState): void {
    this.lackingByPin ??= new Map()
    let queue = this.lackingByPin.get(pin)
    if (queue === undefined) {
      queue = new Deque()
      this.lackingByPin.set(pin, queue)
    }
    queue.push(exec)
  }

  /** The latest value that arrived on a static link into `pin` (R9). */
  hasStatic(pin: string): boolean {
    return this.staticByPin?.has(pin) === true
  }

  staticValue(pin: string): unknown {
    return this.staticByPin?.get(pin)
  }

  setStatic(pin: string, value: unknown): void {
    this.staticByPin ??= new Map()
    this.staticByPin.set(pin, value)
  }
}

/** A node execution's live state. */
export interface ExecState {
  readonly id: string
  readonly info: NodeInfo
  readonly order: number
  status: Status
  /** Values from linked pins, by sink pin name. */
  inputs: Record<string, unknown>
  filled: number
  /** The resolved input (defaults under linked values, dynamic pins assembled), set when QUEUED. */
  resolved: Record<string, unknown> | undefined
  outputCount: number
  /** Outputs produced by the current run of the block; the first `outputCount` of a re-run are dropped. */
  produced: number
  attempts: number
  cost: number
  createdAt: number
  startedAt: number | undefined
  endedAt: number | undefined
  error: string | undefined
  review: { payload: unknown; decision?: ReviewDecision } | undefined
}

/** The tagged errors a failed execution is explained by. */
export type ExecutionFailure = BlockFailed | BlockTimedOut | RetriesExhausted

/** What block fibers send to the driver. */
export type Message =
  | { readonly tag: "Output"; readonly exec: ExecState; readonly pin: string; readonly value: unknown }
  | { readonly tag: "Done"; readonly exec: ExecState; readonly cost: number }
  | {
      readonly tag: "Failed"
      readonly exec: ExecState
      readonly error: string
      readonly cost: number
      readonly cause?: ExecutionFailure
    }
  | { readonly tag: "Review"; readonly exec: ExecState; readonly payload: unknown }
  | { readonly tag: "Attempt"; readonly exec: ExecState; readonly attempt: number; readonly error: string }
  | {
      readonly tag: "Log"
      readonly exec: ExecState
      readonly level: "debug" | "info" | "warn" | "error"
      readonly message: string
      readonly data: unknown
    }
  | { readonly tag: "Progress"; readonly exec: ExecState; readonly delta: unknown }

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({})

type EventBody<E> = E extends unknown ? Omit<E, "runId" | "seq" | "at"> : never

const failureDetails = (error: string, cause: ExecutionFailure | undefined): Record<string, unknown> => {
  if (cause === undefined) return { error }
  const field = cause._tag === "BlockFailed" ? cause.field : undefined
  return field === undefined ? { error, errorTag: cause._tag } : { error, errorTag: cause._tag, field }
}

const ACTIVE: ReadonlySet<Status> = new Set<Status>(["INCOMPLETE", "QUEUED", "RUNNING", "REVIEW"])

/** The state of one run. */
export class RunMachine {
  private readonly plan: Plan
  private readonly nodes: Array<NodeInfo | undefined> = []
  /** Every execution of the run, by creation order (index = order - 1). */
  readonly executions: Array<ExecState | undefined> = []
  readonly ready = new Deque<ExecState>()
  running = 0
  seq: number
  status: Status
  cost: number
  error: string | undefined
  readonly outputs: Record<string, Array<unknown>>
  /** Set when the run's cost passed its budget (W9). */
  overBudget = false
  now: number

  private order = 0
  private events: Array<PersistedEvent> = []
  private progress: Array<NodeProgressEvent> = []
  private readonly dirty = new Set<ExecState>()
  private newOutputs: Array<OutputRecord> = []
  private newRunOutputs: Array<readonly [string, unknown]> = []
  private runDirty = true
  private readonly createdAt: number

  constructor(
    readonly runId: string,
    readonly graph: Graph,
    readonly runInputs: Readonly<Record<string, unknown>>,
    readonly options: RunRecord["options"],
    registry: BlockSource,
    readonly parent: { readonly runId: string; readonly executionId: string } | undefined,
    now: number,
    previous: RunRecord | undefined,
  ) {
    this.now = now
    this.createdAt = previous?.createdAt ?? now
    this.seq = previous?.lastSeq ?? 0
    this.status = previous?.status ?? "QUEUED"
    this.cost = previous?.cost ?? 0
    this.error = previous?.error
    this.outputs = {}
    for (const [name, values] of Object.entries(previous?.outputs ?? {})) this.outputs[name] = [...values]

    this.plan = planOf(graph, registry)
  }

  /** The run's state of a node, made on first use. */
  private info(index: number): NodeInfo {
    let info = this.nodes[index]
    if (info === undefined) {
      info = new NodeInfo(this.plan.nodes[index]!)
      this.nodes[index] = info
    }
    return info
  }

  /** An execution by id. Ids end in `.<order>`, and executions are kept by order. */
  execution(id: string): ExecState | undefined {
    const exec = this.executions[Number(id.slice(id.lastIndexOf(".") + 1)) - 1]
    return exec?.id === id ? exec : undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Events and batches

  private emit(event: EventBody<PersistedEvent>): void {
    // Completed in place: one allocation per event on the hot path.
    const full = event as unknown as { runId: string; seq: number; at: number }
    full.runId = this.runId
    full.seq = ++this.seq
    full.at = this.now
    this.events.push(event as PersistedEvent)
  }

  private setRunStatus(to: Status, extra: { error?: string } = {}): void {
    if (this.status !== to && !canTransition(this.status, to)) {
      throw new IllegalTransition({ entity: `run ${this.runId}`, from: this.status, to })
    }
    this.status = to
    this.runDirty = true
    const final = to === "COMPLETED" || to === "FAILED" || to === "TERMINATED" || to === "REVIEW"
    this.emit({
      type: "RunStatus",
      status: to,
      graphId: this.graph.id,
      ...extra,
      ...(final ? { outputs: this.outputsSnapshot(), cost: this.cost } : {}),
    })
  }

  private setStatus(exec: ExecState, to: Status, extra: Record<string, unknown> = {}): void {
    if (!canTransition(exec.status, to)) {
      throw new IllegalTransition({ entity: `execution ${exec.id}`, from: exec.status, to })
    }
    exec.status = to
    this.dirty.add(exec)
    this.emit({ type: "NodeStatus", executionId: exec.id, nodeId: exec.info.node.id, status: to, ...extra })
  }

  private outputsSnapshot(): Record<string, ReadonlyArray<unknown>> {
    const out: Record<string, ReadonlyArray<unknown>> = {}
    for (const [name, values] of Object.entries(this.outputs)) out[name] = [...values]
    return out
  }

  runRecord(): RunRecord {
    return {
      id: this.runId,
      graph: this.graph,
      inputs: this.runInputs,
      status: this.status,
      ...(this.parent === undefined
        ? {}
        : { parentRunId: this.parent.runId, parentExecutionId: this.parent.executionId }),
      createdAt: this.createdAt,
      updatedAt: this.now,
      outputs: this.outputsSnapshot(),
      cost: this.cost,
      ...(this.error === undefined ? {} : { error: this.error }),
      lastSeq: this.seq,
      options: this.options,
    }
  }

  private execRecord(exec: ExecState): ExecutionRecord {
    const record: { -readonly [K in keyof ExecutionRecord]: ExecutionRecord[K] } = {
      id: exec.id,
      runId: this.runId,
      nodeId: exec.info.node.id,
      blockId: exec.info.block.id,
      order: exec.order,
      status: exec.status,
      inputs: exec.info.linkedPins.size === 0 ? EMPTY : { ...exec.inputs },
      outputCount: exec.outputCount,
      attempts: exec.attempts,
      cost: exec.cost,
      createdAt: exec.createdAt,
    }
    if (exec.startedAt !== undefined) record.startedAt = exec.startedAt
    if (exec.endedAt !== undefined) record.endedAt = exec.endedAt
    if (exec.error !== undefined) record.error = exec.error
    if (exec.review !== undefined) record.review = { ...exec.review }
    return record
  }

  /** Whether the current batch holds anything to commit or publish. */
  hasBatch(): boolean {
    return this.events.length > 0 || this.progress.length > 0 || this.dirty.size > 0 || this.runDirty
  }

  /** Takes the changes made since the last call, as one atomic batch, plus the live-only progress events. */
  takeBatch(): {
    readonly batch: CommitBatch
    readonly progress: ReadonlyArray<NodeProgressEvent>
    readonly runOutputs: ReadonlyArray<readonly [string, unknown]>
  } {
    const executions: Array<ExecutionRecord> = []
    for (const exec of this.dirty) executions.push(this.execRecord(exec))
    const batch: CommitBatch = this.runDirty
      ? { run: this.runRecord(), executions, outputs: this.newOutputs, events: this.events }
      : { executions, outputs: this.newOutputs, events: this.events }
    const progress = this.progress
    const runOutputs = this.newRunOutputs
    this.newRunOutputs = []
    this.events = []
    this.progress = []
    this.newOutputs = []
    this.dirty.clear()
    this.runDirty = false
    return { batch, progress, runOutputs }
  }

  // ---------------------------------------------------------------------------------------------
  // Executions

  private createExec(info: NodeInfo, except: string | undefined): ExecState {
    const order = ++this.order
    const exec: ExecState = {
      id: `${this.runId}.${order}`,
      info,
      order,
      status: "INCOMPLETE",
      inputs: {},
      filled: 0,
      resolved: undefined,
      outputCount: 0,
      produced: 0,
      attempts: 0,
      cost: 0,
      createdAt: this.now,
      startedAt: undefined,
      endedAt: undefined,
      error: undefined,
      review: undefined,
    }
    this.executions[order - 1] = exec
    this.dirty.add(exec)
    for (const pin of info.linkedPins) {
      if (pin === except) continue
      if (info.hasStatic(pin)) {
        exec.inputs[pin] = info.staticValue(pin)
        exec.filled++
      } else {
        info.addLacking(pin, exec)
      }
    }
    return exec
  }

  /** The execution's input: node defaults under linked values, dynamic pins assembled, run input for input nodes. */
  private resolve(exec: ExecState): Record<string, unknown> {
    const { node, block } = exec.info
    // `assemble` copies: the resolved input never aliases the defaults or the linked values.
    const resolved = assemble(
      node.inputDefault === undefined ? exec.inputs : { ...node.inputDefault, ...exec.inputs },
    )
    if (block.kind === "input") {
      // The run's input fills an input node's start execution (R6); a value linked into it wins (R8).
      const name = resolved.name
      if (
        typeof name === "string" &&
        Object.hasOwn(this.runInputs, name) &&
        !Object.hasOwn(exec.inputs, "value")
      )
        resolved.value = this.runInputs[name]
    }
    return resolved
  }

  private masked(exec: ExecState, resolved: Record<string, unknown>): Record<string, unknown> {
    const secret = exec.info.secretPins
    if (secret.length === 0) return resolved
    const copy = { ...resolved }
    for (const pin of secret) if (copy[pin] !== undefined) copy[pin] = "********"
    return copy
  }

  private enqueue(exec: ExecState): void {
    const resolved = this.resolve(exec)
    exec.resolved = resolved
    this.setStatus(exec, "QUEUED", { inputs: this.masked(exec, resolved) })
    this.ready.push(exec)
  }

  private fill(exec: ExecState, pin: string, value: unknown): void {
    if (!Object.hasOwn(exec.inputs, pin)) exec.filled++
    exec.inputs[pin] = value
    this.dirty.add(exec)
    if (exec.filled === exec.info.linkedPins.size) this.enqueue(exec)
  }

  /** Routes one value to a sink pin (R7, R9). */
  private deliver(sink: NodeInfo, pin: string, value: unknown, isStatic: boolean): void {
    if (sink.block.kind === "note") return
    if (isStatic) sink.setStatic(pin, value)
    const lacking = sink.lacking(pin)
    const target = lacking?.shift() ?? this.createExec(sink, pin)
    this.fill(target, pin, value)
    if (isStatic && lacking !== undefined) {
      for (let other = lacking.shift(); other !== undefined; other = lacking.shift())
        this.fill(other, pin, value)
    }
  }

  /** Records one output and routes it along every link from its pin (R1, R10, R11). */
  private output(exec: ExecState, pin: string, value: unknown): void {
    const index = exec.produced++
    if (index < exec.outputCount) return // recorded and routed before the worker stopped (W7)
    exec.outputCount = index + 1
    this.dirty.add(exec)
    const nodeId = exec.info.node.id
    this.emit({ type: "NodeOutput", executionId: exec.id, nodeId, pin, value, index })
    this.newOutputs.push({
      runId: this.runId,
      executionId: exec.id,
      nodeId,
      index,
      pin,
      value,
      seq: this.seq,
    })
    if (exec.info.block.kind === "output" && pin === "output") {
      const name = String(exec.resolved?.name ?? nodeId)
      const list = this.outputs[name] ?? []
      list.push(value)
      this.outputs[name] = list
      this.newRunOutputs.push([name, value])
      this.runDirty = true
    }
    const routes = exec.info.outgoing.get(pin)
    if (routes === undefined) return
    for (const route of routes) {
      const routed = route.path === undefined ? value : select(value, route.path)
      if (routed === undefined && route.path !== undefined) continue
      this.deliver(this.info(route.sink), route.sinkName, routed, route.isStatic)
    }
  }

  /** Applies one message from a block fiber. Returns true when the execution has finished its turn. */
  handle(message: Message): boolean {
    const exec = message.exec
    if (exec.status !== "RUNNING") return false // a late message from an interrupted fiber
    switch (message.tag) {
      case "Output":
        this.output(exec, message.pin, message.value)
        return false
      case "Progress":
        this.progress.push({
          type: "NodeProgress",
          runId: this.runId,
          afterSeq: this.seq,
          at: this.now,
          executionId: exec.id,
          nodeId: exec.info.node.id,
          delta: message.delta,
        })
        return false
      case "Log":
        this.emit({
          type: "NodeLog",
          executionId: exec.id,
          nodeId: exec.info.node.id,
          level: message.level,
          message: message.message,
          ...(message.data === undefined ? {} : { data: message.data }),
        })
        return false
      case "Attempt":
        exec.attempts = message.attempt
        this.dirty.add(exec)
        this.emit({
          type: "NodeAttempt",
          executionId: exec.id,
          nodeId: exec.info.node.id,
          attempt: message.attempt,
          error: message.error,
        })
        return false
      case "Done":
        this.addCost(exec, message.cost)
        exec.endedAt = this.now
        this.running--
        this.setStatus(exec, "COMPLETED", exec.cost === 0 ? {} : { cost: exec.cost })
        return true
      case "Failed":
        this.addCost(exec, message.cost)
        this.output(exec, ERROR_PIN, message.error)
        exec.error = message.error
        exec.endedAt = this.now
        this.running--
        this.setStatus(exec, "FAILED", failureDetails(message.error, message.cause))
        return true
      case "Review":
        exec.review = { payload: message.payload }
        this.running--
        this.setStatus(exec, "REVIEW")
        return true
    }
  }

  private addCost(exec: ExecState, cost: number): void {
    if (cost === 0) return
    exec.cost += cost
    this.cost += cost
    this.runDirty = true
    if (this.options.budget !== undefined && this.cost > this.options.budget) this.overBudget = true
  }

  /** Moves ready executions to RUNNING, up to the run's concurrency limit (W3). */
  startReady(limit: number): Array<ExecState> {
    const started: Array<ExecState> = []
    while (this.running < limit) {
      const exec = this.ready.shift()
      if (exec === undefined) break
      exec.startedAt = this.now
      this.running++
      this.setStatus(exec, "RUNNING")
      started.push(exec)
    }
    return started
  }

  /** Whether nothing is running or ready: the run can stop. */
  isIdle(): boolean {
    return this.running === 0 && this.ready.size === 0
  }

  // ---------------------------------------------------------------------------------------------
  // Run lifecycle

  /** Creates the start executions of a new run (R6): input nodes and nodes with no incoming link. */
  begin(): void {
    this.runDirty = true
    this.setRunStatus("RUNNING")
    for (const plan of this.plan.nodes) {
      if (plan.block.kind === "note") continue
      if (plan.block.kind !== "input" && plan.linkedPins.size > 0) continue
      const info = this.info(plan.index)
      const exec = this.createExec(info, undefined)
      if (info.block.kind === "input") {
        // An input node starts whatever is linked into it; those pins are no longer awaited.
        for (const pin of info.linkedPins) info.lacking(pin)?.remove(exec)
      }
      this.enqueue(exec)
    }
  }

  /**
   * Rebuilds a run from the store (W7). Finished executions stay finished; executions that were running
   * are returned to be run again, and their recorded outputs are not routed twice. With `resuming: false`
   * the state is only rebuilt (to be terminated): no status changes and no new attempts.
   */
  restore(snapshot: RunSnapshot, resuming = true): Array<ExecState> {
    const restart: Array<ExecState> = []
    for (const record of snapshot.executions) {
      const plan = this.plan.byId.get(record.nodeId)
      if (plan === undefined) continue
      const info = this.info(plan.index)
      this.order = Math.max(this.order, record.order)
      const exec: ExecState = {
        id: record.id,
        info,
        order: record.order,
        status: record.status,
        inputs: { ...record.inputs },
        filled: 0,
        resolved: undefined,
        outputCount: record.outputCount,
        produced: 0,
        attempts: record.attempts,
        cost: record.cost,
        createdAt: record.createdAt,
        startedAt: record.startedAt,
        endedAt: record.endedAt,
        error: record.error,
        review: record.review === undefined ? undefined : { ...record.review },
      }
      for (const pin of info.linkedPins) if (Object.hasOwn(exec.inputs, pin)) exec.filled++
      this.executions[exec.order - 1] = exec
      if (exec.status === "INCOMPLETE") {
        for (const pin of info.linkedPins) if (!Object.hasOwn(exec.inputs, pin)) info.addLacking(pin, exec)
      } else if (exec.status === "QUEUED") {
        exec.resolved = this.resolve(exec)
        this.ready.push(exec)
      } else if (exec.status === "RUNNING") {
        exec.resolved = this.resolve(exec)
        restart.push(exec)
      } else if (exec.status === "REVIEW" && exec.review?.decision !== undefined) {
        this.enqueue(exec)
      }
    }
    // Static values are the latest value routed on each static link (R9), replayed in output order.
    for (const output of snapshot.outputs) {
      const routes = this.plan.byId.get(output.nodeId)?.outgoing.get(output.pin)
      if (routes === undefined) continue
      for (const route of routes) {
        if (!route.isStatic) continue
        const value = route.path === undefined ? output.value : select(output.value, route.path)
        if (value !== undefined || route.path === undefined)
          this.info(route.sink).setStatic(route.sinkName, value)
      }
    }
    if (!resuming) return []
    if (this.status !== "RUNNING") this.setRunStatus("RUNNING")
    for (const exec of restart) {
      this.running++
      exec.attempts++
      this.dirty.add(exec)
      this.emit({
        type: "NodeAttempt",
        executionId: exec.id,
        nodeId: exec.info.node.id,
        attempt: exec.attempts,
        error: "the previous worker stopped before this execution finished",
      })
    }
    return restart
  }

  /** Records a reviewer's decision on an execution in REVIEW (R16) and queues it to run again. */
  applyDecision(exec: ExecState, decision: ReviewDecision): void {
    exec.review = { payload: exec.review?.payload, decision }
    this.dirty.add(exec)
    this.enqueue(exec)
  }

  /** Ends the run once nothing is left to run (R14): REVIEW if a review is pending, else COMPLETED. */
  finish(): void {
    let reviewing = false
    for (const exec of this.executions) {
      if (exec?.status === "REVIEW") {
        reviewing = true
        break
      }
    }
    this.setRunStatus(reviewing ? "REVIEW" : "COMPLETED")
  }

  /** Cancellation (W4): every unfinished execution and the run become TERMINATED. */
  terminate(): void {
    for (const exec of this.executions) {
      if (exec !== undefined && ACTIVE.has(exec.status)) {
        if (exec.status === "RUNNING") exec.endedAt = this.now
        this.setStatus(exec, "TERMINATED")
      }
    }
    this.running = 0
    this.setRunStatus("TERMINATED")
  }

  /** A run-level failure (R14): running executions fail with `execError`, and the run fails with `error`. */
  fail(error: string, execError: string): void {
    for (const exec of this.executions) {
      if (exec?.status === "RUNNING" || exec?.status === "QUEUED") {
        exec.error = execError
        exec.endedAt = this.now
        this.setStatus(exec, "FAILED", { error: execError })
      }
    }
    this.running = 0
    this.error = error
    this.setRunStatus("FAILED", { error })
  }
}
