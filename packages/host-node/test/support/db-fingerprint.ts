/**
 * What a database holds, to prove a request wrote nothing: the row count and a digest of the rows of every
 * table of the `public` schema (the host's tables and better-auth's). Bookkeeping that legitimately changes
 * on a refused request is left out: the rate limiter's buckets (`weft_rate_limits`, a run start takes a token
 * before the graph is loaded) and an API key's last use (`apikey`: its rows are counted, not digested).
 */
import type { ProbedHost } from "./probed-host.js"

/** Per table: its row count and a digest of its rows. */
export type Fingerprint = Readonly<Record<string, { readonly rows: number; readonly digest: string }>>

/** Tables left out entirely. */
const IGNORED = new Set(["weft_rate_limits"])

/** Tables whose rows are counted but whose contents may change (last-use times). */
const COUNTED_ONLY = new Set(["apikey"])

/** The fingerprint of every table of the host's database. */
export const fingerprint = async (host: Pick<ProbedHost, "query">): Promise<Fingerprint> => {
  const tables = await host.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
  )
  const out: Record<string, { rows: number; digest: string }> = {}
  for (const { name } of tables) {
    if (IGNORED.has(name)) continue
    const quoted = `"public"."${name.replaceAll('"', '""')}"`
    const [row] = await host.query<{ rows: number; digest: string | null }>(
      COUNTED_ONLY.has(name)
        ? `SELECT count(*)::int AS rows, NULL AS digest FROM ${quoted}`
        : `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest FROM ${quoted} t`,
    )
    out[name] = { rows: Number(row?.rows ?? 0), digest: row?.digest ?? "" }
  }
  return out
}

/** The tables that differ between two fingerprints, with their row counts: empty when nothing was written. */
export const changedTables = (before: Fingerprint, after: Fingerprint): ReadonlyArray<string> => {
  const names = new Set([...Object.keys(before), ...Object.keys(after)])
  return [...names]
    .filter(
      (name) => before[name]?.rows !== after[name]?.rows || before[name]?.digest !== after[name]?.digest,
    )
    .map((name) => `${name} (${before[name]?.rows ?? "none"} → ${after[name]?.rows ?? "none"} rows)`)
}
