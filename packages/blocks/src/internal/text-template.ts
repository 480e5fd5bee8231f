/**
 * Template rendering as the AutoGPT text blocks do it, over `renderTemplate`.
 *
 * AutoGPT renders with Jinja's `autoescape` when a block's `escape_html` is set. Weft's renderer has no
 * autoescape, so the same effect is had by escaping every string inside the values before rendering:
 * what a template inserts is HTML-safe, while its own text is left as written. Unlike Jinja, a `| safe`
 * filter cannot undo the escaping.
 *
 * @since 0.1.0
 */
import { renderTemplate } from "../templates/index.js"

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&#34;",
  "'": "&#39;",
}

/** Escapes `& < > " '` as Jinja's autoescape (markupsafe) does. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)

/**
 * Escapes every string value in a JSON value, leaving keys (so that lookups such as `d['a&b']` still
 * work) and non-string values as they are.
 */
export const escapeHtmlDeep = (value: unknown): unknown => {
  if (typeof value === "string") return escapeHtml(value)
  if (Array.isArray(value)) return value.map(escapeHtmlDeep)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, {
        value: escapeHtmlDeep(item),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }
  return value
}

/**
 * Renders `template` with `values`, HTML-escaping the values first when `escapeValues` is set. Throws
 * `TemplateError` like `renderTemplate`.
 */
export const renderWithEscaping = (
  template: string,
  values: Readonly<Record<string, unknown>>,
  escapeValues: boolean,
): string =>
  renderTemplate(template, escapeValues ? (escapeHtmlDeep(values) as Record<string, unknown>) : values)
