import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Replace dictionary value: emits a copy of `dictionary` with `key` set to `value`, then the value it
 * replaced; fails when the key is absent. A numeric key finds the entry whose key is that number written
 * out. AutoGPT: ReplaceDictionaryValueBlock.
 */
export default Block.make({
  id: "weft/dict/replace-dictionary-value",
  title: "Replace dictionary value",
  description: "Replaces the value of an existing key in a copy of a dictionary and emits the old value.",
  categories: ["dict"],
  aliases: ["27e31876-18b6-44f3-ab97-f6226d8b3889"],
  deterministic: true,
  input: Schema.Struct({
    dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Dictionary",
      description: "The dictionary holding the key.",
    }),
    key: Schema.Union([Schema.String, Schema.Number]).annotate({
      title: "Key",
      description: "The key whose value is replaced; it must exist.",
    }),
    value: Schema.Unknown.annotate({ title: "Value", description: "The new value for the key." }),
  }),
  output: Schema.Struct({
    updated_dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Updated dictionary",
      description: "A copy of the dictionary with the new value.",
    }),
    old_value: Schema.Unknown.annotate({ title: "Old value", description: "The value that was replaced." }),
  }),
  examples: [
    {
      description: "replaces a number",
      input: { dictionary: { a: 1, b: 2, c: 3 }, key: "b", value: 99 },
      output: [
        ["updated_dictionary", { a: 1, b: 99, c: 3 }],
        ["old_value", 2],
      ],
    },
    {
      description: "replaces a string",
      input: { dictionary: { x: "hello", y: "world" }, key: "y", value: "universe" },
      output: [
        ["updated_dictionary", { x: "hello", y: "universe" }],
        ["old_value", "world"],
      ],
    },
    {
      description: "fails for a missing key",
      input: { dictionary: { x: 1 }, key: "z", value: 2 },
      output: [["error", "Key 'z' not found in dictionary"]],
    },
  ],
  *run({ dictionary, key, value }) {
    const name = String(key)
    if (!Object.hasOwn(dictionary, name)) {
      yield ["error", `Key '${name}' not found in dictionary`] as const
      return
    }
    yield ["updated_dictionary", { ...dictionary, [name]: value }] as const
    yield ["old_value", dictionary[name]] as const
  },
})
