/**
 * Users' stored credentials on the `Sql` service: metadata in the clear, the secret sealed with AES-256-GCM
 * (`Cipher.ts`) under the store's current key, bound to its row. Every call is scoped to an owner: another
 * owner's credentials are answered exactly like unknown ones.
 *
 * Without a key (a Postgres host started without `WEFT_CREDENTIALS_KEY`), metadata can be listed and deleted
 * but nothing can be stored or opened (`CredentialsLocked`). With previous keys configured, building the
 * store seals again under the current key every secret a previous key sealed (key rotation).
 *
 * @since 0.1.0
 */
import { Context, Data, Effect, Layer } from "effect"
import { ms } from "../internal/sql-rows.js"
import { Sql, type SqlError } from "../Sql.js"
import { open, type Sealed, SecretUnreadable, seal } from "./Cipher.js"
import { type CredentialKeyOptions, type CredentialsKeyInvalid, type KeyRing, loadKeyRing } from "./Keys.js"
import { resealRows } from "./Reseal.js"
import type { CredentialType, SecretPayload } from "./Secret.js"

/**
 * Stored credentials as the API shows them: never the secret.
 *
 * @category models
 */
export interface CredentialInfo {
  readonly id: string
  readonly provider: string
  readonly type: CredentialType
  readonly title: string
  /** The host that `host_scoped` credentials are for. */
  readonly host?: string
  readonly createdAt: number
}

/**
 * Credentials to store.
 *
 * @category models
 */
export interface NewCredential {
  readonly provider: string
  readonly type: CredentialType
  readonly title: string
  readonly host?: string
  readonly secret: SecretPayload
}

/**
 * No such credentials for this owner (another owner's are not found either).
 *
 * @category errors
 */
export class CredentialNotFound extends Data.TaggedError("CredentialNotFound")<{ readonly id: string }> {
  override get message(): string {
    return `credentials ${this.id} were not found`
  }
}

/**
 * The store has no key: credentials can be neither stored nor opened.
 *
 * @category errors
 */
export class CredentialsLocked extends Data.TaggedError("CredentialsLocked") {
  override get message(): string {
    return "no credentials key is configured on this server: set WEFT_CREDENTIALS_KEY to 32 random bytes as base64 or hex"
  }
}

/**
 * Stored credentials do not open (their key is not configured, or the row was altered).
 *
 * @category errors
 */
export class CredentialUnreadable extends Data.TaggedError("CredentialUnreadable")<{
  readonly id: string
  readonly cause: SecretUnreadable
}> {
  override get message(): string {
    return `credentials ${this.id} cannot be opened: ${this.cause.message}`
  }
}

/**
 * The store's interface.
 *
 * @category models
 */
export interface CredentialStoreShape {
  /** The id of the key that seals new secrets; `undefined` when the store has no key. */
  readonly keyId: string | undefined
  /** Seals and stores credentials for the owner. */
  readonly create: (
    owner: string,
    input: NewCredential,
  ) => Effect.Effect<CredentialInfo, CredentialsLocked | SqlError>
  /** The owner's credentials, newest first, optionally of one provider. */
  readonly list: (
    owner: string,
    filter?: { readonly provider?: string },
  ) => Effect.Effect<ReadonlyArray<CredentialInfo>, SqlError>
  readonly get: (owner: string, id: string) => Effect.Effect<CredentialInfo, CredentialNotFound | SqlError>
  readonly remove: (owner: string, id: string) => Effect.Effect<void, CredentialNotFound | SqlError>
  /** The owner's credentials with their secret, opened. Only the run resolver calls this. */
  readonly open: (
    owner: string,
    id: string,
  ) => Effect.Effect<
    { readonly info: CredentialInfo; readonly secret: SecretPayload },
    CredentialNotFound | CredentialsLocked | CredentialUnreadable | SqlError
  >
  /**
   * Seals again under the current key every secret sealed by a previous key of the ring; answers how many.
   * Secrets whose key is not configured are left as they are.
   */
  readonly reseal: Effect.Effect<number, SqlError>
}

interface Row {
  readonly id: string
  readonly owner_id: string
  readonly provider: string
  readonly type: CredentialType
  readonly title: string
  readonly host: string | null
  readonly created_at: number
}

interface SealedRow extends Row {
  readonly key_id: string
  readonly iv: Uint8Array
  readonly auth_tag: Uint8Array
  readonly ciphertext: Uint8Array
}

const COLUMNS = `id, owner_id, provider, type, title, host, ${ms("created_at")} AS created_at`
const SEALED_COLUMNS = `${COLUMNS}, key_id, iv, auth_tag, ciphertext`

const toInfo = (row: Row): CredentialInfo => ({
  id: row.id,
  provider: row.provider,
  type: row.type,
  title: row.title,
  ...(row.host === null ? {} : { host: row.host }),
  createdAt: row.created_at,
})

const sealedOf = (row: SealedRow): Sealed => ({
  keyId: row.key_id,
  iv: row.iv,
  tag: row.auth_tag,
  ciphertext: row.ciphertext,
})

const bindingOf = (row: Pick<Row, "id" | "owner_id" | "provider" | "type">) => ({
  id: row.id,
  owner: row.owner_id,
  provider: row.provider,
  type: row.type,
})

const make = (ring: KeyRing | undefined) =>
  Effect.gen(function* () {
    const sql = yield* Sql

    const create: CredentialStoreShape["create"] = (owner, input) =>
      Effect.gen(function* () {
        if (ring === undefined) return yield* new CredentialsLocked()
        const id = crypto.randomUUID()
        const sealed = seal(ring.current, JSON.stringify(input.secret), {
          id,
          owner,
          provider: input.provider,
          type: input.type,
        })
        const rows = yield* sql.query<Row>(
          `INSERT INTO credentials (id, owner_id, provider, type, title, host, key_id, iv, auth_tag, ciphertext)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bytea, $9::bytea, $10::bytea)
           RETURNING ${COLUMNS}`,
          [
            id,
            owner,
            input.provider,
            input.type,
            input.title,
            input.host ?? null,
            sealed.keyId,
            sealed.iv,
            sealed.tag,
            sealed.ciphertext,
          ],
        )
        return toInfo(rows[0] as Row)
      })

    const list: CredentialStoreShape["list"] = (owner, filter = {}) =>
      Effect.map(
        sql.query<Row>(
          `SELECT ${COLUMNS} FROM credentials
           WHERE owner_id = $1 AND ($2::text IS NULL OR provider = $2)
           ORDER BY created_at DESC, id`,
          [owner, filter.provider ?? null],
        ),
        (rows) => rows.map(toInfo),
      )

    const get: CredentialStoreShape["get"] = (owner, id) =>
      Effect.flatMap(
        sql.query<Row>(`SELECT ${COLUMNS} FROM credentials WHERE id = $1 AND owner_id = $2`, [id, owner]),
        (rows) =>
          rows[0] === undefined
            ? Effect.fail(new CredentialNotFound({ id }))
            : Effect.succeed(toInfo(rows[0])),
      )

    const remove: CredentialStoreShape["remove"] = (owner, id) =>
      Effect.flatMap(
        sql.query("DELETE FROM credentials WHERE id = $1 AND owner_id = $2 RETURNING id", [id, owner]),
        (rows) => (rows.length === 0 ? Effect.fail(new CredentialNotFound({ id })) : Effect.void),
      )

    const openRow: CredentialStoreShape["open"] = (owner, id) =>
      Effect.gen(function* () {
        const rows = yield* sql.query<SealedRow>(
          `SELECT ${SEALED_COLUMNS} FROM credentials WHERE id = $1 AND owner_id = $2`,
          [id, owner],
        )
        const row = rows[0]
        if (row === undefined) return yield* new CredentialNotFound({ id })
        if (ring === undefined) return yield* new CredentialsLocked()
        const text = yield* Effect.try({
          try: () => open(ring, sealedOf(row), bindingOf(row)),
          catch: (error) =>
            new CredentialUnreadable({
              id,
              cause:
                error instanceof SecretUnreadable
                  ? error
                  : new SecretUnreadable({ keyId: row.key_id, reason: "tampered" }),
            }),
        })
        return { info: toInfo(row), secret: JSON.parse(text) as SecretPayload }
      })

    const reseal: CredentialStoreShape["reseal"] = resealRows(sql, ring, {
      table: "credentials",
      columns: SEALED_COLUMNS,
      ciphertextColumn: "ciphertext",
      touchesUpdatedAt: true,
      sealedOf,
      bindingOf,
    })

    return {
      keyId: ring?.current.id,
      create,
      list,
      get,
      remove,
      open: openRow,
      reseal,
    } satisfies CredentialStoreShape
  })

/**
 * The credential store.
 *
 * @category services
 */
export class CredentialStore extends Context.Service<CredentialStore, CredentialStoreShape>()(
  "@weft/host-node/CredentialStore",
) {
  /**
   * The store on the `Sql` service (apply the migrations first), with the keys these options name. Fails
   * with `CredentialsKeyInvalid` for a malformed key; with previous keys, reseals under the current one.
   *
   * @category layers
   */
  static readonly layer = (
    options: CredentialKeyOptions = {},
  ): Layer.Layer<CredentialStore, CredentialsKeyInvalid | SqlError, Sql> =>
    Layer.effect(
      CredentialStore,
      Effect.gen(function* () {
        const ring = yield* loadKeyRing(options)
        const store = yield* make(ring)
        const resealed = yield* store.reseal
        if (resealed > 0) {
          yield* Effect.logInfo(`credentials: ${resealed} secret(s) sealed again under key ${store.keyId}`)
        }
        return store
      }),
    )
}
