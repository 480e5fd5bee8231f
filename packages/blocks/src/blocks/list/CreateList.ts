import { Block } from "@weft/engine"
import { Schema } from "effect"
import { estimateTokens } from "../../internal/data-tokens.js"
import { NumberLike, toInt } from "../../internal/logic-convert.js"

/**
 * Create list: emits `values` as one list, or, with `max_size` and/or `max_tokens`, as consecutive chunks
 * that respect those limits (a value bigger than `max_tokens` on its own still gets a chunk, after an
 * empty one, as in AutoGPT). AutoGPT: CreateListBlock.
 *
 * Weft estimates tokens as about four characters each (of the JSON text for non-strings) instead of
 * AutoGPT's GPT-4o tokenizer, so token-bounded chunks may split slightly differently.
 */
export default Block.make({
  id: "weft/list/create-list",
  title: "Create list",
  description:
    "Builds a list from the values given, optionally emitted in chunks bounded by a size or a token count.",
  categories: ["list"],
  aliases: ["a912d5c7-6e00-4542-b2a9-8034136930e4"],
  deterministic: true,
  input: Schema.Struct({
    values: Schema.Array(Schema.Unknown).annotate({
      title: "Values",
      description: "The items of the list; link single items to `values_$_<index>`.",
    }),
    max_size: Schema.optional(Schema.NullOr(NumberLike)).annotate({
      title: "Max size",
      description: "When set, the list is emitted in chunks of at most this many items.",
      advanced: true,
    }),
    max_tokens: Schema.optional(Schema.NullOr(NumberLike)).annotate({
      title: "Max tokens",
      description: "When set, the list is emitted in chunks of at most about this many tokens.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    list: Schema.Array(Schema.Unknown).annotate({
      title: "List",
      description: "The list, or one chunk of it.",
    }),
  }),
  examples: [
    {
      description: "creates a list",
      input: { values: ["Alice", 25, true] },
      output: [["list", ["Alice", 25, true]]],
    },
    {
      description: "values may be of any type",
      input: { values: [1, 2, 3, "four", { key: "value" }] },
      output: [["list", [1, 2, 3, "four", { key: "value" }]]],
    },
    {
      description: "chunks by size",
      input: { values: [1, 2, 3, 4, 5], max_size: 2 },
      output: [
        ["list", [1, 2]],
        ["list", [3, 4]],
        ["list", [5]],
      ],
    },
    {
      description: "chunks by tokens",
      input: { values: ["aaaa", "bbbb", "cccccccc"], max_tokens: 2 },
      output: [
        ["list", ["aaaa", "bbbb"]],
        ["list", ["cccccccc"]],
      ],
    },
    { description: "an empty list", input: { values: [] }, output: [["list", []]] },
  ],
  *run({ values, max_size, max_tokens }) {
    const maxSize = max_size === undefined || max_size === null ? 0 : toInt("max_size", max_size)
    const maxTokens = max_tokens === undefined || max_tokens === null ? 0 : toInt("max_tokens", max_tokens)
    let chunk: Array<unknown> = []
    let size = 0
    let tokens = 0
    for (const value of values) {
      const cost = maxTokens !== 0 ? estimateTokens(value) : 0
      if ((maxTokens !== 0 && tokens + cost > maxTokens) || (maxSize !== 0 && size + 1 > maxSize)) {
        yield ["list", chunk] as const
        chunk = [value]
        size = 1
        tokens = cost
      } else {
        chunk.push(value)
        size += 1
        tokens += cost
      }
    }
    if (chunk.length > 0 || values.length === 0) yield ["list", chunk] as const
  },
})
