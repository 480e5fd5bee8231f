/**
 * What an API key may do: its scopes, and what each route asks of a caller. Every route declares its access
 * once, as an annotation on its endpoint (or on its group, for every endpoint of the group) in the API
 * declaration; the authentication middleware reads it:
 *
 * ```ts
 * HttpApiEndpoint.post("start", "/api/graphs/:id/runs", { … }).annotate(RequiredScope, "graphs:execute")
 * HttpApiGroup.make("credentials").add(…).annotate(RequiredScope, "credentials:manage")
 * HttpApiEndpoint.get("get", "/api/runs/:id", { … }).annotate(RequiredScope, ["graphs:read", "graphs:execute"])
 * HttpApiEndpoint.get("list", "/api/blocks", { … }).annotate(PublicRoute, true)
 * ```
 *
 * A session (the cookie) may call every route. An API key may call a route whose `RequiredScope` it holds
 * (one of them, when the annotation lists several); a route without the annotation is for sessions only, so
 * a route that forgets to declare a scope is closed to keys rather than open to them.
 *
 * @since 0.1.0
 */
import { Context, Option, Schema } from "effect"
import type { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"

/**
 * Every scope, in the order the documentation lists them.
 *
 * - `graphs:read`: list and read graphs and their versions, export them; list and read runs and their events.
 * - `graphs:write`: create and update graphs, set the active version, fork.
 * - `graphs:execute`: start runs, stop them, answer reviews; read runs and their events.
 * - `blocks:execute`: run a single block (`POST /api/blocks/:id/execute`).
 * - `credentials:manage`: create, list and delete credentials.
 *
 * @category models
 */
export const API_SCOPES = [
  "graphs:read",
  "graphs:write",
  "graphs:execute",
  "blocks:execute",
  "credentials:manage",
] as const

/**
 * One scope.
 *
 * @category models
 */
export type ApiScope = (typeof API_SCOPES)[number]

/**
 * A scope in a request or an answer.
 *
 * @category schemas
 */
export const ApiScopeSchema = Schema.Literals(API_SCOPES)

/**
 * Route annotation: the scope an API key needs to call the route, or the scopes of which it needs one.
 *
 * @category annotations
 */
export class RequiredScope extends Context.Service<RequiredScope, ApiScope | ReadonlyArray<ApiScope>>()(
  "@weft/host-node/RequiredScope",
) {}

/**
 * Route annotation: the route needs no sign-in at all (it reads nothing that belongs to a user). Its handler
 * sees the empty owner `""`.
 *
 * @category annotations
 */
export class PublicRoute extends Context.Service<PublicRoute, boolean>()("@weft/host-node/PublicRoute") {}

/**
 * Who may call a route: anyone, a session only, or a session or an API key holding one of `anyOf`.
 *
 * @category models
 */
export type RouteAccess =
  | { readonly _tag: "Public" }
  | { readonly _tag: "SessionOnly" }
  | { readonly _tag: "Scoped"; readonly anyOf: ReadonlyArray<ApiScope> }

/** A route for sessions only: API keys are refused. */
export const SESSION_ONLY: RouteAccess = { _tag: "SessionOnly" }

/**
 * The access of a route with these scopes (one of them suffices).
 *
 * @category constructors
 */
export const scoped = (...anyOf: ReadonlyArray<ApiScope>): RouteAccess =>
  anyOf.length === 0 ? SESSION_ONLY : { _tag: "Scoped", anyOf }

/**
 * The access an endpoint declares: its own annotations first, then its group's.
 *
 * @category accessors
 */
export const accessOf = (endpoint: HttpApiEndpoint.Top, group: HttpApiGroup.Top): RouteAccess => {
  const isPublic = Option.orElse(Context.getOption(endpoint.annotations, PublicRoute), () =>
    Context.getOption(group.annotations, PublicRoute),
  )
  if (Option.getOrElse(isPublic, () => false)) return { _tag: "Public" }
  const required = Option.orElse(Context.getOption(endpoint.annotations, RequiredScope), () =>
    Context.getOption(group.annotations, RequiredScope),
  )
  if (Option.isNone(required)) return SESSION_ONLY
  const value = required.value
  return typeof value === "string" ? scoped(value) : scoped(...value)
}

/**
 * The scopes of `anyOf` an API key with `held` lacks: empty when it holds one of them.
 *
 * @category accessors
 */
export const missingScopes = (
  held: ReadonlyArray<ApiScope>,
  anyOf: ReadonlyArray<ApiScope>,
): ReadonlyArray<ApiScope> => (anyOf.some((scope) => held.includes(scope)) ? [] : anyOf)

/** Whether `value` names a scope. */
export const isApiScope = (value: unknown): value is ApiScope =>
  typeof value === "string" && (API_SCOPES as ReadonlyArray<string>).includes(value)

/**
 * Scopes as better-auth stores an API key's permissions: `{ graphs: ["read", "execute"], blocks: ["execute"] }`.
 *
 * @category conversions
 */
export const scopesToPermissions = (scopes: ReadonlyArray<ApiScope>): Record<string, Array<string>> => {
  const permissions: Record<string, Array<string>> = {}
  for (const scope of API_SCOPES) {
    if (!scopes.includes(scope)) continue
    const [resource, action] = scope.split(":") as [string, string]
    const actions = permissions[resource] ?? []
    actions.push(action)
    permissions[resource] = actions
  }
  return permissions
}

/**
 * The scopes of stored permissions; anything that is not a known scope is dropped.
 *
 * @category conversions
 */
export const permissionsToScopes = (permissions: unknown): ReadonlyArray<ApiScope> => {
  if (typeof permissions !== "object" || permissions === null) return []
  const held = new Set<string>()
  for (const [resource, actions] of Object.entries(permissions)) {
    if (!Array.isArray(actions)) continue
    for (const action of actions) held.add(`${resource}:${String(action)}`)
  }
  return API_SCOPES.filter((scope) => held.has(scope))
}

/**
 * The caller is an API key without a scope the route needs. `scopes` lists the scopes of which the key needs
 * one.
 *
 * @category errors
 */
export class InsufficientScope extends Schema.TaggedError<InsufficientScope>()(
  "InsufficientScope",
  { error: Schema.String, scopes: Schema.Array(ApiScopeSchema) },
  { httpApiStatus: 403 },
) {}
