/**
 * The sharing routes (declared in `Api.ts`): list who has access to a graph, share it with a user by email
 * (or change their role), and remove a user's access. A graph the caller has no role on is answered 404
 * like a missing one; a role that does not allow the request is answered 403 naming it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import { type GraphForbidden, type GraphShare, GraphStore } from "../GraphStore.js"
import { RoleForbidden, WeftApi } from "./Api.js"
import { badRequest, NotFound } from "./Errors.js"

/** The answer's shape: exactly the share's fields. */
const view = (share: GraphShare) => ({
  userId: share.userId,
  ...(share.email === undefined ? {} : { email: share.email }),
  ...(share.name === undefined ? {} : { name: share.name }),
  role: share.role,
  creator: share.creator,
})

/**
 * The 403 of a role that does not allow a request.
 *
 * @category constructors
 */
export const roleForbidden = (error: GraphForbidden): RoleForbidden =>
  new RoleForbidden({
    error: `Your role on graph ${error.graphId} is ${error.role}: a ${error.role} may not ${error.action}`,
    role: error.role,
  })

const graphNotFound = (id: string) => new NotFound({ error: `No graph ${id}` })

/**
 * The sharing handlers.
 *
 * @category handlers
 */
export const SharingLive = HttpApiBuilder.group(WeftApi, "sharing", (handlers) =>
  Effect.gen(function* () {
    const graphs = yield* GraphStore

    return handlers
      .handle("list", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const shares = yield* graphs.shares(owner, params.id).pipe(
            Effect.catchTag("GraphNotFound", () => Effect.fail(graphNotFound(params.id))),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
          return shares.map(view)
        }),
      )
      .handle("share", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const share = yield* graphs.share(owner, params.id, payload.email, payload.role).pipe(
            Effect.catchTag("GraphNotFound", () => Effect.fail(graphNotFound(params.id))),
            Effect.catchTag("GraphForbidden", (error) => Effect.fail(roleForbidden(error))),
            Effect.catchTag("ShareUserNotFound", (error) =>
              Effect.fail(new NotFound({ error: `email: no user has the email ${error.email}` })),
            ),
            Effect.catchTag("ShareRefused", (error) =>
              Effect.fail(badRequest("Cannot share the graph", { [error.field]: error.reason })),
            ),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
          return view(share)
        }),
      )
      .handle("unshare", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* graphs.unshare(owner, params.id, params.userId).pipe(
            Effect.catchTag("GraphNotFound", () => Effect.fail(graphNotFound(params.id))),
            Effect.catchTag("GraphForbidden", (error) => Effect.fail(roleForbidden(error))),
            Effect.catchTag("ShareNotFound", (error) =>
              Effect.fail(
                new NotFound({
                  error: `userId: user ${error.userId} has no share of graph ${error.graphId}`,
                }),
              ),
            ),
            Effect.catchTag("ShareRefused", (error) =>
              Effect.fail(badRequest("Cannot remove the access", { [`path.${error.field}`]: error.reason })),
            ),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
        }),
      )
  }),
)
