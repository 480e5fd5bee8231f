import { Block } from "@weft/engine"
import { Schema } from "effect"
import { inputName, inputSettings } from "../../internal/io-input.js"

const Row = Schema.Record(Schema.String, Schema.Unknown)

/**
 * Table input: rows of data as an input of the graph, each row a dictionary keyed by column header.
 * Always emits the rows on `result` (an empty list when there are none). AutoGPT: AgentTableInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-table-input",
  title: "Table input",
  description: "A table input of the agent: emits its rows, each a dictionary keyed by column header.",
  categories: ["io"],
  aliases: ["5603b273-f41e-4020-af7d-fbc9c6a8d928"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(Schema.Array(Row))).annotate({
      title: "Default value",
      description: "The rows: the run's value, or these default rows when the run gives none.",
    }),
    ...inputSettings,
    column_headers: Schema.optional(Schema.Array(Schema.String)).annotate({
      title: "Column headers",
      description: "The table's columns (default: Column 1, Column 2, Column 3); each row is keyed by them.",
    }),
  }),
  output: Schema.Struct({
    result: Schema.Array(Row).annotate({
      title: "Result",
      description: "The rows of the table, each a dictionary keyed by column header.",
    }),
  }),
  examples: [
    {
      description: "emits the rows",
      input: {
        name: "people",
        column_headers: ["Name", "City"],
        value: [
          { Name: "Ada", City: "London" },
          { Name: "Lin", City: "Paris" },
        ],
      },
      output: [
        [
          "result",
          [
            { Name: "Ada", City: "London" },
            { Name: "Lin", City: "Paris" },
          ],
        ],
      ],
    },
    { description: "no rows: an empty table", input: { name: "people" }, output: [["result", []]] },
  ],
  run: ({ value }) => ({ result: value ?? [] }),
})
