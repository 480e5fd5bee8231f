import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pySliceBound } from "../../internal/logic-compare.js"
import { NumberLike, toInt } from "../../internal/logic-convert.js"

/**
 * Add to list: copies `list` (or starts an empty one) and inserts `entries` followed by `entry` (unless it
 * is null) at `position`, or at the end when no position is given. A negative position counts from the
 * end, as a Python slice does. AutoGPT: AddToListBlock.
 */
export default Block.make({
  id: "weft/list/add-to-list",
  title: "Add to list",
  description:
    "Adds one entry, or several, to a copy of a list, at the end or at a position. Starts a new list when none is given.",
  categories: ["list"],
  aliases: ["aeb08fc1-2fc1-4141-bc8e-f758f183a822"],
  deterministic: true,
  input: Schema.Struct({
    list: Schema.optional(Schema.Array(Schema.Unknown)).annotate({
      title: "List",
      description: "The list to extend; an empty one when left out.",
    }),
    entry: Schema.optional(Schema.Unknown).annotate({
      title: "Entry",
      description: "The entry to add, of any type. Nothing is added for a null entry.",
    }),
    entries: Schema.optional(Schema.Array(Schema.Unknown)).annotate({
      title: "Entries",
      description: "Several entries to add at once; they go before `entry`.",
      advanced: true,
    }),
    position: Schema.optional(Schema.NullOr(NumberLike)).annotate({
      title: "Position",
      description: "Where to insert the new entries; at the end when left out.",
    }),
  }),
  output: Schema.Struct({
    updated_list: Schema.Array(Schema.Unknown).annotate({
      title: "Updated list",
      description: "A copy of the list with the new entries.",
    }),
  }),
  examples: [
    {
      description: "inserts at a position",
      input: {
        list: [1, "string", { existing_key: "existing_value" }],
        entry: { new_key: "new_value" },
        position: 1,
      },
      output: [["updated_list", [1, { new_key: "new_value" }, "string", { existing_key: "existing_value" }]]],
    },
    {
      description: "starts a new list",
      input: { entry: "first_entry" },
      output: [["updated_list", ["first_entry"]]],
    },
    {
      description: "appends",
      input: { list: ["a", "b", "c"], entry: "d" },
      output: [["updated_list", ["a", "b", "c", "d"]]],
    },
    {
      description: "entries go before the entry",
      input: { entry: "e", entries: ["f", "g"], list: ["a", "b"], position: 1 },
      output: [["updated_list", ["a", "f", "g", "e", "b"]]],
    },
    {
      description: "a negative position counts from the end",
      input: { list: [1, 2, 3], entry: 9, position: -1 },
      output: [["updated_list", [1, 2, 9, 3]]],
    },
  ],
  run: ({ list, entry, entries, position }) => {
    const added = [...(entries ?? [])]
    if (entry !== undefined && entry !== null) added.push(entry)
    const base = list ?? []
    if (position === undefined || position === null) return { updated_list: [...base, ...added] }
    const at = pySliceBound(base.length, toInt("position", position))
    return { updated_list: [...base.slice(0, at), ...added, ...base.slice(at)] }
  },
})
