/**
 * Presets: saved inputs and credential references for a graph, checked against the graph when saved, and
 * executed as a run of their owner (with some inputs overridden) through the run service.
 *
 * A preset may leave required inputs out (they are given when it is executed); the inputs it has must be
 * inputs of the graph, well typed. Executing checks the whole again against the version that runs.
 *
 * @since 0.1.0
 */
import type { GraphInvalid, GraphNotFound, RunInputInvalid, StoreError } from "@weft/engine"
import { Context, Effect, Layer } from "effect"
import { GraphStore } from "../../GraphStore.js"
import type { IdempotencyKeyReused } from "../../RunQueries.js"
import { RunService, type StartRequest } from "../../RunService.js"
import type { SqlError } from "../../Sql.js"
import {
  type CredentialRefs,
  type Preset,
  type PresetInUse,
  type PresetNotFound,
  PresetStore,
} from "./PresetStore.js"
import * as RunTemplate from "./RunTemplate.js"

/**
 * What a preset is created with.
 *
 * @category models
 */
export interface PresetCreate {
  readonly graphId: string
  readonly name: string
  readonly description?: string
  readonly inputs: Readonly<Record<string, unknown>>
  readonly credentials?: CredentialRefs
  readonly version?: number
}

/**
 * What a preset is updated with: the fields given replace the stored ones; `version: null` unpins it.
 *
 * @category models
 */
export interface PresetUpdate {
  readonly name?: string
  readonly description?: string
  readonly inputs?: Readonly<Record<string, unknown>>
  readonly credentials?: CredentialRefs
  readonly version?: number | null
}

/**
 * Why a preset could not be saved.
 *
 * @category models
 */
export type PresetRefused = GraphNotFound | GraphInvalid | RunInputInvalid | RunTemplate.CredentialRefsInvalid

/**
 * The presets service's interface.
 *
 * @category models
 */
export interface PresetsShape {
  readonly create: (owner: string, request: PresetCreate) => Effect.Effect<Preset, PresetRefused>
  readonly list: (
    owner: string,
    options?: { readonly graphId?: string },
  ) => Effect.Effect<ReadonlyArray<Preset>>
  readonly get: (owner: string, id: string) => Effect.Effect<Preset, PresetNotFound>
  readonly update: (
    owner: string,
    id: string,
    request: PresetUpdate,
  ) => Effect.Effect<Preset, PresetNotFound | PresetRefused>
  readonly remove: (owner: string, id: string) => Effect.Effect<void, PresetNotFound | PresetInUse>
  /**
   * Starts a run of the preset's graph with its inputs, `inputs` merged over them. With an idempotency key,
   * a repeated execution answers the first run (`existing: true`).
   */
  readonly execute: (
    owner: string,
    id: string,
    request: { readonly inputs?: Readonly<Record<string, unknown>>; readonly idempotencyKey?: string },
  ) => Effect.Effect<
    { readonly runId: string; readonly existing: boolean },
    | PresetNotFound
    | GraphNotFound
    | GraphInvalid
    | RunInputInvalid
    | IdempotencyKeyReused
    | RunTemplate.CredentialRefsInvalid
  >
}

/**
 * The run template of a preset.
 *
 * @category constructors
 */
export const templateOf = (preset: Preset): RunTemplate.RunTemplate => ({
  graphId: preset.graphId,
  ...(preset.version === undefined ? {} : { version: preset.version }),
  inputs: preset.inputs,
  credentials: preset.credentials,
})

/**
 * The run service's start request for a template.
 *
 * @category constructors
 */
export const startRequest = (
  lookup: RunTemplate.CredentialLookup | undefined,
  owner: string,
  template: RunTemplate.RunTemplate,
  idempotencyKey?: string,
): Effect.Effect<StartRequest, RunTemplate.CredentialRefsInvalid | SqlError> =>
  Effect.map(RunTemplate.credentialInputs(lookup, owner, template.credentials), (nodeInputs) => ({
    inputs: template.inputs,
    ...(template.version === undefined ? {} : { version: template.version }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(nodeInputs === undefined ? {} : { nodeInputs }),
  }))

const make = Effect.gen(function* () {
  const store = yield* PresetStore
  const graphs = yield* GraphStore
  const runs = yield* RunService
  const credentials = yield* RunTemplate.credentialLookup
  const services = {
    graphs,
    registry: runs.registry,
    ...(credentials === undefined ? {} : { credentials }),
  }

  const checked = (owner: string, template: RunTemplate.RunTemplate) =>
    RunTemplate.check(services, owner, template, "partial").pipe(
      Effect.catchTag("SqlError", (error) => Effect.die(error)),
    )

  const create: PresetsShape["create"] = (owner, request) =>
    Effect.gen(function* () {
      const fields = {
        graphId: request.graphId,
        ...(request.version === undefined ? {} : { version: request.version }),
        name: request.name,
        description: request.description ?? "",
        inputs: request.inputs,
        credentials: request.credentials ?? {},
      }
      yield* checked(owner, fields)
      return yield* store.insert(owner, crypto.randomUUID(), fields).pipe(Effect.orDie)
    })

  const update: PresetsShape["update"] = (owner, id, request) =>
    Effect.gen(function* () {
      const current = yield* store.get(owner, id).pipe(Effect.catchTag("SqlError", Effect.die))
      const version = request.version === null ? undefined : (request.version ?? current.version)
      const fields = {
        graphId: current.graphId,
        ...(version === undefined ? {} : { version }),
        name: request.name ?? current.name,
        description: request.description ?? current.description,
        inputs: request.inputs ?? current.inputs,
        credentials: request.credentials ?? current.credentials,
      }
      yield* checked(owner, fields)
      return yield* store.update(owner, id, fields).pipe(Effect.catchTag("SqlError", Effect.die))
    })

  const execute: PresetsShape["execute"] = (owner, id, request) =>
    Effect.gen(function* () {
      const preset = yield* store.get(owner, id).pipe(Effect.catchTag("SqlError", Effect.die))
      const template = RunTemplate.withInputs(templateOf(preset), request.inputs)
      const start = yield* startRequest(credentials, owner, template, request.idempotencyKey).pipe(
        Effect.catchTag("SqlError", (error) => Effect.die(error)),
      )
      return yield* runs
        .start(owner, template.graphId, start)
        .pipe(Effect.catchTag("StoreError", (error: StoreError) => Effect.die(error)))
    })

  return {
    create,
    list: (owner, options) => store.list(owner, options).pipe(Effect.orDie),
    get: (owner, id) => store.get(owner, id).pipe(Effect.catchTag("SqlError", Effect.die)),
    update,
    remove: (owner, id) => store.remove(owner, id).pipe(Effect.catchTag("SqlError", Effect.die)),
    execute,
  } satisfies PresetsShape
})

/**
 * The presets service.
 *
 * @category services
 */
export class Presets extends Context.Service<Presets, PresetsShape>()("@weft/host-node/Presets") {
  /**
   * The service over the preset store, the graph store and the run service.
   *
   * @category layers
   */
  static readonly layer: Layer.Layer<Presets, never, PresetStore | GraphStore | RunService> = Layer.effect(
    Presets,
    make,
  )
}
