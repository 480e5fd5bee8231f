/**
 * XML to a dictionary, in the shape AutoGPT's `XMLParserBlock` gives (it uses the `gravitasml` library),
 * parsed with fast-xml-parser:
 *
 * - an element with no child elements becomes `{ tag: "its text" }` (text trimmed, `""` when empty);
 * - an element with one child element becomes `{ tag: { child… } }`;
 * - an element whose child elements all have different tags becomes `{ tag: { a: …, b: … } }`;
 * - an element with repeated child tags becomes `{ tag: [ { a: … }, { a: … } ] }`;
 * - tag names are lower-cased; text beside child elements is dropped; comments are ignored.
 *
 * Safety: a `<!DOCTYPE …>` is refused, so no entity is ever defined or expanded (no "billion laughs", no
 * external entity, XXE); fast-xml-parser's own entity processing is off. Only the five predefined
 * references (`&amp;` …) and numeric character references are decoded, one character each. The input is
 * at most `MAX_XML` characters (AutoGPT allows 10 MiB) and `MAX_XML_DEPTH` levels deep.
 *
 * Where Weft differs from gravitasml: attributes are ignored (gravitasml folds them into the tag name),
 * a bare `&` is accepted as text, entity references are decoded (gravitasml leaves them as written), an
 * XML declaration `<?xml …?>` and CDATA sections are accepted (AutoGPT refuses them), and tag names must be
 * valid XML names (gravitasml accepts `<1>` or `<two words>`).
 *
 * @since 0.1.0
 */
import { XMLParser, XMLValidator } from "fast-xml-parser"

/**
 * The largest XML input accepted, in characters (bare `&`s counted as the `&amp;` they are read as).
 * Parsing is synchronous at a few megabytes a second, so this is lower than AutoGPT's 10 MiB.
 */
export const MAX_XML = 2 * 1024 * 1024

/** The deepest nesting accepted (AutoGPT's limit). */
export const MAX_XML_DEPTH = 256

/** XML that cannot be read. */
export class XmlError extends Error {
  override readonly name = "XmlError"
}

/** A parsed element in fast-xml-parser's ordered form: `{ tag: [children…] }` or `{ "#text": "…" }`. */
type Ordered = Readonly<Record<string, unknown>>

const TEXT = "#text"

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  processEntities: false,
  htmlEntities: false,
  trimValues: true,
  parseTagValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  cdataPropName: false,
  maxNestedTags: MAX_XML_DEPTH,
})

/** `&` not starting an entity or character reference: LLM output often holds one (`Tom & Jerry`). */
const BARE_AMPERSAND = /&(?!(?:[A-Za-z_:][\w.:-]*|#[0-9]+|#x[0-9A-Fa-f]+);)/g

const PREDEFINED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }

/** Decodes the predefined entities and character references; leaves any other reference as written. */
const decodeText = (text: string): string =>
  text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#")) {
      const code = ref[1] === "x" ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10)
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
        ? String.fromCodePoint(code)
        : whole
    }
    return PREDEFINED[ref] ?? whole
  })

/** Sets a key as an own property, so that a tag named `__proto__` is data, never a prototype change. */
const put = (target: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

const isText = (entry: Ordered): boolean => Object.hasOwn(entry, TEXT)

/** The tag of an element entry (its one key besides `:@`). */
const tagOf = (entry: Ordered): string => Object.keys(entry).find((key) => key !== ":@") ?? ""

const childrenOf = (entry: Ordered): ReadonlyArray<Ordered> => {
  const children = entry[tagOf(entry)]
  return Array.isArray(children) ? (children as ReadonlyArray<Ordered>) : []
}

/** One element as gravitasml's `Node.to_dict` shapes it: `{ tag: value }`. */
const toDict = (entry: Ordered, depth: number): Record<string, unknown> => {
  if (depth > MAX_XML_DEPTH) throw new XmlError(`XML nesting exceeds the maximum depth of ${MAX_XML_DEPTH}`)
  const tag = tagOf(entry).toLowerCase()
  const children = childrenOf(entry)
  const elements = children.filter((child) => !isText(child))
  const out: Record<string, unknown> = {}
  if (elements.length === 0) {
    const text = children.map((child) => String(child[TEXT] ?? "")).join("")
    put(out, tag, decodeText(text))
  } else if (elements.length === 1) {
    put(out, tag, toDict(elements[0] as Ordered, depth + 1))
  } else {
    const dicts = elements.map((element) => toDict(element, depth + 1))
    const keys = dicts.map((dict) => Object.keys(dict)[0])
    if (new Set(keys).size === keys.length) {
      const merged: Record<string, unknown> = {}
      for (const dict of dicts) for (const [key, value] of Object.entries(dict)) put(merged, key, value)
      put(out, tag, merged)
    } else {
      put(out, tag, dicts)
    }
  }
  return out
}

/**
 * Parses an XML document with a single root element into `{ root: … }` (see the module description).
 * Throws `XmlError` for malformed XML, a DOCTYPE, or input over the size or depth limits.
 *
 * @example
 * ```ts
 * parseXml("<a><b>1</b><b>2</b></a>") // { a: [{ b: "1" }, { b: "2" }] }
 * ```
 */
export const parseXml = (xml: string): Record<string, unknown> => {
  if (xml.length > MAX_XML) throw new XmlError(`XML too large: ${xml.length} characters > ${MAX_XML}`)
  if (xml.trim() === "") throw new XmlError("XML input is empty")
  if (/<!DOCTYPE/i.test(xml)) {
    throw new XmlError("DOCTYPE declarations are not supported (entities are never defined or expanded)")
  }
  const escaped = xml.replace(BARE_AMPERSAND, "&amp;")
  if (escaped.length > MAX_XML) throw new XmlError(`XML too large: ${escaped.length} characters > ${MAX_XML}`)
  const valid = XMLValidator.validate(escaped, { allowBooleanAttributes: true })
  if (valid !== true) {
    const { msg, line, col } = valid.err
    throw new XmlError(`invalid XML at line ${line}, column ${col}: ${msg}`)
  }
  let parsed: ReadonlyArray<Ordered>
  try {
    parsed = parser.parse(escaped) as ReadonlyArray<Ordered>
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (message.startsWith("Maximum nested tags")) {
      throw new XmlError(`XML nesting exceeds the maximum depth of ${MAX_XML_DEPTH}`)
    }
    throw new XmlError(`invalid XML: ${message}`)
  }
  const roots = parsed.filter((entry) => !isText(entry))
  const root = roots[0]
  if (root === undefined) throw new XmlError("XML must include a root element")
  if (roots.length > 1) throw new XmlError("XML must have a single root element")
  return toDict(root, 1)
}
