/**
 * Encrypted credentials: the keys (`WEFT_CREDENTIALS_KEY`, rotation), AES-256-GCM sealing bound to each row,
 * the secret shapes of each type, the owner-scoped store, the engine's resolver for runs, and the HTTP
 * routes' declaration.
 *
 * @since 0.1.0
 */
export * as Cipher from "./Cipher.js"
export * from "./CredentialStore.js"
export * from "./CredentialsApi.js"
export * as Keys from "./Keys.js"
export { credentialResolver, makeCredentialResolver, OWNER_CACHE_SIZE, runServiceLayer } from "./resolver.js"
export * as Secret from "./Secret.js"
