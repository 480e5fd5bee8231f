/**
 * The one error of the `Sql` service, and how driver errors become it.
 */
import { Data } from "effect"

/**
 * A statement, a connection or a transaction failed. `code` is the Postgres SQLSTATE when the server sent one
 * (e.g. `23505` for a unique violation), `query` the start of the statement that failed.
 *
 * @category errors
 */
export class SqlError extends Data.TaggedError("SqlError")<{
  readonly reason: string
  readonly code?: string
  readonly query?: string
  readonly cause: unknown
}> {
  override get message(): string {
    return this.query === undefined ? this.reason : `${this.reason} (in: ${this.query})`
  }
}

const codeOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  const code = cause.code
  // Postgres SQLSTATEs are five characters; postgres.js also uses codes like "CONNECTION_CLOSED".
  return typeof code === "string" ? code : undefined
}

/** Wraps whatever a driver threw. */
export const toSqlError = (cause: unknown, query?: string): SqlError => {
  if (cause instanceof SqlError) return cause
  const code = codeOf(cause)
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new SqlError({
    reason,
    cause,
    ...(code === undefined ? {} : { code }),
    ...(query === undefined ? {} : { query: query.trim().slice(0, 200) }),
  })
}

/** Channel names are plain lowercase identifiers, so both drivers quote them the same way (not at all). */
export const checkChannel = (channel: string): SqlError | undefined =>
  /^[a-z_][a-z0-9_]{0,62}$/.test(channel)
    ? undefined
    : new SqlError({
        reason: `channel name ${JSON.stringify(channel)} must be a lowercase identifier`,
        cause: undefined,
      })

/** Undefined parameters become SQL NULL on both drivers. */
export const normalizeParams = (params: ReadonlyArray<unknown> | undefined): Array<unknown> =>
  params === undefined ? [] : params.map((p) => (p === undefined ? null : p))
