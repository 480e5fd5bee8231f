/**
 * Python semantics that AutoGPT blocks rely on, so that imported agents behave the same.
 */

/** Python truthiness: `None`, `False`, `0`, `""`, `[]` and `{}` are false. */
export const truthy = (value: unknown): boolean => {
  if (value === undefined || value === null || value === false) return false
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value)
  if (typeof value === "string") return value.length > 0
  if (Array.isArray(value)) return value.length > 0
  if (typeof value === "object") return Object.keys(value).length > 0
  return true
}

/** Python's `a or b`. */
export const or = <A, B>(a: A, b: B): A | B => (truthy(a) ? a : b)
