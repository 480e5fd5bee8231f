/**
 * `weft run <file>`: runs a Weft graph file or an AutoGPT export in this process with the core blocks.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import {
  type BlockRegistryShape,
  type Graph,
  graphIO,
  type RunEvent,
  type RunResult,
  runGraph,
} from "@weft/engine"
import { Context } from "effect"
import { CliError, loadGraphFile, loadLibrary } from "./files.js"
import { RUN_HELP } from "./help.js"
import { type Io, preview } from "./output.js"

/** The exit status of a run cancelled with Ctrl-C. */
export const EXIT_INTERRUPTED = 130

/** Whether a JSON Schema admits text only (and perhaps `null`): such an input takes `--input` values as written. */
const textOnly = (schema: unknown): boolean => {
  if (typeof schema !== "object" || schema === null) return false
  const s = schema as { readonly type?: unknown; readonly anyOf?: unknown }
  if (s.type === "string") return true
  if (!Array.isArray(s.anyOf)) return false
  const types = s.anyOf.map((member: unknown) => (member as { readonly type?: unknown } | null)?.type)
  return types.includes("string") && types.every((type) => type === "string" || type === "null")
}

const parseInputs = (
  pairs: ReadonlyArray<string>,
  graph: Graph,
  registry: Pick<BlockRegistryShape, "get">,
): Record<string, unknown> => {
  let properties: Record<string, unknown> = {}
  try {
    const schema = graphIO(graph, registry).inputJsonSchema
    properties = (schema.properties ?? {}) as Record<string, unknown>
  } catch {
    // An unknown input schema only means every value is parsed as JSON when it can be.
  }
  const inputs: Record<string, unknown> = {}
  for (const pair of pairs) {
    const at = pair.indexOf("=")
    if (at <= 0) throw new CliError(`--input ${pair}: expected name=value`)
    const name = pair.slice(0, at)
    const text = pair.slice(at + 1)
    let value: unknown = text
    if (!textOnly(properties[name])) {
      try {
        value = JSON.parse(text)
      } catch {
        value = text
      }
    }
    inputs[name] = value
  }
  return inputs
}

const isTagged = (u: unknown): u is { readonly _tag: string; readonly message: string } =>
  typeof u === "object" && u !== null && typeof (u as { _tag?: unknown })._tag === "string"

/** Prints one line per status change and output, naming each node by its block and id. */
const progressPrinter = (graph: Graph, registry: Pick<BlockRegistryShape, "get">, io: Io) => {
  const labels = new Map(
    graph.nodes.map((node) => {
      const title = registry.get(node.blockId)?.title ?? node.blockId
      const id = node.id.length > 12 ? node.id.slice(0, 8) : node.id
      return [node.id, `${title} [${id}]`] as const
    }),
  )
  const label = (nodeId: string) => labels.get(nodeId) ?? nodeId
  return (event: RunEvent) => {
    switch (event.type) {
      case "NodeStatus":
        if (event.status === "FAILED") io.out(`✗ ${label(event.nodeId)} FAILED: ${event.error ?? "failed"}`)
        else if (event.status === "RUNNING") io.out(`▸ ${label(event.nodeId)} RUNNING`)
        else if (event.status === "COMPLETED") io.out(`✓ ${label(event.nodeId)} COMPLETED`)
        else if (event.status === "TERMINATED" || event.status === "REVIEW")
          io.out(`• ${label(event.nodeId)} ${event.status}`)
        break
      case "NodeOutput":
        // A failure's message is shown with the FAILED status that follows it.
        if (event.pin === "error") break
        io.out(`  ${label(event.nodeId)} ${event.pin} = ${preview(event.value)}`)
        break
      case "NodeLog":
        if (event.level === "warn" || event.level === "error")
          io.out(`  ${label(event.nodeId)} ${event.level}: ${event.message}`)
        break
      case "RunStatus":
        if (event.status === "RUNNING") io.out(`Run ${event.runId} of "${graph.name || graph.id}" RUNNING`)
        break
      default:
        break
    }
  }
}

/**
 * Runs `weft run`; resolves with the exit status.
 *
 * @category commands
 */
export const runCommand = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      input: { type: "string", short: "i", multiple: true },
      json: { type: "boolean" },
      deadline: { type: "string" },
      allow: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  })
  if (values.help === true) {
    io.out(RUN_HELP)
    return 0
  }
  const file = positionals[0]
  if (file === undefined || positionals.length > 1)
    throw new CliError(`weft run expects one file (see weft run --help)`)
  let deadlineMs: number | undefined
  if (values.deadline !== undefined) {
    deadlineMs = Number(values.deadline)
    if (!Number.isFinite(deadlineMs) || deadlineMs < 0)
      throw new CliError(`--deadline ${values.deadline}: expected a number of milliseconds`)
  }
  const loaded = await loadGraphFile(file)
  const {
    coreBlocks,
    coreBlockRegistry,
    environmentCredentials,
    SafeHttp,
    SafeHttpClient,
    withEnvironmentCredentials,
  } = await loadLibrary()
  const registry = coreBlockRegistry()
  const graph = withEnvironmentCredentials(loaded.graph)
  const subGraphs = loaded.subGraphs.map(withEnvironmentCredentials)
  const inputs = parseInputs(values.input ?? [], graph, registry)
  const json = values.json === true
  const allow = values.allow ?? []
  let resources: Context.Context<never> | undefined
  if (allow.length > 0) {
    try {
      resources = Context.make(SafeHttp, new SafeHttpClient({ allow })) as Context.Context<never>
    } catch (error) {
      throw new CliError(`--allow: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  const controller = new AbortController()
  let interrupted = false
  const onSigint = () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED)
    interrupted = true
    io.err("weft: cancelling the run (Ctrl-C again to quit at once)")
    controller.abort()
  }
  process.on("SIGINT", onSigint)
  let result: RunResult
  try {
    result = await runGraph(graph, {
      blocks: [coreBlocks],
      graphs: subGraphs,
      inputs,
      credentials: environmentCredentials,
      signal: controller.signal,
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      ...(resources === undefined ? {} : { resources }),
      ...(json ? {} : { onEvent: progressPrinter(graph, registry, io) }),
    })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (json) io.out(JSON.stringify({ status: "FAILED", outputs: {}, error: message }))
    if (isTagged(error) && error._tag === "GraphInvalid") {
      const errors = (error as unknown as { errors: unknown }).errors
      io.err(`weft: ${file}: the graph is invalid:\n${JSON.stringify(errors, null, 2)}`)
      return 1
    }
    if (isTagged(error) && (error._tag === "RunInputInvalid" || error._tag === "OptionsInvalid")) {
      io.err(`weft: ${message}`)
      return 1
    }
    throw error
  } finally {
    process.off("SIGINT", onSigint)
  }
  if (json) {
    io.out(
      JSON.stringify({
        status: result.status,
        outputs: result.outputs,
        ...(result.error === undefined ? {} : { error: result.error }),
      }),
    )
  } else {
    io.out(`Run ${result.status}${result.error === undefined ? "" : `: ${result.error}`}`)
    for (const [name, outputs] of Object.entries(result.outputs)) {
      for (const value of outputs) io.out(`  ${name} = ${preview(value, 2000)}`)
    }
    if (result.status === "REVIEW")
      io.err("weft: the run waits for a human review, which weft run cannot give")
  }
  if (interrupted) return EXIT_INTERRUPTED
  return result.status === "COMPLETED" ? 0 : 1
}
