/**
 * API keys on better-auth's API-key plugin: a signed-in user creates keys with scopes, a request with
 * `Authorization: Bearer <key>` then acts as that user with only those scopes.
 *
 * Keys are `weft_` and 64 random letters, shown once when created; the database keeps their SHA-256 hash and
 * their first characters (`start`, to tell keys apart in a list). Scopes are kept as the key's permissions
 * (`{ graphs: ["read"] }` for `graphs:read`). Keys are created by the server itself for the session's user
 * (the plugin accepts permissions only from the server), listed and revoked (deleted) by their owner; the
 * plugin's own HTTP routes are not exposed.
 *
 * @since 0.1.0
 */
import { type ApiScope, permissionsToScopes, scopesToPermissions } from "./scopes.js"

/** The first characters of every key. */
export const API_KEY_PREFIX = "weft_"

/** The longest lifetime a key may be given: a year, in seconds. */
export const MAX_API_KEY_LIFETIME = 365 * 24 * 60 * 60

/** The longest key name. */
export const MAX_API_KEY_NAME = 100

/** better-auth's model of API keys. */
const MODEL = "apikey"

/**
 * The options of better-auth's API-key plugin (`apiKey(API_KEY_OPTIONS)`): hashed keys, no session for keys
 * inside better-auth (the host checks keys itself), no per-key request quota (run starts are limited per
 * user instead), lifetimes from one second to a year, no permissions unless the server sets them.
 */
export const API_KEY_OPTIONS = {
  defaultPrefix: API_KEY_PREFIX,
  defaultKeyLength: 64,
  startingCharactersConfig: { shouldStore: true, charactersLength: API_KEY_PREFIX.length + 6 },
  maximumNameLength: MAX_API_KEY_NAME,
  requireName: true,
  enableMetadata: false,
  enableSessionForAPIKeys: false,
  rateLimit: { enabled: false },
  keyExpiration: { minExpiresIn: 0, maxExpiresIn: MAX_API_KEY_LIFETIME / 86_400 },
  permissions: { defaultPermissions: {} },
}

/**
 * An API key as its owner sees it (never the key itself).
 *
 * @category models
 */
export interface ApiKeyInfo {
  readonly id: string
  readonly name: string
  /** The key's first characters, e.g. `weft_AbCdEf`. */
  readonly start: string
  readonly scopes: ReadonlyArray<ApiScope>
  /** Epoch milliseconds. */
  readonly createdAt: number
  readonly expiresAt?: number
  /** When the key last authenticated a request. */
  readonly lastUsedAt?: number
}

/**
 * A key just created: the only time `key` is seen.
 *
 * @category models
 */
export interface CreatedApiKey extends ApiKeyInfo {
  readonly key: string
}

/**
 * Who a valid key acts for.
 *
 * @category models
 */
export interface VerifiedApiKey {
  readonly id: string
  readonly owner: string
  readonly scopes: ReadonlyArray<ApiScope>
}

/**
 * The API-key operations of the host.
 *
 * @category models
 */
export interface ApiKeysHandle {
  readonly create: (
    owner: string,
    request: { readonly name: string; readonly scopes: ReadonlyArray<ApiScope>; readonly expiresIn?: number },
  ) => Promise<CreatedApiKey>
  readonly list: (owner: string) => Promise<ReadonlyArray<ApiKeyInfo>>
  /** Deletes the owner's key; false when the owner has no such key. */
  readonly revoke: (owner: string, id: string) => Promise<boolean>
  /** The key's owner and scopes, or `undefined` for an unknown, revoked or expired key. */
  readonly verify: (key: string) => Promise<VerifiedApiKey | undefined>
}

/** A stored key, as better-auth's adapter and endpoints answer it. */
interface StoredKey {
  readonly id: string
  readonly name?: string | null
  readonly start?: string | null
  readonly referenceId: string
  readonly permissions?: unknown
  readonly createdAt: Date | string
  readonly expiresAt?: Date | string | null
  readonly lastRequest?: Date | string | null
}

type Where = ReadonlyArray<{ readonly field: string; readonly value: string }>

/** The parts of a better-auth instance with the API-key plugin that the host uses. */
export interface ApiKeyAuth {
  readonly api: {
    readonly createApiKey: (input: {
      body: {
        name: string
        userId: string
        permissions: Record<string, Array<string>>
        expiresIn?: number | null
      }
    }) => Promise<StoredKey & { readonly key: string }>
    readonly verifyApiKey: (input: {
      body: { key: string }
    }) => Promise<{ readonly valid: boolean; readonly key: StoredKey | null }>
  }
  readonly $context: Promise<{
    readonly adapter: {
      readonly findMany: <T>(query: { model: string; where: Array<Where[number]> }) => Promise<Array<T>>
      readonly deleteMany: (query: { model: string; where: Array<Where[number]> }) => Promise<number>
    }
  }>
}

const millis = (date: Date | string | null | undefined): number | undefined =>
  date === null || date === undefined ? undefined : new Date(date).getTime()

const parsePermissions = (value: unknown): unknown => {
  if (typeof value !== "string") return value
  try {
    return JSON.parse(value)
  } catch {
    return undefined
  }
}

const infoOf = (stored: StoredKey): ApiKeyInfo => {
  const expiresAt = millis(stored.expiresAt)
  const lastUsedAt = millis(stored.lastRequest)
  return {
    id: stored.id,
    name: stored.name ?? "",
    start: stored.start ?? API_KEY_PREFIX,
    scopes: permissionsToScopes(parsePermissions(stored.permissions)),
    createdAt: millis(stored.createdAt) ?? 0,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
  }
}

/**
 * The API-key operations on a better-auth instance with the API-key plugin (`API_KEY_OPTIONS`).
 *
 * @category constructors
 */
export const makeApiKeys = (auth: ApiKeyAuth): ApiKeysHandle => ({
  create: async (owner, request) => {
    // A call without request headers is the server's own: only then may it set the owner and permissions.
    const created = await auth.api.createApiKey({
      body: {
        name: request.name,
        userId: owner,
        permissions: scopesToPermissions(request.scopes),
        ...(request.expiresIn === undefined ? {} : { expiresIn: request.expiresIn }),
      },
    })
    return { ...infoOf(created), key: created.key }
  },
  list: async (owner) => {
    const context = await auth.$context
    const rows = await context.adapter.findMany<StoredKey>({
      model: MODEL,
      where: [{ field: "referenceId", value: owner }],
    })
    const now = Date.now()
    return rows
      .map(infoOf)
      .filter((key) => key.expiresAt === undefined || key.expiresAt > now)
      .sort((a, b) => a.createdAt - b.createdAt)
  },
  revoke: async (owner, id) => {
    const context = await auth.$context
    const deleted = await context.adapter.deleteMany({
      model: MODEL,
      where: [
        { field: "id", value: id },
        { field: "referenceId", value: owner },
      ],
    })
    return deleted > 0
  },
  verify: async (key) => {
    if (!key.startsWith(API_KEY_PREFIX)) return undefined
    const result = await auth.api.verifyApiKey({ body: { key } })
    if (!result.valid || result.key === null) return undefined
    return {
      id: result.key.id,
      owner: result.key.referenceId,
      scopes: permissionsToScopes(parsePermissions(result.key.permissions)),
    }
  },
})
