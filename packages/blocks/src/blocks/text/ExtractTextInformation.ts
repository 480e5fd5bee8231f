import { Block } from "@weft/engine"
import { Schema } from "effect"
import { capText, compileBlockPattern } from "../../internal/text-regex.js"

/** At most this many matches are collected (AutoGPT's limit). */
const MAX_MATCHES = 1000

/** A longer match is cut to this many characters (AutoGPT's limit). */
const MAX_MATCH_LENGTH = 10_000

/**
 * Extract text information: finds a regular expression in a text and emits the chosen group of the first
 * match (or of every match with `find_all`) on `positive`, one value per match; with no match, the text on
 * `negative`. Then `matched_results` (the list) and `matched_count`. Group 0 is the whole match; a group
 * number above the pattern's group count matches nothing, and a negative one gives no match at all, as in
 * AutoGPT. A text that is not a string is searched as its JSON.
 *
 * The pattern is a Python `re` pattern, translated to JavaScript (see `internal/text-regex.ts`). At most
 * the first 1,000,000 characters are searched, at most 1000 matches are kept, each cut to 10,000
 * characters (AutoGPT's limits). Weft differs from AutoGPT where it cannot follow it: an invalid or
 * untranslatable pattern, or one that nests unbounded repeats (`(a+)+`), fails the node with the reason
 * (AutoGPT silently routes any regex error to `negative`); a group that took no part in the match gives
 * "" (AutoGPT fails on the `None`); `negative` carries a non-string text as its JSON.
 * AutoGPT: ExtractTextInformationBlock.
 */
export default Block.make({
  id: "weft/text/extract-text-information",
  title: "Extract text information",
  description: "Extracts the parts of a text that match a regular expression.",
  categories: ["text"],
  aliases: ["3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0"],
  deterministic: true,
  input: Schema.Struct({
    text: Schema.Unknown.annotate({
      title: "Text",
      description: "The text to search (other values are searched as JSON).",
    }),
    pattern: Schema.String.annotate({
      title: "Pattern",
      description: "The regular expression to find (Python syntax).",
    }),
    group: Schema.optional(Schema.Int).annotate({
      title: "Group",
      description: "Which capture group to extract; 0 (the default) is the whole match.",
    }),
    case_sensitive: Schema.optional(Schema.Boolean).annotate({
      title: "Case sensitive",
      description: "Tell upper from lower case (default: on).",
    }),
    dot_all: Schema.optional(Schema.Boolean).annotate({
      title: "Dot matches all",
      description: "Let . match line breaks too (default: on).",
    }),
    find_all: Schema.optional(Schema.Boolean).annotate({
      title: "Find all",
      description: "Extract every match instead of only the first (default: off).",
    }),
  }),
  output: Schema.Struct({
    positive: Schema.String.annotate({
      title: "Positive",
      description: "An extracted text; emitted once per match.",
    }),
    negative: Schema.String.annotate({
      title: "Negative",
      description: "The original text, when nothing matched.",
    }),
    matched_results: Schema.Array(Schema.String).annotate({
      title: "Matched results",
      description: "Every extracted text, as a list.",
    }),
    matched_count: Schema.Int.annotate({
      title: "Matched count",
      description: "How many texts were extracted.",
    }),
  }),
  examples: [
    {
      description: "extracts a group",
      input: { text: "Hello, World!", pattern: "Hello, (.+)", group: 1 },
      output: [
        ["positive", "World!"],
        ["matched_results", ["World!"]],
        ["matched_count", 1],
      ],
    },
    {
      description: "group 0 is the whole match",
      input: { text: "Hello, World!", pattern: "Hello, (.+)", group: 0 },
      output: [
        ["positive", "Hello, World!"],
        ["matched_results", ["Hello, World!"]],
        ["matched_count", 1],
      ],
    },
    {
      description: "a group the pattern lacks matches nothing",
      input: { text: "Hello, World!", pattern: "Hello, (.+)", group: 2 },
      output: [
        ["negative", "Hello, World!"],
        ["matched_results", []],
        ["matched_count", 0],
      ],
    },
    {
      description: "case-insensitive",
      input: { text: "Hello, World!", pattern: "hello,", case_sensitive: false },
      output: [
        ["positive", "Hello,"],
        ["matched_results", ["Hello,"]],
        ["matched_count", 1],
      ],
    },
    {
      description: "first match only",
      input: { text: "Hello, World!! Hello, Earth!!", pattern: "Hello, (\\S+)", group: 1, find_all: false },
      output: [
        ["positive", "World!!"],
        ["matched_results", ["World!!"]],
        ["matched_count", 1],
      ],
    },
    {
      description: "every match",
      input: { text: "Hello, World!! Hello, Earth!!", pattern: "Hello, (\\S+)", group: 1, find_all: true },
      output: [
        ["positive", "World!!"],
        ["positive", "Earth!!"],
        ["matched_results", ["World!!", "Earth!!"]],
        ["matched_count", 2],
      ],
    },
    {
      description: "lookbehind, as AutoGPT agents use it",
      input: { text: "write to ada@example.com", pattern: "(?<=@)[^@\\s]+" },
      output: [
        ["positive", "example.com"],
        ["matched_results", ["example.com"]],
        ["matched_count", 1],
      ],
    },
    {
      description: "a catastrophic pattern is refused",
      input: { text: "aaaa", pattern: "(a+)+$" },
      output: [
        [
          "error",
          "invalid pattern: nested unbounded quantifiers (like (a+)+) can take exponential time and are refused; rewrite the pattern at position 4",
        ],
      ],
    },
  ],
  *run({ text, pattern, group, case_sensitive, dot_all, find_all }) {
    const source = typeof text === "string" ? text : (JSON.stringify(text) ?? "null")
    const index = group ?? 0
    const { regex, groups } = compileBlockPattern(pattern, {
      ignoreCase: case_sensitive === false,
      dotAll: dot_all !== false,
    })
    const limit = find_all === true ? MAX_MATCHES : 1
    const matches: Array<string> = []
    if (index >= 0 && index <= groups) {
      for (const match of capText(source).matchAll(regex)) {
        matches.push((match[index] ?? "").slice(0, MAX_MATCH_LENGTH))
        if (matches.length >= limit) break
      }
    }
    for (const match of matches) yield ["positive", match] as const
    if (matches.length === 0) yield ["negative", source] as const
    yield ["matched_results", matches] as const
    yield ["matched_count", matches.length] as const
  },
})
