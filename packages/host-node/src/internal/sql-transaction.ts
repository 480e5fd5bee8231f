/**
 * Runs an Effect inside a driver's callback-style transaction (`sql.begin(cb)`, `db.transaction(cb)`).
 *
 * The effect runs in the calling fiber (its services, interruption and spans stay); the driver's callback only
 * waits for the effect's outcome, then returns (COMMIT) or throws (ROLLBACK). A failure, a defect and an
 * interruption all roll back.
 */
import { Effect, Exit } from "effect"
import type { SqlTx } from "../Sql.js"
import { type SqlError, toSqlError } from "./sql-error.js"

/** Thrown inside the driver's callback to make it roll back; never escapes. */
const rollback = Symbol("weft/rollback")

export const bridgeTransaction = <Tx, A, E>(
  begin: (body: (tx: Tx) => Promise<void>) => Promise<unknown>,
  wrap: (tx: Tx) => SqlTx,
  f: (tx: SqlTx) => Effect.Effect<A, E>,
): Effect.Effect<A, E | SqlError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      let settle: (commit: boolean) => void = () => {}
      const outcome = new Promise<boolean>((resolve) => {
        settle = resolve
      })
      let done: Promise<unknown> = Promise.resolve()
      const opened = new Promise<Tx>((resolve, reject) => {
        done = begin(async (tx) => {
          resolve(tx)
          if (!(await outcome)) throw rollback
        })
        // Rejections before the callback ran (BEGIN failed, no connection) end `opened`; later ones are
        // read from `done` below.
        done.catch(reject)
      })
      const tx = yield* Effect.tryPromise({
        try: () => opened,
        catch: (cause) => toSqlError(cause, "BEGIN"),
      })
      const exit = yield* Effect.exit(restore(Effect.suspend(() => f(wrap(tx)))))
      settle(Exit.isSuccess(exit))
      const ended = yield* Effect.tryPromise({
        try: () => done,
        catch: (cause) => cause,
      }).pipe(Effect.result)
      if (ended._tag === "Failure" && ended.failure !== rollback) {
        // COMMIT itself failed (e.g. a serialization failure or a deferred constraint): nothing was written.
        const error = toSqlError(ended.failure, "COMMIT")
        return yield* Exit.isSuccess(exit) ? Effect.fail(error) : exit
      }
      return yield* exit
    }),
  )
