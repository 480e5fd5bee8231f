/**
 * The public delivery route, `POST /api/webhooks/:id`: no session (the sender is another server, not a
 * browser), authenticated by the webhook's HMAC signature over the exact bytes of the body, so it is a
 * plain router route that reads the raw body rather than an API endpoint that decodes it.
 *
 * In order: an unknown webhook is 404; a body over the cap 413 (read no further); a missing, malformed,
 * stale or wrong signature 401; a body that is not JSON 400 (`body`). A delivery seen before (the same
 * signature, i.e. the same timestamp and body: a replay or a retry of the very same request) starts
 * nothing and answers the run it started. Otherwise the graph's active version runs with the JSON payload
 * as the input of its webhook-trigger nodes, and the answer is `202 { runId, existing }`. With an
 * `Idempotency-Key` header, re-signed retries of one delivery start one run (`existing: true` afterwards).
 * A delivery counts against the owner's run-start limit (429 with `Retry-After` beyond it).
 *
 * @since 0.1.0
 */
import { ByteSize, Clock, Data, Effect, Layer } from "effect"
import { HttpIncomingMessage, HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { tooManyRequestsResponse } from "../../auth/rate-limit.js"
import { RunStartLimit } from "../../auth/rate-limit-runs.js"
import { GraphStore } from "../../GraphStore.js"
import { RunService } from "../../RunService.js"
import { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, verify } from "./Signature.js"
import { webhookInputs } from "./trigger.js"
import { WebhookStore } from "./WebhookStore.js"

/** The path under which webhooks are served: `POST /api/webhooks/:id` receives deliveries. */
export const WEBHOOKS_PATH = "/api/webhooks"

/** The default largest delivery body: 256 KiB. */
export const DEFAULT_MAX_DELIVERY_BYTES = 256 * 1024

/** The longest `Idempotency-Key` accepted. */
const MAX_KEY_LENGTH = 200

/**
 * How webhook deliveries are received.
 *
 * @category models
 */
export interface WebhookOptions {
  /** The largest delivery body, in bytes (413 above). Default 256 KiB. */
  readonly maxBodyBytes?: number
  /** How far (seconds) a signature's timestamp may be from the server's clock. Default 300 (5 minutes). */
  readonly toleranceSeconds?: number
}

/** A delivery refused: its status and JSON body. */
class Refused extends Data.TaggedError("Refused")<{
  readonly status: number
  readonly tag: string
  readonly error: string
  readonly fields?: Readonly<Record<string, string>>
}> {}

const refuse = (status: number, tag: string, error: string, fields?: Readonly<Record<string, string>>) =>
  new Refused({ status, tag, error, ...(fields === undefined ? {} : { fields }) })

const notFound = (id: string) => refuse(404, "NotFound", `No webhook ${id}`)

const tooLarge = (max: number) =>
  refuse(413, "PayloadTooLarge", `The delivery body is larger than ${max} bytes`, {
    body: `at most ${max} bytes`,
  })

/** Graph or input problems as `{ field: message }`, the way the runs route names them. */
const graphFields = (errors: Readonly<Record<string, Readonly<Record<string, string>>>>) => {
  const fields: Record<string, string> = {}
  for (const [node, problems] of Object.entries(errors)) {
    for (const [field, message] of Object.entries(problems)) {
      fields[node === "$graph" ? field : `nodes.${node}.${field}`] = message
    }
  }
  return fields
}

const decoder = new TextDecoder("utf-8", { fatal: true })

/** The JSON value of a body, or `Refused` naming `body`. */
const parseJson = (body: Uint8Array): Effect.Effect<unknown, Refused> =>
  Effect.try({
    try: () => JSON.parse(decoder.decode(body)) as unknown,
    catch: () =>
      refuse(400, "BadRequest", "The delivery body is not valid JSON", { body: "not valid JSON (UTF-8)" }),
  })

/**
 * The delivery route, as a router layer. Needs the webhook store, the graph store, the run service and
 * the run-start limit.
 *
 * @category layers
 */
export const receiverRoute = (options: WebhookOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const store = yield* WebhookStore
      const graphs = yield* GraphStore
      const runs = yield* RunService
      const startLimit = yield* RunStartLimit
      const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_DELIVERY_BYTES
      const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS

      const readBody = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function* () {
          const declared = Number(request.headers["content-length"] ?? Number.NaN)
          if (Number.isFinite(declared) && declared > maxBytes) return yield* tooLarge(maxBytes)
          const bytes = yield* request.arrayBuffer.pipe(
            Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBytes)),
            Effect.mapError((error) =>
              error.reason._tag === "RequestParseError" && error.reason.reason === "BodyTooLarge"
                ? tooLarge(maxBytes)
                : refuse(400, "BadRequest", "The delivery body could not be read", { body: "unreadable" }),
            ),
          )
          return new Uint8Array(bytes)
        })

      /** Starts the run, or fails with the refusal; the delivery is forgotten when nothing started. */
      const start = (
        webhook: { readonly id: string; readonly owner: string; readonly graphId: string },
        payload: unknown,
        key: string | undefined,
      ) =>
        Effect.gen(function* () {
          // A delivery is a run start of the webhook's owner: it counts against the owner's limit.
          yield* startLimit.take(webhook.owner)
          const stored = yield* graphs.get(webhook.owner, webhook.graphId).pipe(
            Effect.catchTag("GraphNotFound", () => Effect.fail(notFound(webhook.id))),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
          const names = yield* webhookInputs(stored.graph, runs.registry).pipe(
            Effect.mapError((error) =>
              refuse(
                422,
                "Unprocessable",
                `Graph ${webhook.graphId} cannot take webhook deliveries`,
                error.fields,
              ),
            ),
          )
          const inputs = Object.fromEntries(names.map((name) => [name, payload]))
          return yield* runs
            .start(webhook.owner, webhook.graphId, {
              inputs,
              ...(key === undefined ? {} : { idempotencyKey: `webhook:${webhook.id}:${key}` }),
            })
            .pipe(
              Effect.catchTags({
                GraphNotFound: () => Effect.fail(notFound(webhook.id)),
                GraphInvalid: (error) =>
                  Effect.fail(
                    refuse(
                      422,
                      "Unprocessable",
                      `Graph ${webhook.graphId} is invalid`,
                      graphFields(error.errors),
                    ),
                  ),
                RunInputInvalid: (error) => {
                  const fields: Record<string, string> = {}
                  for (const [name, message] of Object.entries(error.errors))
                    fields[`inputs.${name}`] = message
                  return Effect.fail(
                    refuse(422, "Unprocessable", "The delivery does not fit the graph's inputs", fields),
                  )
                },
                IdempotencyKeyReused: (error) =>
                  Effect.fail(
                    refuse(422, "Unprocessable", error.message, {
                      "Idempotency-Key": "already used for another payload; use a new key",
                    }),
                  ),
                StoreError: (error) => Effect.die(error),
              }),
            )
        })

      const receive = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function* () {
          const id = (yield* HttpRouter.params).id ?? ""
          // An id the database cannot hold (too long, or with a NUL character) names no webhook.
          if (id === "" || id.length > MAX_KEY_LENGTH || id.includes("\u0000")) {
            return yield* notFound(id.slice(0, MAX_KEY_LENGTH).replaceAll("\u0000", ""))
          }
          const webhook = yield* store.find(id).pipe(
            Effect.catchTags({
              WebhookNotFound: () => Effect.fail(notFound(id)),
              WebhooksLocked: (error) => Effect.fail(refuse(503, "WebhooksUnavailable", error.message)),
              WebhookSecretUnreadable: (error) =>
                Effect.fail(refuse(503, "WebhooksUnavailable", error.message)),
              SqlError: (error) => Effect.die(error),
            }),
          )
          const body = yield* readBody(request)
          const nowSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const checked = verify({
            secret: webhook.secret,
            header: request.headers[SIGNATURE_HEADER],
            body,
            nowSeconds,
            toleranceSeconds: tolerance,
          })
          if (!checked.ok) {
            return yield* refuse(401, "Unauthorized", checked.error.message, {
              "X-Weft-Signature": checked.error.reason,
            })
          }
          const key = request.headers["idempotency-key"]
          if (key !== undefined && (key === "" || key.length > MAX_KEY_LENGTH)) {
            return yield* refuse(400, "BadRequest", "Invalid request header", {
              "header.idempotency-key": `1 to ${MAX_KEY_LENGTH} characters`,
            })
          }
          if (body.length === 0) {
            return yield* refuse(400, "BadRequest", "The delivery body is empty", {
              body: "send a JSON value",
            })
          }
          const payload = yield* parseJson(body)
          // The same signature again (replay window: twice the tolerance, either side of the clock).
          const claim = yield* store
            .claimDelivery(webhook.id, checked.signature, 2 * tolerance + 60)
            .pipe(Effect.orDie)
          if (claim._tag === "Seen") {
            if (claim.runId === undefined) {
              return yield* refuse(409, "Conflict", "This delivery is being started: retry in a moment")
            }
            return HttpServerResponse.jsonUnsafe({ runId: claim.runId, existing: true }, { status: 202 })
          }
          // Uninterruptible: a run that started is always noted against its delivery.
          const started = yield* Effect.uninterruptible(
            Effect.gen(function* () {
              const started = yield* start(webhook, payload, key).pipe(
                Effect.onError(() => Effect.ignore(store.releaseDelivery(webhook.id, checked.signature))),
              )
              yield* store.settleDelivery(webhook.id, checked.signature, started.runId).pipe(Effect.orDie)
              return started
            }),
          )
          return HttpServerResponse.jsonUnsafe(
            { runId: started.runId, existing: started.existing },
            { status: 202 },
          )
        }).pipe(
          Effect.catchTag("TooManyRequests", (error) =>
            Effect.succeed(tooManyRequestsResponse(error.error, error.retryAfter)),
          ),
          Effect.catchTag("Refused", (refused) =>
            Effect.succeed(
              HttpServerResponse.jsonUnsafe(
                {
                  _tag: refused.tag,
                  error: refused.error,
                  ...(refused.fields === undefined ? {} : { fields: refused.fields }),
                },
                { status: refused.status },
              ),
            ),
          ),
        )

      return HttpRouter.add("POST", `${WEBHOOKS_PATH}/:id`, receive)
    }),
  )
