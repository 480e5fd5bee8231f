/**
 * The credentials routes as an `HttpApiGroup` (added to `WeftApi`; handled in `api/Credentials.ts`):
 *
 * - `POST /api/credentials` `{ provider, type, title?, host?, secret }` stores credentials (201, metadata);
 * - `GET /api/credentials` (`?provider=`) lists the caller's credentials, `GET /api/credentials/:id` reads one;
 * - `DELETE /api/credentials/:id` deletes one (204).
 *
 * No answer ever carries a secret: only the metadata of `CredentialInfo`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { BadRequest, NotFound } from "../api/Errors.js"
import { Id, isStorableText } from "../api/fields.js"
import { RequiredScope } from "../auth/scopes.js"
import { CREDENTIAL_TYPES } from "./Secret.js"

/** A provider name, e.g. `openai` or `open_router`. */
const Provider = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_.-]{1,100}$/)).annotate({
  description: "The provider, e.g. openai: 1 to 100 letters, digits, '_', '.' or '-'.",
})

const Title = Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(200), isStorableText)

const Host = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9.*:[\]_-]{1,253}$/)).annotate({
  description: "The host (and optional port) that host_scoped credentials are sent to.",
})

/**
 * A kind of credentials.
 *
 * @category schemas
 */
export const CredentialTypeSchema = Schema.Literals(CREDENTIAL_TYPES)

/**
 * The body of `POST /api/credentials`. `secret` depends on `type`: `{api_key}`, `{access_token,
 * refresh_token?, expires_at?, scopes?}`, `{username, password}`, or `{headers}` (with `host`).
 *
 * @category schemas
 */
export const CredentialCreateRequest = Schema.Struct({
  provider: Provider,
  type: CredentialTypeSchema,
  title: Schema.optionalKey(Title),
  host: Schema.optionalKey(Host),
  secret: Schema.Unknown.annotate({
    description:
      "api_key: {api_key}; oauth2: {access_token, refresh_token?, expires_at?, scopes?}; user_password: {username, password}; host_scoped: {headers}.",
  }),
}).annotate({ identifier: "CredentialCreateRequest" })

/**
 * Stored credentials as every answer shows them: metadata, never the secret.
 *
 * @category schemas
 */
export const CredentialInfoSchema = Schema.Struct({
  id: Schema.String,
  provider: Schema.String,
  type: CredentialTypeSchema,
  title: Schema.String,
  host: Schema.optionalKey(Schema.String),
  createdAt: Schema.Number,
}).annotate({ identifier: "CredentialInfo" })

/**
 * The server has no credentials key (`WEFT_CREDENTIALS_KEY`): nothing can be stored.
 *
 * @category errors
 */
export class CredentialsUnavailable extends Schema.TaggedError<CredentialsUnavailable>()(
  "CredentialsUnavailable",
  { error: Schema.String },
  { httpApiStatus: 503 },
) {}

/**
 * The credentials routes.
 *
 * @category api
 */
export class CredentialsApi extends HttpApiGroup.make("credentials")
  .add(
    HttpApiEndpoint.post("create", "/api/credentials", {
      payload: CredentialCreateRequest,
      success: CredentialInfoSchema.pipe(HttpApiSchema.status(201)),
      error: [BadRequest, CredentialsUnavailable],
    }),
  )
  .add(
    HttpApiEndpoint.get("list", "/api/credentials", {
      query: { provider: Schema.optionalKey(Provider) },
      success: Schema.Array(CredentialInfoSchema),
    }),
  )
  .add(
    HttpApiEndpoint.get("get", "/api/credentials/:id", {
      params: { id: Id },
      success: CredentialInfoSchema,
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.delete("remove", "/api/credentials/:id", {
      params: { id: Id },
      success: HttpApiSchema.NoContent,
      error: NotFound,
    }),
  )
  .annotate(RequiredScope, "credentials:manage") {}
