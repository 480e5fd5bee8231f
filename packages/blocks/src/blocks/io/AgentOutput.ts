import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyStr } from "../../internal/python.js"
import { renderWithEscaping } from "../../internal/text-template.js"
import { TemplateError } from "../../templates/index.js"

/**
 * Agent output: one output of the graph. The run records what arrives on `output` under the node's
 * `name` (R14).
 *
 * With no `format`, emits the value on `output` and then the name on `name`. With a `format` (a Jinja
 * template), emits only the rendered text on `output`: the template sees the value under the output's
 * name (`{{ summary }}` for an output named `summary`), HTML-escaped when `escape_html` is set. A template
 * that fails does not fail the node: like AutoGPT, it emits `Error: <reason>, <value>` on `output`.
 * Its output is static (R9). AutoGPT: AgentOutputBlock.
 */
export default Block.make({
  id: "weft/io/agent-output",
  title: "Agent output",
  description: "An output of the agent: records the value it receives, optionally formatted by a template.",
  categories: ["io"],
  aliases: ["363ae599-353e-4804-937e-b2ee3cef3da4"],
  kind: "output",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    value: Schema.optional(Schema.Unknown).annotate({
      title: "Value",
      description: "The value to record as the agent's output.",
    }),
    name: Schema.String.annotate({
      title: "Name",
      description: "The name of this graph output: the run's outputs hold the value under this key.",
    }),
    title: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Title",
      description: "A display title for the output, shown instead of its name.",
      advanced: true,
    }),
    description: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Description",
      description: "Text explaining what the output holds.",
      advanced: true,
    }),
    format: Schema.optional(Schema.String).annotate({
      title: "Format",
      description:
        "A Jinja template to render the value with; it sees the value under the output's name. Empty: record the value as it is.",
      advanced: true,
    }),
    escape_html: Schema.optional(Schema.Boolean).annotate({
      title: "Escape HTML",
      description:
        "HTML-escape the value before the template inserts it (for HTML output; off for plain text).",
      advanced: true,
    }),
    advanced: Schema.optional(Schema.Boolean).annotate({
      title: "Advanced",
      description: "Show the output among the advanced ones.",
      advanced: true,
    }),
    secret: Schema.optional(Schema.Boolean).annotate({
      title: "Secret",
      description: "Treat the recorded value as a secret that user interfaces should mask.",
      advanced: true,
    }),
  }),
  output: Schema.Struct({
    output: Schema.Unknown.annotate({
      title: "Output",
      description: "The recorded value, or the text the format rendered from it.",
    }),
    name: Schema.String.annotate({
      title: "Name",
      description: "The output's name (emitted only when there is no format).",
    }),
  }),
  examples: [
    {
      description: "records the value, then its name",
      input: { name: "answer", value: { text: "hi" } },
      output: [
        ["output", { text: "hi" }],
        ["name", "answer"],
      ],
    },
    {
      description: "formats the value, seen under the output's name",
      input: { name: "greeting", value: "Hello, World!", format: "{{ greeting }}!!" },
      output: [["output", "Hello, World!!!"]],
    },
    {
      description: "escapes HTML in the value when asked",
      input: { name: "body", value: "<b>&</b>", format: "<p>{{ body }}</p>", escape_html: true },
      output: [["output", "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>"]],
    },
    {
      description: "a broken template reports the error in the output",
      input: { name: "x", value: 5, format: "{% if %}" },
      output: [["output", "Error: Unexpected token: CloseStatement, 5"]],
    },
  ],
  run: ({ value, name, format, escape_html }) => {
    if (format === undefined || format === "") return { output: value ?? null, name }
    try {
      return { output: renderWithEscaping(format, { [name]: value ?? null }, escape_html === true) }
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error
      return { output: `Error: ${error.reason}, ${pyStr(value ?? null)}` }
    }
  },
})
