import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Combine texts: joins a list of texts with a delimiter (none by default). AutoGPT: CombineTextsBlock.
 */
export default Block.make({
  id: "weft/text/combine-texts",
  title: "Combine texts",
  description: "Joins several texts into one, with an optional delimiter between them.",
  categories: ["text"],
  aliases: ["e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"],
  deterministic: true,
  input: Schema.Struct({
    input: Schema.Array(Schema.String).annotate({
      title: "Input",
      description: "The texts to join, in order.",
    }),
    delimiter: Schema.optional(Schema.String).annotate({
      title: "Delimiter",
      description: "Text put between each pair of texts (default: nothing).",
    }),
  }),
  output: Schema.Struct({
    output: Schema.String.annotate({ title: "Output", description: "The joined text." }),
  }),
  examples: [
    {
      description: "joins with no delimiter",
      input: { input: ["Hello world I like ", "cake and to go for walks"] },
      output: [["output", "Hello world I like cake and to go for walks"]],
    },
    {
      description: "joins with a delimiter",
      input: { input: ["This is a test", "Hi!"], delimiter: "! " },
      output: [["output", "This is a test! Hi!"]],
    },
    {
      description: "an empty list gives empty text",
      input: { input: [], delimiter: "," },
      output: [["output", ""]],
    },
  ],
  run: ({ input, delimiter }) => ({ output: input.join(delimiter ?? "") }),
})
