import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyStr } from "../../internal/python.js"

/**
 * Print to console: a debugging aid. Writes the value to the run's log (an info `NodeLog` event, as
 * Python's `str()` would print it), then emits it on `output` and `"printed"` on `status`.
 * AutoGPT: PrintToConsoleBlock (which prints to the server's console).
 */
export default Block.make({
  id: "weft/basic/print-to-console",
  title: "Print to console",
  description: "Writes a value to the run's log for debugging, and passes it on.",
  categories: ["basic"],
  aliases: ["f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c"],
  input: Schema.Struct({
    text: Schema.Unknown.annotate({ title: "Text", description: "The value to write to the log." }),
  }),
  output: Schema.Struct({
    output: Schema.Unknown.annotate({ title: "Output", description: "The value that was written." }),
    status: Schema.String.annotate({ title: "Status", description: 'Always "printed".' }),
  }),
  examples: [
    {
      description: "passes the value on",
      input: { text: "Hello, World!" },
      output: [
        ["output", "Hello, World!"],
        ["status", "printed"],
      ],
    },
    {
      description: "any value can be printed",
      input: { text: { n: [1, 2] } },
      output: [
        ["output", { n: [1, 2] }],
        ["status", "printed"],
      ],
    },
  ],
  run: ({ text }, ctx) => {
    ctx.log.info(`Print: ${pyStr(text ?? null)}`, text ?? null)
    return { output: text ?? null, status: "printed" }
  },
})
