/**
 * The runs routes: start (honouring `Idempotency-Key`), list, read, stop, review, and the live event
 * stream.
 *
 * @since 0.1.0
 */

import type { RunNotFound } from "@weft/engine"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import { RunStartLimit } from "../auth/rate-limit-runs.js"
import { Collab } from "../collab/Collab.js"
import { trackSse } from "../ops/Metrics.js"
import { RunQueries, type RunSummary as RunQueriesSummary } from "../RunQueries.js"
import { RunService } from "../RunService.js"
import type { SqlError } from "../Sql.js"
import { RoleForbidden, WeftApi } from "./Api.js"
import { badRequest, Conflict, invalidGraph, NotFound, Unprocessable } from "./Errors.js"
import { sseResponse } from "./Sse.js"

const runNotFound = (id: string) => new NotFound({ error: `No run ${id}` })

const summary = (run: RunQueriesSummary) => ({
  id: run.id,
  ...(run.graphId === undefined ? {} : { graphId: run.graphId }),
  ...(run.graphVersion === undefined ? {} : { graphVersion: run.graphVersion }),
  status: run.status,
  createdAt: run.createdAt,
  updatedAt: run.updatedAt,
  ...(run.error === undefined ? {} : { error: run.error }),
})

/**
 * The runs handlers.
 *
 * @category handlers
 */
export const RunsLive = HttpApiBuilder.group(WeftApi, "runs", (handlers) =>
  Effect.gen(function* () {
    const service = yield* RunService
    const queries = yield* RunQueries
    const startLimit = yield* RunStartLimit
    const collab = yield* Collab

    /** The version a run of the live document runs (the document saved first when it changed). */
    const liveVersion = (owner: string, graphId: string) =>
      collab.versionForRun(owner, graphId).pipe(
        Effect.catchTags({
          GraphNotFound: () => Effect.fail(new NotFound({ error: `No graph ${graphId}` })),
          GraphForbidden: (error) =>
            Effect.fail(new RoleForbidden({ error: error.message, role: error.role })),
          GraphInvalid: (error) =>
            Effect.fail(invalidGraph("The live document is not a valid graph", error.errors)),
          LiveDocumentInvalid: (error) =>
            Effect.fail(
              new Unprocessable({
                error: `The live document is not a graph: ${error.reason}`,
                fields: { document: error.reason },
              }),
            ),
          SqlError: (error) => Effect.die(error),
        }),
      )

    return handlers
      .handle("start", ({ params, payload, headers }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* startLimit.take(owner)
          const key = headers["idempotency-key"]
          if (payload?.live === true && payload.version !== undefined) {
            return yield* badRequest("Run the live document or a version, not both", {
              live: "not with version",
            })
          }
          const version = payload?.live === true ? yield* liveVersion(owner, params.id) : payload?.version
          const started = yield* service
            .start(owner, params.id, {
              ...(payload?.inputs === undefined ? {} : { inputs: payload.inputs }),
              ...(version === undefined ? {} : { version }),
              ...(key === undefined ? {} : { idempotencyKey: key }),
            })
            .pipe(
              Effect.catchTags({
                IdempotencyKeyReused: (error) =>
                  Effect.fail(
                    new Unprocessable({
                      error: error.message,
                      fields: {
                        "Idempotency-Key": "already used for another graph, version or inputs; use a new key",
                      },
                    }),
                  ),
                GraphNotFound: (error) =>
                  Effect.fail(
                    new NotFound({
                      error:
                        error.version === undefined
                          ? `No graph ${params.id}`
                          : `No version ${error.version} of graph ${params.id}`,
                    }),
                  ),
                GraphInvalid: (error) => Effect.fail(invalidGraph("The graph is invalid", error.errors)),
                RunInputInvalid: (error) => {
                  const fields: Record<string, string> = {}
                  for (const [name, message] of Object.entries(error.errors)) {
                    fields[`inputs.${name}`] =
                      message === "Expected no excess property" ? "unknown input" : message
                  }
                  return Effect.fail(badRequest("Invalid run inputs", fields))
                },
                StoreError: (error) => Effect.die(error),
              }),
            )
          if (started.existing) yield* startLimit.refund(owner)
          return { id: started.runId, existing: started.existing }
        }),
      )
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const list = yield* queries
            .list(owner, query.graphId === undefined ? {} : { graphId: query.graphId })
            .pipe(Effect.orDie)
          return list.map(summary)
        }),
      )
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const notFound = <A>(effect: Effect.Effect<A, RunNotFound | SqlError>) =>
            effect.pipe(
              Effect.catchTag("RunNotFound", () => Effect.fail(runNotFound(params.id))),
              Effect.catchTag("SqlError", (error) => Effect.die(error)),
            )
          const { run, executions, outputs } = yield* notFound(queries.get(owner, params.id))
          const nodeOutputs = yield* notFound(queries.nodeOutputs(owner, params.id))
          const byExecution = new Map<string, Array<{ pin: string; value: unknown }>>()
          for (const output of nodeOutputs) {
            const list = byExecution.get(output.executionId) ?? []
            list.push({ pin: output.pin, value: output.value })
            byExecution.set(output.executionId, list)
          }
          return {
            ...summary(run),
            inputs: run.inputs,
            outputs,
            cost: run.cost,
            lastSeq: run.lastSeq,
            executions: executions.map((e) => ({
              id: e.id,
              nodeId: e.nodeId,
              blockId: e.blockId,
              status: e.status,
              inputs: e.inputs,
              outputs: byExecution.get(e.id) ?? [],
              attempts: e.attempts,
              cost: e.cost,
              createdAt: e.createdAt,
              ...(e.startedAt === undefined ? {} : { startedAt: e.startedAt }),
              ...(e.endedAt === undefined ? {} : { endedAt: e.endedAt }),
              ...(e.error === undefined ? {} : { error: e.error }),
              ...(e.review === undefined ? {} : { review: e.review }),
            })),
          }
        }),
      )
      .handle("stop", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const outcome = yield* service.stop(owner, params.id).pipe(
            Effect.catchTag("RunNotFound", () => Effect.fail(runNotFound(params.id))),
            Effect.catchTag("StoreError", (error) => Effect.die(error)),
          )
          return { id: params.id, status: outcome.status, ...(outcome.pending ? { pending: true } : {}) }
        }),
      )
      .handle("review", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const outcome = yield* service
            .review(owner, params.id, payload.executionId, {
              approved: payload.approved,
              ...(payload.data === undefined ? {} : { data: payload.data }),
              ...(payload.message === undefined ? {} : { message: payload.message }),
            })
            .pipe(
              Effect.catchTags({
                RunNotFound: () => Effect.fail(runNotFound(params.id)),
                ReviewNotPending: (error) => Effect.fail(new Conflict({ error: error.message })),
                GraphInvalid: (error) => Effect.fail(new Conflict({ error: error.message })),
                StoreError: (error) => Effect.die(error),
              }),
            )
          return { id: params.id, status: outcome.status, ...(outcome.pending ? { pending: true } : {}) }
        }),
      )
      .handle("events", ({ params, query, headers }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          // Last-Event-ID (a reconnecting EventSource) wins over ?after= (a first connection).
          const after = headers["last-event-id"] ?? query.after ?? 0
          const events = yield* service.events(owner, params.id, after).pipe(
            Effect.catchTag("RunNotFound", () => Effect.fail(runNotFound(params.id))),
            Effect.catchTag("StoreError", (error) => Effect.die(error)),
          )
          return sseResponse(yield* trackSse(events))
        }),
      )
  }),
)
