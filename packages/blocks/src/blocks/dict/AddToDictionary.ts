import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Add to dictionary: copies `dictionary` (or starts an empty one), sets `key` to `value` when the key is
 * not empty and the value is not null, then sets every pair of `entries`. AutoGPT: AddToDictionaryBlock.
 */
export default Block.make({
  id: "weft/dict/add-to-dictionary",
  title: "Add to dictionary",
  description:
    "Adds a key-value pair, or several, to a copy of a dictionary. Starts a new dictionary when none is given.",
  categories: ["dict"],
  aliases: ["31d1064e-7446-4693-a7d4-65e5ca1180d1"],
  deterministic: true,
  input: Schema.Struct({
    dictionary: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Dictionary",
      description: "The dictionary to extend; an empty one when left out.",
    }),
    key: Schema.optional(Schema.String).annotate({
      title: "Key",
      description: "The key of the entry to add. Nothing is added for an empty key.",
    }),
    value: Schema.optional(Schema.Unknown).annotate({
      title: "Value",
      description: "The value of the entry to add. Nothing is added for a null value.",
    }),
    entries: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Entries",
      description: "Several entries to add at once, after `key` and `value`.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    updated_dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Updated dictionary",
      description: "A copy of the dictionary with the new entries.",
    }),
  }),
  examples: [
    {
      description: "adds one entry",
      input: { dictionary: { existing_key: "existing_value" }, key: "new_key", value: "new_value" },
      output: [["updated_dictionary", { existing_key: "existing_value", new_key: "new_value" }]],
    },
    {
      description: "starts a new dictionary",
      input: { key: "first_key", value: "first_value" },
      output: [["updated_dictionary", { first_key: "first_value" }]],
    },
    {
      description: "adds a batch of entries",
      input: {
        dictionary: { existing_key: "existing_value" },
        entries: { new_key: "new_value", first_key: "first_value" },
      },
      output: [
        [
          "updated_dictionary",
          { existing_key: "existing_value", new_key: "new_value", first_key: "first_value" },
        ],
      ],
    },
    {
      description: "a null value or an empty key adds nothing",
      input: { dictionary: { a: 1 }, key: "b", value: null },
      output: [["updated_dictionary", { a: 1 }]],
    },
  ],
  run: ({ dictionary, key, value, entries }) => {
    const updated: Record<string, unknown> = { ...dictionary }
    if (value !== undefined && value !== null && key !== undefined && key !== "") updated[key] = value
    for (const [k, v] of Object.entries(entries ?? {})) updated[k] = v
    return { updated_dictionary: updated }
  },
})
