import { Block } from "@weft/engine"
import { Schema } from "effect"

/** Python's `text.replace(old, new)`: every occurrence; an empty `old` inserts `new` around each character. */
const replaceAll = (text: string, old: string, replacement: string): string =>
  old === ""
    ? `${replacement}${Array.from(text).join(replacement)}${text === "" ? "" : replacement}`
    : text.split(old).join(replacement)

/**
 * Text replace: replaces every occurrence of `old` in a text with `new` (plain text, not a pattern).
 * AutoGPT: TextReplaceBlock.
 */
export default Block.make({
  id: "weft/text/text-replace",
  title: "Replace text",
  description: "Replaces every occurrence of a piece of text with another.",
  categories: ["text"],
  aliases: ["7e7c87ab-3469-4bcc-9abe-67705091b713"],
  deterministic: true,
  input: Schema.Struct({
    text: Schema.String.annotate({ title: "Text", description: "The text to change." }),
    old: Schema.String.annotate({ title: "Old", description: "The text to find (matched literally)." }),
    new: Schema.String.annotate({ title: "New", description: "The text to put in its place." }),
  }),
  output: Schema.Struct({
    output: Schema.String.annotate({ title: "Output", description: "The text after the replacements." }),
  }),
  examples: [
    {
      description: "replaces a word",
      input: { text: "Hello, World!", old: "Hello", new: "Hi" },
      output: [["output", "Hi, World!"]],
    },
    {
      description: "replaces every occurrence",
      input: { text: "a.b.c", old: ".", new: "$&" },
      output: [["output", "a$&b$&c"]],
    },
    {
      description: "an empty old text inserts around each character",
      input: { text: "ab", old: "", new: "-" },
      output: [["output", "-a-b-"]],
    },
  ],
  run: ({ text, old, new: replacement }) => ({ output: replaceAll(text, old, replacement) }),
})
