/**
 * The keys that seal stored credentials: 32 random bytes, given as base64 (standard or URL-safe) or hex in
 * `WEFT_CREDENTIALS_KEY`, or generated once into a 0600 file in an embedded host's data directory. Each key
 * has an id (a fingerprint, never the key), stored with every secret it sealed, so that the key can be
 * rotated: the new key seals, the previous ones still open what they sealed until it is sealed again.
 *
 * A key prints as its id only: `String(key)`, `JSON.stringify(key)` and `util.inspect(key)` never show
 * the key's bytes.
 *
 * @since 0.1.0
 */
import { createHash, randomBytes } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { Data, Effect } from "effect"

/** The environment variable that holds the current key. */
export const KEY_ENV = "WEFT_CREDENTIALS_KEY"

/** The environment variable that holds previous keys (comma-separated), kept to open what they sealed. */
export const PREVIOUS_KEYS_ENV = "WEFT_CREDENTIALS_PREVIOUS_KEYS"

/** The file, in an embedded host's data directory, that keeps its generated key. */
export const KEY_FILE = "weft-credentials-key"

/** The length of a key in bytes (AES-256). */
export const KEY_BYTES = 32

/**
 * A key is missing or malformed. The message says what is wrong, never what the key was.
 *
 * @category errors
 */
export class CredentialsKeyInvalid extends Data.TaggedError("CredentialsKeyInvalid")<{
  /** Where the key came from: `key`, `previousKeys.0`, `keyFile`. */
  readonly field: string
  readonly message: string
}> {}

const INSPECT = Symbol.for("nodejs.util.inspect.custom")

/**
 * A parsed key and its id.
 *
 * @category models
 */
export class CredentialKey {
  readonly #bytes: Uint8Array
  /** The key's fingerprint: the first 16 hex digits of a SHA-256 over a label and the key. */
  readonly id: string

  constructor(bytes: Uint8Array) {
    if (bytes.length !== KEY_BYTES) throw new RangeError(`a credentials key has ${KEY_BYTES} bytes`)
    this.#bytes = Uint8Array.from(bytes)
    this.id = createHash("sha256")
      .update("weft-credentials-key-id\u0000")
      .update(bytes)
      .digest("hex")
      .slice(0, 16)
  }

  /** The key's bytes, for the cipher only. */
  bytes(): Uint8Array {
    return this.#bytes
  }

  toString(): string {
    return `CredentialKey(${this.id})`
  }

  toJSON(): { readonly id: string } {
    return { id: this.id }
  }

  [INSPECT](): string {
    return this.toString()
  }
}

const HEX = /^[0-9a-fA-F]{64}$/
const BASE64 = /^[A-Za-z0-9+/]{43}=?$/
const BASE64URL = /^[A-Za-z0-9_-]{43}=?$/

/**
 * Reads a key written as 64 hex digits or as base64 (standard or URL-safe, padding optional) of 32 bytes.
 *
 * @category constructors
 */
export const parseKey = (text: string, field = "key"): CredentialKey => {
  const trimmed = text.trim()
  let bytes: Buffer | undefined
  if (HEX.test(trimmed)) bytes = Buffer.from(trimmed, "hex")
  else if (BASE64.test(trimmed)) bytes = Buffer.from(trimmed, "base64")
  else if (BASE64URL.test(trimmed)) bytes = Buffer.from(trimmed, "base64url")
  if (bytes?.length !== KEY_BYTES) {
    throw new CredentialsKeyInvalid({
      field,
      message: `${describe(field)} must be ${KEY_BYTES} random bytes written as base64 or as 64 hex digits (e.g. the output of \`openssl rand -base64 32\`)`,
    })
  }
  return new CredentialKey(bytes)
}

const describe = (field: string): string =>
  field === "key"
    ? `the credentials key (${KEY_ENV})`
    : field.startsWith("previousKeys")
      ? `a previous credentials key (${PREVIOUS_KEYS_ENV})`
      : `the credentials key in ${field}`

/**
 * Reads the key in `file`, or creates the file with a new random key (base64, mode 0600). A file readable
 * by others is narrowed to 0600.
 *
 * @category constructors
 */
export const keyFromFile = (file: string): CredentialKey => {
  mkdirSync(dirname(file), { recursive: true })
  try {
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString("base64")}\n`, { mode: 0o600, flag: "wx" })
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw error
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  return parseKey(readFileSync(file, "utf8"), file)
}

/**
 * The keys of a store: the current one seals, any of them opens what it sealed.
 *
 * @category models
 */
export interface KeyRing {
  readonly current: CredentialKey
  readonly byId: ReadonlyMap<string, CredentialKey>
}

/**
 * A key ring from the current key and previous ones (the current key wins a repeated id).
 *
 * @category constructors
 */
export const keyRing = (current: CredentialKey, previous: ReadonlyArray<CredentialKey> = []): KeyRing => {
  const byId = new Map<string, CredentialKey>()
  for (const key of previous) byId.set(key.id, key)
  byId.set(current.id, current)
  return { current, byId }
}

/**
 * Where a store's keys come from.
 *
 * @category models
 */
export interface CredentialKeyOptions {
  /** The current key (32 bytes as base64 or hex), e.g. `WEFT_CREDENTIALS_KEY`. */
  readonly key?: string
  /** Keys used before the current one, so that what they sealed can still be opened (and sealed again). */
  readonly previousKeys?: ReadonlyArray<string>
  /**
   * Where to keep a generated key when none is given (created once, mode 0600). The embedded host uses
   * `<dataDir>/weft-credentials-key`. With neither a key nor a file, credentials cannot be stored or used.
   */
  readonly keyFile?: string
}

/**
 * The key ring these options give, `undefined` when they name no key; throws `CredentialsKeyInvalid`.
 *
 * @category constructors
 */
export const keyRingOf = (options: CredentialKeyOptions): KeyRing | undefined => {
  const previous = (options.previousKeys ?? [])
    .filter((text) => text.trim() !== "")
    .map((text, index) => parseKey(text, `previousKeys.${index}`))
  if (options.key !== undefined && options.key.trim() !== "") {
    return keyRing(parseKey(options.key, "key"), previous)
  }
  if (options.keyFile !== undefined) {
    let key: CredentialKey
    try {
      key = keyFromFile(options.keyFile)
    } catch (error) {
      if (error instanceof CredentialsKeyInvalid) throw error
      throw new CredentialsKeyInvalid({
        field: "keyFile",
        message: `cannot keep the credentials key in ${options.keyFile}: ${error instanceof Error ? error.message : String(error)}`,
      })
    }
    return keyRing(key, previous)
  }
  return undefined
}

/**
 * The key options in an environment: `WEFT_CREDENTIALS_KEY` and `WEFT_CREDENTIALS_PREVIOUS_KEYS`.
 *
 * @category constructors
 */
export const keyOptionsFromEnv = (
  env: Readonly<Record<string, string | undefined>>,
): CredentialKeyOptions => {
  const key = env[KEY_ENV]?.trim()
  const previous = (env[PREVIOUS_KEYS_ENV] ?? "")
    .split(",")
    .map((text) => text.trim())
    .filter((text) => text !== "")
  return {
    ...(key === undefined || key === "" ? {} : { key }),
    ...(previous.length === 0 ? {} : { previousKeys: previous }),
  }
}

/**
 * `keyRingOf` as an effect: a malformed key fails with `CredentialsKeyInvalid` naming it, and any other
 * failure to read the key becomes one too (never the key's bytes).
 *
 * @category constructors
 */
export const loadKeyRing = (
  options: CredentialKeyOptions,
): Effect.Effect<KeyRing | undefined, CredentialsKeyInvalid> =>
  Effect.try({
    try: () => keyRingOf(options),
    catch: (error) =>
      error instanceof CredentialsKeyInvalid
        ? error
        : new CredentialsKeyInvalid({ field: "key", message: "the credentials key could not be read" }),
  })
