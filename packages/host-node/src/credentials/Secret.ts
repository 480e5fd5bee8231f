/**
 * The secret of each kind of credentials, as a user stores it, and what a block receives of it:
 *
 * | type            | `secret`                                              | the block's `secret`         |
 * | --------------- | ----------------------------------------------------- | ---------------------------- |
 * | `api_key`       | `{ api_key }`                                         | the key                      |
 * | `oauth2`        | `{ access_token, refresh_token?, expires_at?, scopes? }` | the access token          |
 * | `user_password` | `{ username, password }`                              | the password (and `username`) |
 * | `host_scoped`   | `{ headers: { name: value } }` (and `host` beside it) | the headers as JSON text     |
 *
 * Checking a secret reports each field at fault by name and never repeats a value, so that an error
 * answer or a log line cannot carry a secret.
 *
 * @since 0.1.0
 */
import type { ResolvedCredentials } from "@weft/engine"

/**
 * The kinds of credentials.
 *
 * @category models
 */
export const CREDENTIAL_TYPES = ["api_key", "oauth2", "user_password", "host_scoped"] as const

/**
 * A kind of credentials.
 *
 * @category models
 */
export type CredentialType = (typeof CREDENTIAL_TYPES)[number]

/** @category models */
export interface ApiKeySecret {
  readonly api_key: string
}

/** @category models */
export interface OAuth2Secret {
  readonly access_token: string
  readonly refresh_token?: string
  /** When the access token expires, in seconds since the epoch. */
  readonly expires_at?: number
  readonly scopes?: ReadonlyArray<string>
}

/** @category models */
export interface UserPasswordSecret {
  readonly username: string
  readonly password: string
}

/** @category models */
export interface HostScopedSecret {
  /** Headers to send to the credentials' host. */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The secret of some credentials.
 *
 * @category models
 */
export type SecretPayload = ApiKeySecret | OAuth2Secret | UserPasswordSecret | HostScopedSecret

/** The longest secret string accepted. */
export const MAX_SECRET_LENGTH = 16_384

/** The most headers host-scoped credentials may hold. */
export const MAX_HEADERS = 50

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * The outcome of checking a secret: the secret, or the fields at fault.
 *
 * @category models
 */
export type SecretCheck =
  | { readonly ok: true; readonly secret: SecretPayload }
  | { readonly ok: false; readonly fields: Readonly<Record<string, string>> }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A field name as an error names it: user text, so shortened. */
const nameOf = (key: string): string => (key.length > 64 ? `${key.slice(0, 64)}…` : key)

const FIELDS: Record<
  CredentialType,
  { readonly required: ReadonlyArray<string>; readonly optional: ReadonlyArray<string> }
> = {
  api_key: { required: ["api_key"], optional: [] },
  oauth2: { required: ["access_token"], optional: ["refresh_token", "expires_at", "scopes"] },
  user_password: { required: ["username", "password"], optional: [] },
  host_scoped: { required: ["headers"], optional: [] },
}

/** Why a secret string is refused, or `undefined`; never the string itself. */
const stringProblem = (value: unknown): string | undefined => {
  if (typeof value !== "string") return "must be a string"
  if (value.trim() === "") return "must not be empty"
  if (value.length > MAX_SECRET_LENGTH) return `must be at most ${MAX_SECRET_LENGTH} characters`
  if (value.includes("\u0000")) return "must not contain NUL characters"
  return undefined
}

/**
 * Checks the `secret` of a credentials request for its type.
 *
 * @category checks
 */
export const checkSecret = (type: CredentialType, value: unknown): SecretCheck => {
  if (!isRecord(value)) return { ok: false, fields: { secret: `must be an object with the ${type} fields` } }
  const fields: Record<string, string> = {}
  const spec = FIELDS[type]
  for (const key of Object.keys(value)) {
    if (!spec.required.includes(key) && !spec.optional.includes(key)) {
      fields[`secret.${nameOf(key)}`] = `unknown field for ${type} credentials`
    }
  }
  for (const key of spec.required) {
    if (value[key] === undefined) fields[`secret.${key}`] = "required field is missing"
  }
  for (const key of ["api_key", "access_token", "refresh_token", "username", "password"]) {
    if (value[key] === undefined || !(spec.required.includes(key) || spec.optional.includes(key))) continue
    const problem = stringProblem(value[key])
    if (problem !== undefined) fields[`secret.${key}`] = problem
  }
  if (type === "oauth2") {
    const expires = value.expires_at
    if (expires !== undefined && (typeof expires !== "number" || !Number.isFinite(expires) || expires < 0)) {
      fields["secret.expires_at"] = "must be a time in seconds since the epoch"
    }
    const scopes = value.scopes
    if (
      scopes !== undefined &&
      (!Array.isArray(scopes) ||
        scopes.length > 100 ||
        scopes.some((s) => typeof s !== "string" || s.length > 200))
    ) {
      fields["secret.scopes"] = "must be a list of at most 100 scope names"
    }
  }
  if (type === "host_scoped" && value.headers !== undefined) {
    const headers = value.headers
    if (!isRecord(headers)) fields["secret.headers"] = "must be an object of header names and values"
    else {
      const names = Object.keys(headers)
      if (names.length === 0) fields["secret.headers"] = "must hold at least one header"
      if (names.length > MAX_HEADERS) fields["secret.headers"] = `must hold at most ${MAX_HEADERS} headers`
      for (const name of names.slice(0, MAX_HEADERS)) {
        const at = `secret.headers.${nameOf(name)}`
        if (!TOKEN.test(name) || name.length > 256) fields[at] = "is not a valid header name"
        else {
          const problem = stringProblem(headers[name])
          if (problem !== undefined) fields[at] = problem
          else if (/[\r\n]/.test(headers[name] as string)) fields[at] = "must not contain line breaks"
        }
      }
    }
  }
  if (Object.keys(fields).length > 0) return { ok: false, fields }
  return { ok: true, secret: pick(type, value) }
}

/** Only the fields of the type, so that nothing else is sealed. */
const pick = (type: CredentialType, value: Record<string, unknown>): SecretPayload => {
  switch (type) {
    case "api_key":
      return { api_key: value.api_key as string }
    case "oauth2":
      return {
        access_token: value.access_token as string,
        ...(value.refresh_token === undefined ? {} : { refresh_token: value.refresh_token as string }),
        ...(value.expires_at === undefined ? {} : { expires_at: value.expires_at as number }),
        ...(value.scopes === undefined ? {} : { scopes: [...(value.scopes as ReadonlyArray<string>)] }),
      }
    case "user_password":
      return { username: value.username as string, password: value.password as string }
    case "host_scoped":
      return { headers: { ...(value.headers as Record<string, string>) } }
  }
}

/**
 * What a block receives of a secret (`ctx.credentials[field]`).
 *
 * @category conversions
 */
export const resolvedOf = (
  provider: string,
  type: CredentialType,
  secret: SecretPayload,
): ResolvedCredentials => {
  switch (type) {
    case "api_key":
      return { provider, type, secret: (secret as ApiKeySecret).api_key }
    case "oauth2":
      return { provider, type, secret: (secret as OAuth2Secret).access_token }
    case "user_password": {
      const { username, password } = secret as UserPasswordSecret
      return { provider, type, secret: password, username }
    }
    case "host_scoped":
      return { provider, type, secret: JSON.stringify((secret as HostScopedSecret).headers) }
  }
}
