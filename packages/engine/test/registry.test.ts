import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Block, BlockNotFound, BlockRegistry, DuplicateBlockId, makeRegistry } from "../src/index.js"

const tiny = (id: string, aliases?: ReadonlyArray<string>) =>
  Block.make({
    id,
    title: id,
    description: `Block ${id}`,
    categories: ["test"],
    ...(aliases === undefined ? {} : { aliases }),
    input: Schema.Struct({ x: Schema.Number }),
    output: Schema.Struct({ y: Schema.Number }),
    run: ({ x }) => ({ y: x }),
  })

const duplicateOf = (sets: ReadonlyArray<Block.BlockSet>) =>
  Effect.runPromise(Effect.flip(makeRegistry(sets)))

describe("BlockRegistry", () => {
  it("R4: blocks resolve by id and by alias; list holds each block once, in registration order", async () => {
    const a = tiny("x/a", ["uuid-a-1", "uuid-a-2"])
    const b = tiny("x/b")
    const c = tiny("y/c", ["uuid-c"])
    const registry = await Effect.runPromise(makeRegistry([Block.set("x", [a, b]), Block.set("y", [c])]))
    expect(registry.get("x/a")).toBe(a)
    expect(registry.get("uuid-a-1")).toBe(a)
    expect(registry.get("uuid-a-2")).toBe(a)
    expect(registry.get("uuid-c")).toBe(c)
    expect(registry.get("x/c")).toBeUndefined()
    expect(registry.list()).toEqual([a, b, c])
    expect(await Effect.runPromise(registry.resolve("uuid-c"))).toBe(c)
  })

  it("R4: resolving an unknown id fails with BlockNotFound naming it", async () => {
    const registry = await Effect.runPromise(makeRegistry([Block.set("x", [tiny("x/a")])]))
    const error = await Effect.runPromise(Effect.flip(registry.resolve("nope")))
    expect(error).toBeInstanceOf(BlockNotFound)
    expect(error.blockId).toBe("nope")
    expect(error.message).toBe("Unknown block: nope")
  })

  it("R4: two blocks with one id fail with DuplicateBlockId, in one set or across sets", async () => {
    const across = await duplicateOf([Block.set("s1", [tiny("x/a")]), Block.set("s2", [tiny("x/a")])])
    expect(across).toBeInstanceOf(DuplicateBlockId)
    expect({ blockId: across.blockId, first: across.first, second: across.second }).toEqual({
      blockId: "x/a",
      first: "s1/x/a",
      second: "s2/x/a",
    })
    const within = await duplicateOf([Block.set("s", [tiny("x/a"), tiny("x/b"), tiny("x/a")])])
    expect(within.blockId).toBe("x/a")
  })

  it("R4: an alias that clashes with an id (either way round) or with another alias fails with DuplicateBlockId", async () => {
    const aliasAfterId = await duplicateOf([Block.set("s", [tiny("x/a"), tiny("x/b", ["x/a"])])])
    expect(aliasAfterId).toBeInstanceOf(DuplicateBlockId)
    expect(aliasAfterId.blockId).toBe("x/a")
    expect(aliasAfterId.second).toBe("s/x/b")

    const idAfterAlias = await duplicateOf([Block.set("s", [tiny("x/b", ["x/a"]), tiny("x/a")])])
    expect(idAfterAlias.blockId).toBe("x/a")
    expect(idAfterAlias.first).toBe("s/x/b")

    const twoAliases = await duplicateOf([Block.set("s", [tiny("x/a", ["u"]), tiny("x/b", ["u"])])])
    expect(twoAliases.blockId).toBe("u")

    const selfAlias = await duplicateOf([Block.set("s", [tiny("x/a", ["x/a"])])])
    expect(selfAlias.blockId).toBe("x/a")
  })

  it("R4: BlockRegistry.layer provides the registry, and fails to build on a duplicate id", async () => {
    const a = tiny("x/a", ["alias-a"])
    const resolved = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const registry = yield* BlockRegistry
          return yield* registry.resolve("alias-a")
        }),
        BlockRegistry.layer([Block.set("x", [a])]),
      ),
    )
    expect(resolved).toBe(a)
    const error = await Effect.runPromise(
      Effect.flip(
        Effect.provide(
          Effect.gen(function* () {
            return yield* BlockRegistry
          }),
          BlockRegistry.layer([Block.set("x", [a, tiny("x/a")])]),
        ),
      ),
    )
    expect(error).toBeInstanceOf(DuplicateBlockId)
    expect(error.message).toBe("Duplicate block id x/a (declared by x/x/a and x/x/a)")
  })
})

describe("Block.make", () => {
  const Secretive = Block.make({
    id: "x/secretive",
    title: "Secretive",
    description: "Has secret and advanced inputs.",
    categories: ["test"],
    input: Schema.Struct({
      apiKey: Block.secret(Schema.String),
      temperature: Block.advanced(Schema.optional(Schema.Number)),
      prompt: Schema.String,
    }),
    output: Schema.Struct({ text: Schema.String, token: Block.secret(Schema.String) }),
    run: ({ prompt }) => ({ text: prompt, token: "t" }),
  })

  it("R4: the input JSON Schema keeps the secret and advanced annotations, and lists required pins", () => {
    const schema = Secretive.inputJsonSchema()
    const properties = schema.properties as Record<string, Record<string, unknown>>
    expect(properties.apiKey).toMatchObject({ type: "string", secret: true })
    expect(properties.apiKey).not.toHaveProperty("advanced")
    expect(properties.temperature).toMatchObject({ advanced: true })
    expect(properties.temperature).not.toHaveProperty("secret")
    expect(properties.prompt).toEqual({ type: "string" })
    expect(schema.required).toEqual(["apiKey", "prompt"])
    const output = Secretive.outputJsonSchema().properties as Record<string, Record<string, unknown>>
    expect(output.token).toMatchObject({ type: "string", secret: true })
    expect(output.text).toEqual({ type: "string" })
  })

  it("R4: pin infos carry required, secret and advanced flags; defaults are filled in", () => {
    expect([...Secretive.inputPins.values()]).toEqual([
      { name: "apiKey", required: true, secret: true, advanced: false },
      { name: "temperature", required: false, secret: false, advanced: true },
      { name: "prompt", required: true, secret: false, advanced: false },
    ])
    expect(Secretive.version).toBe(1)
    expect(Secretive.kind).toBe("standard")
    expect(() => tiny("  ")).toThrow(/id must not be empty/)
    expect(() =>
      Block.make({
        id: "x/bad-retry",
        title: "",
        description: "",
        categories: [],
        retry: { maxAttempts: 0 },
        input: Schema.Struct({}),
        output: Schema.Struct({}),
        run: () => undefined,
      }),
    ).toThrow(/maxAttempts must be at least 1/)
  })
})
