import { type Graph, runBlock, runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import ExtractTextInformation from "../src/blocks/text/ExtractTextInformation.js"
import FillTextTemplate from "../src/blocks/text/FillTextTemplate.js"
import MarkdownToHtml from "../src/blocks/text/MarkdownToHtml.js"
import MarkdownToText from "../src/blocks/text/MarkdownToText.js"
import MatchTextPattern from "../src/blocks/text/MatchTextPattern.js"
import TextReplace from "../src/blocks/text/TextReplace.js"
import { coreBlocks } from "../src/index.js"
import { MAX_MARKDOWN } from "../src/internal/text-markdown.js"
import { compilePythonPattern, MAX_REGEX_TEXT, PatternError } from "../src/internal/text-regex.js"

const blocks = [coreBlocks]

const findAll = (pattern: string, text: string): Array<string> =>
  [...text.matchAll(compilePythonPattern(pattern, {}).regex)].map((m) => m[0])

describe("FillTextTemplate in a graph", () => {
  it("a template error is routed on the error pin, not the output", async () => {
    const graph: Graph = {
      id: "broken-template",
      version: 1,
      name: "broken template",
      nodes: [
        {
          id: "fill",
          blockId: "weft/text/fill-text-template",
          inputDefault: { values: { a: 1 }, format: "{{ a " },
        },
        { id: "ok", blockId: "weft/io/agent-output", inputDefault: { name: "text" } },
        { id: "err", blockId: "weft/io/agent-output", inputDefault: { name: "problem" } },
      ],
      links: [
        { sourceId: "fill", sourceName: "output", sinkId: "ok", sinkName: "value" },
        { sourceId: "fill", sourceName: "error", sinkId: "err", sinkName: "value" },
      ],
    }
    const result = await runGraph(graph, { blocks })
    expect(result.status).toBe("COMPLETED")
    expect(Object.keys(result.outputs)).toEqual(["problem"])
    expect(String(result.outputs.problem?.[0])).toMatch(/^template error: /)
  })

  it("dynamic value pins fill the values dictionary (values_#_key)", async () => {
    const graph: Graph = {
      id: "dynamic-values",
      version: 1,
      name: "dynamic values",
      nodes: [
        { id: "a", blockId: "weft/io/agent-input", inputDefault: { name: "first" } },
        { id: "b", blockId: "weft/io/agent-input", inputDefault: { name: "last" } },
        {
          id: "fill",
          blockId: "weft/text/fill-text-template",
          inputDefault: { values: {}, format: "{{ last }}, {{ first }}" },
        },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "name" } },
      ],
      links: [
        { sourceId: "a", sourceName: "result", sinkId: "fill", sinkName: "values_#_first" },
        { sourceId: "b", sourceName: "result", sinkId: "fill", sinkName: "values_#_last" },
        { sourceId: "fill", sourceName: "output", sinkId: "out", sinkName: "value" },
      ],
    }
    const result = await runGraph(graph, { blocks, inputs: { first: "Ada", last: "Lovelace" } })
    expect(result.outputs).toEqual({ name: ["Lovelace, Ada"] })
  })

  it("escape_html escapes nested values but not the template itself", async () => {
    const outputs = await runBlock(FillTextTemplate, {
      values: { items: ["<a>", { q: "'x'" }] },
      format: "<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>",
      escape_html: true,
    })
    expect(outputs).toEqual([["output", '<ul><li>&lt;a&gt;</li><li>{"q": "&#39;x&#39;"}</li></ul>']])
  })
})

describe("Python patterns on JavaScript", () => {
  // Expected matches computed with CPython 3.11's `re.finditer`.
  const cases: Array<[string, string, Array<string>]> = [
    ["(?P<y>\\d{4})-(?P<m>\\d\\d)", "on 2024-05-01 and 1999-12", ["2024-05", "1999-12"]],
    ["(?P<w>\\w+) (?P=w)", "hello hello world world x", ["hello hello", "world world"]],
    ["^\\w+$", "café\n", ["café"]],
    ["(?m)^\\w+$", "café\nbar\r\nbaz", ["café", "baz"]],
    ["a.c", "a\nc abc", ["abc"]],
    ["(?s)a.c", "a\nc abc", ["a\nc", "abc"]],
    ["\\bfoo\\b", "foo éfoo foo_ fooé foo.", ["foo", "foo"]],
    ["\\d+", "12 ٣٤ x", ["12", "٣٤"]],
    ["\\s+", "a\u001cb\u00a0c\ufeffd", ["\u001c", "\u00a0"]],
    ["[^\\W\\d]+", "abc123déf", ["abc", "déf"]],
    ["[]a]+", "a]]b", ["a]]"]],
    ["a{,2}", "aaaa", ["aa", "aa", ""]],
    ["x{", "x{ x", ["x{"]],
    ["(?x) a \\  b # comment\n c", "a bc abc", ["a bc"]],
    ["\\x41\\u0042\\U00000043\\101", "ABCA", ["ABCA"]],
    ["\\Aab|c\\Z", "abc\n", ["ab"]],
    ["c$", "abc\n", ["c"]],
    ["(?<=@)[^@\\s]+", "mail me@example.com now", ["example.com"]],
    ["\\.\\:\\-\\#\\ \\@", ".:-# @", [".:-# @"]],
    ["(?s:a.)b", "a\nb", ["a\nb"]],
    ["(?a)\\w+", "café", ["caf"]],
    ["😀+", "😀😀x😀", ["😀😀", "😀"]],
  ]
  it.each(cases)("%j finds what Python finds", (pattern, text, expected) => {
    expect(findAll(pattern, text)).toEqual(expected)
  })

  it.each([
    ["(a", "missing ), unterminated subpattern at position 0"],
    ["a**", "multiple repeat at position 2"],
    ["\\q", "bad escape \\q at position 0"],
    ["[z-a]", "bad character range z-a at position 1"],
    ["a(?i)b", "global flags not at the start of the expression at position 1"],
    ["(?>a)", "atomic groups (?>...) are not supported at position 0"],
    ["a*+", "possessive quantifiers (like a*+) are not supported at position 2"],
    [
      "(?i:a)b",
      "changing case sensitivity inside a pattern ((?i:...) or (?-i:...)) is not supported at position 0",
    ],
    ["\\N{BULLET}", "named character escapes (\\N{...}) are not supported at position 0"],
    ["(?P<a>x)(?P<a>y)", "Duplicate capture group name"],
  ])("%j is refused with a clear reason", (pattern, reason) => {
    expect(() => compilePythonPattern(pattern, {})).toThrow(new PatternError(reason))
  })

  it("nested unbounded repeats are refused before they can run away", () => {
    for (const pattern of ["(a+)+$", "(?:\\w*\\s?)*$", "((ab)*c)+", "(x{1,500})*"]) {
      expect(() => compilePythonPattern(pattern, {}), pattern).toThrow(/nested unbounded quantifiers/)
    }
    // Bounded or single-level repeats are fine.
    for (const pattern of ["(ab)+", "(a|b)*c", "(\\d{1,3}\\.){3}\\d{1,3}", "(a+){2}"]) {
      expect(() => compilePythonPattern(pattern, {}), pattern).not.toThrow()
    }
  })

  it("the blocks refuse a catastrophic pattern as an error, quickly", async () => {
    const start = Date.now()
    const outputs = await runBlock(MatchTextPattern, {
      text: `${"a".repeat(40)}!`,
      match: "^(a|aa+)+$",
      data: 1,
    })
    expect(outputs).toEqual([
      [
        "error",
        "invalid pattern: nested unbounded quantifiers (like (a+)+) can take exponential time and are refused; rewrite the pattern at position 8",
      ],
    ])
    expect(Date.now() - start).toBeLessThan(1000)
  })

  it("only the first MAX_REGEX_TEXT characters are searched", async () => {
    const text = `${"x".repeat(MAX_REGEX_TEXT)}needle`
    expect(await runBlock(MatchTextPattern, { text, match: "needle", data: "d" })).toEqual([
      ["negative", "d"],
    ])
    expect(await runBlock(MatchTextPattern, { text: text.slice(10), match: "needle", data: "d" })).toEqual([
      ["positive", "d"],
    ])
  })
})

describe("ExtractTextInformation", () => {
  it("keeps at most 1000 matches, each at most 10,000 characters", async () => {
    const many = await runBlock(ExtractTextInformation, {
      text: "ab".repeat(1500),
      pattern: "a",
      find_all: true,
    })
    expect(many.filter(([pin]) => pin === "positive")).toHaveLength(1000)
    expect(many.at(-1)).toEqual(["matched_count", 1000])
    const long = await runBlock(ExtractTextInformation, { text: "y".repeat(20_000), pattern: "y+" })
    expect(String(long[0]?.[1]).length).toBe(10_000)
  })

  it("a group that took no part gives an empty text; a negative group matches nothing", async () => {
    expect(await runBlock(ExtractTextInformation, { text: "b", pattern: "(a)?b", group: 1 })).toEqual([
      ["positive", ""],
      ["matched_results", [""]],
      ["matched_count", 1],
    ])
    expect(await runBlock(ExtractTextInformation, { text: "b", pattern: "b", group: -1 })).toEqual([
      ["negative", "b"],
      ["matched_results", []],
      ["matched_count", 0],
    ])
  })

  it("dot_all is on by default and case_sensitive can be turned off", async () => {
    const text = "<news>line 1\nLINE 2</news>"
    const dotAll = await runBlock(ExtractTextInformation, { text, pattern: "<news>(.*?)</news>", group: 1 })
    expect(dotAll[0]).toEqual(["positive", "line 1\nLINE 2"])
    const noDotAll = await runBlock(ExtractTextInformation, {
      text,
      pattern: "<news>(.*?)</news>",
      dot_all: false,
    })
    expect(noDotAll[0]?.[0]).toBe("negative")
    const caseless = await runBlock(ExtractTextInformation, {
      text,
      pattern: "line \\d",
      find_all: true,
      case_sensitive: false,
    })
    expect(caseless.at(-2)).toEqual(["matched_results", ["line 1", "LINE 2"]])
  })

  it("searches non-text values as JSON", async () => {
    const outputs = await runBlock(ExtractTextInformation, {
      text: { ids: [4, 8] },
      pattern: "\\d",
      find_all: true,
    })
    expect(outputs.at(-2)).toEqual(["matched_results", ["4", "8"]])
  })
})

describe("TextReplace and the others", () => {
  it("replaces literally, never as a pattern or with $-substitutions", async () => {
    expect(await runBlock(TextReplace, { text: "1+1=2, 1+1=2", old: "1+1", new: "$1$$" })).toEqual([
      ["output", "$1$$=2, $1$$=2"],
    ])
  })
})

describe("Markdown", () => {
  it("HTML output drops raw HTML and unsafe addresses", async () => {
    const vectors = [
      "<img src=x onerror=alert(1)>",
      "[a](javascript:alert(1))",
      "[a](JAVASCRIPT:alert(1))",
      "[a](java\u0000script:alert(1))",
      "![i](javascript:alert(1))",
      "[a](vbscript:msgbox)",
      "[a](data:text/html;base64,PHNjcmlwdD4=)",
      '<a href="javascript:alert(1)">x</a>',
      "[a]: javascript:alert(1)\n\n[x][a]",
    ]
    for (const markdown of vectors) {
      const [[, html]] = (await runBlock(MarkdownToHtml, { markdown })) as [[string, string]]
      expect(html, markdown).not.toMatch(/javascript:|vbscript:|data:|onerror|<script|<img src/i)
    }
  })

  it("keeps safe links and GitHub extensions", async () => {
    const markdown = "[rel](/docs) [mail](mailto:a@b.co) www.weft.dev\n\n- [x] done"
    expect(await runBlock(MarkdownToHtml, { markdown })).toEqual([
      [
        "html",
        '<p><a href="/docs">rel</a> <a href="mailto:a@b.co">mail</a> <a href="http://www.weft.dev">www.weft.dev</a></p>\n<ul class="contains-task-list">\n<li class="task-list-item"><input type="checkbox" checked disabled> done</li>\n</ul>',
      ],
    ])
  })

  it("refuses oversized or pathological texts quickly instead of blocking", async () => {
    const cases: Array<[string, RegExp]> = [
      ["x".repeat(MAX_MARKDOWN + 1), /longer than 100000 characters/],
      ["*a_".repeat(20_000), /too many formatting marks/],
      ["[a](".repeat(10_000), /too many formatting marks/],
      [">".repeat(50_000), /too many formatting marks/],
    ]
    for (const [markdown, message] of cases) {
      const start = Date.now()
      for (const block of [MarkdownToHtml, MarkdownToText]) {
        const [[pin, value]] = (await runBlock(block, { markdown })) as [[string, string]]
        expect(pin).toBe("error")
        expect(value).toMatch(message)
      }
      expect(Date.now() - start).toBeLessThan(500)
    }
  })

  it("formatting marks inside fenced code do not count against the budget", async () => {
    const markdown = `\`\`\`\n${"snake_case_name *ptr [i]\n".repeat(2000)}\`\`\`\n\nDone.`
    const [[pin, text]] = (await runBlock(MarkdownToText, { markdown })) as [[string, string]]
    expect(pin).toBe("text")
    expect(text.endsWith("Done.")).toBe(true)
  })

  it("text output is plain: no escaping of Markdown characters", async () => {
    const markdown = "Price: 5 * 3 = 15 # not a heading\\_x\\_ and https://weft.dev/a_b_c `x*y`"
    expect(await runBlock(MarkdownToText, { markdown })).toEqual([
      ["text", "Price: 5 * 3 = 15 # not a heading_x_ and https://weft.dev/a_b_c x*y"],
    ])
  })
})
