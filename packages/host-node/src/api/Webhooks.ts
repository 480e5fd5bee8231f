/**
 * The webhooks handlers: create a webhook for one of the owner's graphs (the graph's active version must
 * validate, and have a named webhook trigger and no other input without a default), list a graph's
 * webhooks, delete one. Another owner's graph or webhook answers 404 like an unknown one.
 *
 * @since 0.1.0
 */
import { checkGraph } from "@weft/engine"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Auth, CurrentOwner } from "../Auth.js"
import { GraphStore } from "../GraphStore.js"
import { RunService } from "../RunService.js"
import { WEBHOOKS_PATH } from "../triggers/webhooks/Receiver.js"
import { newSecret } from "../triggers/webhooks/Signature.js"
import { webhookInputs } from "../triggers/webhooks/trigger.js"
import { type Webhook, WebhookStore } from "../triggers/webhooks/WebhookStore.js"
import { WebhooksUnavailable } from "../triggers/webhooks/WebhooksApi.js"
import { WeftApi } from "./Api.js"
import { badRequest, NotFound } from "./Errors.js"

const graphNotFound = (id: string) => new NotFound({ error: `No graph ${id}` })

/**
 * The webhooks handlers (on the `WebhookStore`).
 *
 * @category handlers
 */
export const WebhooksLive = HttpApiBuilder.group(WeftApi, "webhooks", (handlers) =>
  Effect.gen(function* () {
    const store = yield* WebhookStore
    const graphs = yield* GraphStore
    const runs = yield* RunService
    const auth = yield* Auth
    const urlOf = (id: string) => `${auth.baseUrl}${WEBHOOKS_PATH}/${encodeURIComponent(id)}`
    const view = (webhook: Webhook) => ({
      id: webhook.id,
      graphId: webhook.graphId,
      description: webhook.description,
      url: urlOf(webhook.id),
      createdAt: webhook.createdAt,
    })

    /** The owner's graph (active version), or 404. */
    const ownedGraph = (owner: string, graphId: string) =>
      graphs.get(owner, graphId).pipe(
        Effect.catchTag("GraphNotFound", () => Effect.fail(graphNotFound(graphId))),
        Effect.catchTag("SqlError", (error) => Effect.die(error)),
      )

    return handlers
      .handle("create", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const stored = yield* ownedGraph(owner, params.id)
          // The graph must run as it is now (disabled blocks included), and take deliveries.
          yield* checkGraph(stored.graph, runs.registry).pipe(
            Effect.mapError((error) => {
              const fields: Record<string, string> = {}
              for (const [node, problems] of Object.entries(error.errors)) {
                for (const [field, message] of Object.entries(problems)) {
                  fields[node === "$graph" ? field : `nodes.${node}.${field}`] = message
                }
              }
              return badRequest(`Graph ${params.id} is invalid`, fields)
            }),
          )
          yield* webhookInputs(stored.graph, runs.registry).pipe(
            Effect.mapError((error) =>
              badRequest(`Graph ${params.id} cannot take webhook deliveries`, error.fields),
            ),
          )
          const secret = newSecret()
          const webhook = yield* store.create(owner, params.id, secret, payload?.description ?? "").pipe(
            Effect.catchTag("WebhooksLocked", (error) =>
              Effect.fail(new WebhooksUnavailable({ error: `Webhooks cannot be created: ${error.message}` })),
            ),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
          return { ...view(webhook), secret }
        }),
      )
      .handle("list", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* ownedGraph(owner, params.id)
          const list = yield* store.list(owner, params.id).pipe(Effect.orDie)
          return list.map(view)
        }),
      )
      .handle("delete", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* store.remove(owner, params.id).pipe(
            Effect.catchTag("WebhookNotFound", () =>
              Effect.fail(new NotFound({ error: `No webhook ${params.id}` })),
            ),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
        }),
      )
  }),
)
