/**
 * Calls a block's `run` once (one attempt) and lifts whatever it returns to a sequence of outputs (R1),
 * checking each output against its pin's schema (R3) and treating the pin `error` as a failure (R2).
 */
import { Duration, Effect, Exit, Schedule, Schema, SchemaAST, Stream } from "effect"
import type { AnyBlock, BlockContext, RetryPolicy } from "../Block.js"
import { BlockError, ReviewRequested } from "../Errors.js"
import { issuesByField } from "../Validation.js"
import { coerceInput } from "./coerce.js"

/** Why an attempt failed, as the executor needs to know it. */
export class AttemptFailure {
  constructor(
    readonly message: string,
    readonly retryable: boolean,
    readonly details: {
      readonly kind?: "Thrown" | "ErrorPin" | "InvalidInput" | "InvalidOutput" | "TimedOut"
      readonly field?: string
      readonly review?: { readonly payload: unknown }
    } = {},
  ) {}

  get kind() {
    return this.details.kind ?? "Thrown"
  }

  get review() {
    return this.details.review
  }
}

const messageOf = (error: unknown): string => {
  if (error instanceof Error) return error.message || error.name
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/** Classifies anything a block threw or failed with. */
export const toFailure = (error: unknown, policy: RetryPolicy | undefined): AttemptFailure => {
  if (error instanceof AttemptFailure) return error
  if (error instanceof ReviewRequested)
    return new AttemptFailure("review requested", false, { review: { payload: error.payload } })
  const message = messageOf(error)
  if (error instanceof BlockError) {
    const field = error.field === undefined ? {} : { field: error.field }
    if (error.retryable === false) return new AttemptFailure(message, false, field)
  }
  const retryable = policy?.retryable === undefined ? true : policy.retryable(message)
  return new AttemptFailure(message, retryable)
}

type Validator = (value: unknown) => string | undefined

interface Compiled {
  readonly decode: (input: unknown) => Exit.Exit<Record<string, unknown>, Schema.SchemaError>
  readonly outputs: ReadonlyMap<string, Validator | null>
}

const compiled = new WeakMap<AnyBlock, Compiled>()

const compile = (block: AnyBlock): Compiled => {
  let entry = compiled.get(block)
  if (entry !== undefined) return entry
  const decodeExit = Schema.decodeUnknownExit(block.input as unknown as Schema.Codec<Record<string, unknown>>)
  const outputs = new Map<string, Validator | null>()
  for (const [pin, field] of Object.entries(block.output.fields)) {
    const type = Schema.toType(field as Schema.Top)
    if (SchemaAST.isUnknown(type.ast) || SchemaAST.isAny(type.ast)) {
      outputs.set(pin, null)
      continue
    }
    const is = Schema.is(type)
    const check = Schema.decodeUnknownExit(type)
    outputs.set(pin, (value) => {
      if (is(value)) return undefined
      const exit = check(value, { errors: "all" })
      if (Exit.isSuccess(exit)) return undefined
      const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
      return failure !== undefined && failure._tag === "Fail" && failure.error instanceof Schema.SchemaError
        ? Object.values(issuesByField(failure.error)).join("; ")
        : "value does not match the pin's schema"
    })
  }
  entry = {
    decode: (input) =>
      decodeExit(input, { errors: "all" }) as Exit.Exit<Record<string, unknown>, Schema.SchemaError>,
    outputs,
  }
  compiled.set(block, entry)
  return entry
}

/**
 * Decodes an execution's resolved input against the block's input schema (R3). Open-input blocks keep the
 * pins their schema does not declare.
 */
export const decodeInput = (
  block: AnyBlock,
  resolved: Record<string, unknown>,
):
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly message: string; readonly field?: string } => {
  const exit = compile(block).decode(resolved)
  if (Exit.isSuccess(exit)) {
    return { ok: true, value: block.openInputs === true ? { ...resolved, ...exit.value } : exit.value }
  }
  // AutoGPT converts mismatched values to the field's type before validating: do the same, then retry.
  const coerced = coerceInput(block, resolved)
  if (coerced !== undefined) {
    const retried = compile(block).decode(coerced)
    if (Exit.isSuccess(retried)) {
      return { ok: true, value: block.openInputs === true ? { ...coerced, ...retried.value } : retried.value }
    }
  }
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason !== undefined && reason._tag === "Fail") {
    const fields = issuesByField(reason.error)
    const first = Object.keys(fields)[0]
    return {
      ok: false,
      ...(first === undefined ? {} : { field: first }),
      message: `invalid input: ${Object.entries(fields)
        .map(([field, message]) => `${field}: ${message}`)
        .join("; ")}`,
    }
  }
  return { ok: false, message: "invalid input" }
}

/** Checks one yielded output. Returns a failure for the pin `error`, an unknown pin or a mismatching value. */
export const checkOutput = (block: AnyBlock, pin: string, value: unknown): AttemptFailure | undefined => {
  if (pin === "error") return new AttemptFailure(messageOf(value), true, { kind: "ErrorPin" })
  const validator = compile(block).outputs.get(pin)
  if (validator === undefined) {
    return block.openOutputs === true
      ? undefined
      : new AttemptFailure(`block ${block.id} yielded unknown output pin "${pin}"`, false, {
          kind: "InvalidOutput",
          field: pin,
        })
  }
  if (validator === null) return undefined
  const problem = validator(value)
  return problem === undefined
    ? undefined
    : new AttemptFailure(`invalid output on pin "${pin}": ${problem}`, false, {
        kind: "InvalidOutput",
        field: pin,
      })
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const isPair = (u: unknown): u is readonly [string, unknown] =>
  Array.isArray(u) && u.length === 2 && typeof u[0] === "string"

/** Receives each output in order; returns a failure to stop the attempt. */
export type Emit = (pin: string, value: unknown) => AttemptFailure | undefined

/** What `liftSync` returns for a result that needs the effect path (a Promise, Effect, Stream or async generator). */
export const ASYNC: unique symbol = Symbol("weft/async")

const isSyncResult = (result: unknown): boolean =>
  result === undefined ||
  result === null ||
  !isRecord(result) ||
  !(
    Stream.isStream(result) ||
    Effect.isEffect(result) ||
    typeof (result as { then?: unknown }).then === "function" ||
    Symbol.asyncIterator in result
  )

/**
 * Emits what `run` returned when that needs no waiting: nothing, a `{ pin: value }` record, or a sync
 * generator of pairs. Returns a failure, `undefined` when every output was emitted, or `ASYNC`.
 */
export const liftSync = (
  block: AnyBlock,
  result: unknown,
  emit: Emit,
): AttemptFailure | undefined | typeof ASYNC => {
  if (!isSyncResult(result)) return ASYNC
  if (result === undefined || result === null) return undefined
  if (isRecord(result) && Symbol.iterator in result) {
    try {
      for (const pair of result as Iterable<unknown>) {
        const failure = emitPair(block, pair, emit)
        if (failure !== undefined) return failure
      }
    } catch (error) {
      return toFailure(error, block.retry)
    }
    return undefined
  }
  return emitRecord(block, result, emit)
}

const emitPair = (block: AnyBlock, pair: unknown, emit: Emit): AttemptFailure | undefined =>
  isPair(pair)
    ? emit(pair[0], pair[1])
    : new AttemptFailure(`block ${block.id} yielded ${messageOf(pair)}, not a [pin, value] pair`, false)

const emitRecord = (block: AnyBlock, record: unknown, emit: Emit): AttemptFailure | undefined => {
  if (record === undefined || record === null) return undefined
  if (!isRecord(record) || Array.isArray(record)) {
    return new AttemptFailure(
      `block ${block.id} returned ${messageOf(record)}, not a { pin: value } record`,
      false,
    )
  }
  for (const key of Object.keys(record)) {
    const failure = emit(key, record[key])
    if (failure !== undefined) return failure
  }
  return undefined
}

const done = (failure: AttemptFailure | undefined): Effect.Effect<void, AttemptFailure> =>
  failure === undefined ? Effect.void : Effect.fail(failure)

/**
 * Lifts whatever `run` returned to a sequence of emits (R1): a record, a sync or async generator, a
 * Promise or Effect of a record, or a Stream of pairs.
 */
export const lift = (
  block: AnyBlock,
  result: unknown,
  ctx: BlockContext,
  emit: Emit,
): Effect.Effect<void, AttemptFailure> => {
  const fail = (error: unknown) => toFailure(error, block.retry)
  const lifted = Effect.suspend((): Effect.Effect<void, AttemptFailure> => {
    const sync = liftSync(block, result, emit)
    if (sync !== ASYNC) return done(sync)
    if (Stream.isStream(result)) {
      return Stream.runForEach(result as Stream.Stream<unknown, unknown>, (pair) =>
        done(emitPair(block, pair, emit)),
      ).pipe(Effect.mapError(fail))
    }
    if (Effect.isEffect(result)) {
      return (result as Effect.Effect<unknown, unknown>).pipe(
        Effect.mapError(fail),
        Effect.flatMap((record) => done(emitRecord(block, record, emit))),
      )
    }
    if (typeof (result as { then?: unknown }).then === "function") {
      return Effect.tryPromise({ try: () => result as PromiseLike<unknown>, catch: fail }).pipe(
        Effect.flatMap((record) => done(emitRecord(block, record, emit))),
      )
    }
    const iterable = result as AsyncIterable<unknown>
    return Effect.tryPromise({
      try: async () => {
        for await (const pair of iterable) {
          const failure = emitPair(block, pair, emit)
          if (failure !== undefined) return failure
          if (ctx.signal.aborted) return undefined
        }
        return undefined
      },
      catch: fail,
    }).pipe(Effect.flatMap(done))
  })
  // A block that throws inside its own Effect or Stream dies rather than fails: that is still its failure.
  return Effect.catchDefect(lifted, (defect) => Effect.fail(fail(defect)))
}

/** Calls `run` and lifts its result: one attempt of a block. */
export const invoke = (
  block: AnyBlock,
  input: Record<string, unknown>,
  ctx: BlockContext,
  emit: Emit,
): Effect.Effect<void, AttemptFailure> =>
  Effect.suspend(() => {
    let result: unknown
    try {
      result = block.run(input, ctx)
    } catch (error) {
      return Effect.fail(toFailure(error, block.retry))
    }
    return lift(block, result, ctx, emit)
  })

/** The retry schedule of a policy (W1): exponential backoff, capped, with jitter unless turned off. */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<unknown, unknown> => {
  const cap = Duration.millis(policy.maxDelayMs ?? 30_000)
  const base = Schedule.exponential(Duration.millis(policy.initialDelayMs ?? 200), policy.factor ?? 2)
  const jittered = policy.jitter === false ? base : Schedule.jittered(base)
  return jittered.pipe(
    Schedule.modifyDelay((meta) => Effect.succeed(Duration.min(meta.duration, cap))),
  ) as Schedule.Schedule<unknown, unknown>
}
