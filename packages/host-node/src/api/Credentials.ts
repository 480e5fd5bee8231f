/**
 * The credentials routes (declared in `credentials/CredentialsApi.ts`): store, list, read and delete the
 * caller's credentials. A request is checked in full before anything is written; a bad `secret` is refused
 * with the fields at fault and never echoed. Another user's ids answer 404 like unknown ones.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CurrentOwner } from "../Auth.js"
import { type CredentialInfo, CredentialStore } from "../credentials/CredentialStore.js"
import { CredentialsUnavailable } from "../credentials/CredentialsApi.js"
import { type CredentialType, checkSecret } from "../credentials/Secret.js"
import { WeftApi } from "./Api.js"
import { badRequest, NotFound } from "./Errors.js"

const notFound = (id: string) => new NotFound({ error: `No credentials ${id}` })

/** The answer's shape: exactly the metadata fields. */
const view = (info: CredentialInfo) => ({
  id: info.id,
  provider: info.provider,
  type: info.type,
  title: info.title,
  ...(info.host === undefined ? {} : { host: info.host }),
  createdAt: info.createdAt,
})

const TYPE_TITLES: Record<CredentialType, string> = {
  api_key: "API key",
  oauth2: "OAuth2 token",
  user_password: "user and password",
  host_scoped: "host headers",
}

/**
 * The credentials handlers.
 *
 * @category handlers
 */
export const CredentialsLive = HttpApiBuilder.group(WeftApi, "credentials", (handlers) =>
  Effect.gen(function* () {
    const store = yield* CredentialStore

    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const fields: Record<string, string> = {}
          if (payload.type === "host_scoped" && payload.host === undefined) {
            fields.host = "required for host_scoped credentials"
          }
          if (payload.type !== "host_scoped" && payload.host !== undefined) {
            fields.host = "only host_scoped credentials have a host"
          }
          const checked = checkSecret(payload.type, payload.secret)
          if (!checked.ok) Object.assign(fields, checked.fields)
          if (!checked.ok || Object.keys(fields).length > 0) {
            return yield* badRequest("Invalid credentials", fields)
          }
          const info = yield* store
            .create(owner, {
              provider: payload.provider,
              type: payload.type,
              title: payload.title ?? `${payload.provider} ${TYPE_TITLES[payload.type]}`,
              ...(payload.host === undefined ? {} : { host: payload.host }),
              secret: checked.secret,
            })
            .pipe(
              Effect.catchTag("CredentialsLocked", (error) =>
                Effect.fail(
                  new CredentialsUnavailable({ error: `Credentials cannot be stored: ${error.message}` }),
                ),
              ),
              Effect.catchTag("SqlError", (error) => Effect.die(error)),
            )
          return view(info)
        }),
      )
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const list = yield* store
            .list(owner, query.provider === undefined ? {} : { provider: query.provider })
            .pipe(Effect.orDie)
          return list.map(view)
        }),
      )
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          const info = yield* store.get(owner, params.id).pipe(
            Effect.catchTag("CredentialNotFound", () => Effect.fail(notFound(params.id))),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
          return view(info)
        }),
      )
      .handle("remove", ({ params }) =>
        Effect.gen(function* () {
          const owner = yield* CurrentOwner
          yield* store.remove(owner, params.id).pipe(
            Effect.catchTag("CredentialNotFound", () => Effect.fail(notFound(params.id))),
            Effect.catchTag("SqlError", (error) => Effect.die(error)),
          )
        }),
      )
  }),
)
