/**
 * Reading and writing the files the `weft` CLI works on: Weft graph files and AutoGPT exports.
 *
 * A Weft graph file is a graph (`{ id, version, name, nodes, links }`) that may carry the graphs its
 * agent-executor nodes run in a top-level `subGraphs` array. An AutoGPT export is recognised by its shape
 * (`block_id` on nodes, `source_id` on links, `sub_graphs` or `is_template`).
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Graph, shapeErrors } from "@weft/engine"
import { AutoGPTFormatError, decodeAutoGPT, isAutoGPTExport } from "../autogpt/format.js"
import type { BlockNames, ImportReport } from "../autogpt/import.js"
import type { Library } from "./library.js"
import { CliError } from "./output.js"

export { CliError }

/**
 * A loaded graph file: the graph, the sub-graphs it may run, and, for an AutoGPT export, the import report.
 *
 * @category models
 */
export interface LoadedGraph {
  readonly format: "weft" | "autogpt"
  readonly graph: Graph
  readonly subGraphs: ReadonlyArray<Graph>
  readonly report?: ImportReport
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Reads and parses a JSON file, or throws a `CliError` saying why not.
 *
 * @category reading
 */
export const readJsonFile = (path: string): unknown => {
  let text: string
  try {
    if (statSync(path).isDirectory()) throw new CliError(`${path}: is a directory, not a JSON file`)
    text = readFileSync(path, "utf8")
  } catch (error) {
    if (error instanceof CliError) throw error
    const code = (error as { code?: unknown }).code
    throw new CliError(
      code === "ENOENT"
        ? `${path}: no such file`
        : code === "EACCES"
          ? `${path}: permission denied`
          : `${path}: cannot read the file (${String(code ?? error)})`,
    )
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new CliError(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}

const shapeMessage = (errors: Record<string, string>): string =>
  Object.entries(errors)
    .slice(0, 3)
    .map(([path, message]) => `${path}: ${message}`)
    .join("; ") + (Object.keys(errors).length > 3 ? `; and ${Object.keys(errors).length - 3} more` : "")

/**
 * Checks that a value is a Weft graph, or throws a `CliError` naming the first problems.
 *
 * @category reading
 */
export const asWeftGraph = (value: unknown, where: string): Graph => {
  const errors = shapeErrors(value)
  if (errors !== undefined) throw new CliError(`${where}: not a Weft graph: ${shapeMessage(errors)}`)
  return value as Graph
}

/**
 * Splits a Weft graph file into its graph and its `subGraphs`, checking the shape of each.
 *
 * @category reading
 */
export const parseWeftFile = (json: unknown, path: string): { graph: Graph; subGraphs: Array<Graph> } => {
  if (!isRecord(json))
    throw new CliError(`${path}: not a Weft graph or an AutoGPT export (expected an object)`)
  const { subGraphs: rawSubGraphs, ...rest } = json
  const graph = asWeftGraph(rest, path)
  if (rawSubGraphs === undefined) return { graph, subGraphs: [] }
  if (!Array.isArray(rawSubGraphs)) throw new CliError(`${path}: subGraphs: expected an array of graphs`)
  return {
    graph,
    subGraphs: rawSubGraphs.map((sub, i) => asWeftGraph(sub, `${path}: subGraphs.${i}`)),
  }
}

/**
 * Loads the command library (the blocks and the importer).
 *
 * @category reading
 */
export const loadLibrary = (): Promise<Library> => import("./library.js")

/**
 * Loads a Weft graph file or an AutoGPT export (detected by shape), or throws a `CliError`. The file is
 * read and its shape checked before any block is loaded.
 *
 * @category reading
 */
export const loadGraphFile = async (path: string, blockNames?: BlockNames): Promise<LoadedGraph> => {
  const json = readJsonFile(path)
  if (isAutoGPTExport(json)) {
    try {
      decodeAutoGPT(json)
    } catch (error) {
      if (error instanceof AutoGPTFormatError) throw new CliError(`${path}: ${error.message}`)
      throw error
    }
    const { importAutoGPT } = await loadLibrary()
    const { graph, subGraphs, report } = importAutoGPT(json, blockNames === undefined ? {} : { blockNames })
    return { format: "autogpt", graph, subGraphs, report }
  }
  return { format: "weft", ...parseWeftFile(json, path) }
}

/**
 * Writes JSON to a file (pretty, with a final newline), or throws a `CliError`.
 *
 * @category writing
 */
export const writeJsonFile = (path: string, value: unknown): void => {
  try {
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new CliError(`${path}: cannot write the file (${String(code ?? error)})`)
  }
}

/**
 * The AutoGPT block names (`block-ids.json`): from `explicit` when given, else from the shared corpus next
 * to the repository (`../shared/corpus/autogpt/block-ids.json`) when it exists. Names only label reports.
 *
 * @category reading
 */
export const loadBlockNames = (explicit?: string): BlockNames | undefined => {
  const candidates =
    explicit !== undefined
      ? [explicit]
      : [
          join(
            dirname(fileURLToPath(import.meta.url)),
            "..",
            "..",
            "..",
            "..",
            "..",
            "shared",
            "corpus",
            "autogpt",
            "block-ids.json",
          ),
        ]
  for (const path of candidates) {
    if (explicit === undefined && !existsSync(path)) continue
    const json = readJsonFile(path)
    if (!isRecord(json)) throw new CliError(`${path}: expected an object of block names by block id`)
    return json as BlockNames
  }
  return undefined
}
