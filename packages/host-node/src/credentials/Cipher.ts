/**
 * AES-256-GCM sealing of one secret: a random 12-byte IV per secret, a 16-byte authentication tag, and
 * associated data that binds the ciphertext to its row (credential id, owner, provider and type), so a
 * ciphertext copied to another row, or a row whose owner was changed, does not open.
 *
 * @since 0.1.0
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { Data } from "effect"
import type { CredentialKey, KeyRing } from "./Keys.js"

/** The length of an IV in bytes. */
export const IV_BYTES = 12

/** The length of an authentication tag in bytes. */
export const TAG_BYTES = 16

const ALGORITHM = "aes-256-gcm"

/**
 * A sealed secret, as stored.
 *
 * @category models
 */
export interface Sealed {
  /** The id of the key that sealed it. */
  readonly keyId: string
  readonly iv: Uint8Array
  readonly tag: Uint8Array
  readonly ciphertext: Uint8Array
}

/**
 * What a sealed secret is bound to: it opens only with the same values.
 *
 * @category models
 */
export interface Binding {
  readonly id: string
  readonly owner: string
  readonly provider: string
  readonly type: string
}

/**
 * A sealed secret does not open: its key is not configured, or the ciphertext, its tag or its binding
 * (id, owner, provider, type) changed. Nothing of the secret is in the message.
 *
 * @category errors
 */
export class SecretUnreadable extends Data.TaggedError("SecretUnreadable")<{
  readonly keyId: string
  readonly reason: "unknown-key" | "tampered"
}> {
  override get message(): string {
    return this.reason === "unknown-key"
      ? `it was sealed with key ${this.keyId}, which is not configured (set it in WEFT_CREDENTIALS_PREVIOUS_KEYS)`
      : "it does not decrypt: the stored ciphertext or its row was altered"
  }
}

/** The associated data of a binding: a JSON array, so no two bindings give the same bytes. */
const aadOf = (binding: Binding): Buffer =>
  Buffer.from(
    JSON.stringify(["weft-credential", 1, binding.id, binding.owner, binding.provider, binding.type]),
    "utf8",
  )

/**
 * Seals `plaintext` under `key`, bound to `binding`.
 *
 * @category sealing
 */
export const seal = (key: CredentialKey, plaintext: string, binding: Binding): Sealed => {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv(ALGORITHM, key.bytes(), iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aadOf(binding))
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return {
    keyId: key.id,
    iv: new Uint8Array(iv),
    tag: new Uint8Array(cipher.getAuthTag()),
    ciphertext: new Uint8Array(ciphertext),
  }
}

/**
 * Opens a sealed secret with the key ring; throws `SecretUnreadable`.
 *
 * @category sealing
 */
export const open = (ring: KeyRing, sealed: Sealed, binding: Binding): string => {
  const key = ring.byId.get(sealed.keyId)
  if (key === undefined) throw new SecretUnreadable({ keyId: sealed.keyId, reason: "unknown-key" })
  try {
    const decipher = createDecipheriv(ALGORITHM, key.bytes(), sealed.iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(aadOf(binding))
    decipher.setAuthTag(sealed.tag)
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString("utf8")
  } catch {
    throw new SecretUnreadable({ keyId: sealed.keyId, reason: "tampered" })
  }
}
