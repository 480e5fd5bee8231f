import { Block } from "@weft/engine"
import { Schema } from "effect"
import { jsonDumps, parseFloatText, truthy } from "../../internal/python.js"

const isDict = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Python's `float(value)` as AutoGPT's `convert` applies it: sizes for containers, 0 when it fails. */
const toNumber = (value: unknown): number => {
  if (Array.isArray(value)) return value.length
  if (isDict(value)) return Object.keys(value).length
  if (typeof value === "number") return value
  if (typeof value === "boolean") return value ? 1 : 0
  if (typeof value === "string") return parseFloatText(value) ?? 0
  return 0
}

const toList = (value: unknown): unknown => {
  if (Array.isArray(value)) return value
  if (isDict(value)) return Object.entries(value)
  if (typeof value === "string") {
    const text = value.trim()
    if (text.startsWith("[") && text.endsWith("]")) {
      try {
        return JSON.parse(text) as unknown
      } catch {
        return [text]
      }
    }
    return [text]
  }
  return [value]
}

const toDictionary = (value: unknown): unknown => {
  if (isDict(value)) return value
  if (typeof value === "string") {
    let parsed: unknown
    try {
      parsed = JSON.parse(value)
    } catch {
      return { value }
    }
    return isDict(parsed) ? parsed : { value: parsed }
  }
  if (Array.isArray(value)) return Object.fromEntries(value.map((item, i) => [String(i), item]))
  return { value }
}

/** AutoGPT's `convert(value, type)` for the five target types of the block. */
const convert = (value: unknown, type: "string" | "number" | "boolean" | "list" | "dictionary"): unknown => {
  switch (type) {
    case "string":
      return typeof value === "string" ? value : jsonDumps(value)
    case "number": {
      const n = toNumber(value)
      // `inf` and `nan` are not JSON; AutoGPT's JSON encoding turns them into null downstream.
      return Number.isFinite(n) ? n : null
    }
    case "boolean":
      if (typeof value === "boolean") return value
      if (typeof value === "string") return ["true", "1"].includes(value.toLowerCase())
      return truthy(value)
    case "list":
      return toList(value)
    case "dictionary":
      return toDictionary(value)
  }
}

/**
 * Universal type converter: converts a value to a string, number, boolean, list or dictionary with
 * AutoGPT's rules. A string becomes a list or dictionary by JSON parsing when it holds one (a list only
 * when it is written `[…]`; otherwise a one-item list), other values are wrapped (`{"value": …}`); a
 * non-string becomes a string as Python's `json.dumps` writes it (`{"a": 1}`); numbers parse with Python's
 * `float()` (containers give their size, unparsable text gives 0); booleans: the strings "true" and "1"
 * (any case) are true, other strings false, other values by Python truthiness.
 *
 * Weft differs where JSON cannot hold Python's result: a dictionary converted to a list gives `[key, value]`
 * lists (Python: tuples), a list converted to a dictionary gets the keys "0", "1"… (Python: ints), and
 * numbers are not marked as floats (`1` rather than `1.0`; `inf` and `nan` become null).
 * AutoGPT: UniversalTypeConverterBlock.
 */
export default Block.make({
  id: "weft/basic/universal-type-converter",
  title: "Universal type converter",
  description: "Converts a value to a string, number, boolean, list or dictionary.",
  categories: ["basic"],
  aliases: ["95d1b990-ce13-4d88-9737-ba5c2070c97b"],
  deterministic: true,
  input: Schema.Struct({
    value: Schema.Unknown.annotate({ title: "Value", description: "The value to convert." }),
    type: Schema.Literals(["string", "number", "boolean", "list", "dictionary"]).annotate({
      title: "Type",
      description: "The type to convert the value to.",
    }),
  }),
  output: Schema.Struct({
    value: Schema.Unknown.annotate({ title: "Value", description: "The converted value." }),
  }),
  examples: [
    {
      description: "text to number",
      input: { value: " 1_000.5 ", type: "number" },
      output: [["value", 1000.5]],
    },
    { description: "unparsable text is 0", input: { value: "n/a", type: "number" }, output: [["value", 0]] },
    {
      description: "a list's number is its size",
      input: { value: [1, 2, 3], type: "number" },
      output: [["value", 3]],
    },
    {
      description: "data to string, as Python's json.dumps writes it",
      input: { value: { a: 1, b: ["é", true, null] }, type: "string" },
      output: [["value", '{"a": 1, "b": ["\\u00e9", true, null]}']],
    },
    {
      description: "the text 'True' is true",
      input: { value: "True", type: "boolean" },
      output: [["value", true]],
    },
    {
      description: "the text 'yes' is false",
      input: { value: "yes", type: "boolean" },
      output: [["value", false]],
    },
    {
      description: "an empty list is false",
      input: { value: [], type: "boolean" },
      output: [["value", false]],
    },
    {
      description: "a JSON list text to list",
      input: { value: ' [1, "a"] ', type: "list" },
      output: [["value", [1, "a"]]],
    },
    {
      description: "other text is a one-item list",
      input: { value: " a, b ", type: "list" },
      output: [["value", ["a, b"]]],
    },
    {
      description: "a dictionary to list of pairs",
      input: { value: { a: 1 }, type: "list" },
      output: [["value", [["a", 1]]]],
    },
    {
      description: "a JSON object text to dictionary",
      input: { value: '{"k": [1]}', type: "dictionary" },
      output: [["value", { k: [1] }]],
    },
    {
      description: "other values are wrapped",
      input: { value: "plain", type: "dictionary" },
      output: [["value", { value: "plain" }]],
    },
    {
      description: "a list to dictionary by index",
      input: { value: ["x", "y"], type: "dictionary" },
      output: [["value", { "0": "x", "1": "y" }]],
    },
  ],
  run: ({ value, type }) => ({ value: convert(value, type) }),
})
