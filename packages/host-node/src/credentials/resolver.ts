/**
 * The engine's `CredentialResolver` on the credential store: a node's credential field holds a reference
 * (`{ id, provider, type, title }`); the resolver finds the run's owner (cached: a run never changes
 * owner) and opens that owner's credentials with this id, and only theirs. Another owner's id is answered
 * like an unknown one. The stored provider and type must meet the block's requirement.
 *
 * A refusal throws an `Error` whose message the engine puts after `credentials <field>: `; no message
 * holds a secret.
 *
 * @since 0.1.0
 */
import {
  Block,
  type CredentialResolver,
  type CredentialsRequirement,
  type ResolvedCredentials,
} from "@weft/engine"
import { Effect, Exit, Layer, Option } from "effect"
import { RunQueries } from "../RunQueries.js"
import { RunService, type RunServiceOptions } from "../RunService.js"
import { CredentialStore, type CredentialStoreShape } from "./CredentialStore.js"
import { resolvedOf } from "./Secret.js"

/** How many run owners the resolver remembers. */
export const OWNER_CACHE_SIZE = 10_000

const providersOf = (requirement: CredentialsRequirement): string =>
  typeof requirement.provider === "string" ? requirement.provider : requirement.provider.join(" or ")

/**
 * A resolver on a store and the owner of each run.
 *
 * @category constructors
 */
export const makeCredentialResolver = (
  store: CredentialStoreShape,
  ownerOf: (runId: string) => Effect.Effect<string, unknown>,
  options: { readonly cacheSize?: number } = {},
): CredentialResolver => {
  const cacheSize = Math.max(1, options.cacheSize ?? OWNER_CACHE_SIZE)
  const owners = new Map<string, string>()
  const remember = (runId: string, owner: string) => {
    owners.set(runId, owner)
    if (owners.size > cacheSize) {
      const oldest = owners.keys().next()
      if (oldest.done !== true) owners.delete(oldest.value)
    }
  }

  const resolve = (
    ref: { readonly id: string; readonly provider: string },
    request: { readonly runId: string; readonly requirement: CredentialsRequirement },
  ): Effect.Effect<ResolvedCredentials | undefined, Error> =>
    Effect.gen(function* () {
      let owner = owners.get(request.runId)
      if (owner === undefined) {
        const found = yield* Effect.exit(ownerOf(request.runId))
        if (Exit.isFailure(found)) return yield* Effect.fail(new Error("the run's owner could not be found"))
        owner = found.value
        remember(request.runId, owner)
      }
      const opened = yield* store.open(owner, ref.id).pipe(
        Effect.map(Option.some),
        // Unknown, or another owner's: the engine says "credentials <id> were not found".
        Effect.catchTag("CredentialNotFound", () => Effect.succeedNone),
        Effect.mapError((error) =>
          error._tag === "SqlError"
            ? new Error("the credential store could not be read")
            : new Error(error.message),
        ),
      )
      if (Option.isNone(opened)) return undefined
      const { info, secret } = opened.value
      const requirement = request.requirement
      if (!Block.acceptsProvider(requirement, info.provider) || info.type !== requirement.type) {
        return yield* Effect.fail(
          new Error(
            `credentials ${info.id} are ${info.provider} ${info.type} credentials; this field needs ${providersOf(requirement)} ${requirement.type}`,
          ),
        )
      }
      if (info.provider !== ref.provider) {
        return yield* Effect.fail(
          new Error(`credentials ${info.id} are for ${info.provider}, the reference says ${ref.provider}`),
        )
      }
      return resolvedOf(info.provider, info.type, secret)
    })

  return (ref, request) => Effect.runPromise(resolve(ref, request))
}

/**
 * The resolver on the `CredentialStore` and `RunQueries` services.
 *
 * @category constructors
 */
export const credentialResolver: Effect.Effect<CredentialResolver, never, CredentialStore | RunQueries> =
  Effect.gen(function* () {
    const store = yield* CredentialStore
    const runs = yield* RunQueries
    return makeCredentialResolver(store, runs.ownerOf)
  })

/**
 * `RunService.layer` whose executor resolves credential fields from the credential store (unless the
 * options bring their own resolver).
 *
 * @category layers
 */
export const runServiceLayer = (options: RunServiceOptions = {}) =>
  Layer.unwrap(
    Effect.map(credentialResolver, (credentials) =>
      RunService.layer({ ...options, credentials: options.credentials ?? credentials }),
    ),
  )
