/**
 * `weft migrate`: applies Weft's migrations and, on Postgres (`DATABASE_URL`), graphile-worker's, then exits.
 * Without `DATABASE_URL` it migrates the PGlite database in `--data` (default `./.weft/data`).
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { Effect, Layer } from "effect"
import { DEFAULT_DATA_DIR, sqlLayer } from "../Host.js"
import * as Migrations from "../Migrations.js"
import { migrate } from "../Queue.js"

/**
 * The help text of `weft migrate`.
 *
 * @category help
 */
export const MIGRATE_HELP = `Usage: weft migrate [--data DIR]

Applies the database migrations (Weft's, and graphile-worker's on Postgres) and exits.

Options:
  -d, --data DIR  PGlite data directory when DATABASE_URL is not set (default ${DEFAULT_DATA_DIR}, or WEFT_DATA_DIR).
  -h, --help      Show this help.`

/**
 * Runs `weft migrate`; resolves with the exit status.
 *
 * @category commands
 */
export const migrateCommand = async (
  argv: ReadonlyArray<string>,
  io: {
    readonly out: (line: string) => void
    readonly err: (line: string) => void
    readonly env: Readonly<Record<string, string | undefined>>
  },
): Promise<number> => {
  const { values } = parseArgs({
    args: [...argv],
    options: { data: { type: "string", short: "d" }, help: { type: "boolean", short: "h" } },
  })
  if (values.help === true) {
    io.out(MIGRATE_HELP)
    return 0
  }
  const databaseUrl =
    io.env.DATABASE_URL !== undefined && io.env.DATABASE_URL !== "" ? io.env.DATABASE_URL : undefined
  const dataDir =
    values.data ??
    (io.env.WEFT_DATA_DIR !== undefined && io.env.WEFT_DATA_DIR !== ""
      ? io.env.WEFT_DATA_DIR
      : DEFAULT_DATA_DIR)
  const program = Effect.gen(function* () {
    const result = yield* Migrations.run()
    if (databaseUrl !== undefined) yield* migrate(databaseUrl)
    return result
  }).pipe(Effect.provide(Layer.orDie(sqlLayer(databaseUrl === undefined ? { dataDir } : { databaseUrl }))))
  const result = await Effect.runPromise(program)
  io.out(
    `Applied ${result.applied.length} migration${result.applied.length === 1 ? "" : "s"}${
      result.applied.length > 0 ? ` (${result.applied.join(", ")})` : ""
    }; ${result.skipped.length} already applied${databaseUrl === undefined ? "" : "; graphile-worker migrated"}`,
  )
  return 0
}
