/**
 * A tokenizer-free token estimate, for blocks that bound their output by tokens.
 */

/**
 * About how many tokens an LLM tokenizer makes of `value`: one per four characters (rounded up) of the
 * text, or of its JSON text for anything that is not a string. English prose averages close to that
 * with GPT tokenizers; it is an estimate, not a count.
 */
export const estimateTokens = (value: unknown): number => {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "")
  return Math.ceil(text.length / 4)
}
