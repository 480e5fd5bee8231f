/**
 * Dynamic pin names (R11).
 *
 * - `values_#_name` addresses key `name` of the dict `values`;
 * - `items_$_3` addresses index 3 of the list `items`;
 * - `obj_@_attr` addresses attribute `attr` of the object `obj`.
 *
 * Suffixes nest (`a_#_b_$_0`). On a sink pin they assemble the input value; on a source pin they select a
 * sub-value of the output. Validation compares base names only.
 *
 * @since 0.1.0
 */

/** @category models */
export type PathStep =
  | { readonly kind: "dict"; readonly key: string }
  | { readonly kind: "list"; readonly index: number }
  | { readonly kind: "attr"; readonly key: string }

/** @category models */
export interface ParsedPin {
  readonly base: string
  readonly path: ReadonlyArray<PathStep>
}

const DELIMITER = /_(#|\$|@)_/
const DELIMITERS = /_(#|\$|@)_/g
/** The largest list index a dynamic pin may address, so a pin name cannot allocate a huge array. */
const MAX_INDEX = 100_000
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"])

/**
 * The part of a pin name before its first dynamic delimiter.
 *
 * @category parsing
 */
export const baseName = (pin: string): string => {
  const m = DELIMITER.exec(pin)
  return m === null ? pin : pin.slice(0, m.index)
}

/**
 * Whether a pin name carries a dynamic suffix.
 *
 * @category predicates
 */
export const isDynamic = (pin: string): boolean => DELIMITER.test(pin)

/**
 * Splits a pin name into its base and path. Returns an error message for an unusable path
 * (a non-numeric or huge list index, or a forbidden key such as `__proto__`).
 *
 * @category parsing
 */
export const parsePin = (pin: string): ParsedPin | string => {
  const parts = pin.split(DELIMITERS)
  const base = parts[0] ?? pin
  const path: Array<PathStep> = []
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const kind = parts[i]
    const key = parts[i + 1] ?? ""
    if (FORBIDDEN_KEYS.has(key)) return `pin ${pin}: key "${key}" is not allowed`
    if (kind === "$") {
      if (!/^\d+$/.test(key)) return `pin ${pin}: list index "${key}" is not a non-negative integer`
      const index = Number(key)
      if (index > MAX_INDEX) return `pin ${pin}: list index ${index} is larger than ${MAX_INDEX}`
      path.push({ kind: "list", index })
    } else {
      path.push({ kind: kind === "#" ? "dict" : "attr", key })
    }
  }
  return { base, path }
}

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Selects the sub-value addressed by `path` from `value`, or `undefined` when it is absent.
 *
 * @category selecting
 */
export const select = (value: unknown, path: ReadonlyArray<PathStep>): unknown => {
  let current = value
  for (const step of path) {
    if (step.kind === "list") {
      if (!Array.isArray(current)) return undefined
      current = current[step.index]
    } else {
      if (typeof current !== "object" || current === null || !Object.hasOwn(current, step.key))
        return undefined
      current = (current as Record<string, unknown>)[step.key]
    }
  }
  return current
}

const setIn = (container: unknown, path: ReadonlyArray<PathStep>, value: unknown): unknown => {
  const [step, ...rest] = path
  if (step === undefined) return value
  if (step.kind === "list") {
    const list = Array.isArray(container) ? [...container] : []
    while (list.length < step.index) list.push(null)
    list[step.index] = setIn(list[step.index], rest, value)
    return list
  }
  const record: Record<string, unknown> = isRecord(container) ? { ...container } : {}
  record[step.key] = setIn(record[step.key], rest, value)
  return record
}

/**
 * Assembles an input object whose keys may be dynamic pin names into one keyed by base names
 * (R8, R11). Plain keys are copied first; dynamic keys are applied in name order on top, so that
 * `items_$_0` and `items_$_1` build a list in index order. Unusable dynamic names are skipped.
 *
 * @category assembling
 */
export const assemble = (input: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  let dynamic: Array<string> | undefined
  for (const key in input) {
    if (!Object.hasOwn(input, key) || !key.includes("_") || !isDynamic(key)) continue
    dynamic ??= []
    dynamic.push(key)
  }
  if (dynamic === undefined) return { ...input }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(input)) if (!dynamic.includes(key)) out[key] = input[key]
  dynamic.sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
  for (const key of dynamic) {
    const parsed = parsePin(key)
    if (typeof parsed === "string") continue
    out[parsed.base] = setIn(out[parsed.base], parsed.path, input[key])
  }
  return out
}
