import { Block } from "@weft/engine"
import { Schema } from "effect"
import { or } from "../../internal/python.js"
import { capText, compileBlockPattern } from "../../internal/text-regex.js"

/**
 * Match text pattern: searches a text for a regular expression and forwards `data` (or the text itself
 * when `data` is empty) on `positive` if it matches, `negative` if not. A text that is not a string is
 * searched as its JSON. The pattern is a Python `re` pattern, translated to JavaScript (see
 * `internal/text-regex.ts`): a pattern that is invalid, uses a feature JavaScript lacks, or nests
 * unbounded repeats (`(a+)+`) fails the node; only the first 1,000,000 characters of the text are
 * searched. AutoGPT: MatchTextPatternBlock.
 */
export default Block.make({
  id: "weft/text/match-text-pattern",
  title: "Match text pattern",
  description: "Checks whether a text matches a regular expression and forwards data on the matching branch.",
  categories: ["text", "logic"],
  aliases: ["3060088f-6ed9-4928-9ba7-9c92823a7ccd"],
  deterministic: true,
  input: Schema.Struct({
    text: Schema.Unknown.annotate({
      title: "Text",
      description: "The text to search (other values are searched as JSON).",
    }),
    match: Schema.String.annotate({
      title: "Match",
      description: "The regular expression to look for (Python syntax).",
    }),
    data: Schema.Unknown.annotate({
      title: "Data",
      description: "What to forward; when empty, the text itself is forwarded.",
    }),
    case_sensitive: Schema.optional(Schema.Boolean).annotate({
      title: "Case sensitive",
      description: "Tell upper from lower case (default: on).",
    }),
    dot_all: Schema.optional(Schema.Boolean).annotate({
      title: "Dot matches all",
      description: "Let . match line breaks too (default: on).",
    }),
  }),
  output: Schema.Struct({
    positive: Schema.Unknown.annotate({ title: "Positive", description: "The data, when the text matches." }),
    negative: Schema.Unknown.annotate({
      title: "Negative",
      description: "The data, when the text does not match.",
    }),
  }),
  examples: [
    {
      description: "case-insensitive match",
      input: { text: "ABC", match: "ab", data: "X", case_sensitive: false },
      output: [["positive", "X"]],
    },
    {
      description: "case-sensitive miss",
      input: { text: "ABC", match: "ab", data: "Y", case_sensitive: true },
      output: [["negative", "Y"]],
    },
    {
      description: "dot matches anything",
      input: { text: "Hello World!", match: ".orld.+", data: "Z" },
      output: [["positive", "Z"]],
    },
    {
      description: "no match",
      input: { text: "Hello World!", match: "World![a-z]+", data: "Z" },
      output: [["negative", "Z"]],
    },
    {
      description: "empty data forwards the text",
      input: {
        text: "me@example.com",
        match: "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$",
        data: null,
        case_sensitive: false,
        dot_all: false,
      },
      output: [["positive", "me@example.com"]],
    },
    {
      description: "non-text is searched as JSON",
      input: { text: { id: 7 }, match: '"id":\\s*7', data: "found" },
      output: [["positive", "found"]],
    },
    {
      description: "Python named groups work",
      input: { text: "2024-05-01", match: "(?P<y>\\d{4})-(?P=y)?", data: 1 },
      output: [["positive", 1]],
    },
    {
      description: "an invalid pattern fails",
      input: { text: "x", match: "(a", data: 1 },
      output: [["error", "invalid pattern: missing ), unterminated subpattern at position 0"]],
    },
  ],
  run: ({ text, match, data, case_sensitive, dot_all }) => {
    const forwarded = or(data, text) ?? null
    const subject = capText(typeof text === "string" ? text : (JSON.stringify(text) ?? "null"))
    const { regex } = compileBlockPattern(match, {
      ignoreCase: case_sensitive === false,
      dotAll: dot_all !== false,
    })
    return regex.test(subject) ? { positive: forwarded } : { negative: forwarded }
  },
})
