import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyEquals } from "../../internal/logic-compare.js"

/**
 * Find in list: emits the index of the first item equal to `value` (Python equality: `1 == 1.0 == true`)
 * and `found: true`, or `found: false` and the value. AutoGPT: FindInListBlock.
 */
export default Block.make({
  id: "weft/list/find-in-list",
  title: "Find in list",
  description: "Finds the position of a value in a list, or reports that it is not there.",
  categories: ["list"],
  aliases: ["5e2c6d0a-1e37-489f-b1d0-8e1812b23333"],
  deterministic: true,
  input: Schema.Struct({
    list: Schema.Array(Schema.Unknown).annotate({ title: "List", description: "The list to search." }),
    value: Schema.Unknown.annotate({ title: "Value", description: "The value to look for." }),
  }),
  output: Schema.Struct({
    index: Schema.Number.annotate({ title: "Index", description: "The index of the first equal item." }),
    found: Schema.Boolean.annotate({ title: "Found", description: "Whether the value is in the list." }),
    not_found_value: Schema.Unknown.annotate({
      title: "Not found value",
      description: "The value, when it is not in the list.",
    }),
  }),
  examples: [
    {
      description: "a value in the list",
      input: { list: [1, 2, 3, 4, 5], value: 3 },
      output: [
        ["index", 2],
        ["found", true],
      ],
    },
    {
      description: "a value not in the list",
      input: { list: [1, 2, 3, 4, 5], value: 6 },
      output: [
        ["found", false],
        ["not_found_value", 6],
      ],
    },
    {
      description: "dictionaries compare by content",
      input: { list: [{ a: 1 }, { b: 2 }], value: { b: 2 } },
      output: [
        ["index", 1],
        ["found", true],
      ],
    },
  ],
  *run({ list, value }) {
    const index = list.findIndex((item) => pyEquals(item, value))
    if (index >= 0) {
      yield ["index", index] as const
      yield ["found", true] as const
    } else {
      yield ["found", false] as const
      yield ["not_found_value", value] as const
    }
  },
})
