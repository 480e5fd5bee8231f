import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyIndex } from "../../internal/logic-compare.js"
import { NumberLike, toInt } from "../../internal/logic-convert.js"

/** Get list item: emits the item at `index`; a negative index counts from the end. AutoGPT: GetListItemBlock. */
export default Block.make({
  id: "weft/list/get-list-item",
  title: "Get list item",
  description: "Emits the item at a position of a list; negative positions count from the end.",
  categories: ["list"],
  aliases: ["262ca24c-1025-43cf-a578-534e23234e97"],
  deterministic: true,
  input: Schema.Struct({
    list: Schema.Array(Schema.Unknown).annotate({ title: "List", description: "The list to read." }),
    index: NumberLike.annotate({
      title: "Index",
      description: "The position of the item, from 0; -1 is the last item.",
    }),
  }),
  output: Schema.Struct({
    item: Schema.Unknown.annotate({ title: "Item", description: "The item at that position." }),
  }),
  examples: [
    { description: "an index", input: { list: [1, 2, 3], index: 1 }, output: [["item", 2]] },
    { description: "a negative index", input: { list: [1, 2, 3], index: -1 }, output: [["item", 3]] },
    {
      description: "an index out of range fails",
      input: { list: [1, 2, 3], index: 3 },
      output: [["error", "Index out of range"]],
    },
  ],
  run: ({ list, index }) => {
    const i = pyIndex(list.length, toInt("index", index))
    if (i === undefined) throw new Error("Index out of range")
    return { item: list[i] }
  },
})
