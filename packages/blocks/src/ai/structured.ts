/**
 * The prompt-and-retry loop behind every AI block, following AutoGPT's structured response generator:
 *
 * 1. the conversation history, then the system prompt, then (when a format is expected) a system message
 *    describing the JSON to answer with, then the user prompt; `prompt_values` fill `{{ placeholders }}` in
 *    the prompt and system prompt first (only when there are any);
 * 2. up to `retry` attempts: a call; with an expected format, the JSON is taken from the answer (between
 *    `<json_output id="…">` tags that carry a random id, or the whole answer in pure JSON mode) and checked
 *    for the expected keys; a bad answer is appended with a correction and the next attempt asks again;
 * 3. a call that fails is attempted again too, unless retrying cannot help (bad key, rate limit, unknown
 *    model, refused endpoint); a context-length error lowers `max_tokens` by 15% first.
 *
 * The wording of the instructions is Weft's own.
 *
 * @since 0.1.0
 */
import { renderTemplate } from "../templates/index.js"
import { type ChatMessage, LlmCallError, type LlmClient } from "./client.js"
import { toStrField } from "./python.js"

/**
 * What one structured generation needs.
 *
 * @category models
 */
export interface StructuredRequest {
  readonly prompt: string
  readonly sysPrompt?: string
  /** Keys the JSON answer must have, each with a description. Empty: the answer is plain text. */
  readonly expectedFormat?: Readonly<Record<string, string>>
  /** The answer is a list of objects in the expected format. */
  readonly listResult?: boolean
  /** Pure JSON mode: the endpoint's JSON mode, and the whole answer is the JSON. */
  readonly forceJsonOutput?: boolean
  readonly conversationHistory?: ReadonlyArray<unknown>
  /** Attempts in all (AutoGPT's `retry`). */
  readonly retry?: number
  readonly promptValues?: Readonly<Record<string, unknown>>
  readonly maxTokens?: number | undefined
  readonly model: string
  /** Streams each attempt's text. */
  readonly onToken?: (token: string) => void
}

/**
 * The outcome: the parsed answer (`{response: text}` when no format was expected) and the messages sent
 * on the last call.
 *
 * @category models
 */
export interface StructuredResult {
  readonly response: unknown
  readonly prompt: ReadonlyArray<ChatMessage>
}

/**
 * A generation that produced no acceptable answer; its message is the last problem met.
 *
 * @category errors
 */
export class GenerationFailed extends Error {
  override readonly name = "GenerationFailed"
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Python's name for the type of a JSON value, for messages that AutoGPT users recognise. */
const pyType = (value: unknown): string => {
  if (value === null) return "NoneType"
  if (Array.isArray(value)) return "list"
  if (typeof value === "string") return "str"
  if (typeof value === "boolean") return "bool"
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float"
  return "dict"
}

/** A random id for the output tags, so that neither the user's text nor the model's can fake one. */
const tagId = (): string => {
  const bytes = new Uint8Array(8)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
}

/** The system message that tells the model what JSON to answer with. */
export const formatInstructions = (
  expected: Readonly<Record<string, string>>,
  options: { readonly listMode: boolean; readonly pureJson: boolean; readonly tagStart: string },
): string => {
  let shape = JSON.stringify(expected, null, 2)
  const innerType = options.listMode ? "array" : "object"
  const outerType = options.pureJson ? "object" : innerType
  if (options.listMode) {
    shape = `[\n  ${shape.replaceAll("\n", "\n  ")},\n  ...\n]`
    if (options.pureJson) {
      shape = `{\n  "reasoning": "... (optional)",\n  "results": ${shape.replaceAll("\n", "\n  ")}\n}`
    }
  }
  const lines = [
    `Your answer MUST include one valid JSON ${outerType} that follows exactly this format:`,
    options.pureJson ? shape : `${options.tagStart}\n${shape}\n</json_output>`,
    "",
    "Give an empty string for any key you cannot answer.",
  ]
  if (!options.pureJson) {
    lines.push(
      "",
      `Put your final JSON answer between ${options.tagStart} and </json_output>, even if you are told to use other tags.`,
      `Your answer MUST contain exactly ONE such block, holding nothing but the JSON ${outerType}; text outside the block is fine.`,
    )
  }
  return lines.join("\n")
}

/** The user message sent after an answer that could not be used. */
export const correction = (
  problem: string,
  options: {
    readonly parseable: boolean
    readonly listMode: boolean
    readonly pureJson: boolean
    readonly tagStart: string
  },
): string => {
  const type = !options.listMode || options.pureJson ? "object" : "array"
  const complaint = options.parseable
    ? `Your previous answer did not match the expected JSON ${type} format.`
    : `Your previous answer did not contain a JSON ${type} that could be parsed.`
  const ask = options.pureJson
    ? `Please answer with a valid JSON ${type} in the expected format.`
    : `Please answer with a ${options.tagStart}...</json_output> block holding a valid JSON ${type} in the expected format.`
  return `${complaint}\n\n${problem}\n\n${ask}`
}

/** Takes the JSON out of an answer; throws a `SyntaxError` or an `Error` saying what is wrong. */
export const extractJson = (
  text: string,
  options: { readonly pureJson: boolean; readonly tagStart: string },
) => {
  if (options.pureJson) {
    try {
      return JSON.parse(text) as unknown
    } catch (first) {
      // Models sometimes wrap the object in ```json fences or a sentence: try from the first { to the last }.
      const start = text.indexOf("{")
      const end = text.lastIndexOf("}")
      if (start >= 0 && end > start) {
        try {
          return JSON.parse(text.slice(start, end + 1)) as unknown
        } catch {}
      }
      throw first
    }
  }
  const at = text.indexOf(options.tagStart)
  if (at < 0) throw new Error(`The answer has no ${options.tagStart}...</json_output> block.`)
  const rest = text.slice(at + options.tagStart.length)
  const end = rest.lastIndexOf("</json_output>")
  return JSON.parse((end < 0 ? rest : rest.slice(0, end)).trim()) as unknown
}

const problemOf = (item: unknown, expected: Readonly<Record<string, string>>): string | undefined => {
  if (!isRecord(item)) return `Expected a dictionary, but got ${pyType(item)}`
  const missing = Object.keys(expected).filter((key) => !Object.hasOwn(item, key))
  return missing.length === 0 ? undefined : `Missing keys: ${missing.join(", ")}`
}

/** A conversation history entry as a chat message (AutoGPT sends the dicts as they are). */
const historyMessage = (entry: unknown): ChatMessage =>
  (isRecord(entry) ? { ...entry } : { role: "user", content: toStrField(entry) }) as unknown as ChatMessage

/** Python truthiness of a history entry: `None`, `{}`, `""` and friends are skipped. */
const present = (entry: unknown): boolean =>
  entry !== null &&
  entry !== undefined &&
  entry !== false &&
  entry !== 0 &&
  entry !== "" &&
  !(Array.isArray(entry) && entry.length === 0) &&
  !(isRecord(entry) && Object.keys(entry).length === 0)

/**
 * The messages of the first call (history, system prompt, format instructions, prompt), with the prompt
 * values rendered in. Throws `TemplateError` for a template that does not render.
 *
 * @category generation
 */
export const buildMessages = (request: StructuredRequest, tagStart: string): Array<ChatMessage> => {
  const messages: Array<ChatMessage> = (request.conversationHistory ?? []).filter(present).map(historyMessage)
  let prompt = request.prompt
  let sysPrompt = request.sysPrompt ?? ""
  const values = request.promptValues ?? {}
  if (Object.keys(values).length > 0) {
    const strings = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, toStrField(v)]))
    prompt = renderTemplate(prompt, strings)
    sysPrompt = renderTemplate(sysPrompt, strings)
  }
  if (sysPrompt !== "") messages.push({ role: "system", content: sysPrompt })
  const expected = request.expectedFormat ?? {}
  if (Object.keys(expected).length > 0) {
    messages.push({
      role: "system",
      content: formatInstructions(expected, {
        listMode: request.listResult === true,
        pureJson: request.forceJsonOutput === true,
        tagStart,
      }),
    })
  }
  if (prompt !== "") messages.push({ role: "user", content: prompt })
  return messages
}

/**
 * Runs the generation loop. The client is made (`getClient`) only once the messages are built, so that a
 * bad template, an empty prompt or a `retry` below 1 fail first, whatever the configuration. Throws
 * `GenerationFailed` with the last problem when no attempt gave an acceptable answer, `LlmCallError` (kind
 * `aborted`) when cancelled, and `TemplateError` for a bad template.
 *
 * @category generation
 */
export const generateStructured = async (
  getClient: () => LlmClient,
  request: StructuredRequest,
  signal?: AbortSignal,
): Promise<StructuredResult> => {
  const attempts = request.retry ?? 3
  if (!(attempts >= 1)) throw new GenerationFailed(`retry is ${attempts}: at least 1 attempt is needed.`)
  const tagStart = `<json_output id="${tagId()}">`
  const messages = buildMessages(request, tagStart)
  if (messages.length === 0) {
    throw new GenerationFailed(
      "Nothing to send: the prompt, the system prompt and the conversation are all empty.",
    )
  }
  const client = getClient()
  const expected = request.expectedFormat ?? {}
  const wantsJson = Object.keys(expected).length > 0
  const listMode = request.listResult === true
  const pureJson = request.forceJsonOutput === true
  let maxTokens = request.maxTokens
  let problem = "No answer was received."
  const options = { listMode, pureJson, tagStart }

  for (let attempt = 0; attempt < attempts; attempt++) {
    if (signal?.aborted === true) throw new LlmCallError("the request was cancelled", "aborted")
    let text: string
    try {
      const result = await client.chat({
        messages,
        model: request.model,
        maxTokens,
        json: pureJson && wantsJson,
        ...(request.onToken === undefined ? {} : { onToken: request.onToken }),
      })
      text = result.text
    } catch (error) {
      if (!(error instanceof LlmCallError)) throw error
      if (error.kind === "aborted") throw error
      problem = `Error calling LLM: ${error.message}`
      if (error.kind === "fatal") break
      if (error.kind === "context") maxTokens = Math.max(1, Math.floor((maxTokens ?? 4096) * 0.85))
      continue
    }
    if (!wantsJson) return { response: { response: text }, prompt: [...messages] }
    let parsed: unknown
    try {
      parsed = extractJson(text, options)
    } catch (error) {
      messages.push({ role: "assistant", content: text })
      problem = correction(error instanceof Error ? error.message : String(error), {
        ...options,
        parseable: false,
      })
      messages.push({ role: "user", content: problem })
      continue
    }
    if (listMode && isRecord(parsed)) {
      if (Array.isArray(parsed.results)) parsed = parsed.results
      else {
        problem = `Expected an array of objects under the key 'results', but got: ${JSON.stringify(parsed)}`
        messages.push({ role: "assistant", content: text }, { role: "user", content: problem })
        continue
      }
    }
    const problems = (Array.isArray(parsed) ? parsed : [parsed])
      .map((item) => problemOf(item, expected))
      .filter((p): p is string => p !== undefined)
    if (problems.length === 0) return { response: parsed, prompt: [...messages] }
    messages.push({ role: "assistant", content: text })
    problem = correction(problems.join("\n"), { ...options, parseable: true })
    messages.push({ role: "user", content: problem })
  }
  throw new GenerationFailed(problem)
}
