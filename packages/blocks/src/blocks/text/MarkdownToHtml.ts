import { Block } from "@weft/engine"
import { Schema } from "effect"
import { markdownToHtml } from "../../internal/text-markdown.js"

/**
 * Markdown to HTML: converts Markdown (CommonMark with GitHub tables, strikethrough, task lists and
 * autolinks) to an HTML fragment. The result is safe to embed: raw HTML in the Markdown is dropped and
 * unsafe link addresses (e.g. `javascript:`) are removed. Texts over 100,000 characters, or so crowded
 * with formatting marks that parsing would take quadratic time, are refused (see `internal/text-markdown.ts`).
 * Weft only; AutoGPT has no such block.
 */
export default Block.make({
  id: "weft/text/markdown-to-html",
  title: "Markdown to HTML",
  description: "Converts Markdown text to safe HTML, with GitHub tables, task lists and strikethrough.",
  categories: ["text"],
  deterministic: true,
  input: Schema.Struct({
    markdown: Schema.String.annotate({ title: "Markdown", description: "The Markdown text to convert." }),
  }),
  output: Schema.Struct({
    html: Schema.String.annotate({ title: "HTML", description: "The HTML fragment." }),
  }),
  examples: [
    {
      description: "headings and emphasis",
      input: { markdown: "# Title\n\nSome **bold** and ~~old~~ text." },
      output: [["html", "<h1>Title</h1>\n<p>Some <strong>bold</strong> and <del>old</del> text.</p>"]],
    },
    {
      description: "raw HTML and script links are removed",
      input: {
        markdown: "<script>alert(1)</script>\n\n[click](javascript:alert(1)) [home](https://weft.dev)",
      },
      output: [["html", '<p><a>click</a> <a href="https://weft.dev">home</a></p>']],
    },
  ],
  run: ({ markdown }) => ({ html: markdownToHtml(markdown) }),
})
