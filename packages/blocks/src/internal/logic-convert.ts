/**
 * Value conversions of the AutoGPT platform: the lax number parsing its input validation applies to `int`
 * and `float` fields (numeric strings are accepted), and its `convert(value, type)` helper, which
 * `IfInputMatchesBlock` uses to bring the value to the input's type before comparing.
 */
import { Schema } from "effect"
import { isDict, pyJsonDumps, pyParseFloat, pyTypeName } from "./logic-compare.js"
import { truthy } from "./python.js"

/**
 * The schema of an AutoGPT `int` or `float` field: a number, or a string holding one (AutoGPT's input
 * validation accepts numeric strings, so that text outputs can feed number inputs).
 */
export const NumberLike = Schema.Union([Schema.Number, Schema.String])

/** Reads a `NumberLike` value as a float; throws the message AutoGPT's validation gives for a bad one. */
export const toFloat = (field: string, value: number | string): number => {
  if (typeof value === "number") return value
  const parsed = pyParseFloat(value)
  if (parsed === undefined)
    throw new Error(`${field}: Input should be a valid number, unable to parse string as a number`)
  return parsed
}

/** Reads a `NumberLike` value as an integer; a number or numeric string with a fractional part is refused. */
export const toInt = (field: string, value: number | string): number => {
  const n = typeof value === "number" ? value : pyParseFloat(value)
  if (n === undefined || !Number.isFinite(n))
    throw new Error(`${field}: Input should be a valid integer, unable to parse string as an integer`)
  if (!Number.isInteger(n))
    throw new Error(`${field}: Input should be a valid integer, got a number with a fractional part`)
  return n
}

const convertList = (value: unknown): unknown => {
  if (Array.isArray(value)) return value
  if (isDict(value)) return Object.entries(value)
  if (typeof value === "string") {
    const s = value.trim()
    if (s.startsWith("[") && s.endsWith("]")) {
      try {
        return JSON.parse(s)
      } catch {
        return [s]
      }
    }
    return [s]
  }
  return [value]
}

const convertDict = (value: unknown): unknown => {
  if (isDict(value)) return value
  if (typeof value === "string") {
    try {
      const parsed: unknown = JSON.parse(value)
      return isDict(parsed) ? parsed : { value: parsed }
    } catch {
      return { value }
    }
  }
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [String(i), v]))
  return { value }
}

/** `int(float(value))` / `float(value)`, or `undefined` where the conversion fails outright. */
const convertNumber = (value: unknown, integer: boolean): number | undefined => {
  if (Array.isArray(value)) return value.length
  if (isDict(value)) return Object.keys(value).length
  if (typeof value === "boolean") return value ? 1 : 0
  let n: number | undefined
  if (typeof value === "number") n = value
  else if (typeof value === "string") n = pyParseFloat(value)
  if (n === undefined) return 0 // Python falls back to 0 when `float(value)` raises ValueError/TypeError
  if (!integer) return n
  if (Number.isNaN(n)) return 0
  if (!Number.isFinite(n)) return undefined // OverflowError: the conversion fails and the value is kept
  return Math.trunc(n)
}

/**
 * AutoGPT's `convert(value, type(like))`: brings `value` to the Python type of `like` (bool, int, float,
 * str, list or dict). Returns `value` unchanged where AutoGPT's conversion would fail.
 *
 * Weft differs where JSON cannot express the Python result: a dict converted to a list gives `[key, value]`
 * lists (Python: tuples), and a list converted to a dict gets string keys `"0"`, `"1"`… (Python: ints).
 */
export const convertLike = (value: unknown, like: unknown): unknown => {
  switch (pyTypeName(like)) {
    case "bool":
      if (typeof value === "boolean") return value
      if (typeof value === "string") return ["true", "1"].includes(value.toLowerCase())
      return truthy(value)
    case "int":
      if (typeof value === "boolean" || (typeof value === "number" && Number.isInteger(value))) return value
      return convertNumber(value, true) ?? value
    case "float":
      if (typeof value === "number") return value
      return convertNumber(value, false) ?? value
    case "str":
      return typeof value === "string" ? value : pyJsonDumps(value)
    case "list":
      return convertList(value)
    case "dict":
      return convertDict(value)
    default:
      return value
  }
}
