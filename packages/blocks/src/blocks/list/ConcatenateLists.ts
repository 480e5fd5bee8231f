import { Block } from "@weft/engine"
import { Schema } from "effect"
import { hashKey, pyTypeName } from "../../internal/logic-compare.js"

/**
 * Concatenate lists: joins the lists of `lists` in order (null entries are skipped), then optionally drops
 * nulls and duplicates (keeping first occurrences; `1` and `1.0` are duplicates, `true` and `1` are not),
 * and emits the result and its length. AutoGPT: ConcatenateListsBlock.
 */
export default Block.make({
  id: "weft/list/concatenate-lists",
  title: "Concatenate lists",
  description: "Joins several lists into one, in order, optionally without duplicates or nulls.",
  categories: ["list"],
  aliases: ["3cf9298b-5817-4141-9d80-7c2cc5199c8e"],
  deterministic: true,
  input: Schema.Struct({
    lists: Schema.Array(Schema.Unknown).annotate({
      title: "Lists",
      description: "The lists to join, e.g. [[1, 2], [3, 4]].",
    }),
    deduplicate: Schema.optional(Schema.Boolean).annotate({
      title: "Deduplicate",
      description: "Keep only the first occurrence of each value.",
      advanced: true,
    }),
    remove_none: Schema.optional(Schema.Boolean).annotate({
      title: "Remove none",
      description: "Drop null values from the result.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    concatenated_list: Schema.Array(Schema.Unknown).annotate({
      title: "Concatenated list",
      description: "Every item of every list, in order.",
    }),
    length: Schema.Number.annotate({ title: "Length", description: "The number of items in the result." }),
  }),
  examples: [
    {
      description: "joins two lists",
      input: {
        lists: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      output: [
        ["concatenated_list", [1, 2, 3, 4, 5, 6]],
        ["length", 6],
      ],
    },
    {
      description: "no lists",
      input: { lists: [] },
      output: [
        ["concatenated_list", []],
        ["length", 0],
      ],
    },
    {
      description: "drops duplicates",
      input: {
        lists: [
          [1, 2, 2, 3],
          [3, 4],
        ],
        deduplicate: true,
      },
      output: [
        ["concatenated_list", [1, 2, 3, 4]],
        ["length", 4],
      ],
    },
    {
      description: "drops nulls",
      input: {
        lists: [
          [1, null, 2],
          [null, 3],
        ],
        remove_none: true,
      },
      output: [
        ["concatenated_list", [1, 2, 3]],
        ["length", 3],
      ],
    },
    {
      description: "fails for an item that is not a list",
      input: { lists: [[1], "x"] },
      output: [
        [
          "error",
          "Invalid input at index 1: expected a list, got str. All items in 'lists' must be lists (e.g., [[1, 2], [3, 4]]).",
        ],
      ],
    },
  ],
  *run({ lists, deduplicate, remove_none }) {
    let result: Array<unknown> = []
    for (const [i, list] of lists.entries()) {
      if (list === null || list === undefined) continue
      if (!Array.isArray(list)) {
        yield [
          "error",
          `Invalid input at index ${i}: expected a list, got ${pyTypeName(list)}. All items in 'lists' must be lists (e.g., [[1, 2], [3, 4]]).`,
        ] as const
        return
      }
      result.push(...(list as ReadonlyArray<unknown>))
    }
    if (remove_none === true) result = result.filter((item) => item !== null && item !== undefined)
    if (deduplicate === true) {
      const seen = new Set<string>()
      result = result.filter((item) => {
        const key = hashKey(item)
        if (seen.has(key)) return false
        seen.add(key)
        return true
      })
    }
    yield ["concatenated_list", result] as const
    yield ["length", result.length] as const
  },
})
