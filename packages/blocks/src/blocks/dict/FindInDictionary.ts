import { Block } from "@weft/engine"
import { Schema } from "effect"
import { isDict } from "../../internal/logic-compare.js"

const NUMERIC_INDEX = /^(0|[1-9]\d*)$/

type Lookup = { readonly found: true; readonly value: unknown } | { readonly found: false }

/** Looks `key` up in an already parsed value, following AutoGPT's rules (see the block's JSDoc). */
const lookup = (obj: unknown, key: string | number): Lookup => {
  if (isDict(obj)) {
    const name = String(key)
    return Object.hasOwn(obj, name) ? { found: true, value: obj[name] } : { found: false }
  }
  if (!Array.isArray(obj)) return { found: false }
  if (typeof key === "number") {
    return Number.isInteger(key) && key >= 0 && key < obj.length
      ? { found: true, value: obj[key] }
      : { found: false }
  }
  if (obj.length === 0) return { found: true, value: [] }
  const first: unknown = obj[0]
  if (isDict(first) && Object.hasOwn(first, key)) {
    return {
      found: true,
      value: obj.filter((item) => isDict(item) && Object.hasOwn(item, key)).map((item) => item[key]),
    }
  }
  if (NUMERIC_INDEX.test(key) && Number(key) < obj.length) return { found: true, value: obj[Number(key)] }
  return { found: true, value: [] }
}

/**
 * Find in dictionary: looks a key up in a dictionary, list or JSON text and emits the value on `output`, or
 * the untouched input on `missing`. AutoGPT: FindInDictionaryBlock. The rules, in order:
 *
 * 1. A string input is parsed as JSON first (invalid JSON fails the execution).
 * 2. A dictionary (or any object: JSON has no other kind, so AutoGPT's object attributes are its keys)
 *    containing the key emits its value. A numeric key finds the entry whose key is that number written
 *    out (Weft; JSON keys are always strings).
 * 3. A list with an integer key `0 ≤ key < length` emits that item.
 * 4. A list with a string key: an empty list emits `[]`; when the first item is a dictionary holding the key,
 *    the key's value in every dictionary item that holds it is emitted as a list; otherwise, a numeric string
 *    within range indexes the list (Weft only: AutoGPT emits `[]` here); otherwise `[]` is emitted, as
 *    AutoGPT's attribute lookup finds nothing on JSON values.
 * 5. Anything else emits the input on `missing`.
 */
export default Block.make({
  id: "weft/dict/find-in-dictionary",
  title: "Find in dictionary",
  description:
    "Looks up a key in a dictionary, an index in a list, or a key across a list of dictionaries; JSON text is parsed first.",
  categories: ["dict"],
  aliases: ["0e50422c-6dee-4145-83d6-3a5a392f65de"],
  deterministic: true,
  input: Schema.Struct({
    input: Schema.Unknown.annotate({
      title: "Input",
      description: "The dictionary, list or JSON text to look in.",
    }),
    key: Schema.Union([Schema.String, Schema.Number]).annotate({
      title: "Key",
      description: "The key (or list index) to look up.",
    }),
  }),
  output: Schema.Struct({
    output: Schema.Unknown.annotate({ title: "Output", description: "The value found for the key." }),
    missing: Schema.Unknown.annotate({
      title: "Missing",
      description: "The input, unchanged, when the key was not found.",
    }),
  }),
  examples: [
    {
      description: "a dictionary key",
      input: { input: { apple: 1, banana: 2, cherry: 3 }, key: "banana" },
      output: [["output", 2]],
    },
    {
      description: "a missing key routes the input to `missing`",
      input: { input: { x: 10, y: 20, z: 30 }, key: "w" },
      output: [["missing", { x: 10, y: 20, z: 30 }]],
    },
    { description: "a list index", input: { input: [1, 2, 3], key: 1 }, output: [["output", 2]] },
    {
      description: "an index out of range is missing",
      input: { input: [1, 2, 3], key: 3 },
      output: [["missing", [1, 2, 3]]],
    },
    {
      description: "a numeric string indexes a list",
      input: { input: ["a", "b"], key: "1" },
      output: [["output", "b"]],
    },
    {
      description: "a key across a list of dictionaries",
      input: { input: [{ k1: "v1" }, { k2: "v2" }, { k1: "v3" }], key: "k1" },
      output: [["output", ["v1", "v3"]]],
    },
    {
      description: "JSON text is parsed first",
      input: { input: '{"title": "Weft", "tags": ["a"]}', key: "title" },
      output: [["output", "Weft"]],
    },
    {
      description: "the input routed to `missing` is the original text",
      input: { input: '{"a": 1}', key: "b" },
      output: [["missing", '{"a": 1}']],
    },
    {
      description: "text that is not JSON fails",
      input: { input: "not json", key: "a" },
      output: [["error", "input is not valid JSON: not json"]],
    },
  ],
  run: ({ input, key }) => {
    let obj: unknown = input
    if (typeof input === "string") {
      try {
        obj = JSON.parse(input)
      } catch {
        const shown = input.length > 100 ? `${input.slice(0, 100)}…` : input
        throw new Error(`input is not valid JSON: ${shown}`)
      }
    }
    const result = lookup(obj, key)
    return result.found ? { output: result.value } : { missing: input }
  },
})
