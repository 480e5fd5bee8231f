import { Block } from "@weft/engine"
import { Schema } from "effect"

/**
 * Text split: splits a text at every occurrence of a delimiter into a list, trimming each part unless
 * `strip` is off (Python's `str.split` then `str.strip`). An empty text gives an empty list; an empty
 * delimiter is an error, as in Python. AutoGPT: TextSplitBlock.
 */
export default Block.make({
  id: "weft/text/text-split",
  title: "Split text",
  description: "Splits a text into a list of texts at each occurrence of a delimiter.",
  categories: ["text"],
  aliases: ["d5ea33c8-a575-477a-b42f-2fe3be5055ec"],
  deterministic: true,
  input: Schema.Struct({
    text: Schema.String.annotate({ title: "Text", description: "The text to split." }),
    delimiter: Schema.String.annotate({ title: "Delimiter", description: "The text to split at." }),
    strip: Schema.optional(Schema.Boolean).annotate({
      title: "Strip",
      description: "Trim whitespace around each part (default: on).",
    }),
  }),
  output: Schema.Struct({
    texts: Schema.Array(Schema.String).annotate({ title: "Texts", description: "The parts, in order." }),
  }),
  examples: [
    {
      description: "splits and trims",
      input: { text: "Hello, World!", delimiter: "," },
      output: [["texts", ["Hello", "World!"]]],
    },
    {
      description: "keeps whitespace when strip is off",
      input: { text: "Hello, World!", delimiter: ",", strip: false },
      output: [["texts", ["Hello", " World!"]]],
    },
    {
      description: "an empty text gives no parts",
      input: { text: "", delimiter: "," },
      output: [["texts", []]],
    },
    {
      description: "an empty delimiter is an error",
      input: { text: "abc", delimiter: "" },
      output: [["error", "empty separator"]],
    },
  ],
  run: ({ text, delimiter, strip }) => {
    if (text.length === 0) return { texts: [] }
    if (delimiter.length === 0) throw new Error("empty separator")
    const parts = text.split(delimiter)
    return { texts: strip === false ? parts : parts.map((part) => part.trim()) }
  },
})
