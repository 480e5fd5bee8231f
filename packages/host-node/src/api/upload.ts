/**
 * Turns an uploaded graph (a Weft graph or an AutoGPT export) into graphs the store can keep, checked
 * against the block registry, or a `BadRequest` naming what is wrong. Importing never runs anything.
 *
 * @since 0.1.0
 */
import { AutoGPTFormatError, importAutoGPT, isAutoGPTExport } from "@weft/blocks"
import { type BlockRegistryShape, type Graph, type ValidationErrors, validateGraph } from "@weft/engine"
import { Effect } from "effect"
import { type BadRequest, badRequest } from "./Errors.js"

/**
 * An upload, converted and validated.
 *
 * @category models
 */
export interface Upload {
  readonly format: "weft" | "autogpt"
  readonly graph: Graph
  readonly subGraphs: ReadonlyArray<Graph>
  readonly warnings: ReadonlyArray<string>
}

/** A Weft graph's id is the server's to give: an empty id asks the store for a new one. */
const NEW_ID = ""

const flatten = (errors: ValidationErrors, prefix: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [node, fields] of Object.entries(errors)) {
    for (const [field, message] of Object.entries(fields)) {
      const where = node === "$graph" ? field : `nodes.${node}.${field}`
      out[`${prefix}${where}`] = message
    }
  }
  return out
}

/**
 * Converts and validates an upload (already decoded by `GraphUpload`).
 *
 * @category constructors
 */
export const fromUpload = (
  upload: unknown,
  registry: Pick<BlockRegistryShape, "get">,
): Effect.Effect<Upload, BadRequest> =>
  Effect.suspend(() => {
    let result: Upload
    if (isAutoGPTExport(upload)) {
      try {
        const imported = importAutoGPT(upload, { registry })
        result = {
          format: "autogpt",
          graph: imported.graph,
          subGraphs: imported.subGraphs,
          warnings: imported.report.warnings,
        }
      } catch (error) {
        if (error instanceof AutoGPTFormatError) {
          return Effect.fail(badRequest("Not a valid AutoGPT export", { [error.path]: error.reason }))
        }
        return Effect.die(error)
      }
    } else {
      const {
        subGraphs,
        id: _id,
        version: _version,
        ...rest
      } = upload as {
        readonly subGraphs?: ReadonlyArray<Graph>
        readonly id?: unknown
        readonly version?: unknown
      } & Omit<Graph, "id" | "version">
      result = {
        format: "weft",
        graph: { ...rest, id: NEW_ID, version: 1 },
        subGraphs: subGraphs ?? [],
        warnings: [],
      }
    }
    const problems: Record<string, string> = {
      ...flatten(validateGraph(result.graph, registry), ""),
    }
    result.subGraphs.forEach((sub, i) => {
      Object.assign(problems, flatten(validateGraph(sub, registry), `subGraphs.${i}.`))
    })
    if (Object.keys(problems).length > 0) return Effect.fail(badRequest("The graph is invalid", problems))
    return Effect.succeed(result)
  })
