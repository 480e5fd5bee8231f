import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyTypeName } from "../../internal/logic-compare.js"
import { truthy } from "../../internal/python.js"

/** At most this many items per source, as in AutoGPT: beyond it the execution fails before emitting any. */
const MAX_ITEMS = 10_000
/** The longest `items_str` accepted, in characters. */
const MAX_TEXT = 1024 * 1024

/**
 * Step through items: emits `item` then `key` for each element of `items`, then of `items_object`, then
 * of the JSON text `items_str` (empty sources are skipped). A list gives its items with their indices, a
 * dictionary its values with their keys, and a text parsed to a string its (first 10,000) characters. A
 * list or dictionary of more than 10,000 items, or a text longer than 1 MiB, fails the execution before
 * any of its items is emitted. AutoGPT: StepThroughItemsBlock (Weft also accepts a dictionary on `items`).
 */
export default Block.make({
  id: "weft/iteration/step-through-items",
  title: "Step through items",
  description:
    "Emits each element of a list or dictionary in turn, with its index or key, so that the next block runs once per element.",
  categories: ["iteration"],
  aliases: ["f66a3543-28d3-4ab5-8945-9b336371e2ce"],
  deterministic: true,
  input: Schema.Struct({
    items: Schema.optional(
      Schema.Union([Schema.Array(Schema.Unknown), Schema.Record(Schema.String, Schema.Unknown)]),
    ).annotate({
      title: "Items",
      description: "The list (or dictionary) to step through, e.g. [1, 2, 3].",
    }),
    items_object: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)).annotate({
      title: "Items object",
      description: "A dictionary to step through, value by value, e.g. {'a': 1, 'b': 2}.",
    }),
    items_str: Schema.optional(Schema.String).annotate({
      title: "Items text",
      description: "A list or dictionary written as JSON text, parsed and stepped through.",
    }),
  }),
  output: Schema.Struct({
    item: Schema.Unknown.annotate({ title: "Item", description: "The current element." }),
    key: Schema.Unknown.annotate({
      title: "Key",
      description: "The index (for a list) or key (for a dictionary) of the current element.",
    }),
  }),
  examples: [
    {
      description: "a list",
      input: { items: [1, 2, 3, { key1: "value1", key2: "value2" }] },
      output: [
        ["item", 1],
        ["key", 0],
        ["item", 2],
        ["key", 1],
        ["item", 3],
        ["key", 2],
        ["item", { key1: "value1", key2: "value2" }],
        ["key", 3],
      ],
    },
    {
      description: "a dictionary",
      input: { items_object: { a: "x", b: "y" } },
      output: [
        ["item", "x"],
        ["key", "a"],
        ["item", "y"],
        ["key", "b"],
      ],
    },
    {
      description: "JSON text",
      input: { items_str: '["first", "second"]' },
      output: [
        ["item", "first"],
        ["key", 0],
        ["item", "second"],
        ["key", 1],
      ],
    },
    { description: "nothing to step through", input: { items: [] }, output: [] },
    {
      description: "JSON text that is not a collection fails",
      input: { items_str: "42" },
      output: [["error", "'int' object is not iterable"]],
    },
  ],
  *run({ items, items_object, items_str }) {
    for (const source of [items, items_object, items_str]) {
      if (!truthy(source)) continue
      let data: unknown = source
      if (typeof source === "string") {
        if (source.length > MAX_TEXT) {
          yield ["error", `Input too large: ${source.length} bytes > ${MAX_TEXT} bytes`] as const
          return
        }
        try {
          data = JSON.parse(source)
        } catch (error) {
          yield ["error", `items_str is not valid JSON: ${(error as Error).message}`] as const
          return
        }
      }
      // A text parsed to a string steps through its characters, silently capped like AutoGPT's loop.
      if (typeof data === "string") data = [...data].slice(0, MAX_ITEMS)
      if (typeof data !== "object" || data === null) {
        yield ["error", `'${pyTypeName(data)}' object is not iterable`] as const
        return
      }
      const entries: ReadonlyArray<readonly [string | number, unknown]> = Array.isArray(data)
        ? data.map((item, index) => [index, item] as const)
        : Object.entries(data)
      if (entries.length > MAX_ITEMS) {
        yield ["error", `Too many items: ${entries.length} > ${MAX_ITEMS}`] as const
        return
      }
      for (const [key, item] of entries) {
        yield ["item", item] as const
        yield ["key", key] as const
      }
    }
  },
})
