/**
 * The presets routes (declared in `triggers/presets/PresetsApi.ts`): save, list, read, change and delete
 * presets, and execute one as a run. Another user's ids answer 404 like unknown ones; a preset that does not
 * fit its graph is refused with 400 naming the fields (`inputs.<name>`, `credentials.<node>.<field>`,
 * `nodes.<node>.<field>`), and nothing is written.
 *
 * @since 0.1.0
 */
import type { GraphInvalid, GraphNotFound, RunInputInvalid } from "@weft/engine"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import { RunStartLimit } from "../auth/rate-limit-runs.js"
import type { IdempotencyKeyReused } from "../RunQueries.js"
import type { Preset } from "../triggers/presets/PresetStore.js"
import { Presets } from "../triggers/presets/Presets.js"
import type { CredentialRefsInvalid } from "../triggers/presets/RunTemplate.js"
import { WeftApi } from "./Api.js"
import { badRequest, Conflict, NotFound, Unprocessable } from "./Errors.js"

/** The answer's shape. */
const view = (preset: Preset) => ({
  id: preset.id,
  graphId: preset.graphId,
  ...(preset.version === undefined ? {} : { version: preset.version }),
  name: preset.name,
  description: preset.description,
  inputs: preset.inputs,
  credentials: preset.credentials,
  createdAt: preset.createdAt,
  updatedAt: preset.updatedAt,
})

/**
 * `NotFound` for a graph (or one of its versions) the caller does not have.
 *
 * @category errors
 */
export const graphNotFound = (error: GraphNotFound) =>
  new NotFound({
    error:
      error.version === undefined
        ? `No graph ${error.graphId}`
        : `No version ${error.version} of graph ${error.graphId}`,
  })

/**
 * `BadRequest` naming the nodes' fields of a graph that does not validate.
 *
 * @category errors
 */
export const graphInvalid = (error: GraphInvalid) => {
  const fields: Record<string, string> = {}
  for (const [node, problems] of Object.entries(error.errors)) {
    for (const [field, message] of Object.entries(problems)) {
      fields[node === "$graph" ? field : `nodes.${node}.${field}`] = message
    }
  }
  return badRequest("The graph is invalid", fields)
}

/**
 * `BadRequest` naming `inputs.<name>` for each input that does not fit the graph.
 *
 * @category errors
 */
export const inputsInvalid = (error: RunInputInvalid) => {
  const fields: Record<string, string> = {}
  for (const [name, message] of Object.entries(error.errors)) {
    fields[`inputs.${name}`] = message === "Expected no excess property" ? "unknown input" : message
  }
  return badRequest("Invalid inputs", fields)
}

/**
 * `BadRequest` naming `credentials.<node>.<field>` for each reference that does not fit.
 *
 * @category errors
 */
export const credentialsInvalid = (error: CredentialRefsInvalid) =>
  badRequest("Invalid credentials", error.errors)

/** The 422 of an idempotency key reused for another request. */
const keyReused = (error: IdempotencyKeyReused) =>
  new Unprocessable({
    error: error.message,
    fields: { "Idempotency-Key": "already used for another graph, version or inputs; use a new key" },
  })

const presetNotFound = (id: string) => new NotFound({ error: `No preset ${id}` })

/**
 * The presets handlers.
 *
 * @category handlers
 */
export const PresetsLive = HttpApiBuilder.group(WeftApi, "presets", (handlers) =>
  Effect.gen(function* () {
    const presets = yield* Presets
    const startLimit = yield* RunStartLimit

    const refused = {
      GraphNotFound: (error: GraphNotFound) => Effect.fail(graphNotFound(error)),
      GraphInvalid: (error: GraphInvalid) => Effect.fail(graphInvalid(error)),
      RunInputInvalid: (error: RunInputInvalid) => Effect.fail(inputsInvalid(error)),
      CredentialRefsInvalid: (error: CredentialRefsInvalid) => Effect.fail(credentialsInvalid(error)),
    }

    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const preset = yield* presets.create(owner, payload).pipe(Effect.catchTags(refused))
          return view(preset)
        }),
      )
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const list = yield* presets.list(
            owner,
            query.graphId === undefined ? {} : { graphId: query.graphId },
          )
          return list.map(view)
        }),
      )
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const preset = yield* presets
            .get(owner, params.id)
            .pipe(Effect.catchTag("PresetNotFound", () => Effect.fail(presetNotFound(params.id))))
          return view(preset)
        }),
      )
      .handle("update", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const preset = yield* presets.update(owner, params.id, payload).pipe(
            Effect.catchTags({
              ...refused,
              PresetNotFound: () => Effect.fail(presetNotFound(params.id)),
            }),
          )
          return view(preset)
        }),
      )
      .handle("delete", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* presets.remove(owner, params.id).pipe(
            Effect.catchTags({
              PresetNotFound: () => Effect.fail(presetNotFound(params.id)),
              PresetInUse: (error) => Effect.fail(new Conflict({ error: error.message })),
            }),
          )
        }),
      )
      .handle("execute", ({ params, payload, headers }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          // Unknown presets answer 404 before anything is taken from the caller's run starts.
          yield* presets
            .get(owner, params.id)
            .pipe(Effect.catchTag("PresetNotFound", () => Effect.fail(presetNotFound(params.id))))
          yield* startLimit.take(owner)
          const key = headers["idempotency-key"]
          const started = yield* presets
            .execute(owner, params.id, {
              ...(payload?.inputs === undefined ? {} : { inputs: payload.inputs }),
              ...(key === undefined ? {} : { idempotencyKey: key }),
            })
            .pipe(
              Effect.catchTags({
                PresetNotFound: () => Effect.fail(presetNotFound(params.id)),
                GraphNotFound: (error) => Effect.fail(graphNotFound(error)),
                GraphInvalid: (error) => Effect.fail(graphInvalid(error)),
                RunInputInvalid: (error) => Effect.fail(inputsInvalid(error)),
                IdempotencyKeyReused: (error) => Effect.fail(keyReused(error)),
                CredentialRefsInvalid: (error: CredentialRefsInvalid) =>
                  Effect.fail(credentialsInvalid(error)),
              }),
            )
          return { id: started.runId, existing: started.existing }
        }),
      )
  }),
)
