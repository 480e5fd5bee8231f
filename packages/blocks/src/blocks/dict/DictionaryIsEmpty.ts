import { Block } from "@weft/engine"
import { Schema } from "effect"

/** Dictionary is empty: emits whether the dictionary has no entries. AutoGPT: DictionaryIsEmptyBlock. */
export default Block.make({
  id: "weft/dict/dictionary-is-empty",
  title: "Dictionary is empty",
  description: "Tells whether a dictionary has no entries at all.",
  categories: ["dict"],
  aliases: ["a3cf3f64-6bb9-4cc6-9900-608a0b3359b0"],
  deterministic: true,
  input: Schema.Struct({
    dictionary: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Dictionary",
      description: "The dictionary to check.",
    }),
  }),
  output: Schema.Struct({
    is_empty: Schema.Boolean.annotate({ title: "Is empty", description: "True when it has no entries." }),
  }),
  examples: [
    { description: "an empty dictionary", input: { dictionary: {} }, output: [["is_empty", true]] },
    {
      description: "a dictionary with an entry",
      input: { dictionary: { a: 1 } },
      output: [["is_empty", false]],
    },
  ],
  run: ({ dictionary }) => ({ is_empty: Object.keys(dictionary).length === 0 }),
})
