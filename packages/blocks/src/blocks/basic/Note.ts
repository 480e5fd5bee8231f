import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Note: a sticky note on the canvas. Notes never run in a graph (R6); run on its own, the block emits its
 * text. AutoGPT: NoteBlock.
 */
export default Block.make({
  id: "weft/basic/note",
  title: "Note",
  description: "A sticky note with text for people reading the graph. It never runs.",
  categories: ["basic"],
  aliases: ["cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"],
  kind: "note",
  deterministic: true,
  input: Schema.Struct({
    text: Schema.String.annotate({ title: "Text", description: "The text of the note." }),
  }),
  output: Schema.Struct({
    output: Schema.String.annotate({ title: "Output", description: "The text of the note." }),
  }),
  examples: [
    {
      description: "holds its text",
      input: { text: "Check the totals" },
      output: [["output", "Check the totals"]],
    },
  ],
  run: ({ text }) => ({ output: text }),
})
