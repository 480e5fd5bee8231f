import { Block } from "@weft/engine"
import { Schema } from "effect"
import { markdownToText } from "../../internal/text-markdown.js"

/**
 * Markdown to text: removes Markdown formatting, leaving plain text: blocks separated by a blank line,
 * links and images as their text, table rows as tab-separated lines, code blocks verbatim. The same
 * limits as Markdown to HTML apply. Weft only; AutoGPT has no such block.
 */
export default Block.make({
  id: "weft/text/markdown-to-text",
  title: "Markdown to text",
  description: "Strips Markdown formatting from a text, leaving plain readable text.",
  categories: ["text"],
  deterministic: true,
  input: Schema.Struct({
    markdown: Schema.String.annotate({ title: "Markdown", description: "The Markdown text to convert." }),
  }),
  output: Schema.Struct({
    text: Schema.String.annotate({ title: "Text", description: "The plain text." }),
  }),
  examples: [
    {
      description: "formatting is removed",
      input: { markdown: "# Title\n\nSome **bold** text with a [link](https://weft.dev).\n\n- one\n- two" },
      output: [["text", "Title\n\nSome bold text with a link.\n\none\n\ntwo"]],
    },
    {
      description: "tables and code are kept as text",
      input: { markdown: "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nx = *y*\n```" },
      output: [["text", "a\tb\n1\t2\n\nx = *y*"]],
    },
  ],
  run: ({ markdown }) => ({ text: markdownToText(markdown) }),
})
