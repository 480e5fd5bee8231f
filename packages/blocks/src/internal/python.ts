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

/**
 * Python's `repr()` of a float: the shortest digits that read back to the same number, written in
 * exponent form when the exponent is below -4 or at least 16 (`1e-05`, `1e+16`), otherwise with a
 * fractional part (`1.0`, `0.001`).
 */
export const floatRepr = (n: number): string => {
  if (Number.isNaN(n)) return "nan"
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf"
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0"
  const [mantissa = "0", exp = "0"] = n.toExponential().split("e")
  const exponent = Number(exp)
  const negative = mantissa.startsWith("-")
  const digits = mantissa.replace("-", "").replace(".", "")
  const sign = negative ? "-" : ""
  if (exponent < -4 || exponent >= 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const expText = `${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`
    return `${sign}${body}e${expText}`
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, "0")
  const fraction = digits.slice(exponent + 1)
  return `${sign}${whole}.${fraction === "" ? "0" : fraction}`
}

/** A JSON number as Python writes it: safe integers as `int`s, anything else as a `float` (`floatRepr`). */
const numberText = (n: number, forJson: boolean): string => {
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) return String(n)
  if (forJson && Number.isNaN(n)) return "NaN"
  if (forJson && !Number.isFinite(n)) return n > 0 ? "Infinity" : "-Infinity"
  return floatRepr(n)
}

/** A string as a JSON literal with every character outside printable ASCII escaped, as `json.dumps` does. */
const asciiJsonString = (text: string): string =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * Python's `json.dumps(value)` with its default settings: `", "` and `": "` separators, non-ASCII
 * characters escaped as `\uXXXX`, floats written as Python writes them. `undefined` counts as `None`.
 */
export const jsonDumps = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  if (typeof value === "boolean") return value ? "true" : "false"
  if (typeof value === "number") return numberText(value, true)
  if (typeof value === "string") return asciiJsonString(value)
  if (Array.isArray(value)) return `[${value.map(jsonDumps).join(", ")}]`
  if (typeof value === "object") {
    const entries = Object.entries(value).map(([k, v]) => `${asciiJsonString(k)}: ${jsonDumps(v)}`)
    return `{${entries.join(", ")}}`
  }
  return "null"
}

/** Python's `repr()` of a string: single quotes unless it holds a single quote and no double quote. */
export const stringRepr = (text: string): string => {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'"
  let out = ""
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0
    if (ch === "\\") out += "\\\\"
    else if (ch === quote) out += `\\${quote}`
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`
    else out += ch
  }
  return `${quote}${out}${quote}`
}

/** Python's `repr()` of JSON data: `None`, `True`, `'text'`, `[1, 2]`, `{'key': 'value'}`. */
export const pyRepr = (value: unknown): string => {
  if (value === null || value === undefined) return "None"
  if (typeof value === "boolean") return value ? "True" : "False"
  if (typeof value === "number") return numberText(value, false)
  if (typeof value === "string") return stringRepr(value)
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`
  if (typeof value === "object") {
    const entries = Object.entries(value).map(([k, v]) => `${stringRepr(k)}: ${pyRepr(v)}`)
    return `{${entries.join(", ")}}`
  }
  return "None"
}

/** Python's `str()` of JSON data: a string as it is, anything else as its `repr()`. */
export const pyStr = (value: unknown): string => (typeof value === "string" ? value : pyRepr(value))

const FLOAT_TEXT =
  /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?|inf(?:inity)?|nan)$/i

/**
 * Python's `float(text)`: surrounding whitespace ignored, `_` digit separators, `inf`, `infinity` and
 * `nan` in any case. Returns `undefined` where Python raises `ValueError`.
 */
export const parseFloatText = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (!FLOAT_TEXT.test(trimmed)) return undefined
  const lower = trimmed.toLowerCase().replace(/_/g, "")
  const body = lower.replace(/^[+-]/, "")
  const sign = lower.startsWith("-") ? -1 : 1
  if (body.startsWith("inf")) return sign * Number.POSITIVE_INFINITY
  if (body === "nan") return Number.NaN
  return Number(lower)
}
