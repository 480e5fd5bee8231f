/**
 * Jinja-compatible templates, rendered by an interpreter that cannot reach the host: `@huggingface/jinja`
 * evaluates its own AST over its own value types, so there is no JavaScript property access, no
 * `constructor`, no `__proto__` and no globals. AutoGPT agents' templates use this syntax.
 *
 * @since 0.1.0
 */
import { Template } from "@huggingface/jinja"
import { Data } from "effect"

/**
 * A template that does not parse, or fails while rendering.
 *
 * @category errors
 */
export class TemplateError extends Data.TaggedError("TemplateError")<{ readonly reason: string }> {
  override get message(): string {
    return `template error: ${this.reason}`
  }
}

/** The largest template the renderer accepts, in characters. */
const MAX_TEMPLATE = 100_000

/** Copies a value into plain JSON data, so that templates only ever see data, never host objects. */
const toData = (value: unknown, depth = 0): unknown => {
  if (depth > 64) return null
  if (
    value === null ||
    typeof value === "string" ||
    typeof value === "number" ||
    typeof value === "boolean"
  ) {
    return value
  }
  if (Array.isArray(value)) return value.map((v) => toData(v, depth + 1))
  if (typeof value === "object") {
    const out: Record<string, unknown> = {}
    // defineProperty, not assignment: a key named `__proto__` stays an ordinary key of the copy.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: toData(v, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }
  return null
}

/**
 * Renders a Jinja template with `values`. Throws `TemplateError` on a syntax or render error.
 *
 * @example
 * ```ts
 * renderTemplate("Hello {{ name }}!", { name: "Weft" }) // "Hello Weft!"
 * ```
 *
 * @category rendering
 */
export const renderTemplate = (template: string, values: Readonly<Record<string, unknown>>): string => {
  if (template.length > MAX_TEMPLATE)
    throw new TemplateError({ reason: `longer than ${MAX_TEMPLATE} characters` })
  let compiled: Template
  try {
    compiled = new Template(template)
  } catch (error) {
    throw new TemplateError({ reason: error instanceof Error ? error.message : String(error) })
  }
  try {
    return compiled.render(toData(values) as Record<string, unknown>)
  } catch (error) {
    throw new TemplateError({ reason: error instanceof Error ? error.message : String(error) })
  }
}
