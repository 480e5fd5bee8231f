import { Block } from "@weft/engine"
import { Schema } from "effect"
import { isDict } from "../../internal/logic-compare.js"

/**
 * Count items: emits the number of items of a list, the number of keys of a dictionary, or the number of
 * characters (code points, as Python counts them) of a text; anything else counts as -1.
 * AutoGPT: CountItemsBlock.
 */
export default Block.make({
  id: "weft/list/count-items",
  title: "Count items",
  description: "Counts the items of a list, the keys of a dictionary or the characters of a text.",
  categories: ["list"],
  aliases: ["3c9c2f42-b0c3-435f-ba35-05f7a25c772a"],
  deterministic: true,
  input: Schema.Struct({
    collection: Schema.Unknown.annotate({
      title: "Collection",
      description: "The list, dictionary or text to count.",
    }),
  }),
  output: Schema.Struct({
    count: Schema.Number.annotate({
      title: "Count",
      description: "The number of items; -1 when the input is not a collection.",
    }),
  }),
  examples: [
    { description: "a list", input: { collection: [1, 2, 3, 4, 5] }, output: [["count", 5]] },
    { description: "a dictionary", input: { collection: { a: 1, b: 2 } }, output: [["count", 2]] },
    { description: "a text", input: { collection: "héllo 👋" }, output: [["count", 7]] },
    { description: "not a collection", input: { collection: 42 }, output: [["count", -1]] },
  ],
  run: ({ collection }) => {
    if (typeof collection === "string") return { count: [...collection].length }
    if (Array.isArray(collection)) return { count: collection.length }
    if (isDict(collection)) return { count: Object.keys(collection).length }
    return { count: -1 }
  },
})
