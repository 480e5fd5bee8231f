import {
  type BlockResources,
  type CredentialResolver,
  type Graph,
  type NodeOutputEvent,
  type NodeProgressEvent,
  type NodeStatusEvent,
  type RunEvent,
  runGraph,
} from "@weft/engine"
import { Context } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { LlmConfig, type LlmConfigShape, NOT_CONFIGURED } from "../src/ai/index.js"
import { SafeHttp } from "../src/http/index.js"
import { coreBlocks } from "../src/index.js"
import { testClient } from "./http-listener.js"
import {
  type ChatMessage,
  type OpenAIServer,
  type RecordedRequest,
  startOpenAIServer,
} from "./support/openai-server.js"

/** AutoGPT ids of the AI blocks: graphs use them as imported agents do. */
const TEXT = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
const STRUCTURED = "ed55ac19-356e-4243-a6cb-bc599e9b716f"
const LIST = "9c0b0450-d199-458b-a731-072189dd6593"
const SUMMARIZER = "a0a69be1-4528-491c-a85a-a4ab6873e3f0"
const CONVERSATION = "32a87eab-381e-4dd4-bdb8-4c47151be35a"
const CONDITION = "553ec5b8-6c45-4299-8d75-b394d05f72ff"

const CANARY = "sk-canary-3b9e7d41c0a2f5"
const REF = { id: "openai-key", provider: "openai", type: "api_key", title: "My OpenAI key" }
/** Resolves `openai-key` to the canary key, and `host-default` to an empty secret (the host's settings apply). */
const resolver: CredentialResolver = (ref) =>
  ref.id === "openai-key"
    ? { provider: "openai", type: "api_key", secret: CANARY }
    : ref.id === "host-default"
      ? { provider: "openai", type: "api_key", secret: "" }
      : undefined

const blocks = [coreBlocks]
/** The safe client the tests send through: the loopback test server allowed, and the test guard that refuses
 * any connection beyond 127.0.0.1/127.0.0.2 should a check ever regress. */
const loopback = testClient({ allow: ["127.0.0.1"] })

let servers: Array<OpenAIServer> = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

const serve = async (...args: Parameters<typeof startOpenAIServer>) => {
  const server = await startOpenAIServer(...args)
  servers.push(server)
  return server
}

const llmResources = (config: LlmConfigShape): BlockResources =>
  Context.make(LlmConfig, config) as BlockResources

/** A graph of one node per entry: `[id, blockId, inputDefault]`. */
const graph = (
  nodes: ReadonlyArray<readonly [string, string, Record<string, unknown>]>,
  links: Graph["links"] = [],
): Graph => ({
  id: "ai-test",
  version: 1,
  name: "AI test",
  nodes: nodes.map(([id, blockId, inputDefault]) => ({ id, blockId, inputDefault })),
  links,
})

const run = async (
  g: Graph,
  resources: BlockResources,
  options: { readonly signal?: AbortSignal; readonly credentials?: CredentialResolver } = {},
) => {
  const events: Array<RunEvent> = []
  const result = await runGraph(g, {
    blocks,
    resources,
    credentials: options.credentials ?? resolver,
    onEvent: (e) => events.push(e),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  const outputs = (nodeId: string) =>
    events
      .filter((e): e is NodeOutputEvent => e.type === "NodeOutput" && e.nodeId === nodeId)
      .map((e) => [e.pin, e.value] as const)
  const failure = (nodeId: string) =>
    events.find(
      (e): e is NodeStatusEvent => e.type === "NodeStatus" && e.nodeId === nodeId && e.status === "FAILED",
    )?.error
  return { result, events, outputs, failure }
}

/** The `<json_output id="…">` tag the block asked for, read from its format instructions. */
const tagOf = (request: RecordedRequest): string => {
  for (const message of request.body.messages) {
    const match =
      typeof message.content === "string" ? /<json_output id="[0-9a-f]{16}">/.exec(message.content) : null
    if (match !== null) return match[0]
  }
  throw new Error("no output tag in the request")
}

const tagged = (request: RecordedRequest, json: unknown, before = "Let me think.") =>
  `${before}\n${tagOf(request)}\n${JSON.stringify(json)}\n</json_output>`

const contents = (messages: ReadonlyArray<ChatMessage>) =>
  messages.map((m) => `${m.role}: ${String(m.content)}`)

describe("AI text generator", () => {
  it("renders prompt_values into the prompt, sends model, system prompt and key, and emits response then prompt", async () => {
    const server = await serve({ replies: ["Owls hunt at night."] })
    const { result, outputs, events } = await run(
      graph([
        [
          "gen",
          TEXT,
          {
            prompt: "Write about {{ topic }} in {{ n }} words: {{ tags }}",
            sys_prompt: "You are terse about {{ topic }}.",
            prompt_values: { topic: "owls", n: 5, tags: ["a", "é"] },
            model: "gpt-4o",
            credentials: REF,
          },
        ],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    const request = server.requests[0]!
    expect(request.path).toBe("/v1/chat/completions")
    expect(request.headers.authorization).toBe(`Bearer ${CANARY}`)
    expect(request.body.model).toBe("gpt-4o")
    // Non-text values are inserted as AutoGPT inserts them: Python's json.dumps.
    expect(request.body.messages).toEqual([
      { role: "system", content: "You are terse about owls." },
      { role: "user", content: 'Write about owls in 5 words: ["a", "\\u00e9"]' },
    ])
    expect(request.body.stream).toBe(true)
    expect(request.body.stream_options).toEqual({ include_usage: true })
    expect(request.body.max_tokens).toBeUndefined()
    expect(outputs("gen")).toEqual([
      ["response", "Owls hunt at night."],
      ["prompt", request.body.messages],
    ])
    expect(JSON.stringify(events)).not.toContain(CANARY)
  })

  it("sends the prompt as written when there are no prompt values, and fills dynamic prompt_values pins", async () => {
    const server = await serve({ replies: ["one", "two"] })
    const { result } = await run(
      graph(
        [
          ["raw", TEXT, { prompt: "Keep {{ this }} as is", credentials: REF }],
          ["topic", "weft/basic/store-value", { input: "go", data: "herons" }],
          [
            "linked",
            TEXT,
            { prompt: "About {{ topic }}", max_tokens: 50, model: "llama3.2", credentials: REF },
          ],
        ],
        [{ sourceId: "topic", sourceName: "output", sinkId: "linked", sinkName: "prompt_values_#_topic" }],
      ),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    const bodies = server.requests.map((r) => r.body)
    const raw = bodies.find((b) => b.model === "gpt-5.2-2025-12-11")
    const linked = bodies.find((b) => b.model === "llama3.2")
    expect(raw?.messages).toEqual([{ role: "user", content: "Keep {{ this }} as is" }])
    expect(linked?.messages).toEqual([{ role: "user", content: "About herons" }])
    expect(linked?.max_tokens).toBe(50)
  })

  it("streams the answer as NodeProgress deltas, in order, before the response output", async () => {
    const server = await serve({
      replies: [{ chunks: ["The ", "quick ", "brown ", "fox"], chunkDelayMs: 5 }],
    })
    const { result, events, outputs } = await run(
      graph([["gen", TEXT, { prompt: "Tell me a story", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    const progress = events.filter((e): e is NodeProgressEvent => e.type === "NodeProgress")
    expect(progress.map((e) => e.delta)).toEqual(["The ", "quick ", "brown ", "fox"])
    expect(progress.every((e) => e.nodeId === "gen")).toBe(true)
    const responseAt = events.findIndex((e) => e.type === "NodeOutput" && e.pin === "response")
    const lastProgressAt = events.findLastIndex((e) => e.type === "NodeProgress")
    expect(lastProgressAt).toBeGreaterThanOrEqual(0)
    expect(lastProgressAt).toBeLessThan(responseAt)
    expect(outputs("gen")[0]).toEqual(["response", "The quick brown fox"])
  })

  it("uses a plain JSON response when the host turns streaming off", async () => {
    const server = await serve({ replies: ["Short answer"] })
    const { outputs, events } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback, stream: false }),
    )
    expect(server.requests[0]?.body.stream).toBeUndefined()
    expect(outputs("gen")[0]).toEqual(["response", "Short answer"])
    expect(
      events.filter((e) => e.type === "NodeProgress").map((e) => (e as NodeProgressEvent).delta),
    ).toEqual(["Short answer"])
  })

  it("maps model names through the host's model map and picks the token limit parameter per model", async () => {
    const server = await serve({ handler: () => "ok" })
    await run(
      graph([
        ["a", TEXT, { prompt: "a", model: "gpt-4o", max_tokens: 10, credentials: REF }],
        ["b", TEXT, { prompt: "b", model: "claude-sonnet-4-5-20250929", max_tokens: 20, credentials: REF }],
        ["c", TEXT, { prompt: "c", model: "o3-mini", max_tokens: 30, credentials: REF }],
      ]),
      llmResources({
        baseURL: server.baseURL,
        http: loopback,
        models: { "gpt-4o": "llama3.2", "o3-mini": "o3-mini", "*": "qwen2.5" },
      }),
    )
    const byPrompt = Object.fromEntries(
      server.requests.map((r) => [String(r.body.messages[0]?.content), r.body]),
    )
    expect(byPrompt.a).toMatchObject({ model: "llama3.2", max_tokens: 10 })
    expect(byPrompt.b).toMatchObject({ model: "qwen2.5", max_tokens: 20 })
    expect(byPrompt.c).toMatchObject({ model: "o3-mini", max_completion_tokens: 30 })
    expect(byPrompt.c?.max_tokens).toBeUndefined()
  })
})

describe("AI structured response generator", () => {
  it("asks again after an answer without valid JSON, with the bad answer and a correction in the conversation", async () => {
    const server = await serve({
      handler: (request) =>
        request.index === 0
          ? "I think Paris is nice."
          : tagged(request, { city: "Paris", country: "France" }, "Here you go:"),
    })
    const { result, outputs } = await run(
      graph([
        [
          "s",
          STRUCTURED,
          {
            prompt: "Describe {{ place }}",
            prompt_values: { place: "the French capital" },
            sys_prompt: "Be exact.",
            expected_format: { city: "the city's name", country: "its country" },
            model: "gpt-4o",
            credentials: REF,
          },
        ],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(server.requests).toHaveLength(2)
    const [first, second] = server.requests.map((r) => r.body)
    // Tag mode: no JSON mode, no streaming; the format instructions name the keys and the tag.
    expect(first?.response_format).toBeUndefined()
    expect(first?.stream).toBeUndefined()
    expect(first?.messages.map((m) => m.role)).toEqual(["system", "system", "user"])
    expect(String(first?.messages[1]?.content)).toContain('"city": "the city\'s name"')
    expect(first?.messages[2]).toEqual({ role: "user", content: "Describe the French capital" })
    expect(second?.messages.slice(0, 3)).toEqual(first?.messages)
    expect(second?.messages[3]).toEqual({ role: "assistant", content: "I think Paris is nice." })
    expect(second?.messages[4]?.role).toBe("user")
    expect(String(second?.messages[4]?.content)).toContain("could be parsed")
    expect(outputs("s")).toEqual([
      ["response", { city: "Paris", country: "France" }],
      ["prompt", second?.messages],
    ])
  })

  it("JSON mode: sends response_format json_object, asks again for missing keys, and fails after `retry` attempts", async () => {
    const server = await serve({ replies: ["not json at all", '{"city": "Paris"}', '{"city": "Lyon"}'] })
    const { result, failure } = await run(
      graph([
        [
          "s",
          STRUCTURED,
          {
            prompt: "Describe Paris",
            expected_format: { city: "the city's name", country: "its country" },
            force_json_output: true,
            retry: 2,
            credentials: REF,
          },
        ],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(server.requests).toHaveLength(2)
    for (const request of server.requests) {
      expect(request.body.response_format).toEqual({ type: "json_object" })
      expect(request.status).toBe(200)
    }
    const error = failure("s")
    expect(error).toContain("did not match the expected JSON object format")
    expect(error).toContain("Missing keys: country")
  })

  it("JSON mode with list_result takes the list under `results`; without a format the answer is {response}", async () => {
    const server = await serve({
      handler: (request) =>
        request.body.response_format !== undefined
          ? JSON.stringify({ reasoning: "easy", results: [{ name: "Ada" }, { name: "Alan" }] })
          : "plain words",
    })
    const { outputs } = await run(
      graph([
        [
          "list",
          STRUCTURED,
          {
            prompt: "Name two pioneers",
            expected_format: { name: "a name" },
            list_result: true,
            force_json_output: true,
            credentials: REF,
          },
        ],
        ["plain", STRUCTURED, { prompt: "Say something", expected_format: {}, credentials: REF }],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(outputs("list")[0]).toEqual(["response", [{ name: "Ada" }, { name: "Alan" }]])
    expect(outputs("plain")[0]).toEqual(["response", { response: "plain words" }])
    const listRequest = server.requests.find((r) => r.body.response_format !== undefined)!
    expect(String(listRequest.body.messages[0]?.content)).toContain('"results": [')
  })

  it("a context-length error lowers max_tokens by 15% and tries again", async () => {
    const server = await serve({
      replies: [{ status: 400, error: "This model's maximum context length is 8192 tokens." }, "fits now"],
    })
    const { outputs } = await run(
      graph([
        [
          "s",
          STRUCTURED,
          { prompt: "Long", expected_format: {}, max_tokens: 1000, model: "gpt-4o", credentials: REF },
        ],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(server.requests.map((r) => r.body.max_tokens)).toEqual([1000, 850])
    expect(outputs("s")[0]).toEqual(["response", { response: "fits now" }])
  })
})

describe("AI list generator", () => {
  it("emits generated_list, prompt, then each item on list_item", async () => {
    const server = await serve({
      handler: (request) => tagged(request, { list: ["Zylora", "Kharon-9", "Oceara"] }),
    })
    const { result, outputs } = await run(
      graph([
        [
          "l",
          LIST,
          {
            focus: "planets",
            source_data: "Zylora glows; Kharon-9 is dry; Oceara is wet.",
            credentials: REF,
          },
        ],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    const messages = server.requests[0]!.body.messages
    expect(messages.map((m) => m.role)).toEqual(["system", "system", "user"])
    expect(String(messages[2]?.content)).toContain("planets")
    expect(String(messages[2]?.content)).toContain("Kharon-9 is dry")
    expect(outputs("l")).toEqual([
      ["generated_list", ["Zylora", "Kharon-9", "Oceara"]],
      ["prompt", messages],
      ["list_item", "Zylora"],
      ["list_item", "Kharon-9"],
      ["list_item", "Oceara"],
    ])
  })

  it("asks again, up to max_retries attempts, when the answer lacks the list", async () => {
    const server = await serve({
      handler: (request) =>
        request.index < 2 ? tagged(request, { items: ["x"] }) : tagged(request, { list: ["y"] }),
    })
    const { outputs } = await run(
      graph([["l", LIST, { focus: "letters", max_retries: 3, credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(server.requests).toHaveLength(3)
    expect(outputs("l").filter(([pin]) => pin === "list_item")).toEqual([["list_item", "y"]])
  })
})

describe("AI text summarizer", () => {
  it("summarizes each chunk in its own call, then combines the chunk summaries", async () => {
    const server = await serve({
      handler: (request) => {
        const text = contents(request.body.messages).join("\n")
        if (text.includes('"final_summary"')) return tagged(request, { final_summary: "All about counting." })
        return tagged(request, { summary: `part ${request.index + 1}` })
      },
    })
    const words = Array.from({ length: 25 }, (_, i) => `w${i}`)
    const { result, outputs } = await run(
      graph([
        [
          "sum",
          SUMMARIZER,
          {
            text: words.join(" "),
            max_tokens: 10,
            chunk_overlap: 2,
            style: "bullet points",
            credentials: REF,
          },
        ],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    // 10-word chunks every 8 words: 0-9, 8-17, 16-24, 24; then one final call.
    expect(server.requests).toHaveLength(5)
    const userText = (r: RecordedRequest) => String(r.body.messages.at(-1)?.content)
    expect(userText(server.requests[0]!)).toContain("```w0 w1 w2 w3 w4 w5 w6 w7 w8 w9```")
    expect(userText(server.requests[1]!)).toContain("```w8 w9 w10 w11 w12 w13 w14 w15 w16 w17```")
    expect(userText(server.requests[3]!)).toContain("```w24```")
    expect(userText(server.requests[0]!)).toContain("bullet points")
    expect(userText(server.requests[4]!)).toContain("part 1\n\npart 2\n\npart 3\n\npart 4")
    expect(outputs("sum")).toEqual([
      ["summary", "All about counting."],
      ["prompt", server.requests[4]!.body.messages],
    ])
  })

  it("fails when the model's summary is not a string", async () => {
    const server = await serve({ handler: (request) => tagged(request, { summary: ["a", "b"] }) })
    const { failure } = await run(
      graph([["sum", SUMMARIZER, { text: "short text", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(failure("sum")).toBe('The model answered the summary with a list, not a string: ["a", "b"]')
  })
})

describe("AI conversation", () => {
  it("sends the message history, then the prompt, and streams the reply", async () => {
    const server = await serve({ replies: [{ chunks: ["At ", "Globe ", "Life ", "Field."] }] })
    const messages = [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "Who won the world series in 2020?" },
      { role: "assistant", content: "The Los Angeles Dodgers." },
      { role: "user", content: "Where was it played?" },
    ]
    const { result, outputs, events } = await run(
      graph([["c", CONVERSATION, { messages, prompt: "Answer briefly.", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(server.requests[0]?.body.messages).toEqual([
      ...messages,
      { role: "user", content: "Answer briefly." },
    ])
    expect(outputs("c")).toEqual([
      ["response", "At Globe Life Field."],
      ["prompt", [...messages, { role: "user", content: "Answer briefly." }]],
    ])
    expect(events.filter((e) => e.type === "NodeProgress")).toHaveLength(4)
  })
})

describe("AI condition", () => {
  it("routes to yes_output or no_output from the model's true/false answer", async () => {
    const server = await serve({
      handler: (request) => {
        const user = String(request.body.messages[1]?.content)
        if (user.includes("ada@example.com")) return "true"
        if (user.includes("{'name': 'Ada', 'age': 36}")) return "No."
        return "It depends."
      },
    })
    const { outputs, failure } = await run(
      graph([
        [
          "email",
          CONDITION,
          {
            input_value: "ada@example.com",
            condition: "the input is an email address",
            yes_value: "Valid email",
            no_value: "Not an email",
            model: "gpt-4o",
            credentials: REF,
          },
        ],
        [
          "dict",
          CONDITION,
          { input_value: { name: "Ada", age: 36 }, condition: "is a city", credentials: REF },
        ],
        ["vague", CONDITION, { input_value: 7, condition: "is lucky", credentials: REF }],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(outputs("email")).toEqual([
      ["result", true],
      ["yes_output", "Valid email"],
    ])
    // No no_value: the input itself goes out on no_output.
    expect(outputs("dict")).toEqual([
      ["result", false],
      ["no_output", { name: "Ada", age: 36 }],
    ])
    // An unclear answer fails the execution: the message goes out on `error` only.
    expect(outputs("vague")).toEqual([["error", "Unclear AI response: 'It depends.'"]])
    expect(failure("vague")).toBe("Unclear AI response: 'It depends.'")
    const email = server.requests.find((r) => String(r.body.messages[1]?.content).includes("ada@"))!
    expect(email.body.max_tokens).toBe(16)
    expect(email.body.stream).toBeUndefined()
    expect(email.body.messages[1]?.content).toContain("Condition to evaluate: the input is an email address")
  })
})

describe("retries and failures", () => {
  it("a 429 and then a 500 are retried by the client with backoff, and the run completes", async () => {
    const server = await serve({ replies: ["finally"] })
    server.failNext(1, 429, { "retry-after-ms": "5" })
    server.failNext(1, 500, { "retry-after-ms": "5" })
    const { result, outputs, events } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(server.requests.map((r) => r.status)).toEqual([429, 500, 200])
    expect(outputs("gen")[0]).toEqual(["response", "finally"])
    expect(events.some((e) => e.type === "NodeAttempt")).toBe(false)
  })

  it("server errors that outlast the client's retries use up the block's `retry` attempts, then fail", async () => {
    const server = await serve({
      handler: () => ({ status: 500, error: "the GPU is on fire", headers: { "retry-after-ms": "1" } }),
    })
    const { result, failure } = await run(
      graph([["gen", TEXT, { prompt: "Hi", retry: 2, credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback, maxRetries: 1 }),
    )
    expect(result.status).toBe("COMPLETED")
    expect(server.requests).toHaveLength(4)
    expect(failure("gen")).toBe("Error calling LLM: 500 the GPU is on fire")
  })

  it("a rate limit that outlasts the client's retries is not attempted again by the block", async () => {
    const server = await serve({
      handler: () => ({ status: 429, error: "slow down", headers: { "retry-after-ms": "1" } }),
    })
    const { failure } = await run(
      graph([["gen", TEXT, { prompt: "Hi", retry: 3, credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback, maxRetries: 2 }),
    )
    expect(server.requests).toHaveLength(3)
    expect(failure("gen")).toBe("Error calling LLM: 429 slow down")
  })

  it("an unknown model is reported with what to do about it, without retrying", async () => {
    const server = await serve({
      handler: () => ({ status: 404, error: "The model `gpt-9` does not exist" }),
    })
    const { failure } = await run(
      graph([["gen", TEXT, { prompt: "Hi", model: "gpt-9", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(server.requests).toHaveLength(1)
    expect(failure("gen")).toContain("404 The model `gpt-9` does not exist")
    expect(failure("gen")).toContain("LlmConfig.models")
  })
})

describe("keys, configuration and the safe HTTP client", () => {
  const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL }
  afterEach(() => {
    for (const [name, value] of [
      ["OPENAI_API_KEY", saved.key],
      ["OPENAI_BASE_URL", saved.url],
    ] as const) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })

  it("the key reaches the server but no event, output or error of the run, even when the server echoes it", async () => {
    const server = await serve({
      handler: (request) =>
        request.index === 0
          ? `I saw your key: ${request.headers.authorization}`
          : { status: 400, error: `bad request with ${request.headers.authorization}` },
    })
    const hostKey = "sk-host-canary-99d1e0f7a3"
    const { result, events, failure } = await run(
      graph([
        ["echo", TEXT, { prompt: "Echo", credentials: REF }],
        ["host", TEXT, { prompt: "Fail", credentials: { ...REF, id: "host-default" } }],
      ]),
      llmResources({ baseURL: server.baseURL, http: loopback, apiKey: hostKey, maxRetries: 0 }),
    )
    expect(result.status).toBe("COMPLETED")
    const keys = server.requests.map((r) => r.headers.authorization)
    expect(keys).toContain(`Bearer ${CANARY}`)
    expect(keys).toContain(`Bearer ${hostKey}`)
    expect(failure("host")).toContain("bad request with Bearer ********")
    const all = JSON.stringify(events)
    expect(all).toContain("I saw your key: Bearer ********")
    expect(all).not.toContain(CANARY)
    expect(all).not.toContain(hostKey)
  })

  it("with no key and no endpoint anywhere, the block says what to configure", async () => {
    delete process.env.OPENAI_API_KEY
    delete process.env.OPENAI_BASE_URL
    const { failure } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: { ...REF, id: "host-default" } }]]),
      Context.empty() as BlockResources,
    )
    expect(failure("gen")).toBe(NOT_CONFIGURED)
  })

  it("without host settings, OPENAI_BASE_URL and OPENAI_API_KEY from the environment are used", async () => {
    const server = await serve({ replies: ["from env"] })
    process.env.OPENAI_BASE_URL = server.baseURL
    process.env.OPENAI_API_KEY = "sk-env-canary-1234"
    const { outputs, events } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: { ...REF, id: "host-default" } }]]),
      Context.make(SafeHttp, loopback) as BlockResources,
    )
    expect(outputs("gen")[0]).toEqual(["response", "from env"])
    expect(server.requests[0]?.headers.authorization).toBe("Bearer sk-env-canary-1234")
    expect(JSON.stringify(events)).not.toContain("sk-env-canary-1234")
  })

  it("a keyless endpoint (Ollama, vLLM) gets no Authorization header", async () => {
    const server = await serve({ replies: ["local"] })
    const { outputs } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: { ...REF, id: "host-default" } }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
    )
    expect(outputs("gen")[0]).toEqual(["response", "local"])
    expect(server.requests[0]?.headers.authorization).toBeUndefined()
  })

  it("the safe client refuses a loopback endpoint that is not on its allow-list, before anything is sent", async () => {
    const server = await serve({ replies: ["never"] })
    const started = Date.now()
    const { failure } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL }),
    )
    expect(server.requests).toHaveLength(0)
    expect(failure("gen")).toMatch(
      /^Error calling LLM: Refused to request http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: .*allow-list/,
    )
    // Refused at once: neither the client's retries nor the block's attempts wait for it.
    expect(Date.now() - started).toBeLessThan(400)
  })

  it("reports each call's cost through the host's pricing function", async () => {
    const server = await serve({
      replies: [{ content: "priced", usage: { prompt_tokens: 100, completion_tokens: 20 } }],
    })
    const { result } = await run(
      graph([["gen", TEXT, { prompt: "Hi", credentials: REF }]]),
      llmResources({
        baseURL: server.baseURL,
        http: loopback,
        cost: ({ promptTokens, completionTokens }) => promptTokens * 0.001 + completionTokens * 0.002,
      }),
    )
    expect(result.cost).toBeCloseTo(0.14)
  })
})

describe("cancellation", () => {
  it("cancelling the run aborts the in-flight streaming request: the server sees the connection closed", async () => {
    const server = await serve({ replies: [{ chunks: ["Once ", "upon "], hang: true }] })
    const controller = new AbortController()
    const running = run(
      graph([["gen", TEXT, { prompt: "A very long story", credentials: REF }]]),
      llmResources({ baseURL: server.baseURL, http: loopback }),
      { signal: controller.signal },
    )
    await server.waitForRequests(1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const cancelledAt = Date.now()
    controller.abort()
    const { result, outputs } = await running
    expect(result.status).toBe("TERMINATED")
    expect(await server.requests[0]!.closed).toBe("aborted")
    expect(Date.now() - cancelledAt).toBeLessThan(1000)
    expect(outputs("gen")).toEqual([])
    expect(server.requests).toHaveLength(1)
  })

  it("with a streaming transport, tokens arrive live while the answer is still being written, until cancelled", async () => {
    const server = await serve({ replies: [{ chunks: ["Once ", "upon "], hang: true }] })
    const controller = new AbortController()
    const live: Array<unknown> = []
    let connection = "open"
    let connectionAtSecondToken = ""
    void server.waitForRequests(1).then(() =>
      server.requests[0]!.closed.then((how) => {
        connection = how
      }),
    )
    const events: Array<RunEvent> = []
    const running = runGraph(graph([["gen", TEXT, { prompt: "A very long story", credentials: REF }]]), {
      blocks,
      credentials: resolver,
      // A host with its own egress control may hand the client any fetch-compatible transport.
      resources: llmResources({
        baseURL: server.baseURL,
        fetch: (input, init) => globalThis.fetch(input, init),
      }),
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e)
        if (e.type === "NodeProgress") {
          live.push(e.delta)
          if (live.length === 2) {
            connectionAtSecondToken = connection
            controller.abort()
          }
        }
      },
    })
    const result = await running
    // Both tokens came while the server was still writing (it never finishes this answer).
    expect(live).toEqual(["Once ", "upon "])
    expect(connectionAtSecondToken).toBe("open")
    expect(result.status).toBe("TERMINATED")
    expect(await server.requests[0]!.closed).toBe("aborted")
    expect(events.some((e) => e.type === "NodeOutput")).toBe(false)
  })
})

describe("live streaming through the safe HTTP client", () => {
  /**
   * Calls `release` once: with "progress" when the test saw a token, or with "fallback" after 3 s, so that
   * a transport that buffers the answer fails the test instead of hanging it.
   */
  const releaseOnce = (action: () => void) => {
    let by = ""
    const fallback = setTimeout(() => release("fallback"), 3000)
    const release = (reason: "progress" | "fallback") => {
      if (by !== "") return
      by = reason
      clearTimeout(fallback)
      action()
    }
    return { release, by: () => by }
  }

  it("tokens reach onEvent while the server still holds the answer open, then the response arrives", async () => {
    let finish: () => void = () => {}
    const hold = new Promise<void>((resolve) => {
      finish = resolve
    })
    const server = await serve({ replies: [{ chunks: ["Live ", "tokens"], holdUntil: hold }] })
    const gate = releaseOnce(() => finish())
    let connection = "open"
    void server.waitForRequests(1).then(() =>
      server.requests[0]!.closed.then((how) => {
        connection = how
      }),
    )
    const events: Array<RunEvent> = []
    let connectionAtFirstToken = ""
    const result = await runGraph(graph([["gen", TEXT, { prompt: "Stream to me", credentials: REF }]]), {
      blocks,
      credentials: resolver,
      // No `fetch`: the default transport, through the guarded safe client.
      resources: llmResources({ baseURL: server.baseURL, http: loopback }),
      onEvent: (e) => {
        events.push(e)
        if (e.type === "NodeProgress" && connectionAtFirstToken === "") {
          connectionAtFirstToken = connection
          gate.release("progress")
        }
      },
    })
    expect(gate.by()).toBe("progress")
    expect(connectionAtFirstToken).toBe("open")
    expect(result.status).toBe("COMPLETED")
    const progress = events.filter((e): e is NodeProgressEvent => e.type === "NodeProgress")
    expect(progress.map((e) => e.delta)).toEqual(["Live ", "tokens"])
    const firstProgressAt = events.findIndex((e) => e.type === "NodeProgress")
    const responseAt = events.findIndex((e) => e.type === "NodeOutput" && e.pin === "response")
    expect(firstProgressAt).toBeGreaterThanOrEqual(0)
    expect(responseAt).toBeGreaterThan(firstProgressAt)
    expect(
      events
        .filter((e): e is NodeOutputEvent => e.type === "NodeOutput" && e.nodeId === "gen")
        .map((e) => [e.pin, e.value])[0],
    ).toEqual(["response", "Live tokens"])
    expect(await server.requests[0]!.closed).toBe("completed")
  })

  it("cancelling the run mid-stream closes the connection: the server sees it hung up", async () => {
    const server = await serve({ replies: [{ chunks: ["Once ", "upon "], hang: true }] })
    const controller = new AbortController()
    const gate = releaseOnce(() => controller.abort())
    let connection = "open"
    void server.waitForRequests(1).then(() =>
      server.requests[0]!.closed.then((how) => {
        connection = how
      }),
    )
    const events: Array<RunEvent> = []
    let connectionAtFirstToken = ""
    const result = await runGraph(graph([["gen", TEXT, { prompt: "A very long story", credentials: REF }]]), {
      blocks,
      credentials: resolver,
      resources: llmResources({ baseURL: server.baseURL, http: loopback }),
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e)
        if (e.type === "NodeProgress" && connectionAtFirstToken === "") {
          connectionAtFirstToken = connection
          gate.release("progress")
        }
      },
    })
    expect(gate.by()).toBe("progress")
    expect(connectionAtFirstToken).toBe("open")
    expect(result.status).toBe("TERMINATED")
    expect(await server.requests[0]!.closed).toBe("aborted")
    expect(events.some((e) => e.type === "NodeOutput")).toBe(false)
    expect(server.requests).toHaveLength(1)
  })
})
