/**
 * The live document routes: the graph a co-edited document holds now (with what saving it would meet),
 * and saving it as a new version.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import { Collab, liveProblems } from "../collab/Collab.js"
import { RunService } from "../RunService.js"
import { RoleForbidden, WeftApi } from "./Api.js"
import { invalidGraph, NotFound, Unprocessable } from "./Errors.js"

const notFound = (id: string) => new NotFound({ error: `No graph ${id}` })

const documentInvalid = (reason: string) =>
  new Unprocessable({
    error: `The live document is not a graph: ${reason}`,
    fields: { document: reason },
  })

/**
 * The live document handlers.
 *
 * @category handlers
 */
export const LiveLive = HttpApiBuilder.group(WeftApi, "live", (handlers) =>
  Effect.gen(function* () {
    const collab = yield* Collab
    const { registry } = yield* RunService
    return handlers
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const live = yield* collab.current(owner, params.id).pipe(
            Effect.catchTags({
              GraphNotFound: () => Effect.fail(notFound(params.id)),
              LiveDocumentInvalid: (error) => Effect.fail(documentInvalid(error.reason)),
              SqlError: (error) => Effect.die(error),
            }),
          )
          return {
            id: params.id,
            role: live.role,
            activeVersion: live.activeVersion,
            changed: live.changed,
            graph: live.graph,
            errors: liveProblems(live.graph, registry),
          }
        }),
      )
      .handle("save", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          return yield* collab.saveVersion(owner, params.id).pipe(
            Effect.catchTags({
              GraphNotFound: () => Effect.fail(notFound(params.id)),
              GraphForbidden: (error) =>
                Effect.fail(new RoleForbidden({ error: error.message, role: error.role })),
              GraphInvalid: (error) =>
                Effect.fail(invalidGraph("The live document is not a valid graph", error.errors)),
              LiveDocumentInvalid: (error) => Effect.fail(documentInvalid(error.reason)),
              SqlError: (error) => Effect.die(error),
            }),
          )
        }),
      )
  }),
)
