import { Block } from "@weft/engine"
import { Schema } from "effect"
import { renderWithEscaping } from "../../internal/text-template.js"

/**
 * Fill text template: renders a Jinja template (`format`) with `values`, e.g. `Hello {{ name }}!`. With
 * `escape_html`, the inserted values are HTML-escaped (a `| safe` filter cannot undo this in Weft). A
 * template that does not parse or fails to render fails the node, with the reason on `error`.
 * AutoGPT: FillTextTemplateBlock.
 */
export default Block.make({
  id: "weft/text/fill-text-template",
  title: "Fill text template",
  description: "Fills a Jinja text template with values: {{ name }} inserts the value of name.",
  categories: ["text"],
  aliases: ["db7d8f02-2f44-4c55-ab7a-eae0941f0c30"],
  deterministic: true,
  input: Schema.Struct({
    values: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Values",
      description: "The values the template can use, by name: {{ name }} inserts the value of name.",
    }),
    format: Schema.String.annotate({
      title: "Format",
      description: "The template, in Jinja syntax ({{ value }}, {% for %}, {% if %}, filters).",
    }),
    escape_html: Schema.optional(Schema.Boolean).annotate({
      title: "Escape HTML",
      description: "HTML-escape the inserted values (for HTML output; leave off for plain text).",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    output: Schema.String.annotate({ title: "Output", description: "The filled-in text." }),
  }),
  examples: [
    {
      description: "inserts values",
      input: {
        values: { name: "Alice", hello: "Hello", world: "World!" },
        format: "{{hello}}, {{ world }} {{name}}",
      },
      output: [["output", "Hello, World! Alice"]],
    },
    {
      description: "loops over a list",
      input: {
        values: { list: ["Hello", " World!"] },
        format: "{% for item in list %}{{ item }}{% endfor %}",
      },
      output: [["output", "Hello World!"]],
    },
    {
      description: "sets variables in the template",
      input: { values: {}, format: "{% set name = 'Alice' %}Hello, World! {{ name }}" },
      output: [["output", "Hello, World! Alice"]],
    },
    {
      description: "escapes HTML in the values when asked",
      input: { values: { x: "<i>Tom & Jerry</i>" }, format: "<b>{{ x }}</b>", escape_html: true },
      output: [["output", "<b>&lt;i&gt;Tom &amp; Jerry&lt;/i&gt;</b>"]],
    },
    {
      description: "a broken template fails with the reason",
      input: { values: {}, format: "{% for x in %}" },
      output: [["error", "template error: Unexpected token: CloseStatement"]],
    },
  ],
  run: ({ values, format, escape_html }) => ({
    output: renderWithEscaping(format, values, escape_html === true),
  }),
})
