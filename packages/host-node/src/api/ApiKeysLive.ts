/**
 * The API-key handlers, on `Auth`'s API keys (better-auth's API-key plugin).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Auth, CurrentOwner } from "../Auth.js"
import { WeftApi } from "./Api.js"
import { badRequest, NotFound } from "./Errors.js"

const signInOff = new NotFound({ error: "API keys need sign-in, which is off on this server (--auth off)" })

/**
 * The API-key handlers.
 *
 * @category handlers
 */
export const ApiKeysLive = HttpApiBuilder.group(WeftApi, "apiKeys", (handlers) =>
  Effect.gen(function* () {
    const { apiKeys } = yield* Auth
    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          if (apiKeys === undefined) return yield* Effect.fail(signInOff)
          const owner = yield* CurrentOwner
          const created = yield* Effect.tryPromise({
            try: () =>
              apiKeys.create(owner, {
                name: payload.name,
                scopes: [...new Set(payload.scopes)],
                ...(payload.expiresIn === undefined ? {} : { expiresIn: payload.expiresIn }),
              }),
            catch: (error) =>
              badRequest("The API key was not created", {
                body: error instanceof Error ? error.message : String(error),
              }),
          })
          return { ...created, scopes: [...created.scopes] }
        }),
      )
      .handle("list", () =>
        Effect.gen(function* () {
          if (apiKeys === undefined) return yield* Effect.fail(signInOff)
          const owner = yield* CurrentOwner
          const keys = yield* Effect.promise(() => apiKeys.list(owner))
          return keys.map((key) => ({ ...key, scopes: [...key.scopes] }))
        }),
      )
      .handle("revoke", ({ params }) =>
        Effect.gen(function* () {
          if (apiKeys === undefined) return yield* Effect.fail(signInOff)
          const owner = yield* CurrentOwner
          const revoked = yield* Effect.promise(() => apiKeys.revoke(owner, params.id))
          if (!revoked) return yield* Effect.fail(new NotFound({ error: `No API key ${params.id}` }))
          return { id: params.id, revoked: true }
        }),
      )
  }),
)
