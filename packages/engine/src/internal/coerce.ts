/**
 * Converts a linked value to its pin's type the way the AutoGPT Platform does before validating a node's
 * input (text → number, JSON text → list or dict, a value → text, …), so that imported agents that rely on
 * it keep working (R3). It runs only when decoding fails, and only changes fields whose type differs.
 */
import { SchemaAST } from "effect"
import type { AnyBlock } from "../Block.js"

type Kind = "string" | "number" | "boolean" | "array" | "object"

/** The kinds of JSON value a schema accepts; empty when it accepts anything (no conversion). */
const kindsOf = (ast: SchemaAST.AST, into: Set<Kind> = new Set()): Set<Kind> => {
  switch (ast._tag) {
    case "String":
    case "TemplateLiteral":
      into.add("string")
      break
    case "Number":
      into.add("number")
      break
    case "Boolean":
      into.add("boolean")
      break
    case "Arrays":
      into.add("array")
      break
    case "Objects":
    case "ObjectKeyword":
      into.add("object")
      break
    case "Literal": {
      const t = typeof ast.literal
      if (t === "string" || t === "number" || t === "boolean") into.add(t)
      break
    }
    case "Union":
      for (const member of ast.types) kindsOf(member, into)
      break
    default:
      break
  }
  return into
}

const kindOf = (value: unknown): Kind | undefined => {
  if (typeof value === "string") return "string"
  if (typeof value === "number") return "number"
  if (typeof value === "boolean") return "boolean"
  if (Array.isArray(value)) return "array"
  if (typeof value === "object" && value !== null) return "object"
  return undefined
}

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/
const NONE = Symbol("none")

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return NONE
  }
}

const convert = (value: unknown, kind: Kind): unknown => {
  switch (kind) {
    case "number":
      if (typeof value === "string" && NUMERIC.test(value)) return Number(value)
      if (typeof value === "boolean") return value ? 1 : 0
      return NONE
    case "string":
      if (typeof value === "boolean") return value ? "True" : "False"
      if (typeof value === "number") return String(value)
      if (typeof value === "object" && value !== null) return JSON.stringify(value)
      return NONE
    case "boolean":
      if (typeof value === "number") return value !== 0
      if (typeof value === "string") {
        const v = value.trim().toLowerCase()
        if (["true", "1", "yes", "on"].includes(v)) return true
        if (["false", "0", "no", "off", ""].includes(v)) return false
      }
      return NONE
    case "array": {
      if (typeof value === "string") {
        const parsed = parseJson(value)
        return Array.isArray(parsed) ? parsed : [value]
      }
      return value === null || value === undefined ? NONE : [value]
    }
    case "object": {
      if (typeof value !== "string") return NONE
      const parsed = parseJson(value)
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : NONE
    }
  }
}

const fieldKinds = new WeakMap<AnyBlock, ReadonlyMap<string, ReadonlySet<Kind>>>()

const kindsFor = (block: AnyBlock): ReadonlyMap<string, ReadonlySet<Kind>> => {
  let kinds = fieldKinds.get(block)
  if (kinds === undefined) {
    const map = new Map<string, ReadonlySet<Kind>>()
    for (const [name, field] of Object.entries(block.input.fields)) {
      const accepted = kindsOf(SchemaAST.toType(field.ast))
      if (accepted.size > 0) map.set(name, accepted)
    }
    kinds = map
    fieldKinds.set(block, kinds)
  }
  return kinds
}

/**
 * A copy of `input` with each value whose kind its field does not accept converted, when a conversion
 * exists; `undefined` when nothing changed.
 */
export const coerceInput = (
  block: AnyBlock,
  input: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined => {
  let out: Record<string, unknown> | undefined
  for (const [name, accepted] of kindsFor(block)) {
    const value = input[name]
    if (value === undefined || value === null) continue
    const kind = kindOf(value)
    if (kind !== undefined && accepted.has(kind)) continue
    for (const target of accepted) {
      const converted = convert(value, target)
      if (converted !== NONE) {
        out ??= { ...input }
        out[name] = converted
        break
      }
    }
  }
  return out
}
