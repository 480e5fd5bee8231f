/**
 * The presets routes of the API: saved inputs and credential references for a graph, and their execution
 * as a run (`POST /api/presets/:id/execute`, honouring `Idempotency-Key` like a run start).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { BadRequest, Conflict, NotFound, Unprocessable } from "../../api/Errors.js"
import { Id, isStorableText, Version } from "../../api/fields.js"
import { RateLimited } from "../../auth/rate-limit.js"
import { RequiredScope } from "../../auth/scopes.js"

const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

const Name = Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(200), isStorableText)

const Description = Schema.String.check(Schema.isMaxLength(5000), isStorableText)

/**
 * Credential ids by node id and credentials field: `{ "<nodeId>": { "<field>": "<credentialId>" } }`. Each
 * id must be one of the owner's credentials, of the provider and type the field needs.
 *
 * @category schemas
 */
export const CredentialRefs = Schema.Record(Id, Schema.Record(Id, Id)).annotate({
  description:
    'Credential ids by node id and credentials field: {"<nodeId>": {"<field>": "<credentialId>"}}.',
})

/**
 * A preset.
 *
 * @category schemas
 */
export const PresetInfo = Schema.Struct({
  id: Schema.String,
  graphId: Schema.String,
  /** The pinned graph version; absent: the active version when executed. */
  version: Schema.optionalKey(Schema.Number),
  name: Schema.String,
  description: Schema.String,
  inputs: JsonObject,
  credentials: CredentialRefs,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
}).annotate({ identifier: "Preset" })

/**
 * The body of `POST /api/presets`. Required inputs may be left out (given at execution); those given must
 * be inputs of the graph, well typed.
 *
 * @category schemas
 */
export const PresetCreateRequest = Schema.Struct({
  graphId: Id,
  name: Name,
  description: Schema.optionalKey(Description),
  inputs: JsonObject,
  credentials: Schema.optionalKey(CredentialRefs),
  version: Schema.optionalKey(Version),
})

/**
 * The body of `PUT /api/presets/:id`: the fields given replace the stored ones; `version: null` unpins.
 *
 * @category schemas
 */
export const PresetUpdateRequest = Schema.Struct({
  name: Schema.optionalKey(Name),
  description: Schema.optionalKey(Description),
  inputs: Schema.optionalKey(JsonObject),
  credentials: Schema.optionalKey(CredentialRefs),
  version: Schema.optionalKey(Schema.NullOr(Version)),
})

/**
 * The body of `POST /api/presets/:id/execute` (optional): inputs merged over the preset's.
 *
 * @category schemas
 */
export const PresetExecuteRequest = Schema.Struct({ inputs: Schema.optionalKey(JsonObject) })

/**
 * What executing a preset answers, as a run start: `existing` when an `Idempotency-Key` matched an earlier
 * start.
 *
 * @category schemas
 */
export const PresetRunStarted = Schema.Struct({ id: Schema.String, existing: Schema.Boolean })

/**
 * The presets routes.
 *
 * @category api
 */
export class PresetsApi extends HttpApiGroup.make("presets")
  .add(
    HttpApiEndpoint.post("create", "/api/presets", {
      payload: PresetCreateRequest,
      success: PresetInfo.pipe(HttpApiSchema.status(201)),
      error: [NotFound, BadRequest],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.get("list", "/api/presets", {
      query: { graphId: Schema.optionalKey(Id) },
      success: Schema.Array(PresetInfo),
    }),
  )
  .add(
    HttpApiEndpoint.get("get", "/api/presets/:id", {
      params: { id: Id },
      success: PresetInfo,
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.put("update", "/api/presets/:id", {
      params: { id: Id },
      payload: PresetUpdateRequest,
      success: PresetInfo,
      error: [NotFound, BadRequest],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.delete("delete", "/api/presets/:id", {
      params: { id: Id },
      success: HttpApiSchema.NoContent,
      error: [NotFound, Conflict],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.post("execute", "/api/presets/:id/execute", {
      params: { id: Id },
      headers: { "idempotency-key": Schema.optionalKey(Schema.String.check(Schema.isMaxLength(200))) },
      // An empty body decodes as null.
      payload: [Schema.Null, PresetExecuteRequest],
      success: PresetRunStarted.pipe(HttpApiSchema.status(201)),
      error: [NotFound, BadRequest, Unprocessable, RateLimited],
    }).annotate(RequiredScope, "graphs:execute"),
  )
  // Reading presets: what a key that reads graphs or runs them may see.
  .annotate(RequiredScope, ["graphs:read", "graphs:execute"]) {}
