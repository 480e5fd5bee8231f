/**
 * The graphs routes: store a Weft graph or an AutoGPT export, list, read, version, fork and export. Every
 * user with a role on a graph may read, export and fork it; owners and editors may add versions and set the
 * active one (a viewer is answered 403 naming the role); without a role the graph is answered 404.
 *
 * @since 0.1.0
 */
import { exportAutoGPT } from "@weft/blocks"
import { type GraphNotFound, graphIO } from "@weft/engine"
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import { Collab } from "../collab/Collab.js"
import { GraphStore } from "../GraphStore.js"
import { RunService } from "../RunService.js"
import type { SqlError } from "../Sql.js"
import { WeftApi } from "./Api.js"
import { NotFound } from "./Errors.js"
import { roleForbidden } from "./Sharing.js"
import { fromUpload } from "./upload.js"

const graphNotFound = (id: string, version?: number) =>
  new NotFound({ error: version === undefined ? `No graph ${id}` : `No version ${version} of graph ${id}` })

/**
 * The graphs handlers.
 *
 * @category handlers
 */
export const GraphsLive = HttpApiBuilder.group(WeftApi, "graphs", (handlers) =>
  Effect.gen(function* () {
    const graphs = yield* GraphStore
    const collab = yield* Collab
    const { registry } = yield* RunService

    const notFound = <A, E extends { readonly _tag: string }, R>(
      effect: Effect.Effect<A, E | GraphNotFound | SqlError, R>,
      id: string,
      version?: number,
    ) =>
      effect.pipe(
        Effect.catchTag("GraphNotFound", () => Effect.fail(graphNotFound(id, version))),
        Effect.catchTag("SqlError", (error) => Effect.die(error)),
      )

    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const upload = yield* fromUpload(payload, registry)
          const created = yield* graphs.create(owner, upload.graph, upload.subGraphs).pipe(Effect.orDie)
          return {
            id: created.id,
            version: created.version,
            format: upload.format,
            warnings: upload.warnings,
          }
        }),
      )
      .handle("list", () =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const list = yield* graphs.list(owner).pipe(Effect.orDie)
          return list.map((g) => ({
            id: g.id,
            role: g.role,
            name: g.name,
            activeVersion: g.activeVersion,
            latestVersion: g.latestVersion,
            createdAt: g.createdAt,
            updatedAt: g.updatedAt,
          }))
        }),
      )
      .handle("get", ({ params, query }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const stored = yield* notFound(
            graphs.get(owner, params.id, query.version),
            params.id,
            query.version,
          )
          const io = graphIO(stored.graph, registry)
          return {
            id: params.id,
            role: stored.role,
            version: stored.graph.version,
            activeVersion: stored.activeVersion,
            versions: stored.versions,
            graph: stored.graph,
            subGraphs: stored.subGraphs,
            inputSchema: io.inputJsonSchema,
            outputSchema: io.outputJsonSchema,
          }
        }),
      )
      .handle("update", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const upload = yield* fromUpload(payload, registry)
          const created = yield* notFound(
            graphs
              .newVersion(owner, params.id, upload.graph, upload.subGraphs)
              .pipe(Effect.catchTag("GraphForbidden", (error) => Effect.fail(roleForbidden(error)))),
            params.id,
          )
          // Collaborators see the new version in the live document.
          yield* collab
            .load(created.id, { ...upload.graph, id: created.id, version: created.version })
            .pipe(Effect.orDie)
          return {
            id: created.id,
            version: created.version,
            format: upload.format,
            warnings: upload.warnings,
          }
        }),
      )
      .handle("versions", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const versions = yield* notFound(graphs.versions(owner, params.id), params.id)
          return versions.map((v) => ({
            version: v.version,
            active: v.active,
            name: v.name,
            createdAt: v.createdAt,
          }))
        }),
      )
      .handle("setActive", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* notFound(
            graphs
              .setActive(owner, params.id, payload.version)
              .pipe(Effect.catchTag("GraphForbidden", (error) => Effect.fail(roleForbidden(error)))),
            params.id,
            payload.version,
          )
          const active = yield* graphs.get(owner, params.id, payload.version).pipe(Effect.orDie)
          yield* collab.load(params.id, active.graph).pipe(Effect.orDie)
          return { id: params.id, activeVersion: payload.version }
        }),
      )
      .handle("fork", ({ params, payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const version = payload?.version
          const forked = yield* notFound(graphs.fork(owner, params.id, version), params.id, version)
          return { id: forked.id, version: forked.version }
        }),
      )
      .handle("export", ({ params, query }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const stored = yield* notFound(
            graphs.get(owner, params.id, query.version),
            params.id,
            query.version,
          )
          if (query.format !== "autogpt") {
            return { ...stored.graph, subGraphs: stored.subGraphs } as Record<string, unknown>
          }
          return exportAutoGPT(stored.graph, { subGraphs: stored.subGraphs, registry }) as unknown as Record<
            string,
            unknown
          >
        }),
      )
  }),
)
