/**
 * Loads graphs by id and version, for sub-graph runs (R15). The host backs it with its graph table.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { GraphNotFound } from "./Errors.js"
import type { Graph } from "./Graph.js"

/**
 * The loader's interface.
 *
 * @category models
 */
export interface GraphLoaderShape {
  /** The graph at `version`, or its newest version when `version` is omitted. */
  readonly load: (graphId: string, version?: number) => Effect.Effect<Graph, GraphNotFound>
}

/**
 * A loader over a fixed list of graphs.
 *
 * @category constructors
 */
export const fromGraphs = (graphs: ReadonlyArray<Graph>): GraphLoaderShape => ({
  load: (graphId, version) =>
    Effect.suspend(() => {
      let found: Graph | undefined
      for (const graph of graphs) {
        if (graph.id !== graphId) continue
        if (
          version !== undefined
            ? graph.version === version
            : found === undefined || graph.version > found.version
        ) {
          found = graph
        }
      }
      return found === undefined
        ? Effect.fail(new GraphNotFound({ graphId, ...(version === undefined ? {} : { version }) }))
        : Effect.succeed(found)
    }),
})

/**
 * The graph loader service. Without a layer, every load fails with `GraphNotFound`.
 *
 * @category services
 */
export class GraphLoader extends Context.Service<GraphLoader, GraphLoaderShape>()(
  "@weft/engine/GraphLoader",
) {
  /**
   * A loader over a fixed list of graphs.
   *
   * @category layers
   */
  static readonly layer = (graphs: ReadonlyArray<Graph>): Layer.Layer<GraphLoader> =>
    Layer.succeed(GraphLoader, fromGraphs(graphs))
}
