/**
 * Markdown to HTML and to plain text with `unified`: CommonMark plus GitHub extensions (tables,
 * strikethrough, task lists, autolinks, footnotes).
 *
 * HTML output is safe to embed: raw HTML in the Markdown is dropped (not passed through), and link and
 * image addresses other than `http(s):`, `mailto:`, `tel:` or relative ones (e.g. `javascript:`) are
 * removed.
 *
 * Cost: conversion is synchronous and runs at roughly 100,000 characters a second (slower for large
 * tables), so texts are limited to `MAX_MARKDOWN` characters, and texts crowded with formatting marks, on
 * which the parser is quadratic, are refused (`MARKER_BUDGET`). Absurdly deep nesting (thousands of
 * `>`) is reported as an error rather than overflowing the stack.
 *
 * @since 0.1.0
 */
import rehypeStringify from "rehype-stringify"
import remarkGfm from "remark-gfm"
import remarkParse from "remark-parse"
import remarkRehype from "remark-rehype"
import remarkStringify from "remark-stringify"
import stripMarkdown from "strip-markdown"
import { unified } from "unified"

/** The largest Markdown text the converters accept, in characters. */
export const MAX_MARKDOWN = 100_000

/**
 * The parser (micromark) takes time quadratic in the number of emphasis, link and quote markers within
 * one block (e.g. 30,000 characters of `*a_` take over ten seconds). The converters refuse a text whose
 * sum, over its blocks, of the squared count of such markers exceeds this budget: well under a second
 * of parsing in the worst case, far above what real documents use.
 */
export const MARKER_BUDGET = 10_000_000

/** A syntax-tree node, as far as these helpers look into one. */
interface TreeNode {
  readonly type: string
  value?: string
  properties?: Record<string, unknown>
  children?: Array<TreeNode>
}

/** Properties of HTML elements that hold an address. */
const URL_PROPERTIES = ["href", "src", "cite", "action", "formAction", "poster", "longDesc", "background"]

/** An address with no scheme (relative, `#fragment`, `/path`) or with one of the safe schemes. */
const isSafeUrl = (url: string): boolean => {
  // Browsers ignore control characters and whitespace inside a scheme: strip them before looking.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const compact = url.replace(/[\u0000-\u0020\u007f]/g, "")
  const colon = compact.indexOf(":")
  if (colon === -1) return true
  const boundary = compact.search(/[/?#]/)
  if (boundary !== -1 && boundary < colon) return true
  return /^(?:https?|mailto|tel):/i.test(compact)
}

const dropUnsafeUrls = (node: TreeNode): void => {
  const properties = node.properties
  if (properties !== undefined) {
    for (const key of URL_PROPERTIES) {
      const value = properties[key]
      if (typeof value === "string" && !isSafeUrl(value)) delete properties[key]
    }
  }
  for (const child of node.children ?? []) dropUnsafeUrls(child)
}

/** A rehype plugin that removes unsafe addresses from links, images and the like. */
const rehypeSafeUrls = () => (tree: TreeNode) => {
  dropUnsafeUrls(tree)
}

const htmlProcessor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkRehype)
  .use(rehypeSafeUrls)
  .use(rehypeStringify)

const textOf = (node: TreeNode): string =>
  node.value ?? (node.children ?? []).map((child) => textOf(child)).join("")

const text = (value: string): TreeNode => ({ type: "text", value })
const paragraph = (value: string): TreeNode => ({ type: "paragraph", children: [text(value)] })

/** A table becomes one line per row, its cells separated by tabs. */
const tableToText = (node: TreeNode): TreeNode =>
  paragraph(
    (node.children ?? [])
      .map((row) => (row.children ?? []).map((cell) => textOf(cell)).join("\t"))
      .join("\n"),
  )

/** A code block keeps its code, verbatim. */
const codeToText = (node: TreeNode): TreeNode => paragraph(node.value ?? "")

/** Prints text as it is: no Markdown escaping, since the output is plain text. */
const rawText = (node: TreeNode): string => node.value ?? ""

const textProcessor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(stripMarkdown, {
    remove: [
      ["table", tableToText as never],
      ["code", codeToText as never],
    ],
  })
  .use(remarkStringify, { handlers: { text: rawText as never } })

/** The characters whose runs the parser may resolve in quadratic time. */
const MARKERS = new Set(["*", "_", "[", "]", "~", "`", "<", ">"])

/**
 * Sums, over the blocks of the text (runs of lines between blank lines, fenced code excepted), the
 * squared number of markers in each.
 */
const markerCost = (markdown: string): number => {
  let cost = 0
  let count = 0
  let fence: string | undefined
  for (const line of markdown.split("\n")) {
    const fenceMark = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1]
    if (fence !== undefined) {
      if (fenceMark !== undefined && fenceMark[0] === fence[0] && fenceMark.length >= fence.length)
        fence = undefined
      continue
    }
    if (fenceMark !== undefined) {
      fence = fenceMark
      cost += count * count
      count = 0
      continue
    }
    if (line.trim() === "") {
      cost += count * count
      count = 0
      continue
    }
    for (const c of line) if (MARKERS.has(c)) count++
  }
  return cost + count * count
}

const check = (markdown: string): void => {
  if (markdown.length > MAX_MARKDOWN) {
    throw new Error(`the Markdown text is longer than ${MAX_MARKDOWN} characters`)
  }
  if (markerCost(markdown) > MARKER_BUDGET) {
    throw new Error(
      "the Markdown text has too many formatting marks (*, _, [, ], ~, `, <, >) within single paragraphs to convert safely",
    )
  }
}

/** Runs a conversion, turning a stack overflow (absurdly deep nesting) into a clear error. */
const guarded = (convert: () => string): string => {
  try {
    return convert()
  } catch (error) {
    if (error instanceof RangeError) throw new Error("the Markdown text is nested too deeply to convert")
    throw error
  }
}

/**
 * Converts Markdown to an HTML fragment.
 *
 * @example
 * ```ts
 * markdownToHtml("# Hi\n\n**bold**") // "<h1>Hi</h1>\n<p><strong>bold</strong></p>"
 * ```
 */
export const markdownToHtml = (markdown: string): string => {
  check(markdown)
  return guarded(() => String(htmlProcessor.processSync(markdown)).trimEnd())
}

/**
 * Converts Markdown to plain text: formatting marks removed, one blank line between blocks, table rows
 * as tab-separated lines, code blocks verbatim, images as their alt text.
 *
 * @example
 * ```ts
 * markdownToText("# Hi\n\n**bold** [link](https://x.y)") // "Hi\n\nbold link"
 * ```
 */
export const markdownToText = (markdown: string): string => {
  check(markdown)
  return guarded(() => String(textProcessor.processSync(markdown)).trimEnd())
}
