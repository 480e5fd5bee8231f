import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Create dictionary: emits the key-value pairs it is given as one dictionary. Its `values` are usually
 * assembled from dynamic pins (`values_#_name`). AutoGPT: CreateDictionaryBlock.
 */
export default Block.make({
  id: "weft/dict/create-dictionary",
  title: "Create dictionary",
  description: "Builds a dictionary from the key-value pairs given, for when every entry is known up front.",
  categories: ["dict"],
  aliases: ["b924ddf4-de4f-4b56-9a85-358930dcbc91"],
  deterministic: true,
  input: Schema.Struct({
    values: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Values",
      description: "The entries of the new dictionary; link single entries to `values_#_<key>`.",
    }),
  }),
  output: Schema.Struct({
    dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Dictionary",
      description: "The dictionary holding the given entries.",
    }),
  }),
  examples: [
    {
      description: "creates a dictionary",
      input: { values: { name: "Alice", age: 25, city: "New York" } },
      output: [["dictionary", { name: "Alice", age: 25, city: "New York" }]],
    },
    {
      description: "values may be of any type",
      input: { values: { numbers: [1, 2, 3], active: true, score: 95.5 } },
      output: [["dictionary", { numbers: [1, 2, 3], active: true, score: 95.5 }]],
    },
  ],
  run: ({ values }) => ({ dictionary: { ...values } }),
})
