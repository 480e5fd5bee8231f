/**
 * Credentials at rest: keys (parsing, fingerprints, the 0600 key file), AES-256-GCM sealing bound to its
 * row, the store on PGlite and Postgres (owner-scoped, nothing in the clear, tampered or moved rows refused,
 * key rotation), and the run resolver (the run's owner only, provider and type checked, owner cached).
 */
import { randomBytes } from "node:crypto"
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import type { CredentialsRequirement } from "@weft/engine"
import { Cause, Context, Effect, Exit, Layer, type ManagedRuntime } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { open, SecretUnreadable, seal } from "../src/credentials/Cipher.js"
import { CredentialStore, type CredentialStoreShape } from "../src/credentials/CredentialStore.js"
import {
  CredentialsKeyInvalid,
  KEY_BYTES,
  keyFromFile,
  keyOptionsFromEnv,
  keyRing,
  keyRingOf,
  parseKey,
} from "../src/credentials/Keys.js"
import { makeCredentialResolver } from "../src/credentials/resolver.js"
import { checkSecret } from "../src/credentials/Secret.js"
import { RunQueries } from "../src/index.js"
import { createDatabase, drivers, rows, type Stores, storesRuntime, type TestDatabase } from "./support/db.js"

const newKey = () => randomBytes(KEY_BYTES).toString("base64")

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  return undefined
}

describe("keys", () => {
  it("reads 32 bytes as hex, base64 or base64url, with the same id for the same key", () => {
    const bytes = randomBytes(32)
    const hex = parseKey(bytes.toString("hex"))
    const b64 = parseKey(bytes.toString("base64"))
    const url = parseKey(bytes.toString("base64url"))
    const padless = parseKey(bytes.toString("base64").replace(/=+$/, ""))
    expect(new Set([hex.id, b64.id, url.id, padless.id]).size).toBe(1)
    expect(hex.id).toMatch(/^[0-9a-f]{16}$/)
    expect(Buffer.from(hex.bytes()).equals(bytes)).toBe(true)
    expect(parseKey(newKey()).id).not.toBe(hex.id)
  })

  it("refuses short, long or garbled keys with a message that never repeats the key", () => {
    const short = randomBytes(16).toString("base64")
    const long = randomBytes(48).toString("hex")
    for (const text of [short, long, "not a key at all", `${"z".repeat(64)}`, ""]) {
      const error = thrown(() => parseKey(text))
      expect(error).toBeInstanceOf(CredentialsKeyInvalid)
      expect((error as CredentialsKeyInvalid).message).toContain("WEFT_CREDENTIALS_KEY")
      if (text !== "") expect((error as CredentialsKeyInvalid).message).not.toContain(text)
    }
    expect(
      (thrown(() => keyRingOf({ key: newKey(), previousKeys: ["bad"] })) as CredentialsKeyInvalid).field,
    ).toBe("previousKeys.0")
  })

  it("a key prints as its id only", () => {
    const text = randomBytes(32).toString("hex")
    const key = parseKey(text)
    const shown = [String(key), JSON.stringify(key), inspect(key), inspect({ nested: key }, { depth: 5 })]
    for (const s of shown) {
      expect(s).toContain(key.id)
      expect(s).not.toContain(text)
      expect(s).not.toContain(Buffer.from(key.bytes()).toString("base64"))
    }
  })

  it("an embedded key file is created once with mode 0600, then read; a widened file is narrowed", () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-keyfile-"))
    try {
      const file = join(dir, "sub", "weft-credentials-key")
      const first = keyFromFile(file)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(keyFromFile(file).id).toBe(first.id)
      // A file others can read is narrowed to 0600, and keeps its key.
      chmodSync(file, 0o644)
      expect(keyFromFile(file).id).toBe(first.id)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      // A key written by hand (hex) is read as it is.
      rmSync(file)
      const hex = randomBytes(32).toString("hex")
      writeFileSync(file, `${hex}\n`, { mode: 0o600 })
      expect(keyFromFile(file).id).toBe(parseKey(hex).id)
      // A file holding something else is refused, naming the file.
      writeFileSync(file, "garbage")
      expect(thrown(() => keyRingOf({ keyFile: file }))).toMatchObject({
        _tag: "CredentialsKeyInvalid",
        field: file,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reads the key and previous keys from the environment", () => {
    const a = newKey()
    const b = newKey()
    expect(
      keyOptionsFromEnv({ WEFT_CREDENTIALS_KEY: ` ${a} `, WEFT_CREDENTIALS_PREVIOUS_KEYS: `${b}, ` }),
    ).toEqual({
      key: a,
      previousKeys: [b],
    })
    expect(keyOptionsFromEnv({})).toEqual({})
    expect(keyRingOf({})).toBeUndefined()
  })
})

describe("sealing", () => {
  const binding = { id: "c1", owner: "alice", provider: "openai", type: "api_key" }

  it("round-trips, with a fresh IV per secret, and no trace of the plaintext in what is stored", () => {
    const key = parseKey(newKey())
    const ring = keyRing(key)
    const plaintext = JSON.stringify({ api_key: "sk-plain-secret-value" })
    const a = seal(key, plaintext, binding)
    const b = seal(key, plaintext, binding)
    expect(a.iv).toHaveLength(12)
    expect(a.tag).toHaveLength(16)
    expect(a.keyId).toBe(key.id)
    expect(Buffer.from(a.iv).equals(Buffer.from(b.iv))).toBe(false)
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false)
    expect(Buffer.from(a.ciphertext).toString("latin1")).not.toContain("sk-plain")
    expect(open(ring, a, binding)).toBe(plaintext)
  })

  it("does not open under another binding (id, owner, provider, type), key, tag or ciphertext", () => {
    const key = parseKey(newKey())
    const ring = keyRing(key)
    const sealed = seal(key, "secret", binding)
    const refusals = [
      () => open(ring, sealed, { ...binding, id: "c2" }),
      () => open(ring, sealed, { ...binding, owner: "bob" }),
      () => open(ring, sealed, { ...binding, provider: "anthropic" }),
      () => open(ring, sealed, { ...binding, type: "oauth2" }),
      () => open(keyRing(parseKey(newKey())), sealed, binding),
      () => open(ring, { ...sealed, tag: new Uint8Array(16) }, binding),
      () =>
        open(
          ring,
          { ...sealed, ciphertext: sealed.ciphertext.map((x, i) => (i === 0 ? x ^ 1 : x)) },
          binding,
        ),
    ]
    const reasons = refusals.map((f) => {
      const error = thrown(f)
      expect(error).toBeInstanceOf(SecretUnreadable)
      return (error as SecretUnreadable).reason
    })
    expect(reasons).toEqual([
      "tampered",
      "tampered",
      "tampered",
      "tampered",
      "unknown-key",
      "tampered",
      "tampered",
    ])
  })
})

describe("secret shapes", () => {
  it("accepts each type's fields and refuses others by name, never repeating a value", () => {
    expect(checkSecret("api_key", { api_key: "k" })).toEqual({ ok: true, secret: { api_key: "k" } })
    expect(checkSecret("user_password", { username: "u", password: "p" }).ok).toBe(true)
    expect(checkSecret("oauth2", { access_token: "t", scopes: ["a"], expires_at: 1 }).ok).toBe(true)
    expect(checkSecret("host_scoped", { headers: { "X-Api-Key": "v" } }).ok).toBe(true)
    const value = "sk-never-echo-0123456789"
    const cases: ReadonlyArray<[Parameters<typeof checkSecret>, Record<string, string>]> = [
      [["api_key", value], { secret: "must be an object with the api_key fields" }],
      [["api_key", {}], { "secret.api_key": "required field is missing" }],
      [["api_key", { api_key: "" }], { "secret.api_key": "must not be empty" }],
      [["api_key", { api_key: 5 }], { "secret.api_key": "must be a string" }],
      [
        ["api_key", { api_key: "k", password: value }],
        { "secret.password": "unknown field for api_key credentials" },
      ],
      [
        ["api_key", { api_key: "x".repeat(20_000) }],
        { "secret.api_key": "must be at most 16384 characters" },
      ],
      [["user_password", { username: value }], { "secret.password": "required field is missing" }],
      [
        ["host_scoped", { headers: { "bad name": value } }],
        { "secret.headers.bad name": "is not a valid header name" },
      ],
      [
        ["host_scoped", { headers: { ok: `${value}\r\nX: y` } }],
        { "secret.headers.ok": "must not contain line breaks" },
      ],
      [
        ["oauth2", { access_token: "t", expires_at: "soon" }],
        { "secret.expires_at": "must be a time in seconds since the epoch" },
      ],
    ]
    for (const [args, fields] of cases) {
      const checked = checkSecret(...args)
      expect(checked).toEqual({ ok: false, fields })
      expect(JSON.stringify(checked)).not.toContain(value)
    }
  })
})

const api = (runtime: ManagedRuntime.ManagedRuntime<Stores, never>) => ({
  run: <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromise(effect),
  exit: <A, E>(effect: Effect.Effect<A, E>) => runtime.runPromiseExit(effect),
})

describe.each(drivers)("CredentialStore on %s", (driver) => {
  let db: TestDatabase
  let runtime: ManagedRuntime.ManagedRuntime<Stores, never>
  const keyA = newKey()
  const keyB = newKey()
  const SECRET = `sk-store-${randomBytes(8).toString("hex")}`

  /** A store on the test database with these key options. */
  const storeWith = (options: Parameters<typeof CredentialStore.layer>[0]) =>
    runtime.runPromise(
      Effect.scoped(
        Effect.map(Layer.build(CredentialStore.layer(options)), (context) =>
          Context.get(context, CredentialStore),
        ),
      ),
    )

  beforeAll(async () => {
    db = await createDatabase(driver)
    runtime = storesRuntime(db)
  })
  afterAll(async () => {
    await runtime?.dispose()
    await db?.drop()
  })

  it("stores for an owner; lists, reads and deletes for that owner only; the row has no plaintext", async () => {
    const { run, exit } = api(runtime)
    const store = await storeWith({ key: keyA })
    const created = await run(
      store.create("alice", {
        provider: "openai",
        type: "api_key",
        title: "Mine",
        secret: { api_key: SECRET },
      }),
    )
    expect(created).toMatchObject({ provider: "openai", type: "api_key", title: "Mine" })
    expect(typeof created.createdAt).toBe("number")
    expect(JSON.stringify(created)).not.toContain(SECRET)
    await run(
      store.create("bob", { provider: "openai", type: "api_key", title: "Bob's", secret: { api_key: "b" } }),
    )
    expect((await run(store.list("alice"))).map((c) => c.id)).toEqual([created.id])
    expect(await run(store.list("alice", { provider: "github" }))).toEqual([])
    expect(await run(store.get("alice", created.id))).toEqual(created)
    expect(failureOf(await exit(store.get("bob", created.id)))).toMatchObject({ _tag: "CredentialNotFound" })
    expect(failureOf(await exit(store.remove("bob", created.id)))).toMatchObject({
      _tag: "CredentialNotFound",
    })
    expect(failureOf(await exit(store.open("bob", created.id)))).toMatchObject({ _tag: "CredentialNotFound" })
    expect(await run(store.open("alice", created.id))).toEqual({ info: created, secret: { api_key: SECRET } })

    const [row] = await rows<Record<string, unknown>>(
      runtime,
      "SELECT row_to_json(c)::text AS json, key_id, octet_length(iv) AS iv, octet_length(auth_tag) AS tag FROM credentials c WHERE id = $1",
      [created.id],
    )
    expect(row).toMatchObject({ key_id: store.keyId, iv: 12, tag: 16 })
    expect(String(row?.json)).not.toContain(SECRET)
    expect(String(row?.json)).not.toContain(Buffer.from(SECRET).toString("hex"))
    expect(String(row?.json)).not.toContain(Buffer.from(SECRET).toString("base64").slice(0, 12))

    await run(store.remove("alice", created.id))
    expect(await run(store.list("alice"))).toEqual([])
    expect(failureOf(await exit(store.remove("alice", created.id)))).toMatchObject({
      _tag: "CredentialNotFound",
    })
  })

  it("a ciphertext moved to another row, or a row given to another owner, does not open", async () => {
    const { run, exit } = api(runtime)
    const store = await storeWith({ key: keyA })
    const one = await run(
      store.create("carol", { provider: "openai", type: "api_key", title: "1", secret: { api_key: "one" } }),
    )
    const two = await run(
      store.create("carol", { provider: "openai", type: "api_key", title: "2", secret: { api_key: "two" } }),
    )
    await rows(
      runtime,
      `UPDATE credentials t SET iv = s.iv, auth_tag = s.auth_tag, ciphertext = s.ciphertext
       FROM credentials s WHERE t.id = $1 AND s.id = $2`,
      [two.id, one.id],
    )
    const moved = failureOf(await exit(store.open("carol", two.id)))
    expect(moved).toMatchObject({ _tag: "CredentialUnreadable", id: two.id })
    expect(String((moved as Error).message)).toContain("altered")
    await rows(runtime, "UPDATE credentials SET owner_id = 'mallory' WHERE id = $1", [one.id])
    expect(failureOf(await exit(store.open("mallory", one.id)))).toMatchObject({
      _tag: "CredentialUnreadable",
    })
  })

  it("rotation: a new key with the old one as previous opens old secrets and seals them again", async () => {
    const { run, exit } = api(runtime)
    const old = await storeWith({ key: keyA })
    const made = await run(
      old.create("dave", { provider: "openai", type: "api_key", title: "r", secret: { api_key: SECRET } }),
    )
    const rotated = await storeWith({ key: keyB, previousKeys: [keyA] })
    expect(rotated.keyId).toBe(parseKey(keyB).id)
    const [after] = await rows<{ key_id: string }>(runtime, "SELECT key_id FROM credentials WHERE id = $1", [
      made.id,
    ])
    expect(after?.key_id).toBe(parseKey(keyB).id)
    // Only the new key is needed now; the old one alone no longer opens it.
    const onlyNew = await storeWith({ key: keyB })
    expect((await run(onlyNew.open("dave", made.id))).secret).toEqual({ api_key: SECRET })
    const onlyOld = await storeWith({ key: keyA })
    const refused = failureOf(await exit(onlyOld.open("dave", made.id)))
    expect(refused).toMatchObject({ _tag: "CredentialUnreadable" })
    expect((refused as Error).message).toContain(parseKey(keyB).id)
  })

  it("without a key nothing is stored or opened, but metadata can be listed and deleted", async () => {
    const { run, exit } = api(runtime)
    const keyed = await storeWith({ key: keyA })
    const made = await run(
      keyed.create("erin", { provider: "openai", type: "api_key", title: "e", secret: { api_key: "x" } }),
    )
    const locked = await storeWith({})
    expect(locked.keyId).toBeUndefined()
    const before = await rows<{ n: number }>(runtime, "SELECT count(*)::int AS n FROM credentials")
    expect(
      failureOf(
        await exit(
          locked.create("erin", {
            provider: "openai",
            type: "api_key",
            title: "f",
            secret: { api_key: "y" },
          }),
        ),
      ),
    ).toMatchObject({
      _tag: "CredentialsLocked",
    })
    expect(await rows(runtime, "SELECT count(*)::int AS n FROM credentials")).toEqual(before)
    expect(failureOf(await exit(locked.open("erin", made.id)))).toMatchObject({ _tag: "CredentialsLocked" })
    expect((await run(locked.list("erin"))).map((c) => c.id)).toEqual([made.id])
    await run(locked.remove("erin", made.id))
  })

  it("the resolver opens only the run owner's credentials and checks provider and type", async () => {
    const { run } = api(runtime)
    const store: CredentialStoreShape = await storeWith({ key: keyA })
    const alices = await run(
      store.create("alice-r", {
        provider: "openai",
        type: "api_key",
        title: "a",
        secret: { api_key: SECRET },
      }),
    )
    const bobs = await run(
      store.create("bob-r", {
        provider: "openai",
        type: "api_key",
        title: "b",
        secret: { api_key: "bob-key" },
      }),
    )
    const github = await run(
      store.create("alice-r", { provider: "github", type: "api_key", title: "g", secret: { api_key: "gh" } }),
    )
    const login = await run(
      store.create("alice-r", {
        provider: "openai",
        type: "user_password",
        title: "u",
        secret: { username: "me", password: "pw" },
      }),
    )
    const runId = `run-${driver}-${randomBytes(4).toString("hex")}`
    await rows(runtime, "INSERT INTO runs (id, owner_id, status) VALUES ($1, 'alice-r', 'QUEUED')", [runId])
    let lookups = 0
    const queries = await runtime.runPromise(RunQueries.use((q) => Effect.succeed(q)))
    const resolver = makeCredentialResolver(store, (id) => {
      lookups++
      return queries.ownerOf(id)
    })
    const requirement: CredentialsRequirement = { provider: ["openai", "ollama"], type: "api_key" }
    const request = { runId, nodeId: "n", blockId: "b", field: "credentials", requirement }
    const ref = (id: string, provider = "openai", type = "api_key") => ({ id, provider, type })

    expect(await resolver(ref(alices.id), request)).toEqual({
      provider: "openai",
      type: "api_key",
      secret: SECRET,
    })
    // Bob's id, from Alice's run: not found, exactly like an unknown id.
    expect(await resolver(ref(bobs.id), request)).toBeUndefined()
    expect(await resolver(ref("no-such-id"), request)).toBeUndefined()
    await expect(Promise.resolve().then(() => resolver(ref(github.id), request))).rejects.toThrow(
      `credentials ${github.id} are github api_key credentials; this field needs openai or ollama api_key`,
    )
    await expect(Promise.resolve().then(() => resolver(ref(login.id), request))).rejects.toThrow(
      "user_password",
    )
    await expect(Promise.resolve().then(() => resolver(ref(alices.id, "ollama"), request))).rejects.toThrow(
      "the reference says ollama",
    )
    // The owner was looked up once, then remembered.
    expect(lookups).toBe(1)
    await expect(
      Promise.resolve().then(() => resolver(ref(alices.id), { ...request, runId: "no-such-run" })),
    ).rejects.toThrow("the run's owner could not be found")
    const password = makeCredentialResolver(store, queries.ownerOf)
    expect(
      await password(ref(login.id), {
        ...request,
        requirement: { provider: "openai", type: "user_password" },
      }),
    ).toEqual({ provider: "openai", type: "user_password", secret: "pw", username: "me" })
  })
})
