/**
 * What a trigger starts: a graph of the owner at a pinned or the active version, run inputs, and credential
 * references by node and field. Presets and schedules are checked against the graph with these functions
 * when they are saved, and the run service checks the whole again when the run starts.
 *
 * @since 0.1.0
 */
import {
  type AnyBlock,
  Block,
  type BlockRegistryShape,
  type CredentialsRequirement,
  checkGraph,
  decodeRunInputs,
  type Graph,
  type GraphInvalid,
  type GraphNotFound,
  graphIO,
  RunInputInvalid,
} from "@weft/engine"
import { Data, Effect, Option } from "effect"
import { CredentialStore } from "../../credentials/CredentialStore.js"
import type { GraphStoreShape, StoredGraph } from "../../GraphStore.js"
import type { NodeInputs } from "../../RunQueries.js"
import type { SqlError } from "../../Sql.js"
import type { CredentialRefs } from "./PresetStore.js"

/**
 * A run a trigger starts.
 *
 * @category models
 */
export interface RunTemplate {
  readonly graphId: string
  /** Absent: the graph's active version when the run starts. */
  readonly version?: number
  readonly inputs: Readonly<Record<string, unknown>>
  readonly credentials: CredentialRefs
}

/**
 * Credential references that do not fit the graph: `errors` maps `credentials.<nodeId>[.<field>]` to what is
 * wrong.
 *
 * @category errors
 */
export class CredentialRefsInvalid extends Data.TaggedError("CredentialRefsInvalid")<{
  readonly errors: Readonly<Record<string, string>>
}> {
  override get message(): string {
    return `Invalid credentials: ${Object.entries(this.errors)
      .map(([field, message]) => `${field}: ${message}`)
      .join("; ")}`
  }
}

/**
 * How much of the inputs must be there: `complete` (a run starts from them as they are) or `partial`
 * (required inputs may be missing, to be given when the run starts; the others must be known and well typed).
 *
 * @category models
 */
export type InputsCheck = "complete" | "partial"

/**
 * Checks inputs against a graph's input schema. In `partial` mode, only the inputs given are checked.
 *
 * @category validation
 */
export const checkInputs = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
  inputs: Readonly<Record<string, unknown>>,
  mode: InputsCheck,
): Effect.Effect<void, RunInputInvalid> =>
  decodeRunInputs(graph, graphIO(graph, registry), inputs).pipe(
    Effect.asVoid,
    Effect.catchTag("RunInputInvalid", (error) => {
      if (mode === "complete") return Effect.fail(error)
      // A missing input is reported under its own name, which the partial inputs do not have.
      const given = Object.entries(error.errors).filter(([name]) => Object.hasOwn(inputs, name))
      return given.length === 0
        ? Effect.void
        : Effect.fail(new RunInputInvalid({ graphId: error.graphId, errors: Object.fromEntries(given) }))
    }),
  )

/**
 * Finds the owner's stored credentials by id (their provider and type), or `undefined` for an unknown id or
 * another owner's.
 *
 * @category models
 */
export type CredentialLookup = (
  owner: string,
  credentialId: string,
) => Effect.Effect<
  { readonly provider: string; readonly type: string; readonly title: string } | undefined,
  SqlError
>

/** The credential fields of a node's block, by name, with what each needs. */
const credentialFields = (block: AnyBlock | undefined): ReadonlyMap<string, CredentialsRequirement> =>
  new Map(
    (block?.credentialPins ?? []).flatMap((pin) =>
      pin.credentials === undefined ? [] : [[pin.name, pin.credentials] as const],
    ),
  )

const providersOf = (requirement: CredentialsRequirement): string =>
  typeof requirement.provider === "string" ? requirement.provider : requirement.provider.join(" or ")

/**
 * Checks that every reference names a node of the graph and a credentials field of that node's block, and,
 * with a `lookup`, that the id is one of the owner's credentials of the provider and type the field needs.
 *
 * @category validation
 */
export const checkCredentialRefs = (
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
  credentials: CredentialRefs,
  owner?: { readonly id: string; readonly lookup: CredentialLookup },
): Effect.Effect<void, CredentialRefsInvalid | SqlError> =>
  Effect.gen(function* () {
    const errors: Record<string, string> = {}
    for (const [nodeId, fields] of Object.entries(credentials)) {
      const node = graph.nodes.find((candidate) => candidate.id === nodeId)
      if (node === undefined) {
        errors[`credentials.${nodeId}`] = "no such node in the graph"
        continue
      }
      const accepted = credentialFields(registry.get(node.blockId))
      for (const [field, credentialId] of Object.entries(fields)) {
        const key = `credentials.${nodeId}.${field}`
        const requirement = accepted.get(field)
        if (requirement === undefined) {
          errors[key] = `not a credentials field of block ${node.blockId}`
          continue
        }
        if (owner === undefined) continue
        const stored = yield* owner.lookup(owner.id, credentialId)
        if (stored === undefined) errors[key] = `no credentials ${credentialId}`
        else if (!Block.acceptsProvider(requirement, stored.provider) || stored.type !== requirement.type) {
          errors[key] =
            `credentials ${credentialId} are ${stored.provider} ${stored.type} credentials; this field needs ${providersOf(requirement)} ${requirement.type}`
        }
      }
    }
    if (Object.keys(errors).length > 0) return yield* new CredentialRefsInvalid({ errors })
  })

/**
 * The node inputs that put a template's credential references into its run: each field gets the reference
 * `{id, provider, type, title}` the engine's resolver opens (for the run's owner only). A credential deleted
 * since the template was saved is refused, naming the field.
 *
 * @category constructors
 */
export const credentialInputs = (
  lookup: CredentialLookup | undefined,
  owner: string,
  credentials: CredentialRefs,
): Effect.Effect<NodeInputs | undefined, CredentialRefsInvalid | SqlError> =>
  Effect.gen(function* () {
    const nodes = Object.entries(credentials).filter(([, fields]) => Object.keys(fields).length > 0)
    if (nodes.length === 0) return undefined
    const errors: Record<string, string> = {}
    const inputs: Record<string, Record<string, unknown>> = {}
    for (const [nodeId, fields] of nodes) {
      for (const [field, credentialId] of Object.entries(fields)) {
        const key = `credentials.${nodeId}.${field}`
        const stored = lookup === undefined ? undefined : yield* lookup(owner, credentialId)
        if (stored === undefined) {
          errors[key] =
            lookup === undefined
              ? "credentials are not available on this server"
              : `no credentials ${credentialId}`
          continue
        }
        inputs[nodeId] = {
          ...inputs[nodeId],
          [field]: { id: credentialId, provider: stored.provider, type: stored.type, title: stored.title },
        }
      }
    }
    if (Object.keys(errors).length > 0) return yield* new CredentialRefsInvalid({ errors })
    return inputs
  })

/**
 * The lookup of the `CredentialStore` service, when the host has one.
 *
 * @category constructors
 */
export const credentialLookup: Effect.Effect<CredentialLookup | undefined> = Effect.map(
  Effect.serviceOption(CredentialStore),
  (store) =>
    Option.isNone(store)
      ? undefined
      : (owner, credentialId) =>
          store.value.get(owner, credentialId).pipe(
            Effect.map((info) => ({ provider: info.provider, type: info.type, title: info.title })),
            Effect.catchTag("CredentialNotFound", () => Effect.succeed(undefined)),
          ),
)

/**
 * Loads the template's graph version for `owner` and checks the graph, the inputs (`mode`) and the
 * credential references. Answers the stored graph.
 *
 * @category validation
 */
export const check = (
  services: {
    readonly graphs: Pick<GraphStoreShape, "get">
    readonly registry: Pick<BlockRegistryShape, "get">
    /** The owner's credentials; without it, credential ids are not looked up. */
    readonly credentials?: CredentialLookup
  },
  owner: string,
  template: RunTemplate,
  mode: InputsCheck,
): Effect.Effect<
  StoredGraph,
  GraphNotFound | GraphInvalid | RunInputInvalid | CredentialRefsInvalid | SqlError
> =>
  Effect.gen(function* () {
    const { graphs, registry, credentials } = services
    const stored = yield* graphs.get(owner, template.graphId, template.version)
    yield* checkGraph(stored.graph, registry)
    yield* checkInputs(stored.graph, registry, template.inputs, mode)
    yield* checkCredentialRefs(
      stored.graph,
      registry,
      template.credentials,
      credentials === undefined ? undefined : { id: owner, lookup: credentials },
    )
    return stored
  })

/**
 * A template with `overrides` merged over its inputs (an override replaces the input of the same name).
 *
 * @category constructors
 */
export const withInputs = (
  template: RunTemplate,
  overrides: Readonly<Record<string, unknown>> | undefined,
): RunTemplate =>
  overrides === undefined ? template : { ...template, inputs: { ...template.inputs, ...overrides } }
