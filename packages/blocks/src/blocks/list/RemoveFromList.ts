import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyEquals, pyIndex } from "../../internal/logic-compare.js"
import { NumberLike, toInt } from "../../internal/logic-convert.js"

/**
 * Remove from list: removes the item at `index` (negative counts from the end) or, when no index is given,
 * the first item equal to `value`; emits the new list, then the removed item when `return_item` is set.
 * Fails when nothing matches. AutoGPT: RemoveFromListBlock.
 */
export default Block.make({
  id: "weft/list/remove-from-list",
  title: "Remove from list",
  description:
    "Removes an item from a copy of a list, by position or by value, and can emit the removed item.",
  categories: ["list"],
  aliases: ["d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826"],
  deterministic: true,
  input: Schema.Struct({
    list: Schema.Array(Schema.Unknown).annotate({ title: "List", description: "The list to remove from." }),
    value: Schema.optional(Schema.Unknown).annotate({
      title: "Value",
      description: "Removes the first item equal to this, when no index is given.",
    }),
    index: Schema.optional(Schema.NullOr(NumberLike)).annotate({
      title: "Index",
      description: "The position of the item to remove; -1 is the last item.",
    }),
    return_item: Schema.optional(Schema.Boolean).annotate({
      title: "Return item",
      description: "Also emit the removed item.",
    }),
  }),
  output: Schema.Struct({
    updated_list: Schema.Array(Schema.Unknown).annotate({
      title: "Updated list",
      description: "A copy of the list without the item.",
    }),
    removed_item: Schema.Unknown.annotate({
      title: "Removed item",
      description: "The item removed, when `return_item` is set.",
    }),
  }),
  examples: [
    {
      description: "removes by index",
      input: { list: [1, 2, 3], index: 1, return_item: true },
      output: [
        ["updated_list", [1, 3]],
        ["removed_item", 2],
      ],
    },
    {
      description: "removes by value",
      input: { list: ["a", "b", "c"], value: "b" },
      output: [["updated_list", ["a", "c"]]],
    },
    {
      description: "fails when the value is absent",
      input: { list: ["a"], value: "z" },
      output: [["error", "Index or value not found"]],
    },
  ],
  *run({ list, value, index, return_item }) {
    let at: number | undefined
    if (index !== undefined && index !== null) at = pyIndex(list.length, toInt("index", index))
    else if (value !== undefined && value !== null) {
      const found = list.findIndex((item) => pyEquals(item, value))
      at = found < 0 ? undefined : found
    }
    if (at === undefined) {
      yield ["error", "Index or value not found"] as const
      return
    }
    yield ["updated_list", [...list.slice(0, at), ...list.slice(at + 1)]] as const
    if (return_item === true) yield ["removed_item", list[at]] as const
  },
})
