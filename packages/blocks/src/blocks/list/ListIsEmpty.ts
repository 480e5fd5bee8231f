import { Block } from "@weft/engine"
import { Schema } from "effect"

/** List is empty: emits whether the list has no items. AutoGPT: ListIsEmptyBlock. */
export default Block.make({
  id: "weft/list/list-is-empty",
  title: "List is empty",
  description: "Tells whether a list has no items at all.",
  categories: ["list"],
  aliases: ["896ed73b-27d0-41be-813c-c1c1dc856c03"],
  deterministic: true,
  input: Schema.Struct({
    list: Schema.Array(Schema.Unknown).annotate({ title: "List", description: "The list to check." }),
  }),
  output: Schema.Struct({
    is_empty: Schema.Boolean.annotate({ title: "Is empty", description: "True when it has no items." }),
  }),
  examples: [
    { description: "an empty list", input: { list: [] }, output: [["is_empty", true]] },
    { description: "a list with an item", input: { list: [1] }, output: [["is_empty", false]] },
  ],
  run: ({ list }) => ({ is_empty: list.length === 0 }),
})
