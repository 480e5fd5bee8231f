import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyIndex } from "../../internal/logic-compare.js"
import { NumberLike, toInt } from "../../internal/logic-convert.js"

/**
 * Replace list item: emits a copy of the list with the item at `index` replaced, then the old item; a
 * negative index counts from the end. AutoGPT: ReplaceListItemBlock.
 */
export default Block.make({
  id: "weft/list/replace-list-item",
  title: "Replace list item",
  description: "Replaces the item at a position in a copy of a list and emits the item it replaced.",
  categories: ["list"],
  aliases: ["fbf62922-bea1-4a3d-8bac-23587f810b38"],
  deterministic: true,
  input: Schema.Struct({
    list: Schema.Array(Schema.Unknown).annotate({ title: "List", description: "The list to change." }),
    index: NumberLike.annotate({
      title: "Index",
      description: "The position of the item to replace; -1 is the last item.",
    }),
    value: Schema.Unknown.annotate({ title: "Value", description: "The new item." }),
  }),
  output: Schema.Struct({
    updated_list: Schema.Array(Schema.Unknown).annotate({
      title: "Updated list",
      description: "A copy of the list with the new item.",
    }),
    old_item: Schema.Unknown.annotate({ title: "Old item", description: "The item that was replaced." }),
  }),
  examples: [
    {
      description: "replaces by index",
      input: { list: [1, 2, 3], index: 1, value: 99 },
      output: [
        ["updated_list", [1, 99, 3]],
        ["old_item", 2],
      ],
    },
    {
      description: "a negative index",
      input: { list: ["a", "b"], index: -1, value: "c" },
      output: [
        ["updated_list", ["a", "c"]],
        ["old_item", "b"],
      ],
    },
    {
      description: "an index out of range fails",
      input: { list: ["a"], index: 5, value: "c" },
      output: [["error", "Index out of range"]],
    },
  ],
  *run({ list, index, value }) {
    const at = pyIndex(list.length, toInt("index", index))
    if (at === undefined) {
      yield ["error", "Index out of range"] as const
      return
    }
    const updated = [...list]
    updated[at] = value
    yield ["updated_list", updated] as const
    yield ["old_item", list[at]] as const
  },
})
