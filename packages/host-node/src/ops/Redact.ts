/**
 * Redaction of secrets in log records. A value is hidden when:
 *
 * - its key names a secret (`authorization`, `cookie`, `password`, `secret`, `api_key`, `token`, `private_key`…,
 *   in any case and with any separators), or is one of the extra keys given (a block's input pins that the
 *   engine's `secret` annotation marks, or its credential fields);
 * - it is a string that also appears under such a key anywhere in the same record (a block that logs
 *   `Print: {'password': '…'}` with the object as data);
 * - it looks like a credential in text: a `Bearer …` authorization value, the password of a URL
 *   (`postgres://user:…@host`), and query or form parameters with a secret name (`?token=…`).
 *
 * Resolved credential secrets never reach a log record in the first place: the engine masks them in every
 * message a block sends (logs included) before it becomes an event.
 *
 * @since 0.1.0
 */

/** What replaces a hidden value. */
export const MASK = "[REDACTED]"

/** Key fragments that name a secret, compared on the key lowercased with separators removed. */
const SECRET_KEY_PARTS = [
  "authorization",
  "cookie",
  "password",
  "passwd",
  "passphrase",
  "secret",
  "apikey",
  "token",
  "privatekey",
  "accesskey",
  "sessionid",
  "signingkey",
  "encryptionkey",
] as const

const normalize = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, "")

/**
 * Whether a key names a secret: `Authorization`, `set-cookie`, `api_key`, `X-API-Key`, `refresh_token`,
 * `clientSecret`, `db_password`…
 *
 * @category predicates
 */
export const isSecretKey = (key: string): boolean => {
  const k = normalize(key)
  return SECRET_KEY_PARTS.some((part) => k.includes(part))
}

/** Strings shorter than this are not masked where they appear elsewhere (too common to be secrets). */
const MIN_SECRET_LENGTH = 4

/** Query and form parameters with a secret name: `token=…`, `api_key=…`, `password=…`. */
const SECRET_PARAM =
  /([?&;\s]|^)([a-z0-9_.-]*?(?:token|secret|password|passwd|api[_-]?key|signature|session)[a-z0-9_.-]*)=([^&#\s"']+)/gi

/** `Bearer abc…` (an authorization value). */
const AUTH_SCHEME = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{4,}/gi

/** The password in a URL's userinfo: `scheme://user:password@host`. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi

/**
 * A string with credentials that look like credentials masked: authorization schemes, URL passwords, and
 * secret query parameters.
 *
 * @category redaction
 */
export const redactText = (text: string): string =>
  text
    .replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} ${MASK}`)
    .replace(URL_PASSWORD, (_match, prefix: string) => `${prefix}${MASK}@`)
    .replace(SECRET_PARAM, (_match, lead: string, name: string) => `${lead}${name}=${MASK}`)

/**
 * How to redact one record.
 *
 * @category models
 */
export interface RedactOptions {
  /** Keys whose values are hidden besides those `isSecretKey` recognizes (exact names). */
  readonly keys?: ReadonlySet<string>
  /** Strings to mask wherever they appear (e.g. secrets known from elsewhere). */
  readonly secrets?: ReadonlyArray<string>
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Collects the strings held under secret keys, so that they are masked where else they appear.
 */
const collect = (
  value: unknown,
  extraKeys: ReadonlySet<string>,
  found: Set<string>,
  depth: number,
  under: boolean,
): void => {
  if (depth > 32) return
  if (typeof value === "string") {
    if (under && value.length >= MIN_SECRET_LENGTH) found.add(value)
    return
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, extraKeys, found, depth + 1, under)
    return
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      collect(item, extraKeys, found, depth + 1, under || isSecretKey(key) || extraKeys.has(key))
    }
  }
}

const maskAll = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(MASK)
  return redactText(out)
}

const NO_KEYS: ReadonlySet<string> = new Set()

/**
 * A copy of `value` (any JSON-like data: a log record, request headers, a block's log data) with its secrets
 * hidden: values under secret keys become `MASK` (numbers and booleans are kept: `maxTokens: 100` is no
 * secret), and every string is cleaned of the hidden strings and of credential-looking text.
 *
 * @category redaction
 */
export const redact = <A>(value: A, options: RedactOptions = {}): A => {
  const keys = options.keys ?? NO_KEYS
  const found = new Set<string>(options.secrets?.filter((s) => s.length > 0))
  collect(value, keys, found, 0, false)
  // Longest first, so that a secret containing another is masked whole.
  const secrets = [...found].sort((a, b) => b.length - a.length)
  const walk = (item: unknown, depth: number): unknown => {
    if (typeof item === "string") return maskAll(item, secrets)
    if (depth > 32) return MASK
    if (Array.isArray(item)) return item.map((v) => walk(v, depth + 1))
    if (isPlainObject(item)) {
      const out: Record<string, unknown> = {}
      for (const [key, v] of Object.entries(item)) {
        const hidden =
          (isSecretKey(key) || keys.has(key)) && v !== null && typeof v !== "number" && typeof v !== "boolean"
        out[key] = hidden ? MASK : walk(v, depth + 1)
      }
      return out
    }
    return item
  }
  return walk(value, 0) as A
}
