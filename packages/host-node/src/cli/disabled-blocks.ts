/**
 * `WEFT_DISABLED_BLOCKS`, read the same way by `weft serve` and `weft worker`.
 *
 * @since 0.1.0
 */

/** Block ids or aliases, separated by commas in `WEFT_DISABLED_BLOCKS`, that must not run on this server. */
export const disabledBlocksOf = (
  env: Readonly<Record<string, string | undefined>>,
): { readonly disabledBlocks?: ReadonlyArray<string> } => {
  const ids = (env.WEFT_DISABLED_BLOCKS ?? "")
    .split(",")
    .map((id) => id.trim())
    .filter((id) => id !== "")
  return ids.length === 0 ? {} : { disabledBlocks: ids }
}
