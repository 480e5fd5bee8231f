/**
 * The block contract: what a block declares and how its `run` is called.
 *
 * A block is a typed unit with input and output pins. Its input and output schemas are Effect Schema
 * structs (one field per pin), exposed as JSON Schema for UIs. `run` may return a `Stream` of
 * `[pin, value]` pairs, or anything simpler that is lifted to one: an `Effect` or a `Promise` of a
 * `{ pin: value }` record, an async or sync generator of pairs, or a plain record.
 *
 * @since 0.1.0
 */
import type { Effect, Stream } from "effect"
import { type Context, Schema, SchemaAST } from "effect"

/** Output pins of a block: the output schema's fields as types. */
export type OutputPins<O extends Schema.Struct.Fields> = {
  readonly [K in keyof O & string]: Schema.Schema.Type<O[K]>
}

/**
 * One yielded output: a pin name and its value.
 *
 * @category models
 */
export type OutputPair<P> = { readonly [K in keyof P & string]: readonly [K, P[K]] }[keyof P & string]

/**
 * What `run` may return. Every shape is lifted to a stream of `[pin, value]` pairs.
 * A record emits each key once, in key order. Yielding or returning the pin `error` fails the execution (R2).
 *
 * @category models
 */
export type RunReturn<P> =
  | Stream.Stream<OutputPair<P> | readonly ["error", string], unknown, never>
  | Effect.Effect<Partial<P> | undefined | void, unknown, never>
  | Promise<Partial<P> | undefined | void>
  | AsyncIterable<OutputPair<P> | readonly ["error", string]>
  | Iterable<OutputPair<P> | readonly ["error", string]>
  | Partial<P>
  | undefined
  | void

/**
 * A structured log line written by a block; it becomes a `NodeLog` run event.
 *
 * @category models
 */
export interface BlockLogger {
  readonly debug: (message: string, data?: unknown) => void
  readonly info: (message: string, data?: unknown) => void
  readonly warn: (message: string, data?: unknown) => void
  readonly error: (message: string, data?: unknown) => void
}

/**
 * A reviewer's decision on a node execution in REVIEW (R16).
 *
 * @category models
 */
export interface ReviewDecision {
  readonly approved: boolean
  /** Data edited by the reviewer; replaces the reviewed data when present. */
  readonly data?: unknown
  readonly message?: string
}

/**
 * What a block asks of the engine to run another graph as a child run (R15).
 *
 * @category models
 */
export interface SubgraphRequest {
  readonly graphId: string
  readonly version?: number
  readonly inputs: Readonly<Record<string, unknown>>
}

/**
 * Everything `run` receives besides its decoded input.
 *
 * @category models
 */
export interface BlockContext {
  readonly runId: string
  readonly graphId: string
  readonly nodeId: string
  readonly executionId: string
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number
  /** Aborted when the execution is cancelled, times out, or the run is cancelled (W4). */
  readonly signal: AbortSignal
  readonly log: BlockLogger
  /** Emits a progress delta (e.g. an LLM token). Not a pin value; not persisted as an output (W5). */
  readonly progress: (delta: unknown) => void
  /** Adds to this execution's cost (W9), on top of the block's declared `cost`. */
  readonly reportCost: (amount: number) => void
  /** The decision on this execution's pending review, once a reviewer has acted (R16). */
  readonly review: ReviewDecision | undefined
  /** The run's safe mode (R16), or `undefined` when the run did not set it. */
  readonly safeMode: boolean | undefined
  /** Runs another graph as a child run and streams its outputs as `[outputName, value]` (R15). */
  readonly subgraph: (request: SubgraphRequest) => Stream.Stream<readonly [string, unknown], Error>
  /**
   * The secrets behind this block's credential fields, by field name, resolved by the executor. They never
   * appear in outputs, errors, logs or events: any output containing one is redacted.
   */
  readonly credentials: Readonly<Record<string, ResolvedCredentials>>
  /** Shared resources the host configured (an HTTP client, model endpoints…); see `BlockResources`. */
  readonly resources: BlockResources
}

/**
 * Shared resources that the executor hands to every block, configured by the host
 * (`ExecutorConfig.resources`): an Effect `Context` whose keys are services packages declare, e.g. the safe
 * HTTP client of `@weft/blocks`. A block reads one with `Context.getOrUndefined(ctx.resources, Key)`.
 *
 * @category models
 */
export type BlockResources = Context.Context<never>

/**
 * What a credential field needs: a provider (e.g. `openai`) and a kind of secret.
 *
 * @category models
 */
export interface CredentialsRequirement {
  /** The provider, or the providers any of which will do (e.g. an OpenAI-compatible endpoint). */
  readonly provider: string | ReadonlyArray<string>
  readonly type: "api_key" | "oauth2" | "user_password" | "host_scoped"
}

/**
 * The value of a credential field in a graph: a reference to a stored secret, never the secret itself.
 * It has the shape AutoGPT uses (`{ id, provider, type, title }`).
 *
 * @category models
 */
export const CredentialsRef = Schema.Struct({
  id: Schema.String,
  provider: Schema.String,
  type: Schema.String,
  title: Schema.optional(Schema.String),
})
/** @category models */
export interface CredentialsRef extends Schema.Schema.Type<typeof CredentialsRef> {}

/**
 * A resolved secret, as a block receives it in `ctx.credentials`.
 *
 * @category models
 */
export interface ResolvedCredentials {
  readonly provider: string
  readonly type: CredentialsRequirement["type"]
  /** The API key, access token or password. */
  readonly secret: string
  readonly username?: string
}

/**
 * Finds the secret behind a credential reference; the host backs it with its encrypted store. Returning
 * `undefined` means "no such credentials" (the execution fails, naming the field).
 *
 * @category models
 */
export type CredentialResolver = (
  ref: CredentialsRef,
  request: {
    readonly runId: string
    readonly nodeId: string
    readonly blockId: string
    readonly field: string
    readonly requirement: CredentialsRequirement
  },
) => Promise<ResolvedCredentials | undefined> | ResolvedCredentials | undefined

/**
 * The annotation key of a credential field.
 *
 * @category annotations
 */
export const CredentialsAnnotation = "credentials"

/**
 * A credential field: holds a `CredentialsRef`; the executor resolves it into `ctx.credentials[field]`.
 *
 * @example
 * ```ts
 * input: Schema.Struct({ prompt: Schema.String, credentials: Block.credentials({ provider: "openai", type: "api_key" }) })
 * ```
 *
 * @category annotations
 */
export const credentials = (requirement: CredentialsRequirement) => {
  const providers =
    typeof requirement.provider === "string" ? requirement.provider : requirement.provider.join(" or ")
  return CredentialsRef.annotate({
    [CredentialsAnnotation]: requirement,
    title: `${providers} credentials`,
    description: `A reference to stored ${providers} credentials (${requirement.type}).`,
  })
}

/**
 * Whether a credential reference's provider satisfies a requirement.
 *
 * @category predicates
 */
export const acceptsProvider = (requirement: CredentialsRequirement, provider: string): boolean =>
  typeof requirement.provider === "string"
    ? requirement.provider === provider
    : requirement.provider.includes(provider)

/**
 * Retry policy of a block (W1). Delays grow as `initialDelayMs × factor^n`, capped at `maxDelayMs`,
 * with jitter unless `jitter: false`.
 *
 * @category models
 */
export interface RetryPolicy {
  /** Attempts in all, the first one included. 1 means no retry. */
  readonly maxAttempts: number
  readonly initialDelayMs?: number
  readonly factor?: number
  readonly maxDelayMs?: number
  readonly jitter?: boolean
  /** Decides whether a failure message may be retried. Errors thrown as `BlockError({ retryable: false })` never are. */
  readonly retryable?: (message: string) => boolean
}

/**
 * The role a block plays in a graph. `input` and `output` blocks define the graph's inputs and outputs
 * (R5, R6, R14); `note` blocks never run.
 *
 * @category models
 */
export type BlockKind = "standard" | "input" | "output" | "note"

/**
 * An example of a block: the input and the `[pin, value]` outputs it must yield, in order.
 * The conformance suite runs every example of every block.
 *
 * @category models
 */
export interface BlockExample {
  readonly description?: string
  readonly input: Readonly<Record<string, unknown>>
  readonly output: ReadonlyArray<readonly [string, unknown]>
}

/**
 * Computes the cost of one execution from its decoded input (W9). Declared as a method so that a
 * block with a specific input type is still assignable to `AnyBlock`.
 *
 * @category models
 */
export type CostFunction<In> = { bivariant(input: In): number }["bivariant"]

/**
 * What `Block.make` takes.
 *
 * @category models
 */
export interface BlockOptions<I extends Schema.Struct.Fields, O extends Schema.Struct.Fields> {
  readonly id: string
  readonly version?: number
  readonly title: string
  readonly description: string
  readonly categories: ReadonlyArray<string>
  readonly input: Schema.Struct<I>
  readonly output: Schema.Struct<O>
  /** Other ids that resolve to this block, e.g. AutoGPT block UUIDs. */
  readonly aliases?: ReadonlyArray<string>
  readonly kind?: BlockKind
  /** Every link from this block is static (R9). */
  readonly staticOutput?: boolean
  /** Same input, same outputs: the output cache may reuse them (W8). */
  readonly deterministic?: boolean
  /** Needs a human review before it runs when the safe mode is on (R16). */
  readonly sensitive?: boolean
  /**
   * Why this block must not run (deprecated, unsafe…): a graph using it does not validate (R4), so no run,
   * sub-graph or trigger can execute it, and `runBlock` refuses it. It is still listed and importable.
   * Operators can disable more blocks with the registry's `disabled` option.
   */
  readonly disabled?: string
  /** Accepts input pins that the input schema does not declare (they are passed through as-is). */
  readonly openInputs?: boolean
  /** May yield output pins that the output schema does not declare; they are not validated (R3). */
  readonly openOutputs?: boolean
  readonly retry?: RetryPolicy
  /** Per-attempt timeout in milliseconds (W2). */
  readonly timeoutMs?: number
  /** At most this many executions of this block run at once, across runs of one executor (W3). */
  readonly concurrency?: number
  /** Cost of one execution (W9): a number, or computed from the decoded input. */
  readonly cost?: number | CostFunction<Schema.Struct<I>["Type"]>
  readonly examples?: ReadonlyArray<BlockExample>
  run(input: Schema.Struct<I>["Type"], ctx: BlockContext): RunReturn<OutputPins<O>>
}

/**
 * A pin of a block, as a UI or the validator sees it.
 *
 * @category models
 */
export interface PinInfo {
  readonly name: string
  /** The pin must have a value: it is neither optional nor filled by a decoding default. */
  readonly required: boolean
  readonly secret: boolean
  readonly advanced: boolean
  /** Set on credential fields (`Block.credentials`). */
  readonly credentials?: CredentialsRequirement
}

/**
 * A block: its declaration plus what the engine derives from it.
 *
 * @category models
 */
export interface Block<
  I extends Schema.Struct.Fields = Schema.Struct.Fields,
  O extends Schema.Struct.Fields = Schema.Struct.Fields,
> extends BlockOptions<I, O> {
  readonly version: number
  readonly kind: BlockKind
  readonly inputPins: ReadonlyMap<string, PinInfo>
  readonly outputPins: ReadonlyMap<string, PinInfo>
  /** The input pins that hold credentials (`Block.credentials`). */
  readonly credentialPins: ReadonlyArray<PinInfo>
  /** Input schema as JSON Schema (draft 2020-12), with `secret` and `advanced` annotations kept. */
  readonly inputJsonSchema: () => Record<string, unknown>
  /** Output schema as JSON Schema (draft 2020-12). */
  readonly outputJsonSchema: () => Record<string, unknown>
}

/**
 * A block with its types erased, as stored in a registry.
 *
 * @category models
 */
export type AnyBlock = Block<Schema.Struct.Fields, Schema.Struct.Fields>

/**
 * The annotation key that marks a field as secret: UIs mask it and it is never echoed in events.
 *
 * @category annotations
 */
export const SecretAnnotation = "secret"

/**
 * The annotation key that marks a field as advanced: UIs fold it away by default.
 *
 * @category annotations
 */
export const AdvancedAnnotation = "advanced"

/**
 * Marks a field schema as secret.
 *
 * @category annotations
 */
export const secret = <S extends Schema.Top>(schema: S): S["Rebuild"] =>
  schema.annotate({ [SecretAnnotation]: true })

/**
 * Marks a field schema as advanced.
 *
 * @category annotations
 */
export const advanced = <S extends Schema.Top>(schema: S): S["Rebuild"] =>
  schema.annotate({ [AdvancedAnnotation]: true })

const annotation = (ast: SchemaAST.AST, key: string): unknown => {
  const annotations = SchemaAST.resolve(ast) as Record<string, unknown> | undefined
  if (annotations?.[key] !== undefined) return annotations[key]
  const contextAnnotations = ast.context?.annotations as Record<string, unknown> | undefined
  if (contextAnnotations?.[key] !== undefined) return contextAnnotations[key]
  // `Schema.optional(X)` wraps X in a union with `undefined`: X's annotations still describe the pin.
  if (ast._tag === "Union") {
    for (const member of ast.types) {
      if (member._tag === "Undefined" || member._tag === "Null") continue
      const found = annotation(member, key)
      if (found !== undefined) return found
    }
  }
  return undefined
}

const annotationFlag = (ast: SchemaAST.AST, key: string): boolean => annotation(ast, key) === true

const pinInfos = (fields: Schema.Struct.Fields): ReadonlyMap<string, PinInfo> => {
  const pins = new Map<string, PinInfo>()
  for (const [name, field] of Object.entries(fields)) {
    const ast = field.ast
    // A pin is required when its encoded side is: `withDecodingDefault` fields may be left out.
    const encoded = SchemaAST.toEncoded(ast)
    const requirement = annotation(ast, CredentialsAnnotation) as CredentialsRequirement | undefined
    pins.set(name, {
      name,
      required: encoded.context?.isOptional !== true && ast.context?.isOptional !== true,
      secret: annotationFlag(ast, SecretAnnotation),
      advanced: annotationFlag(ast, AdvancedAnnotation),
      ...(requirement === undefined ? {} : { credentials: requirement }),
    })
  }
  return pins
}

const DOC_KEYS = [
  "title",
  "description",
  "examples",
  SecretAnnotation,
  AdvancedAnnotation,
  CredentialsAnnotation,
]

const jsonSchemaOf = (schema: Schema.Struct<Schema.Struct.Fields>): (() => Record<string, unknown>) => {
  let cached: Record<string, unknown> | undefined
  return () => {
    if (cached === undefined) {
      const doc = Schema.toJsonSchemaDocument(schema, {
        includeAnnotationKey: (key) =>
          key === SecretAnnotation || key === AdvancedAnnotation || key === CredentialsAnnotation,
      })
      const root = doc.schema as Record<string, unknown>
      // Some schemas (e.g. `Schema.Unknown`) lose their annotations on the way to JSON Schema: a pin's
      // title and description come from its field's annotations, so that every pin is documented for UIs.
      const properties = { ...((root.properties ?? {}) as Record<string, Record<string, unknown>>) }
      for (const [name, field] of Object.entries(schema.fields)) {
        const property = { ...(properties[name] ?? {}) }
        for (const key of DOC_KEYS) {
          const value = annotation(field.ast, key)
          if (value !== undefined && property[key] === undefined) property[key] = value
        }
        properties[name] = property
      }
      cached = { ...root, properties, $defs: doc.definitions }
    }
    return cached
  }
}

/**
 * Declares a block.
 *
 * @example
 * ```ts
 * const Upper = Block.make({
 *   id: "example/upper", title: "Upper case", description: "Upper-cases a text.", categories: ["text"],
 *   input: Schema.Struct({ text: Schema.String }),
 *   output: Schema.Struct({ result: Schema.String }),
 *   run: ({ text }) => ({ result: text.toUpperCase() }),
 * })
 * ```
 *
 * @category constructors
 */
export const make = <I extends Schema.Struct.Fields, O extends Schema.Struct.Fields>(
  options: BlockOptions<I, O>,
): Block<I, O> => {
  if (options.id.trim() === "") throw new Error("Block.make: id must not be empty")
  if (
    options.concurrency !== undefined &&
    !(Number.isInteger(options.concurrency) && options.concurrency >= 1)
  ) {
    throw new Error(`Block.make(${options.id}): concurrency must be an integer of at least 1`)
  }
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new Error(`Block.make(${options.id}): timeoutMs must be a positive number`)
  }
  if (
    options.retry !== undefined &&
    !(Number.isInteger(options.retry.maxAttempts) && options.retry.maxAttempts >= 1)
  ) {
    throw new Error(`Block.make(${options.id}): retry.maxAttempts must be at least 1`)
  }
  const inputPins = pinInfos(options.input.fields)
  return {
    ...options,
    version: options.version ?? 1,
    kind: options.kind ?? "standard",
    inputPins,
    credentialPins: [...inputPins.values()].filter((pin) => pin.credentials !== undefined),
    outputPins: pinInfos(options.output.fields),
    inputJsonSchema: jsonSchemaOf(options.input),
    outputJsonSchema: jsonSchemaOf(options.output),
  }
}

/**
 * A named set of blocks: the unit a plugin ships.
 *
 * @category models
 */
export interface BlockSet {
  readonly name: string
  readonly blocks: ReadonlyArray<AnyBlock>
}

/**
 * Declares a block set.
 *
 * @category constructors
 */
export const set = (name: string, blocks: ReadonlyArray<AnyBlock>): BlockSet => ({ name, blocks })
