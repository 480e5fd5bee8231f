import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Remove from dictionary: emits a copy of `dictionary` without `key`, then the removed value when
 * `return_value` is set; fails when the key is absent. A numeric key finds the entry whose key is that
 * number written out. AutoGPT: RemoveFromDictionaryBlock.
 */
export default Block.make({
  id: "weft/dict/remove-from-dictionary",
  title: "Remove from dictionary",
  description: "Removes one key from a copy of a dictionary and can emit the value it held.",
  categories: ["dict"],
  aliases: ["46afe2ea-c613-43f8-95ff-6692c3ef6876"],
  deterministic: true,
  input: Schema.Struct({
    dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Dictionary",
      description: "The dictionary to remove the key from.",
    }),
    key: Schema.Union([Schema.String, Schema.Number]).annotate({
      title: "Key",
      description: "The key to remove.",
    }),
    return_value: Schema.optional(Schema.Boolean).annotate({
      title: "Return value",
      description: "Also emit the value that was removed.",
    }),
  }),
  output: Schema.Struct({
    updated_dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Updated dictionary",
      description: "A copy of the dictionary without the key.",
    }),
    removed_value: Schema.Unknown.annotate({
      title: "Removed value",
      description: "The value the key held, when `return_value` is set.",
    }),
  }),
  examples: [
    {
      description: "removes a key and returns its value",
      input: { dictionary: { a: 1, b: 2, c: 3 }, key: "b", return_value: true },
      output: [
        ["updated_dictionary", { a: 1, c: 3 }],
        ["removed_value", 2],
      ],
    },
    {
      description: "removes a key",
      input: { dictionary: { x: "hello", y: "world" }, key: "x" },
      output: [["updated_dictionary", { y: "world" }]],
    },
    {
      description: "fails for a missing key",
      input: { dictionary: { x: 1 }, key: "z" },
      output: [["error", "Key 'z' not found in dictionary"]],
    },
  ],
  *run({ dictionary, key, return_value }) {
    const name = String(key)
    if (!Object.hasOwn(dictionary, name)) {
      yield ["error", `Key '${name}' not found in dictionary`] as const
      return
    }
    const { [name]: removed, ...rest } = dictionary
    yield ["updated_dictionary", rest] as const
    if (return_value === true) yield ["removed_value", removed] as const
  },
})
