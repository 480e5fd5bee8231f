/**
 * The field schemas every route shares: ids, free text and version numbers, checked so that what the
 * database cannot store is refused as bad input naming the field, not failed as a 500. Postgres text cannot
 * hold the NUL character (U+0000), and its version columns are 32-bit integers.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The largest version number a version column holds. */
export const MAX_VERSION = 2_147_483_647

/**
 * Refuses the NUL character (U+0000), which Postgres text cannot store.
 *
 * @category checks
 */
export const isStorableText = Schema.makeFilter(
  (text: string) => !text.includes("\u0000") || "must not contain the NUL character (U+0000)",
)

/**
 * Free text that can be stored.
 *
 * @category schemas
 */
export const Text = Schema.String.check(isStorableText)

/**
 * An id in a path or a body: 1 to 200 storable characters.
 *
 * @category schemas
 */
export const Id = Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(200), isStorableText)

/**
 * A graph version in a body: 1 to `MAX_VERSION`.
 *
 * @category schemas
 */
export const Version = Schema.Int.check(
  Schema.isGreaterThanOrEqualTo(1),
  Schema.isLessThanOrEqualTo(MAX_VERSION),
)

/**
 * A graph version in a query string.
 *
 * @category schemas
 */
export const VersionParam = Schema.NumberFromString.check(
  Schema.isInt(),
  Schema.isGreaterThanOrEqualTo(1),
  Schema.isLessThanOrEqualTo(MAX_VERSION),
)
