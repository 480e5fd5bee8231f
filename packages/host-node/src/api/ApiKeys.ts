/**
 * The API-key routes (sessions only: a key cannot create, list or revoke keys): `POST /api/api-keys`
 * creates a key with scopes and answers it once, `GET /api/api-keys` lists the user's keys (never the keys
 * themselves), `DELETE /api/api-keys/:id` revokes one. The handlers are in `ApiKeysLive.ts`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { MAX_API_KEY_LIFETIME, MAX_API_KEY_NAME } from "../auth/api-keys.js"
import { ApiScopeSchema } from "../auth/scopes.js"
import { BadRequest, NotFound } from "./Errors.js"
import { Id, isStorableText } from "./fields.js"

/**
 * The body of `POST /api/api-keys`.
 *
 * @category schemas
 */
export const ApiKeyCreateRequest = Schema.Struct({
  name: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(MAX_API_KEY_NAME), isStorableText),
  /** What the key may do (at least one scope). */
  scopes: Schema.Array(ApiScopeSchema).check(Schema.isMinLength(1)),
  /** Lifetime in seconds (at most a year). Default: no expiry. */
  expiresIn: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(1), Schema.isLessThanOrEqualTo(MAX_API_KEY_LIFETIME)),
  ),
})

/**
 * An API key in a list.
 *
 * @category schemas
 */
export const ApiKeyView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  /** The key's first characters, to tell keys apart. */
  start: Schema.String,
  scopes: Schema.Array(ApiScopeSchema),
  createdAt: Schema.Number,
  expiresAt: Schema.optionalKey(Schema.Number),
  lastUsedAt: Schema.optionalKey(Schema.Number),
})

/**
 * What creating a key answers: the key itself, shown this once (only its hash is kept).
 *
 * @category schemas
 */
export const ApiKeyCreated = Schema.Struct({ ...ApiKeyView.fields, key: Schema.String })

/**
 * The API-key routes. Declared without `RequiredScope`: sessions only.
 *
 * @category api
 */
export class ApiKeysApi extends HttpApiGroup.make("apiKeys")
  .add(
    HttpApiEndpoint.post("create", "/api/api-keys", {
      payload: ApiKeyCreateRequest,
      success: ApiKeyCreated.pipe(HttpApiSchema.status(201)),
      error: [BadRequest, NotFound],
    }),
  )
  .add(
    HttpApiEndpoint.get("list", "/api/api-keys", {
      success: Schema.Array(ApiKeyView),
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.delete("revoke", "/api/api-keys/:id", {
      params: { id: Id },
      success: Schema.Struct({ id: Schema.String, revoked: Schema.Boolean }),
      error: NotFound,
    }),
  ) {}
