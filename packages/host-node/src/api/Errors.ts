/**
 * The API's error responses, and the two middlewares that make every bad request a 4xx that names the
 * field: request decoding failures become `BadRequest` with `fields`, and anything the router or the body
 * reader refuses (unknown route, oversize body, wrong content type) gets a JSON body too.
 *
 * @since 0.1.0
 */
import { GRAPH_KEY } from "@weft/engine"
import { Effect, type Layer, Schema, SchemaIssue } from "effect"
import { HttpEffect, HttpRouter, HttpServerResponse } from "effect/http"
import { type HttpApiError, HttpApiMiddleware } from "effect/http-api"

type HttpApiSchemaError = HttpApiError.HttpApiSchemaError

/**
 * The request is malformed: bad JSON, a wrong type, an unknown field, or a graph that does not validate.
 * `fields` maps each offending field (a dotted path such as `nodes.1.blockId`) to what is wrong with it.
 *
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  {
    error: Schema.String,
    fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  },
  { httpApiStatus: 400 },
) {}

/**
 * No such graph, run, block or version for this user. Another user's ids are answered the same way.
 *
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { error: Schema.String },
  { httpApiStatus: 404 },
) {}

/**
 * The request carries no valid session: sign in at `/api/auth/sign-in/email` (or sign up) first.
 *
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { error: Schema.String },
  { httpApiStatus: 401 },
) {}

/**
 * The request was refused whoever sent it: a state-changing request from a page on another origin (CSRF).
 *
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { error: Schema.String },
  { httpApiStatus: 403 },
) {}

/**
 * The request is well formed but the resource is not in a state that allows it (e.g. a review of an
 * execution that is not waiting for one).
 *
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { error: Schema.String },
  { httpApiStatus: 409 },
) {}

/**
 * The request is well formed but cannot be processed as it is: an `Idempotency-Key` reused for a different
 * request. `fields` names the offending field.
 *
 * @category errors
 */
export class Unprocessable extends Schema.TaggedError<Unprocessable>()(
  "Unprocessable",
  {
    error: Schema.String,
    fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  },
  { httpApiStatus: 422 },
) {}

/**
 * Builds a `BadRequest` from `{ field: message }`.
 *
 * @category constructors
 */
export const badRequest = (what: string, fields: Readonly<Record<string, string>>): BadRequest => {
  const entries = Object.entries(fields)
  const listed = entries
    .slice(0, 5)
    .map(([field, message]) => `${field}: ${message}`)
    .join("; ")
  const more = entries.length > 5 ? `; and ${entries.length - 5} more` : ""
  return new BadRequest({
    error: entries.length === 0 ? what : `${what}: ${listed}${more}`,
    fields: { ...fields },
  })
}

/**
 * A graph that failed validation (R4), as a 400 naming each problem: `nodes.<id>.<field>` for a node's, the
 * field itself for the graph's own (links between missing nodes).
 *
 * @category errors
 */
export const invalidGraph = (
  what: string,
  errors: Readonly<Record<string, Readonly<Record<string, string>>>>,
): BadRequest => {
  const fields: Record<string, string> = {}
  for (const [node, problems] of Object.entries(errors)) {
    for (const [field, message] of Object.entries(problems)) {
      fields[node === GRAPH_KEY ? field : `nodes.${node}.${field}`] = message
    }
  }
  return badRequest(what, fields)
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const pathKey = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string =>
  (path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".")

const friendly = (message: string): string =>
  message === "Expected no excess property"
    ? "unknown field"
    : message === "Missing key"
      ? "required field is missing"
      : message

/**
 * `{ path: message }` for a schema issue. A union failure reports the member that came closest (the one
 * with the fewest problems), so that a Weft graph with one wrong field is not drowned in the AutoGPT
 * format's complaints.
 *
 * @category constructors
 */
export const issueFields = (issue: SchemaIssue.Issue, prefix = ""): Record<string, string> => {
  let chosen = issue
  if (issue._tag === "AnyOf" && issue.issues.length > 0) {
    let best: { issue: SchemaIssue.Issue; count: number } | undefined
    for (const member of issue.issues) {
      const count = formatIssues(member).issues.length
      if (best === undefined || count < best.count) best = { issue: member, count }
    }
    if (best !== undefined) chosen = best.issue
  }
  const out: Record<string, string> = {}
  for (const entry of formatIssues(chosen).issues) {
    const path = pathKey(entry.path)
    const key = prefix === "" ? path || "body" : path === "" ? prefix : `${prefix}.${path}`
    const message = friendly(entry.message)
    out[key] = out[key] === undefined ? message : `${out[key]}; ${message}`
  }
  return out
}

const slotNames: Record<HttpApiSchemaError["kind"], string> = {
  Params: "path",
  Query: "query",
  Headers: "header",
  Payload: "body",
  Body: "response",
  ResponseHeaders: "response header",
}

/**
 * Turns a request decoding failure into a `BadRequest` naming the fields.
 *
 * @category constructors
 */
export const fromSchemaError = (error: HttpApiSchemaError): BadRequest => {
  const slot = slotNames[error.kind]
  const prefix = error.kind === "Payload" ? "" : slot
  const fields = issueFields(error.cause.issue, prefix)
  if (error.kind === "Payload" && fields.body === "Expected a valid JSON body") {
    return new BadRequest({ error: "The request body is not valid JSON", fields: { body: "not valid JSON" } })
  }
  return badRequest(`Invalid request ${slot}`, fields)
}

/**
 * The API middleware that answers request decoding failures with `BadRequest`.
 *
 * @category middleware
 */
export class RequestValidation extends HttpApiMiddleware.Service<RequestValidation>()(
  "@weft/host-node/api/RequestValidation",
  { error: BadRequest },
) {}

/**
 * Its implementation.
 *
 * @category layers
 */
export const RequestValidationLive: Layer.Layer<RequestValidation> =
  HttpApiMiddleware.layerSchemaErrorTransform(RequestValidation, (error) =>
    error.kind === "Body" || error.kind === "ResponseHeaders"
      ? Effect.fail(error)
      : Effect.fail(fromSchemaError(error)),
  )

/** The `_tag` and message of a platform error response, by status. */
const platformErrors: Record<number, readonly [tag: string, message: string]> = {
  400: ["BadRequest", "Bad request"],
  404: ["NotFound", "No such route"],
  408: ["RequestTimeout", "Request timeout"],
  413: ["PayloadTooLarge", "The request body is too large"],
  415: ["UnsupportedMediaType", "The request body must be JSON (content-type: application/json)"],
  499: ["ClientClosed", "Client closed the request"],
  500: ["InternalError", "Internal error"],
  503: ["Unavailable", "The server is shutting down"],
}

const jsonError = (status: number) => {
  const [tag, error] =
    platformErrors[status] ?? (status >= 500 ? ["InternalError", "Internal error"] : ["Error", "Error"])
  return HttpServerResponse.jsonUnsafe({ _tag: tag, error }, { status })
}

/** Whether a response carries no body worth keeping (an empty or plain-text error from the platform). */
const isBare = (response: HttpServerResponse.HttpServerResponse): boolean =>
  response.body._tag === "Empty" ||
  (response.body._tag === "Uint8Array" && response.body.contentType.startsWith("text/plain"))

/** Replaces a bare error response with a JSON one. */
const jsonify: HttpEffect.PreResponseHandler = (_request, response) =>
  Effect.succeed(response.status >= 400 && isBare(response) ? jsonError(response.status) : response)

/**
 * Gives every error response a JSON body `{ _tag, error }`: the router's 404 for an unknown route, the
 * body reader's 413, a 415 for a body that is not JSON, and a 500 (whose cause is reported, never sent).
 *
 * @category middleware
 */
export const JsonErrors = HttpRouter.middleware(
  (httpEffect) =>
    Effect.andThen(
      HttpEffect.appendPreResponseHandler(jsonify),
      Effect.catchDefect(httpEffect, (defect) =>
        unstorableText(defect)
          ? Effect.succeed(
              HttpServerResponse.jsonUnsafe(
                {
                  _tag: "BadRequest",
                  error: "The request holds text the database cannot store: a NUL character (U+0000)",
                  fields: { body: "must not contain the NUL character (U+0000)" },
                },
                { status: 400 },
              ),
            )
          : Effect.die(defect),
      ),
    ),
  { global: true },
)

/**
 * The SQLSTATEs of text Postgres cannot store (a NUL character in text or in a JSON string); the statement's
 * transaction is rolled back, so nothing was written.
 */
const UNSTORABLE_TEXT = new Set(["22P05", "22021"])

/** Whether a defect is (or wraps, through `cause`) a database error about text it cannot store. */
const unstorableText = (defect: unknown): boolean => {
  let current: unknown = defect
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { _tag, code, cause } = current as { _tag?: unknown; code?: unknown; cause?: unknown }
    if (_tag === "SqlError" && typeof code === "string" && UNSTORABLE_TEXT.has(code)) return true
    current = cause
  }
  return false
}
