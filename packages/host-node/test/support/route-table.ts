/**
 * The route table as the tests iterate it: every endpoint of `WeftApi` with its method, path, who may call
 * it (session, key scopes, public), and the top-level fields of its path, query, headers and body, read
 * from the same schemas the server decodes with. A test keyed by `name` that finds a route without a sample
 * fails, so a new route cannot go untested.
 */
import { type Schema, SchemaAST } from "effect"
import { HttpApi, type HttpApiEndpoint, type HttpApiGroup } from "effect/http-api"
import { WeftApi } from "../../src/api/Api.js"
import { accessOf, type RouteAccess } from "../../src/auth/scopes.js"

/** One top-level field of a schema. */
export interface Field {
  readonly name: string
  readonly optional: boolean
  /** The AST tag of the field's type (`String`, `Number`, `Objects`, `Arrays`, `Union`, `Unknown`…). */
  readonly tag: string
}

/** One API route. */
export interface Route {
  /** `group.endpoint`, e.g. `runs.start`. */
  readonly name: string
  readonly method: string
  /** The path with its `:id` placeholder. */
  readonly path: string
  readonly access: RouteAccess
  /** The path parameters (`id`). */
  readonly params: ReadonlyArray<Field>
  readonly query: ReadonlyArray<Field>
  readonly headers: ReadonlyArray<Field>
  /**
   * The JSON body: absent for routes without one; `optional` when an empty body is accepted; `fields`
   * absent when the body is not one struct (a union of formats).
   */
  readonly body?: { readonly optional: boolean; readonly fields?: ReadonlyArray<Field> }
}

const fieldsOf = (ast: SchemaAST.AST): ReadonlyArray<Field> | undefined =>
  ast._tag === "Objects"
    ? ast.propertySignatures.map((property) => ({
        name: String(property.name),
        optional: SchemaAST.isOptional(property.type),
        tag: property.type._tag,
      }))
    : undefined

const fieldsOfSchema = (schema: Schema.Top | undefined): ReadonlyArray<Field> =>
  schema === undefined ? [] : (fieldsOf(schema.ast) ?? [])

const routeOf = (group: HttpApiGroup.Top, endpoint: HttpApiEndpoint.Top): Route => {
  const schemas = [...endpoint.payload.values()].flatMap((entry) => entry.schemas)
  const nonNull = schemas.filter((schema) => schema.ast._tag !== "Null")
  const only = nonNull.length === 1 ? nonNull[0] : undefined
  const bodyFields = only === undefined ? undefined : fieldsOf(only.ast)
  return {
    name: `${group.identifier}.${endpoint.identifier}`,
    method: endpoint.method,
    path: endpoint.path,
    access: accessOf(endpoint, group),
    params: fieldsOfSchema(endpoint.params),
    query: fieldsOfSchema(endpoint.query),
    headers: fieldsOfSchema(endpoint.headers),
    ...(schemas.length === 0
      ? {}
      : {
          body: {
            optional: nonNull.length < schemas.length,
            ...(bodyFields === undefined ? {} : { fields: bodyFields }),
          },
        }),
  }
}

/** Every route of `WeftApi`, in declaration order. */
export const routeTable = (): ReadonlyArray<Route> => {
  const routes: Array<Route> = []
  HttpApi.reflect(WeftApi, {
    onGroup: () => {},
    onEndpoint: ({ group, endpoint }) => {
      routes.push(routeOf(group, endpoint))
    },
  })
  return routes
}

/** `route.path` with its `:id` replaced by `id` (URL-encoded). */
export const pathWith = (route: Route, id: string): string =>
  route.path.replace(":id", encodeURIComponent(id))
