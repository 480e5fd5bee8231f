/**
 * Runs one block on its own, outside any graph: for block examples (the conformance suite), for a
 * "run this block" button, and for plugin authors' unit tests.
 *
 * @since 0.1.0
 */
import { Context, Effect, Stream } from "effect"
import type { AnyBlock, BlockContext, BlockResources, ResolvedCredentials, ReviewDecision } from "./Block.js"
import { BlockDisabled, BlockFailed } from "./Errors.js"
import { checkOutput, decodeInput, invoke } from "./internal/invoke.js"

/**
 * What `runBlock` takes besides the block and its input.
 *
 * @category models
 */
export interface RunBlockOptions {
  readonly signal?: AbortSignal
  readonly review?: ReviewDecision
  readonly safeMode?: boolean
  /** Receives `ctx.progress` deltas. */
  readonly onProgress?: (delta: unknown) => void
  /** Resolved credentials, by field name, for `ctx.credentials`. */
  readonly credentials?: Readonly<Record<string, ResolvedCredentials>>
  readonly resources?: BlockResources
  /** Why the block must not run here (e.g. `BlockRegistry.disabled(id)`); `Block.disabled` by default. */
  readonly disabled?: string
}

/**
 * The outputs of one block execution, in yield order. A failure is the last pair, on the pin `error` (R2).
 *
 * @category models
 */
export type BlockOutputs = ReadonlyArray<readonly [string, unknown]>

/**
 * Decodes `input` with the block's input schema (R3) and runs the block once (no retry), collecting its
 * outputs. Invalid input fails with `BlockFailed` (reason `InvalidInput`, naming the field); a failure of
 * the block itself is returned as a final `["error", message]` pair, as a graph would route it.
 *
 * @category running
 */
export const runBlockEffect = (
  block: AnyBlock,
  input: Readonly<Record<string, unknown>>,
  options: RunBlockOptions = {},
): Effect.Effect<BlockOutputs, BlockFailed | BlockDisabled> =>
  Effect.suspend((): Effect.Effect<BlockOutputs, BlockFailed | BlockDisabled> => {
    const disabled = options.disabled ?? block.disabled
    if (disabled !== undefined) return Effect.fail(new BlockDisabled({ blockId: block.id, reason: disabled }))
    const decoded = decodeInput(block, { ...input })
    if (!decoded.ok) {
      return Effect.fail(
        new BlockFailed({
          nodeId: block.id,
          blockId: block.id,
          executionId: "standalone",
          reason: "InvalidInput",
          message: decoded.message,
          ...(decoded.field === undefined ? {} : { field: decoded.field }),
          retryable: false,
        }),
      )
    }
    const outputs: Array<readonly [string, unknown]> = []
    const noop = () => {}
    const logger = { debug: noop, info: noop, warn: noop, error: noop }
    const ctx: BlockContext = {
      runId: "standalone",
      graphId: "standalone",
      nodeId: block.id,
      executionId: "standalone",
      attempt: 1,
      signal: options.signal ?? new AbortController().signal,
      log: logger,
      progress: options.onProgress ?? noop,
      reportCost: noop,
      review: options.review,
      safeMode: options.safeMode,
      subgraph: () => Stream.fail(new Error("sub-graphs need an executor: run this block inside a graph")),
      credentials: options.credentials ?? {},
      resources: options.resources ?? Context.empty(),
    }
    return invoke(block, decoded.value, ctx, (pin, value) => {
      const failure = checkOutput(block, pin, value)
      if (failure !== undefined) return failure
      outputs.push([pin, value])
      return undefined
    }).pipe(
      Effect.catch((failure) => Effect.sync(() => outputs.push(["error", failure.message]))),
      Effect.as(outputs),
    )
  })

/**
 * Promise form of `runBlockEffect`, for plain TypeScript.
 *
 * @example
 * ```ts
 * const outputs = await runBlock(Upper, { text: "hi" }) // [["result", "HI"]]
 * ```
 *
 * @category running
 */
export const runBlock = (
  block: AnyBlock,
  input: Readonly<Record<string, unknown>>,
  options?: RunBlockOptions,
): Promise<BlockOutputs> => Effect.runPromise(runBlockEffect(block, input, options))

/**
 * The outcome of one block example.
 *
 * @category models
 */
export interface ExampleResult {
  readonly description: string
  readonly passed: boolean
  readonly expected: BlockOutputs
  readonly actual: BlockOutputs
}

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  )
}

/**
 * Runs every example of a block and compares its outputs, in order, with the expected ones. The block
 * library's conformance suite calls this for every block.
 *
 * @category running
 */
export const checkExamples = async (block: AnyBlock): Promise<ReadonlyArray<ExampleResult>> => {
  const results: Array<ExampleResult> = []
  for (const [i, example] of (block.examples ?? []).entries()) {
    const actual = await Effect.runPromise(
      runBlockEffect(block, example.input).pipe(
        Effect.catch((error) => Effect.succeed([["error", error.message] as const] as BlockOutputs)),
      ),
    )
    results.push({
      description: example.description ?? `example ${i + 1}`,
      passed: deepEqual(actual, example.output),
      expected: example.output,
      actual,
    })
  }
  return results
}
