/**
 * The webhooks routes of the API, for the graph's owner: create (the secret is shown once), list and
 * delete. Deliveries (`POST /api/webhooks/:id`) are not an API endpoint: they are signed, not signed in
 * (see `Receiver.ts`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { BadRequest, NotFound } from "../../api/Errors.js"
import { Id, isStorableText } from "../../api/fields.js"
import { RequiredScope } from "../../auth/scopes.js"

/**
 * A webhook as listed: where deliveries go, never its secret.
 *
 * @category schemas
 */
export const WebhookInfo = Schema.Struct({
  id: Schema.String,
  graphId: Schema.String,
  /** The owner's label (empty when none was given). */
  description: Schema.String,
  /** Where to send deliveries: `POST` with an `X-Weft-Signature` header. */
  url: Schema.String,
  createdAt: Schema.Number,
})

/**
 * A new webhook, with its secret: shown this once, it signs every delivery.
 *
 * @category schemas
 */
export const WebhookCreated = Schema.Struct({
  ...WebhookInfo.fields,
  secret: Schema.String.annotate({
    description:
      'The HMAC-SHA256 key of the deliveries\' X-Weft-Signature (t=<unix seconds>,v1=<hex HMAC of "<t>.<raw body>">). Shown once.',
  }),
})

/**
 * The body of `POST /api/graphs/:id/webhooks` (optional: an empty body makes a webhook with no label).
 *
 * @category schemas
 */
export const WebhookCreateRequest = Schema.Struct({
  description: Schema.optionalKey(
    Schema.String.check(Schema.isMaxLength(200), isStorableText).annotate({
      description: "A label to tell the graph's webhooks apart (e.g. the sender).",
    }),
  ),
})

/**
 * Webhooks cannot be created or checked: no credentials key is configured (their secrets are sealed with
 * it), or a secret was sealed with a key that is no longer configured.
 *
 * @category errors
 */
export class WebhooksUnavailable extends Schema.TaggedError<WebhooksUnavailable>()(
  "WebhooksUnavailable",
  { error: Schema.String },
  { httpApiStatus: 503 },
) {}

/**
 * The webhooks routes.
 *
 * @category api
 */
export class WebhooksApi extends HttpApiGroup.make("webhooks")
  .add(
    HttpApiEndpoint.post("create", "/api/graphs/:id/webhooks", {
      params: { id: Id },
      // An empty body decodes as null.
      payload: [Schema.Null, WebhookCreateRequest],
      success: WebhookCreated.pipe(HttpApiSchema.status(201)),
      error: [NotFound, BadRequest, WebhooksUnavailable],
    }).annotate(RequiredScope, "graphs:write"),
  )
  .add(
    HttpApiEndpoint.get("list", "/api/graphs/:id/webhooks", {
      params: { id: Id },
      success: Schema.Array(WebhookInfo),
      error: NotFound,
    }),
  )
  .add(
    HttpApiEndpoint.delete("delete", "/api/webhooks/:id", {
      params: { id: Id },
      success: HttpApiSchema.NoContent,
      error: NotFound,
    }).annotate(RequiredScope, "graphs:write"),
  )
  // Listing needs a read scope; creating and deleting a webhook change the graph's triggers.
  .annotate(RequiredScope, ["graphs:read", "graphs:write"]) {}
