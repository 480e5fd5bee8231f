/**
 * How AutoGPT turns input values into prompt text, so that imported agents send the same prompts.
 *
 * @since 0.1.0
 */
import { jsonDumps } from "../internal/python.js"

/**
 * AutoGPT's conversion of an input value to a `str` field (`prompt_values`, `expected_format`): a string
 * stays as it is, anything else becomes Python's `json.dumps` of it (`{"a": [1, 2]}`).
 */
export const toStrField = (value: unknown): string => (typeof value === "string" ? value : jsonDumps(value))
