/**
 * Python value semantics for JSON data, as the AutoGPT logic, list and dictionary blocks rely on them:
 * `==`, ordering (`<`, `>`, …) with Python's `TypeError` for unorderable types, type names, `round()`,
 * the `float()` / `int()` string grammars, hashing for de-duplication and `json.dumps` text.
 *
 * JSON cannot tell `1` from `1.0`: an integral number counts as an `int`, any other number as a `float`.
 */
import { jsonDumps, parseFloatText, stringRepr } from "./python.js"

/** Python's `type(value).__name__` for a JSON value. */
export const pyTypeName = (value: unknown): string => {
  if (value === null || value === undefined) return "NoneType"
  if (typeof value === "boolean") return "bool"
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float"
  if (typeof value === "string") return "str"
  if (Array.isArray(value)) return "list"
  return "dict"
}

/** A plain JSON object (a Python dict). */
export const isDict = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Booleans take part in arithmetic and comparisons as 0 and 1, as in Python. */
const numeric = (value: unknown): number | undefined =>
  typeof value === "number" ? value : typeof value === "boolean" ? (value ? 1 : 0) : undefined

/** Python's `a == b` on JSON values: `1 == 1.0 == True`, lists and dicts compare element by element. */
export const pyEquals = (a: unknown, b: unknown): boolean => {
  const na = numeric(a)
  const nb = numeric(b)
  if (na !== undefined || nb !== undefined) return na !== undefined && nb !== undefined && na === nb
  if (a === null || a === undefined) return b === null || b === undefined
  if (typeof a === "string") return a === b
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, i) => pyEquals(item, b[i]))
  }
  if (isDict(a)) {
    if (!isDict(b)) return false
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(b).length) return false
    return keys.every((key) => Object.hasOwn(b, key) && pyEquals(a[key], b[key]))
  }
  return false
}

/** A comparison Python refuses, with Python's message. */
export class PyTypeError extends Error {
  override readonly name = "TypeError"
}

/** A Python comparison operator. */
export type Comparison = "==" | "!=" | ">" | "<" | ">=" | "<="

/** Compares two strings by code point, as Python does (JS compares UTF-16 code units). */
const compareStrings = (a: string, b: string): number => {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i) ?? 0
    const cb = b.codePointAt(j) ?? 0
    if (ca !== cb) return ca < cb ? -1 : 1
    i += ca > 0xffff ? 2 : 1
    j += cb > 0xffff ? 2 : 1
  }
  const restA = i < a.length
  const restB = j < b.length
  return restA === restB ? 0 : restA ? 1 : -1
}

const ordered = (op: Comparison, sign: number): boolean => {
  switch (op) {
    case "<":
      return sign < 0
    case "<=":
      return sign <= 0
    case ">":
      return sign > 0
    case ">=":
      return sign >= 0
    case "==":
      return sign === 0
    case "!=":
      return sign !== 0
  }
}

/**
 * Python's `a <op> b` on JSON values. Numbers (and booleans) compare numerically, strings by code point,
 * lists lexicographically; any other ordering throws a `PyTypeError` with Python's message, e.g.
 * `'>' not supported between instances of 'str' and 'int'`.
 */
export const pyCompare = (op: Comparison, a: unknown, b: unknown): boolean => {
  if (op === "==") return pyEquals(a, b)
  if (op === "!=") return !pyEquals(a, b)
  const na = numeric(a)
  const nb = numeric(b)
  if (na !== undefined && nb !== undefined) {
    switch (op) {
      case "<":
        return na < nb
      case "<=":
        return na <= nb
      case ">":
        return na > nb
      case ">=":
        return na >= nb
    }
  }
  if (typeof a === "string" && typeof b === "string") return ordered(op, compareStrings(a, b))
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length)
    for (let i = 0; i < n; i++) {
      if (!pyEquals(a[i], b[i])) return pyCompare(op, a[i], b[i])
    }
    return ordered(op, a.length - b.length)
  }
  throw new PyTypeError(
    `'${op}' not supported between instances of '${pyTypeName(a)}' and '${pyTypeName(b)}'`,
  )
}

/** Python's `round(x)`: to the nearest integer, halves to the even neighbour (`round(2.5) == 2`). */
export const pyRound = (x: number): number => {
  if (!Number.isFinite(x)) return x
  const floor = Math.floor(x)
  const diff = x - floor
  if (diff < 0.5) return floor
  if (diff > 0.5) return floor + 1
  return floor % 2 === 0 ? floor : floor + 1
}

const DIGITS = "\\d(?:_?\\d)*"
const INT_GRAMMAR = new RegExp(`^[+-]?${DIGITS}$`)

/** Python's `float(text)`: `undefined` where Python raises `ValueError` (one implementation, in `python.ts`). */
export const pyParseFloat = parseFloatText

/** Python's `int(text)` in base 10: `undefined` where Python raises `ValueError` (e.g. `"1.5"`). */
export const pyParseInt = (text: string): number | undefined => {
  const s = text.trim()
  return INT_GRAMMAR.test(s) ? Number(s.replace(/_/g, "")) : undefined
}

/** Python's message for `int(text)` on a string that is not an integer. */
export const intLiteralError = (text: string): string =>
  `invalid literal for int() with base 10: ${stringRepr(text)}`

/**
 * A key that is equal for two values exactly when Python's de-duplication by hashable form treats them as
 * equal: `1` and `1.0` share a key, `True` and `1` do not, dicts are equal whatever their key order.
 */
export const hashKey = (value: unknown): string => {
  if (value === null || value === undefined) return "n"
  if (typeof value === "boolean") return value ? "b1" : "b0"
  if (typeof value === "number") return `f${value}`
  if (typeof value === "string") return `s${JSON.stringify(value)}`
  if (Array.isArray(value)) return `l[${value.map(hashKey).join(",")}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${JSON.stringify(k)}:${hashKey(v)}`)
    .sort()
  return `d{${entries.join(",")}}`
}

/** Python's index normalisation for `list[i]`: negative indices count from the end; `undefined` if out of range. */
export const pyIndex = (length: number, index: number): number | undefined => {
  const i = index < 0 ? length + index : index
  return i >= 0 && i < length ? i : undefined
}

/** Python's slice bound: negative counts from the end, then clamped to `[0, length]`. */
export const pySliceBound = (length: number, index: number): number => {
  const i = index < 0 ? length + index : index
  return Math.min(Math.max(i, 0), length)
}

/** Python's `json.dumps(value)` with its defaults (one implementation, in `python.ts`). */
export const pyJsonDumps = jsonDumps
