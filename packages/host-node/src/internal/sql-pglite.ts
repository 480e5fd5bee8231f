/**
 * The `Sql` service on PGlite (Postgres in WASM), in a directory or in memory.
 *
 * PGlite has one connection. Its own mutex serialises every query, and `db.transaction` holds that mutex until
 * the transaction ends, so a statement from elsewhere (better-auth's Kysely dialect included) never lands
 * inside one of our transactions.
 */
import { PGlite, type Transaction } from "@electric-sql/pglite"
import { Effect, type Scope } from "effect"
import type { PgliteOptions, SqlShape, SqlTx } from "../Sql.js"
import { checkChannel, normalizeParams, type SqlError, toSqlError } from "./sql-error.js"
import { bridgeTransaction } from "./sql-transaction.js"

type Target = PGlite | Transaction

const queryOn =
  (target: Target) =>
  <Row>(text: string, params?: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<Row>, SqlError> =>
    Effect.tryPromise({
      try: () => target.query<Row>(text, normalizeParams(params)),
      catch: (cause) => toSqlError(cause, text),
    }).pipe(Effect.map((result) => result.rows))

const scriptOn =
  (target: Target) =>
  (text: string): Effect.Effect<void, SqlError> =>
    Effect.tryPromise({
      try: () => target.exec(text),
      catch: (cause) => toSqlError(cause, text),
    }).pipe(Effect.asVoid)

const txOf = (tx: Transaction): SqlTx => ({ query: queryOn(tx), script: scriptOn(tx) })

/** The type oid of `bytea`. */
const BYTEA = 17

/**
 * `bytea` from its hex text (`\x…`) with Node's `Buffer`: PGlite's own conversion goes byte by byte in
 * JavaScript, about 40× slower, which blocked the event loop for tens of milliseconds per stored document.
 */
const parseBytea = (text: string): Uint8Array => {
  const bytes = Buffer.from(text.startsWith("\\x") ? text.slice(2) : text, "hex")
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** `bytea` as hex text, with Node's `Buffer`. */
const serializeBytea = (value: unknown): string => {
  if (value instanceof Uint8Array) {
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`
  }
  return String(value)
}

export const makePglite = (
  dir: string | undefined,
  options: PgliteOptions,
): Effect.Effect<SqlShape, SqlError, Scope.Scope> =>
  Effect.gen(function* () {
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          PGlite.create({
            ...(dir === undefined ? {} : { dataDir: dir }),
            ...(options.loadDataDir === undefined ? {} : { loadDataDir: options.loadDataDir }),
            parsers: { [BYTEA]: parseBytea },
            serializers: { [BYTEA]: serializeBytea },
          }),
        catch: (cause) => toSqlError(cause),
      }),
      (db) => Effect.ignore(Effect.tryPromise(() => db.close())),
    )
    const query = queryOn(db)
    const shape: SqlShape = {
      dialect: "pglite",
      query,
      script: scriptOn(db),
      transaction: (f) => bridgeTransaction((body) => db.transaction(body), txOf, f),
      listen: (channel, onPayload) => {
        const invalid = checkChannel(channel)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.acquireRelease(
          Effect.tryPromise({
            try: () => db.listen(channel, onPayload),
            catch: (cause) => toSqlError(cause, `LISTEN ${channel}`),
          }),
          (unlisten) => Effect.ignore(Effect.tryPromise(() => unlisten())),
        ).pipe(Effect.asVoid)
      },
      notify: (channel, payload) => {
        const invalid = checkChannel(channel)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.asVoid(query("SELECT pg_notify($1, $2)", [channel, payload]))
      },
      raw: { kind: "pglite", db },
    }
    return shape
  })
