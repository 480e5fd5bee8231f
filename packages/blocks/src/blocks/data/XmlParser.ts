import { Block } from "@weft/engine"
import { Schema } from "effect"
import { parseXml } from "../../internal/io-xml.js"

/**
 * XML parser: turns an XML document with one root element into a dictionary, in the shape AutoGPT gives:
 * `<a><b>1</b><c>2</c></a>` → `{"a": {"b": "1", "c": "2"}}`, repeated tags → a list of one-key
 * dictionaries, a leaf → its trimmed text, tag names lower-cased, attributes ignored.
 *
 * Safe on hostile input: a DOCTYPE is refused, so no entity is ever defined or expanded (no "billion
 * laughs", no external entity); only `&amp;`-style predefined references and numeric character
 * references are decoded. Input is limited to 2 MiB (AutoGPT: 10 MiB) and 256 levels of nesting.
 * Weft differs from AutoGPT's parser (gravitasml) in details listed in `internal/io-xml.ts`: a bare `&`
 * is text, entity references are decoded, `<?xml …?>` and CDATA are accepted, tag names must be valid
 * XML names. AutoGPT: XMLParserBlock.
 */
export default Block.make({
  id: "weft/data/xml-parser",
  title: "XML parser",
  description: "Parses an XML document into a dictionary.",
  categories: ["data"],
  aliases: ["286380af-9529-4b55-8be0-1d7c854abdb5"],
  deterministic: true,
  input: Schema.Struct({
    input_xml: Schema.String.annotate({ title: "XML", description: "The XML document to parse." }),
  }),
  output: Schema.Struct({
    parsed_xml: Schema.Record(Schema.String, Schema.Unknown).annotate({
      title: "Parsed XML",
      description: "The document as a dictionary keyed by its root tag.",
    }),
  }),
  examples: [
    {
      description: "nested tags",
      input: { input_xml: "<tag1><tag2>content</tag2></tag1>" },
      output: [["parsed_xml", { tag1: { tag2: "content" } }]],
    },
    {
      description: "distinct children merge, repeated children make a list",
      input: { input_xml: "<Result>\n  <title> Owls </title>\n  <tags><t>a</t><t>b</t></tags>\n</Result>" },
      output: [["parsed_xml", { result: { title: "Owls", tags: [{ t: "a" }, { t: "b" }] } }]],
    },
    {
      description: "a bare ampersand is text, references are decoded",
      input: { input_xml: "<t>Tom & Jerry &lt;3 &#x2713;</t>" },
      output: [["parsed_xml", { t: "Tom & Jerry <3 ✓" }]],
    },
    {
      description: "mismatched tags fail",
      input: { input_xml: "<a>1</b>" },
      output: [
        [
          "error",
          "invalid XML at line 1, column 5: Expected closing tag 'a' (opened in line 1, col 1) instead of closing tag 'b'.",
        ],
      ],
    },
    {
      description: "entity definitions are refused",
      input: { input_xml: '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>' },
      output: [["error", "DOCTYPE declarations are not supported (entities are never defined or expanded)"]],
    },
  ],
  run: ({ input_xml }) => ({ parsed_xml: parseXml(input_xml) }),
})
