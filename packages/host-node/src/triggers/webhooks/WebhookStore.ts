/**
 * Stored webhooks and the deliveries they accepted. A webhook belongs to its graph's owner: every owner
 * operation takes the owner, and another owner's webhook behaves exactly like a missing one. `find` is the
 * one unscoped read, for the public delivery route (which then checks the signature).
 *
 * Secrets are sealed like stored credentials (AES-256-GCM under the credentials key, `Cipher.ts`), bound to
 * the webhook's id and owner, and opened only to check a delivery. Without a key no webhook can be created
 * (`WebhooksLocked`). With previous keys configured, building the store seals again under the current key
 * every secret a previous key sealed.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { Context, Data, Effect, Layer } from "effect"
import { type Binding, open, type Sealed, SecretUnreadable, seal } from "../../credentials/Cipher.js"
import {
  type CredentialKeyOptions,
  type CredentialsKeyInvalid,
  type KeyRing,
  loadKeyRing,
} from "../../credentials/Keys.js"
import { resealRows } from "../../credentials/Reseal.js"
import { ms } from "../../internal/sql-rows.js"
import { Sql, type SqlError } from "../../Sql.js"

/**
 * A webhook as its owner sees it (never with its secret).
 *
 * @category models
 */
export interface Webhook {
  readonly id: string
  readonly graphId: string
  /** The owner's label for it (empty when none was given). */
  readonly description: string
  /** Epoch milliseconds. */
  readonly createdAt: number
}

/**
 * A webhook with what a delivery needs: its owner and its secret.
 *
 * @category models
 */
export interface WebhookTarget extends Webhook {
  readonly owner: string
  readonly secret: string
}

/**
 * What recording a delivery found: a new delivery (`fresh`), or one received before, with the run it
 * started (`runId` is absent while that run is still being started).
 *
 * @category models
 */
export type DeliveryClaim =
  | { readonly _tag: "Fresh" }
  | { readonly _tag: "Seen"; readonly runId: string | undefined }

/**
 * No such webhook for this owner (or none at all).
 *
 * @category errors
 */
export class WebhookNotFound extends Data.TaggedError("WebhookNotFound")<{ readonly webhookId: string }> {
  override get message(): string {
    return `No webhook ${this.webhookId}`
  }
}

/**
 * No credentials key is configured on this server: webhook secrets can be neither sealed nor opened.
 *
 * @category errors
 */
export class WebhooksLocked extends Data.TaggedError("WebhooksLocked") {
  override get message(): string {
    return "no credentials key is configured on this server (webhook secrets are sealed with it): set WEFT_CREDENTIALS_KEY to 32 random bytes as base64 or hex"
  }
}

/**
 * A webhook's sealed secret does not open: its key is no longer configured, or the row was altered.
 *
 * @category errors
 */
export class WebhookSecretUnreadable extends Data.TaggedError("WebhookSecretUnreadable")<{
  readonly webhookId: string
  readonly cause: SecretUnreadable
}> {
  override get message(): string {
    return `The secret of webhook ${this.webhookId} cannot be opened: ${this.cause.message}`
  }
}

/**
 * The store's interface.
 *
 * @category models
 */
export interface WebhookStoreShape {
  /** The id of the key that seals new secrets; `undefined` when the store has no key. */
  readonly keyId: string | undefined
  /** Seals and stores a new webhook for the owner's graph (the caller checks the graph is the owner's). */
  readonly create: (
    owner: string,
    graphId: string,
    secret: string,
    description?: string,
  ) => Effect.Effect<Webhook, WebhooksLocked | SqlError>
  /** The owner's webhooks of one graph, oldest first. */
  readonly list: (owner: string, graphId: string) => Effect.Effect<ReadonlyArray<Webhook>, SqlError>
  /** Deletes one of the owner's webhooks (and what it remembers of its deliveries). */
  readonly remove: (owner: string, id: string) => Effect.Effect<void, WebhookNotFound | SqlError>
  /** Any owner's webhook by id, its secret opened: for the delivery route only. */
  readonly find: (
    id: string,
  ) => Effect.Effect<WebhookTarget, WebhookNotFound | WebhooksLocked | WebhookSecretUnreadable | SqlError>
  /**
   * Records a delivery by its signature, unless it was received before; forgets deliveries older than
   * `forgetAfterSeconds` (past the replay window nothing can repeat them).
   */
  readonly claimDelivery: (
    webhookId: string,
    signature: string,
    forgetAfterSeconds: number,
  ) => Effect.Effect<DeliveryClaim, SqlError>
  /** Notes the run a delivery started. */
  readonly settleDelivery: (
    webhookId: string,
    signature: string,
    runId: string,
  ) => Effect.Effect<void, SqlError>
  /** Forgets a delivery that started nothing, so that the sender may send it again. */
  readonly releaseDelivery: (webhookId: string, signature: string) => Effect.Effect<void, SqlError>
  /** Seals again under the current key every secret a previous key of the ring sealed; answers how many. */
  readonly reseal: Effect.Effect<number, SqlError>
}

interface WebhookRow {
  readonly id: string
  readonly owner_id: string
  readonly graph_id: string
  readonly description: string
  readonly created_at: number
}

interface SealedRow extends WebhookRow {
  readonly key_id: string
  readonly iv: Uint8Array
  readonly auth_tag: Uint8Array
  readonly secret_ciphertext: Uint8Array
}

/** What a webhook's secret is bound to: its row (a ciphertext moved to another webhook does not open). */
const bindingOf = (row: { readonly id: string; readonly owner_id: string }): Binding => ({
  id: row.id,
  owner: row.owner_id,
  provider: "weft/webhook",
  type: "hmac-sha256",
})

const sealedOf = (row: SealedRow): Sealed => ({
  keyId: row.key_id,
  iv: row.iv,
  tag: row.auth_tag,
  ciphertext: row.secret_ciphertext,
})

const toWebhook = (row: WebhookRow): Webhook => ({
  id: row.id,
  graphId: row.graph_id,
  description: row.description,
  createdAt: row.created_at,
})

const COLUMNS = `id, owner_id, graph_id, description, ${ms("created_at")} AS created_at`

const SEALED_COLUMNS = `${COLUMNS}, key_id, iv, auth_tag, secret_ciphertext`

const make = (ring: KeyRing | undefined) =>
  Effect.gen(function* () {
    const sql = yield* Sql

    const create: WebhookStoreShape["create"] = (owner, graphId, secret, description = "") =>
      Effect.gen(function* () {
        if (ring === undefined) return yield* new WebhooksLocked()
        const id = randomUUID()
        const sealed = seal(ring.current, secret, bindingOf({ id, owner_id: owner }))
        const rows = yield* sql.query<WebhookRow>(
          `INSERT INTO webhooks (id, owner_id, graph_id, description, key_id, iv, auth_tag, secret_ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6::bytea, $7::bytea, $8::bytea) RETURNING ${COLUMNS}`,
          [id, owner, graphId, description, sealed.keyId, sealed.iv, sealed.tag, sealed.ciphertext],
        )
        return toWebhook(rows[0] as WebhookRow)
      })

    const list: WebhookStoreShape["list"] = (owner, graphId) =>
      Effect.map(
        sql.query<WebhookRow>(
          `SELECT ${COLUMNS} FROM webhooks WHERE owner_id = $1 AND graph_id = $2 ORDER BY created_at, id`,
          [owner, graphId],
        ),
        (rows) => rows.map(toWebhook),
      )

    const remove: WebhookStoreShape["remove"] = (owner, id) =>
      Effect.flatMap(
        sql.query("DELETE FROM webhooks WHERE id = $1 AND owner_id = $2 RETURNING id", [id, owner]),
        (rows) => (rows.length === 0 ? Effect.fail(new WebhookNotFound({ webhookId: id })) : Effect.void),
      )

    const find: WebhookStoreShape["find"] = (id) =>
      Effect.gen(function* () {
        const rows = yield* sql.query<SealedRow>(`SELECT ${SEALED_COLUMNS} FROM webhooks WHERE id = $1`, [id])
        const row = rows[0]
        if (row === undefined) return yield* new WebhookNotFound({ webhookId: id })
        if (ring === undefined) return yield* new WebhooksLocked()
        const secret = yield* Effect.try({
          try: () => open(ring, sealedOf(row), bindingOf(row)),
          catch: (error) =>
            new WebhookSecretUnreadable({
              webhookId: id,
              cause:
                error instanceof SecretUnreadable
                  ? error
                  : new SecretUnreadable({ keyId: row.key_id, reason: "tampered" }),
            }),
        })
        return { ...toWebhook(row), owner: row.owner_id, secret }
      })

    const claimDelivery: WebhookStoreShape["claimDelivery"] = (webhookId, signature, forgetAfterSeconds) =>
      Effect.gen(function* () {
        yield* sql.query(
          "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND received_at < now() - make_interval(secs => $2::float8)",
          [webhookId, forgetAfterSeconds],
        )
        const inserted = yield* sql.query(
          `INSERT INTO webhook_deliveries (webhook_id, signature) VALUES ($1, $2)
         ON CONFLICT (webhook_id, signature) DO NOTHING RETURNING signature`,
          [webhookId, signature],
        )
        if (inserted.length > 0) return { _tag: "Fresh" } as const
        const seen = yield* sql.query<{ run_id: string | null }>(
          "SELECT run_id FROM webhook_deliveries WHERE webhook_id = $1 AND signature = $2",
          [webhookId, signature],
        )
        return { _tag: "Seen", runId: seen[0]?.run_id ?? undefined } as const
      })

    const settleDelivery: WebhookStoreShape["settleDelivery"] = (webhookId, signature, runId) =>
      Effect.asVoid(
        sql.query("UPDATE webhook_deliveries SET run_id = $3 WHERE webhook_id = $1 AND signature = $2", [
          webhookId,
          signature,
          runId,
        ]),
      )

    const releaseDelivery: WebhookStoreShape["releaseDelivery"] = (webhookId, signature) =>
      Effect.asVoid(
        sql.query(
          "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND signature = $2 AND run_id IS NULL",
          [webhookId, signature],
        ),
      )

    const reseal: WebhookStoreShape["reseal"] = resealRows(sql, ring, {
      table: "webhooks",
      columns: SEALED_COLUMNS,
      ciphertextColumn: "secret_ciphertext",
      touchesUpdatedAt: false,
      sealedOf,
      bindingOf,
    })

    return {
      keyId: ring?.current.id,
      create,
      list,
      remove,
      find,
      claimDelivery,
      settleDelivery,
      releaseDelivery,
      reseal,
    } satisfies WebhookStoreShape
  })

/**
 * Webhooks in the host's database.
 *
 * @category services
 */
export class WebhookStore extends Context.Service<WebhookStore, WebhookStoreShape>()(
  "@weft/host-node/WebhookStore",
) {
  /**
   * The store on the `Sql` service (apply the migrations first), sealing secrets with the credentials keys
   * these options name (the same options as the credential store's). Fails with `CredentialsKeyInvalid`
   * for a malformed key; with previous keys, reseals under the current one.
   *
   * @category layers
   */
  static readonly layer = (
    options: CredentialKeyOptions = {},
  ): Layer.Layer<WebhookStore, CredentialsKeyInvalid | SqlError, Sql> =>
    Layer.effect(
      WebhookStore,
      Effect.gen(function* () {
        const ring = yield* loadKeyRing(options)
        const store = yield* make(ring)
        const resealed = yield* store.reseal
        if (resealed > 0) {
          yield* Effect.logInfo(`webhooks: ${resealed} secret(s) sealed again under key ${store.keyId}`)
        }
        return store
      }),
    )
}
