/**
 * The `Sql` service on a real Postgres server, through postgres.js (porsager).
 */
import { Effect, type Scope } from "effect"
import postgres from "postgres"
import type { PostgresOptions, SqlShape, SqlTx } from "../Sql.js"
import { checkChannel, normalizeParams, type SqlError, toSqlError } from "./sql-error.js"
import { bridgeTransaction } from "./sql-transaction.js"

type Target = postgres.Sql | postgres.TransactionSql
type Params = Array<postgres.ParameterOrJSON<never>>

/**
 * Type handling that matches PGlite's, so rows look the same on both drivers: a JSON parameter that is a
 * string is taken as JSON text (other values are stringified), int8 is a number when it is a safe integer
 * (a BigInt otherwise), and bytea is a plain `Uint8Array`.
 */
const types = {
  weftJson: {
    to: 3802,
    from: [114, 3802],
    serialize: (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x)),
    parse: (x: string): unknown => JSON.parse(x),
  },
  weftInt8: {
    to: 20,
    from: [20],
    serialize: (x: unknown) => String(x),
    parse: (x: string): number | bigint => {
      const n = Number(x)
      return Number.isSafeInteger(n) ? n : BigInt(x)
    },
  },
  weftBytea: {
    to: 17,
    from: [17],
    serialize: (x: Uint8Array) => `\\x${Buffer.from(x).toString("hex")}`,
    parse: (x: string) => new Uint8Array(Buffer.from(x.slice(2), "hex")),
  },
}

/**
 * A statement on a connection of the pool (or of a transaction). An interrupted statement is not cancelled:
 * Postgres applies a cancel request to whatever the connection runs when it arrives, which may by then be
 * another request's statement on the same pooled connection. The statement finishes and its rows are dropped.
 */
const queryOn =
  (target: Target, prepare: boolean) =>
  <Row>(text: string, params?: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<Row>, SqlError> =>
    Effect.tryPromise({
      try: () => target.unsafe(text, normalizeParams(params) as Params, { prepare }),
      catch: (cause) => toSqlError(cause, text),
    }).pipe(Effect.map((rows) => Array.from(rows) as unknown as ReadonlyArray<Row>))

const scriptOn =
  (target: Target) =>
  (text: string): Effect.Effect<void, SqlError> =>
    Effect.tryPromise({
      try: () => target.unsafe(text).simple(),
      catch: (cause) => toSqlError(cause, text),
    }).pipe(Effect.asVoid)

const txOf =
  (prepare: boolean) =>
  (tx: postgres.TransactionSql): SqlTx => ({ query: queryOn(tx, prepare), script: scriptOn(tx) })

export const makePostgres = (
  url: string,
  options: PostgresOptions,
): Effect.Effect<SqlShape, SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          postgres(url, {
            max: options.max ?? 10,
            onnotice: () => {},
            types,
            ...(options.idleTimeoutSeconds === undefined ? {} : { idle_timeout: options.idleTimeoutSeconds }),
            ...(options.applicationName === undefined
              ? {}
              : { connection: { application_name: options.applicationName } }),
          }) as unknown as postgres.Sql,
        catch: (cause) => toSqlError(cause),
      }),
      (sql) => Effect.promise(() => sql.end({ timeout: 5 })),
    )
    const prepare = options.prepare ?? true
    const query = queryOn(sql, prepare)
    // Fail at start-up, not at the first request, when the server is unreachable.
    yield* query("SELECT 1")
    const shape: SqlShape = {
      dialect: "postgres",
      query,
      script: scriptOn(sql),
      transaction: (f) => bridgeTransaction((body) => sql.begin(body), txOf(prepare), f),
      listen: (channel, onPayload) => {
        const invalid = checkChannel(channel)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.acquireRelease(
          Effect.tryPromise({
            try: () => sql.listen(channel, onPayload),
            catch: (cause) => toSqlError(cause, `LISTEN ${channel}`),
          }),
          (meta) => Effect.ignore(Effect.tryPromise(() => meta.unlisten())),
        ).pipe(Effect.asVoid)
      },
      notify: (channel, payload) => {
        const invalid = checkChannel(channel)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.asVoid(query("SELECT pg_notify($1, $2)", [channel, payload]))
      },
      raw: { kind: "postgres", sql },
    }
    return shape
  })
