import { Context, Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Block, type CredentialResolver, type NodeStatusEvent } from "../src/index.js"
import { execute, graph, harness } from "./support.js"

const CANARY = "sk-canary-7f3a9c1e"

/** Uses its key, then tries to leak it through every channel a block has. */
const Leaky = Block.make({
  id: "t/leaky",
  title: "Leaky",
  description: "Echoes its secret everywhere.",
  categories: ["test"],
  input: Schema.Struct({
    prompt: Schema.String,
    fail: Schema.optional(Schema.Boolean),
    credentials: Block.credentials({ provider: "openai", type: "api_key" }),
  }),
  output: Schema.Struct({ keyLength: Schema.Number, echo: Schema.Unknown }),
  run: ({ prompt, fail }, ctx) => {
    const key = ctx.credentials.credentials?.secret ?? ""
    ctx.log.info(`calling with ${key}`, { key })
    ctx.progress(`token ${key}`)
    if (fail === true) throw new Error(`401 for key ${key}`)
    return { keyLength: key.length, echo: { nested: [`${prompt} ${key}`] } }
  },
})

const ref = { id: "cred-1", provider: "openai", type: "api_key", title: "My key" }
const resolver: CredentialResolver = async (r) =>
  r.id === "cred-1" ? { provider: "openai", type: "api_key", secret: CANARY } : undefined

describe("credentials", () => {
  it("the block gets the resolved secret; no output, error, log, progress or stored event contains it", async () => {
    const h = harness({ extra: [Leaky], config: { credentials: resolver } })
    const g = graph([
      ["ok", "t/leaky", { prompt: "hi", credentials: ref }],
      ["bad", "t/leaky", { prompt: "hi", fail: true, credentials: ref }],
    ])
    const { result, events, store } = await execute(g, { harness: h })
    expect(result.status).toBe("COMPLETED")
    const lengths = events.flatMap((e) => (e.type === "NodeOutput" && e.pin === "keyLength" ? [e.value] : []))
    expect(lengths).toEqual([CANARY.length])
    const failed = events.find((e): e is NodeStatusEvent => e.type === "NodeStatus" && e.status === "FAILED")
    expect(failed?.error).toBe("401 for key ********")
    expect(JSON.stringify(events)).not.toContain(CANARY)
    const snapshot = await Effect.runPromise(store.load(result.runId))
    const stored = await Effect.runPromise(store.events(result.runId, 0))
    expect(JSON.stringify(snapshot)).not.toContain(CANARY)
    expect(JSON.stringify(stored)).not.toContain(CANARY)
    // The reference, not the secret, is what the QUEUED event shows.
    const queued = events.find((e): e is NodeStatusEvent => e.type === "NodeStatus" && e.status === "QUEUED")
    expect(queued?.inputs?.credentials).toEqual(ref)
  })

  it("missing, unknown or mismatched credentials fail the execution naming the field", async () => {
    const cases = [
      {
        config: {},
        input: { credentials: ref },
        error: "credentials credentials: no credential store is configured",
      },
      {
        config: { credentials: resolver },
        input: { credentials: { ...ref, id: "nope" } },
        error: "credentials credentials: credentials nope were not found",
      },
      {
        config: { credentials: resolver },
        input: { credentials: { ...ref, provider: "anthropic" } },
        error: "credentials credentials: expected openai credentials, got anthropic",
      },
    ]
    for (const c of cases) {
      const { events } = await execute(graph([["n", "t/leaky", { prompt: "x", ...c.input }]]), {
        harness: harness({ extra: [Leaky], config: c.config }),
      })
      const failed = events.find(
        (e): e is NodeStatusEvent => e.type === "NodeStatus" && e.status === "FAILED",
      )
      expect(failed).toMatchObject({ error: c.error, errorTag: "BlockFailed", field: "credentials" })
    }
  })

  it("a credential field shows in the block's JSON Schema with its provider and type", () => {
    const schema = Leaky.inputJsonSchema() as { properties: Record<string, Record<string, unknown>> }
    expect(schema.properties.credentials?.credentials).toEqual({ provider: "openai", type: "api_key" })
    expect(Leaky.credentialPins.map((p) => p.name)).toEqual(["credentials"])
  })
})

describe("resources", () => {
  it("blocks read host-configured resources from ctx.resources by service key", async () => {
    class Greeting extends Context.Service<Greeting, { readonly text: string }>()("test/Greeting") {}
    const Greet = Block.make({
      id: "t/greet",
      title: "Greet",
      description: "Reads a resource.",
      categories: ["test"],
      input: Schema.Struct({}),
      output: Schema.Struct({ text: Schema.String }),
      run: (_, ctx) => ({ text: Context.getOrUndefined(ctx.resources, Greeting)?.text ?? "none" }),
    })
    const resources = Context.make(Greeting, { text: "hello from the host" })
    const withResource = await execute(
      graph(
        [
          ["g", "t/greet"],
          ["out", "t/output", { name: "text" }],
        ],
        ["g.text -> out.value"],
      ),
      {
        harness: harness({ extra: [Greet], config: { resources } }),
      },
    )
    const without = await execute(
      graph(
        [
          ["g", "t/greet"],
          ["out", "t/output", { name: "text" }],
        ],
        ["g.text -> out.value"],
      ),
      {
        harness: harness({ extra: [Greet] }),
      },
    )
    expect(withResource.result.outputs).toEqual({ text: ["hello from the host"] })
    expect(without.result.outputs).toEqual({ text: ["none"] })
  })
})

describe("optional credentials", () => {
  it("an optional credential field may stay empty, and a requirement may accept several providers", async () => {
    const Flexible = Block.make({
      id: "t/flexible",
      title: "Flexible",
      description: "Runs with or without credentials.",
      categories: ["test"],
      input: Schema.Struct({
        credentials: Schema.optional(Block.credentials({ provider: ["openai", "ollama"], type: "api_key" })),
      }),
      output: Schema.Struct({ using: Schema.String }),
      run: (_, ctx) => ({ using: ctx.credentials.credentials?.provider ?? "host default" }),
    })
    expect(Flexible.credentialPins.map((p) => [p.name, p.required])).toEqual([["credentials", false]])
    const config = {
      credentials: (async (r) => ({
        provider: r.provider,
        type: "api_key",
        secret: "k",
      })) satisfies CredentialResolver,
    }
    const run = async (inputDefault: Record<string, unknown>) =>
      execute(
        graph(
          [
            ["f", "t/flexible", inputDefault],
            ["out", "t/output", { name: "using" }],
          ],
          ["f.using -> out.value"],
        ),
        {
          harness: harness({ extra: [Flexible], config }),
        },
      )
    expect((await run({})).result.outputs).toEqual({ using: ["host default"] })
    expect((await run({ credentials: { ...ref, provider: "ollama" } })).result.outputs).toEqual({
      using: ["ollama"],
    })
    const refused = await run({ credentials: { ...ref, provider: "groq" } })
    const failed = refused.events.find(
      (e): e is NodeStatusEvent => e.type === "NodeStatus" && e.status === "FAILED",
    )
    expect(failed?.error).toBe("credentials credentials: expected openai or ollama credentials, got groq")
  })
})
