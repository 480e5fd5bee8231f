/**
 * `weft validate`, `weft import`, `weft export` and `weft blocks`.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { type AnyBlock, type Graph, validateGraph } from "@weft/engine"
import type { ImportReport } from "../autogpt/import.js"
import { CliError, loadBlockNames, loadGraphFile, loadLibrary, writeJsonFile } from "./files.js"
import { BLOCKS_HELP, EXPORT_HELP, IMPORT_HELP, VALIDATE_HELP } from "./help.js"
import type { Io } from "./output.js"

const onePositional = (positionals: ReadonlyArray<string>, command: string): string => {
  const file = positionals[0]
  if (file === undefined || positionals.length > 1)
    throw new CliError(`weft ${command} expects one file (see weft ${command} --help)`)
  return file
}

/**
 * Runs `weft validate`.
 *
 * @category commands
 */
export const validateCommand = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h" } },
  })
  if (values.help === true) {
    io.out(VALIDATE_HELP)
    return 0
  }
  const file = onePositional(positionals, "validate")
  const { graph, subGraphs, report } = await loadGraphFile(file)
  const { coreBlockRegistry, withEnvironmentCredentials } = await loadLibrary()
  const registry = coreBlockRegistry()
  const problems: Array<{ graph: Graph; errors: Record<string, Record<string, string>> }> = []
  for (const g of [graph, ...subGraphs]) {
    // As `weft run` will run it: empty credential fields refer to the environment's keys.
    const errors = validateGraph(withEnvironmentCredentials(g), registry)
    if (Object.keys(errors).length > 0) problems.push({ graph: g, errors })
  }
  for (const resolution of report?.subGraphs ?? []) {
    if (resolution.status === "ambiguous" || resolution.status === "unresolved")
      io.err(
        `warning: node ${resolution.nodeId}: sub-graph reference ${resolution.status} (${resolution.note})`,
      )
  }
  if (problems.length === 0) {
    io.out("valid")
    return 0
  }
  const count = problems.reduce(
    (n, p) => n + Object.values(p.errors).reduce((m, fields) => m + Object.keys(fields).length, 0),
    0,
  )
  io.out(`invalid: ${count} problem${count === 1 ? "" : "s"}`)
  for (const { graph: g, errors } of problems) {
    if (g !== graph) io.out(`sub-graph ${g.id} v${g.version} (${g.name}):`)
    io.out(JSON.stringify(errors, null, 2))
  }
  return 1
}

/**
 * The import report as text lines.
 *
 * @category formatting
 */
export const formatReport = (report: ImportReport): Array<string> => {
  const g = report.graph
  const lines = [
    `Imported "${g.name}" (${g.id} v${g.version}, ${report.format} format): ${g.nodes} nodes, ${g.links} links, ${g.subGraphs} sub-graph${g.subGraphs === 1 ? "" : "s"}`,
  ]
  if (report.missingBlocks.length === 0) lines.push("All blocks are available.")
  else {
    lines.push(`Missing blocks (${report.missingBlocks.length}):`)
    for (const m of report.missingBlocks)
      lines.push(
        `  ${m.blockName ?? "(unknown name)"} ${m.blockId} — ${m.nodes} node${m.nodes === 1 ? "" : "s"}`,
      )
  }
  if (report.subGraphs.length > 0) {
    lines.push("Sub-graph references:")
    for (const r of report.subGraphs) {
      const target =
        r.resolved !== undefined
          ? `"${r.resolved.name}" ${r.resolved.graphId} v${r.resolved.version}`
          : (r.candidates?.map((c) => `"${c.name}" v${c.version}`).join(" or ") ?? "nothing")
      lines.push(`  node ${r.nodeId}: ${r.status} → ${target} (${r.note})`)
    }
  }
  if (report.credentials.length > 0) {
    const providers = new Map<string, number>()
    for (const c of report.credentials) providers.set(c.provider, (providers.get(c.provider) ?? 0) + 1)
    lines.push(
      `Credentials to supply at run time: ${[...providers].map(([p, n]) => `${p} (${n} node${n === 1 ? "" : "s"})`).join(", ")}`,
    )
  }
  for (const v of report.validation) {
    const count = Object.values(v.errors).reduce((n, fields) => n + Object.keys(fields).length, 0)
    lines.push(
      `Validation of ${v.graphId} v${v.version}: ${count} problem${count === 1 ? "" : "s"} (unknown blocks included)`,
    )
    for (const [node, fields] of Object.entries(v.errors))
      for (const [field, message] of Object.entries(fields)) {
        // Unknown blocks are already listed under "Missing blocks".
        if (field === "blockId" && message.startsWith("unknown block")) continue
        lines.push(`  ${node}.${field}: ${message}`)
      }
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`)
  return lines
}

/**
 * Runs `weft import`.
 *
 * @category commands
 */
export const importCommand = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      out: { type: "string", short: "o" },
      json: { type: "boolean" },
      "block-names": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  })
  if (values.help === true) {
    io.out(IMPORT_HELP)
    return 0
  }
  const file = onePositional(positionals, "import")
  const loaded = await loadGraphFile(file, loadBlockNames(values["block-names"]))
  if (loaded.report === undefined) throw new CliError(`${file}: not an AutoGPT export (it is a Weft graph)`)
  const weft = { ...loaded.graph, ...(loaded.subGraphs.length > 0 ? { subGraphs: loaded.subGraphs } : {}) }
  const report = values.json === true ? [JSON.stringify(loaded.report, null, 2)] : formatReport(loaded.report)
  if (values.out === undefined) {
    io.out(JSON.stringify(weft, null, 2))
    for (const line of report) io.err(line)
  } else {
    writeJsonFile(values.out, weft)
    for (const line of report) io.out(line)
    if (values.json !== true) io.out(`Wrote ${values.out}`)
  }
  return 0
}

/**
 * Runs `weft export`.
 *
 * @category commands
 */
export const exportCommand = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      format: { type: "string" },
      out: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
  })
  if (values.help === true) {
    io.out(EXPORT_HELP)
    return 0
  }
  const file = onePositional(positionals, "export")
  if (values.format === undefined) throw new CliError("weft export needs --format autogpt")
  if (values.format !== "autogpt")
    throw new CliError(`--format ${values.format}: unknown format (supported: autogpt)`)
  const { graph, subGraphs } = await loadGraphFile(file)
  const { exportAutoGPT } = await loadLibrary()
  const json = exportAutoGPT(graph, { subGraphs })
  if (values.out === undefined) io.out(JSON.stringify(json, null, 2))
  else {
    writeJsonFile(values.out, json)
    io.out(`Wrote ${values.out}`)
  }
  return 0
}

/** A JSON Schema type as a short word: `string`, `number | null`, `array`, `any`. */
const typeOf = (schema: unknown): string => {
  if (typeof schema !== "object" || schema === null) return "any"
  const s = schema as Record<string, unknown>
  if (typeof s.type === "string") return s.type
  if (Array.isArray(s.type)) return s.type.join(" | ")
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ")
  if ("const" in s) return JSON.stringify(s.const)
  for (const key of ["anyOf", "oneOf"]) {
    const options = s[key]
    if (Array.isArray(options)) return [...new Set(options.map(typeOf))].join(" | ")
  }
  if (typeof s.$ref === "string") return s.$ref.replace(/^#\/\$defs\//, "")
  return "any"
}

const pinsOf = (block: AnyBlock, side: "input" | "output") => {
  const schema = side === "input" ? block.inputJsonSchema() : block.outputJsonSchema()
  const properties = (schema.properties ?? {}) as Record<string, unknown>
  const pins = side === "input" ? block.inputPins : block.outputPins
  return [...pins.values()].map((pin) => ({
    name: pin.name,
    type: typeOf(properties[pin.name]),
    required: pin.required,
    ...(pin.advanced ? { advanced: true } : {}),
    ...(pin.secret ? { secret: true } : {}),
    ...(pin.credentials === undefined ? {} : { credentials: pin.credentials }),
  }))
}

/**
 * Runs `weft blocks`.
 *
 * @category commands
 */
export const blocksCommand = async (argv: ReadonlyArray<string>, io: Io): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  })
  if (values.help === true) {
    io.out(BLOCKS_HELP)
    return 0
  }
  if (positionals.length > 0) throw new CliError("weft blocks takes no arguments (see weft blocks --help)")
  const { coreBlockRegistry } = await loadLibrary()
  const blocks = coreBlockRegistry().list()
  const described = blocks.map((block) => ({
    id: block.id,
    title: block.title,
    description: block.description,
    categories: block.categories,
    aliases: block.aliases ?? [],
    kind: block.kind,
    inputs: pinsOf(block, "input"),
    outputs: pinsOf(block, "output").map(({ name, type }) => ({ name, type })),
  }))
  if (values.json === true) {
    io.out(JSON.stringify(described, null, 2))
    return 0
  }
  for (const block of described) {
    const alias = block.aliases.length > 0 ? `  (AutoGPT ${block.aliases.join(", ")})` : ""
    io.out(`${block.id}  ${block.title}${alias}`)
    io.out(
      `  in:  ${block.inputs.map((p) => `${p.name}${p.required ? "" : "?"}: ${p.type}`).join(", ") || "(none)"}`,
    )
    io.out(`  out: ${block.outputs.map((p) => `${p.name}: ${p.type}`).join(", ") || "(none)"}`)
  }
  io.out(`${described.length} block${described.length === 1 ? "" : "s"}`)
  return 0
}
