import { type Graph, type RunEvent, runBlock, runGraph } from "@weft/engine"
import { describe, expect, it } from "vitest"
import ReadSpreadsheet from "../src/blocks/data/ReadSpreadsheet.js"
import XmlParser from "../src/blocks/data/XmlParser.js"
import { coreBlocks } from "../src/index.js"
import { readCsv } from "../src/internal/io-csv.js"
import { MAX_XML, MAX_XML_DEPTH } from "../src/internal/io-xml.js"

const blocks = [coreBlocks]

const parse = async (input_xml: string) => {
  const outputs = await runBlock(XmlParser, { input_xml })
  return outputs[0] ?? ["none", undefined]
}

describe("XMLParser on hostile input", () => {
  it("a billion-laughs document is refused quickly, nothing is expanded", async () => {
    const laughs = [
      '<?xml version="1.0"?>',
      "<!DOCTYPE lolz [",
      ' <!ENTITY lol "lol">',
      ...Array.from(
        { length: 9 },
        (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`,
      ),
      "]>",
      "<lolz>&lol9;</lolz>",
    ].join("\n")
    const start = Date.now()
    const [pin, value] = await parse(laughs)
    expect(pin).toBe("error")
    expect(String(value)).toMatch(/DOCTYPE declarations are not supported/)
    expect(Date.now() - start).toBeLessThan(500)
  })

  it("an external entity (XXE) is never resolved", async () => {
    for (const xml of [
      '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
      '<!-- hidden --><!doctype foo SYSTEM "http://127.0.0.1:1/evil.dtd"><foo>&xxe;</foo>',
      '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]><foo/>',
    ]) {
      const [pin, value] = await parse(xml)
      expect(pin, xml).toBe("error")
      expect(String(value)).not.toMatch(/root:|localhost/)
    }
  })

  it("an undefined entity reference stays as written", async () => {
    expect(await parse("<foo>&xxe; &amp; &#65;</foo>")).toEqual(["parsed_xml", { foo: "&xxe; & A" }])
  })

  it("tag names cannot reach Object.prototype", async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort()
    for (const xml of [
      "<__proto__><polluted>1</polluted></__proto__>",
      "<a><constructor>1</constructor></a>",
    ]) {
      const [pin] = await parse(xml)
      expect(pin, xml).toBe("error")
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before)
  })

  it("size and depth are limited", async () => {
    const deep = `${"<a>".repeat(MAX_XML_DEPTH + 1)}x${"</a>".repeat(MAX_XML_DEPTH + 1)}`
    expect(await parse(deep)).toEqual(["error", `XML nesting exceeds the maximum depth of ${MAX_XML_DEPTH}`])
    const ok = `${"<a>".repeat(MAX_XML_DEPTH)}x${"</a>".repeat(MAX_XML_DEPTH)}`
    expect((await parse(ok))[0]).toBe("parsed_xml")
    const [pin, value] = await parse(`<a>${"x".repeat(MAX_XML)}</a>`)
    expect(pin).toBe("error")
    expect(String(value)).toMatch(/^XML too large/)
  })
})

describe("XMLParser output shape (as AutoGPT's gravitasml)", () => {
  it.each([
    ["<tag>content</tag>", { tag: "content" }],
    ["<tag>   content with whitespace   </tag>", { tag: "content with whitespace" }],
    ["<tag><a>value</a><a>value</a></tag>", { tag: [{ a: "value" }, { a: "value" }] }],
    ["<tag><a>value</a><b>value</b></tag>", { tag: { a: "value", b: "value" } }],
    [
      "<tag>\n <a><test>pass</test><test>fail</test></a>\n <b>value</b>\n <c><test><name>T1</name></test><test><name>T2</name><feeling>rough</feeling></test></c>\n</tag>",
      {
        tag: {
          a: [{ test: "pass" }, { test: "fail" }],
          b: "value",
          c: [{ test: { name: "T1" } }, { test: { name: "T2", feeling: "rough" } }],
        },
      },
    ],
    ["<Answer><Score>9</Score></Answer>", { answer: { score: "9" } }],
    ['<a href="x" id="1">t</a>', { a: "t" }],
    ["<a></a>", { a: "" }],
  ])("%j", async (xml, expected) => {
    expect(await parse(xml)).toEqual(["parsed_xml", expected])
  })

  it.each([
    ["", "XML input is empty"],
    ["<a>1</a><b>2</b>", "Multiple possible root nodes"],
    ["just text", "char 'j' is not expected"],
    ["<tag1><tag2></tag1></tag2>", "Expected closing tag 'tag2'"],
  ])("%j fails", async (xml, message) => {
    const [pin, value] = await parse(xml)
    expect(pin).toBe("error")
    expect(String(value)).toContain(message)
  })
})

describe("ReadSpreadsheet", () => {
  it("streams rows in order, one value per row (produce_singular_result)", async () => {
    const events: Array<RunEvent> = []
    const contents = ["n,square", ...Array.from({ length: 50 }, (_, i) => `${i},${i * i}`)].join("\n")
    const graph: Graph = {
      id: "csv-stream",
      version: 1,
      name: "csv stream",
      nodes: [
        {
          id: "csv",
          blockId: "acf7625e-d2cb-4941-bfeb-2819fc6fc015",
          inputDefault: { contents, produce_singular_result: true },
        },
        { id: "out", blockId: "weft/io/agent-output", inputDefault: { name: "rows" } },
      ],
      links: [{ sourceId: "csv", sourceName: "row", sinkId: "out", sinkName: "value" }],
    }
    const result = await runGraph(graph, { blocks, onEvent: (e) => events.push(e) })
    const expected = Array.from({ length: 50 }, (_, i) => ({ n: String(i), square: String(i * i) }))
    expect(result.outputs).toEqual({ rows: expected })
    const fromCsv = events.flatMap((e) => (e.type === "NodeOutput" && e.nodeId === "csv" ? [e] : []))
    expect(fromCsv.map((e) => e.pin)).toEqual(Array(50).fill("row"))
    expect(fromCsv.map((e) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(fromCsv.map((e) => e.value)).toEqual(expected)
  })

  it("splits fields as Python's csv module does", () => {
    // Expected rows computed with CPython's csv.reader(delimiter=",", quotechar='"', escapechar="\\").
    const cases: Array<[string, Array<Array<string>>]> = [
      [
        'a,"b,c"\n"x ""y""",2',
        [
          ["a", "b,c"],
          ['x "y"', "2"],
        ],
      ],
      ["a\\,b,c", [["a,b", "c"]]],
      ['"a\\"b",c', [['a"b', "c"]]],
      ["a,b\n\n1,2", [["a", "b"], [], ["1", "2"]]],
      [
        "a,b\r\n1,2\r\n",
        [
          ["a", "b"],
          ["1", "2"],
        ],
      ],
      ['"multi\nline",x', [["multi\nline", "x"]]],
      ['a,"b"c,d', [["a", "bc", "d"]]],
      ['x,"unterminated', [["x", "unterminated"]]],
      ["a,", [["a", ""]]],
      ['"",""', [["", ""]]],
      ['x\n"a\r\nb",c\r\n', [["x"], ["a\r\nb", "c"]]],
    ]
    for (const [text, rows] of cases) {
      expect([...readCsv(text, { delimiter: ",", quotechar: '"', escapechar: "\\" })], text).toEqual(rows)
    }
    expect(() => [...readCsv("a\rb", { delimiter: "," })]).toThrow(
      /new-line character seen in unquoted field/,
    )
    expect(() => [...readCsv("x".repeat(131_073), { delimiter: "," })]).toThrow(
      /field larger than field limit/,
    )
  })

  it("blank lines give empty rows; short and long rows keep what has a header", async () => {
    expect(await runBlock(ReadSpreadsheet, { contents: "a,b\n1\n\n2,3,4" })).toEqual([
      ["rows", [{ a: "1" }, {}, { a: "2", b: "3" }]],
    ])
  })

  it("reads a data: URI given as file_input", async () => {
    const file = `data:text/csv;base64,${Buffer.from("city,country\nLyon,France\n").toString("base64")}`
    expect(await runBlock(ReadSpreadsheet, { file_input: file, contents: null })).toEqual([
      ["rows", [{ city: "Lyon", country: "France" }]],
    ])
    const [[pin, message]] = (await runBlock(ReadSpreadsheet, { file_input: "https://127.0.0.1/x.csv" })) as [
      [string, string],
    ]
    expect(pin).toBe("error")
    expect(message).toMatch(/only data: URIs/)
  })

  it("refuses a delimiter that is not one character", async () => {
    expect(await runBlock(ReadSpreadsheet, { contents: "a;;b", delimiter: ";;" })).toEqual([
      ["error", '"delimiter" must be a 1-character string'],
    ])
  })
})
