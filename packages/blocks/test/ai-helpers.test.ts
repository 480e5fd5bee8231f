import { checkExamples } from "@weft/engine"
import { afterEach, describe, expect, it } from "vitest"
import { fetchThroughSafeClient, llmConfigFromEnv, mapModel } from "../src/ai/index.js"
import { toStrField } from "../src/ai/python.js"
import { correction, extractJson, formatInstructions } from "../src/ai/structured.js"
import AICondition, { parseAnswer } from "../src/blocks/ai/AICondition.js"
import AIConversation from "../src/blocks/ai/AIConversation.js"
import AIListGenerator from "../src/blocks/ai/AIListGenerator.js"
import AIStructuredResponseGenerator from "../src/blocks/ai/AIStructuredResponseGenerator.js"
import AITextGenerator from "../src/blocks/ai/AITextGenerator.js"
import AITextSummarizer, { splitText } from "../src/blocks/ai/AITextSummarizer.js"
import { SafeHttpClient } from "../src/http/index.js"
import { type OpenAIServer, startOpenAIServer } from "./support/openai-server.js"

const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL }
let servers: Array<OpenAIServer> = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
  for (const [name, value] of [
    ["OPENAI_API_KEY", saved.key],
    ["OPENAI_BASE_URL", saved.url],
  ] as const) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
})

const serve = async (...args: Parameters<typeof startOpenAIServer>) => {
  const server = await startOpenAIServer(...args)
  servers.push(server)
  return server
}

const loopbackFetch = fetchThroughSafeClient(new SafeHttpClient({ allow: ["127.0.0.1"] }), 5_000)

const post = (server: OpenAIServer, body: unknown, headers: Record<string, string> = {}) =>
  loopbackFetch(`${server.baseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  })

describe("prompt values and expected formats as AutoGPT converts them", () => {
  it("keeps strings and writes anything else as Python's json.dumps", () => {
    expect(toStrField("plain {{ x }}")).toBe("plain {{ x }}")
    expect(toStrField({ a: [1, 2.5, true, null], b: "é\n" })).toBe(
      '{"a": [1, 2.5, true, null], "b": "\\u00e9\\n"}',
    )
    expect(toStrField(42)).toBe("42")
    expect(toStrField(null)).toBe("null")
  })
})

describe("AI condition answers", () => {
  it("reads exact and fuzzy true/false answers as AutoGPT does", () => {
    expect(parseAnswer(" TRUE ")).toBe(true)
    expect(parseAnswer("false")).toBe(false)
    expect(parseAnswer("Yes, it is.")).toBe(true)
    expect(parseAnswer("The answer is 0")).toBe(false)
    expect(parseAnswer("untrue")).toBeUndefined()
    expect(parseAnswer("yes and no")).toBeUndefined()
    expect(parseAnswer("true, yes")).toBeUndefined()
    expect(parseAnswer("")).toBeUndefined()
  })
})

describe("summarizer chunking", () => {
  it("makes overlapping word chunks, at least one word apart, at most 100", () => {
    expect(splitText("a b c d e f g", 3, 1)).toEqual(["a b c", "c d e", "e f g", "g"])
    expect(splitText("a b c", 2, 5)).toEqual(["a b", "b c", "c"])
    expect(splitText("   ", 10, 2)).toEqual([])
    expect(splitText(Array.from({ length: 500 }, (_, i) => `w${i}`).join(" "), 2, 0)).toHaveLength(100)
  })
})

describe("structured answers", () => {
  const tagStart = '<json_output id="0123456789abcdef">'

  it("takes the JSON from between the tags, or the whole answer in pure JSON mode", () => {
    expect(
      extractJson(`thinking…\n${tagStart}\n{"a": 1}\n</json_output> done`, { pureJson: false, tagStart }),
    ).toEqual({
      a: 1,
    })
    expect(() => extractJson('{"a": 1}', { pureJson: false, tagStart })).toThrow("has no")
    expect(extractJson('{"a": [1]}', { pureJson: true, tagStart })).toEqual({ a: [1] })
    expect(extractJson('```json\n{"a": 2}\n```', { pureJson: true, tagStart })).toEqual({ a: 2 })
    expect(() => extractJson("no json", { pureJson: true, tagStart })).toThrow(SyntaxError)
  })

  it("describes the expected format, with the tag, the list shape and the word JSON (needed by JSON mode)", () => {
    const object = formatInstructions({ name: "a name" }, { listMode: false, pureJson: false, tagStart })
    expect(object).toContain(`${tagStart}\n{\n  "name": "a name"\n}\n</json_output>`)
    expect(object).toContain("exactly ONE")
    const list = formatInstructions({ name: "a name" }, { listMode: true, pureJson: true, tagStart })
    expect(list).toContain('"results": [\n    {\n      "name": "a name"\n    },\n    ...\n  ]')
    expect(list).not.toContain(tagStart)
    expect(list).toMatch(/JSON object/)
    expect(
      correction("Missing keys: x", { parseable: true, listMode: false, pureJson: false, tagStart }),
    ).toContain(`Missing keys: x\n\nPlease answer with a ${tagStart}`)
  })
})

describe("LLM settings", () => {
  it("maps model names by their own entry, else by '*', else keeps them", () => {
    const config = { models: { "gpt-4o": "llama3.2", "*": "qwen2.5" } }
    expect(mapModel(config, "gpt-4o")).toBe("llama3.2")
    expect(mapModel(config, "o1")).toBe("qwen2.5")
    expect(mapModel({ models: { "gpt-4o": "x" } }, "o1")).toBe("o1")
    expect(mapModel(undefined, "o1")).toBe("o1")
  })

  it("reads OPENAI_BASE_URL and OPENAI_API_KEY, ignoring empty values", () => {
    process.env.OPENAI_BASE_URL = "http://10.1.2.3:8000/v1"
    process.env.OPENAI_API_KEY = "  "
    expect(llmConfigFromEnv()).toEqual({ baseURL: "http://10.1.2.3:8000/v1" })
  })
})

describe("AI block examples", () => {
  it("fail the same way, without any request, even when the environment points at a live endpoint", async () => {
    const server = await serve({ handler: () => "should never be asked" })
    process.env.OPENAI_BASE_URL = server.baseURL
    process.env.OPENAI_API_KEY = "sk-env-key-0000"
    for (const block of [
      AITextGenerator,
      AIStructuredResponseGenerator,
      AIListGenerator,
      AITextSummarizer,
      AIConversation,
      AICondition,
    ]) {
      const results = await checkExamples(block)
      expect(results.length).toBeGreaterThan(0)
      for (const result of results)
        expect(result.actual, `${block.id}: ${result.description}`).toEqual(result.expected)
    }
    expect(server.requests).toHaveLength(0)
  })
})

describe("the test server speaks the chat completions protocol", () => {
  it("streams chat.completion.chunk events with usage, then [DONE]", async () => {
    const server = await serve({ replies: [{ chunks: ["Hel", "lo"] }] })
    const response = await post(server, {
      model: "m",
      messages: [{ role: "user", content: "hi there" }],
      stream: true,
      stream_options: { include_usage: true },
    })
    expect(response.headers.get("content-type")).toContain("text/event-stream")
    const events = (await response.text()).split("\n\n").filter((e) => e !== "")
    expect(events.at(-1)).toBe("data: [DONE]")
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.replace(/^data: /, "")) as Record<string, unknown>)
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true)
    const deltas = chunks.flatMap((c) =>
      (c.choices as Array<{ delta: { content?: string } }>).map((choice) => choice.delta.content ?? ""),
    )
    expect(deltas.join("")).toBe("Hello")
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 1 } })
  })

  it("answers like OpenAI: JSON mode needs the word json, a wrong key gets 401, an empty queue 500", async () => {
    const server = await serve({ apiKey: "sk-right" })
    const jsonMode = await post(
      server,
      { model: "m", messages: [{ role: "user", content: "hi" }], response_format: { type: "json_object" } },
      { authorization: "Bearer sk-right" },
    )
    expect(jsonMode.status).toBe(400)
    expect(((await jsonMode.json()) as { error: { message: string } }).error.message).toContain(
      "the word 'json'",
    )
    const wrongKey = await post(
      server,
      { model: "m", messages: [{ role: "user", content: "hi" }] },
      {
        authorization: "Bearer sk-wrong",
      },
    )
    expect(wrongKey.status).toBe(401)
    const empty = await post(
      server,
      { model: "m", messages: [{ role: "user", content: "hi" }] },
      {
        authorization: "Bearer sk-right",
      },
    )
    expect(empty.status).toBe(500)
    expect(server.requests.map((r) => r.status)).toEqual([400, 401, 500])
    expect(server.requests[1]?.headers.authorization).toBe("Bearer sk-wrong")
  })

  it("returns a chat.completion object with the message and usage", async () => {
    const server = await serve({ replies: [{ content: "Hi!", delayMs: 5 }] })
    const response = await post(server, { model: "gpt-4o", messages: [{ role: "user", content: "hello" }] })
    expect(await response.json()).toMatchObject({
      object: "chat.completion",
      model: "gpt-4o",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi!" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    })
    expect(await server.requests[0]!.closed).toBe("completed")
  })
})
