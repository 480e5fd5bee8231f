import { Block } from "@weft/engine"
import { Schema } from "effect"

/** Reverse list order: emits the items of the list last to first. AutoGPT: ReverseListOrderBlock. */
export default Block.make({
  id: "weft/list/reverse-list-order",
  title: "Reverse list order",
  description: "Emits a copy of a list with its items in the opposite order.",
  categories: ["list"],
  aliases: ["422cb708-3109-4277-bfe3-bc2ae5812777"],
  deterministic: true,
  input: Schema.Struct({
    input_list: Schema.Array(Schema.Unknown).annotate({
      title: "Input list",
      description: "The list to reverse.",
    }),
  }),
  output: Schema.Struct({
    reversed_list: Schema.Array(Schema.Unknown).annotate({
      title: "Reversed list",
      description: "The items, last to first.",
    }),
  }),
  examples: [
    {
      description: "reverses a list",
      input: { input_list: [1, 2, 3, 4, 5] },
      output: [["reversed_list", [5, 4, 3, 2, 1]]],
    },
    { description: "an empty list", input: { input_list: [] }, output: [["reversed_list", []]] },
  ],
  run: ({ input_list }) => ({ reversed_list: [...input_list].reverse() }),
})
