/**
 * The pins every AutoGPT agent-input block shares (`AgentInputBlock` and its typed variants), so that
 * each input block file only declares its `value` pin and what is special about it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A text pin that AutoGPT types as `str | None` (exports often hold an explicit `null`). */
const optionalText = (title: string, description: string) =>
  Schema.optional(Schema.NullOr(Schema.String)).annotate({ title, description, advanced: true })

/** The `name` pin: the key of this input in the graph's inputs. */
export const inputName = Schema.String.annotate({
  title: "Name",
  description: "The name of this graph input: runs pass its value under this key.",
})

/** The pins after `value`, in AutoGPT's order. */
export const inputSettings = {
  title: optionalText("Title", "A display title for the input, shown instead of its name."),
  description: optionalText("Description", "Help text explaining what to enter."),
  placeholder_values: Schema.optional(Schema.Array(Schema.Unknown)).annotate({
    title: "Placeholder values",
    description:
      "Suggested values, from older AutoGPT exports; kept so that those agents load. The dropdown input reads them as its options.",
    advanced: true,
  }),
  advanced: Schema.optional(Schema.Boolean).annotate({
    title: "Advanced",
    description: "Show the input among the advanced settings when it is not required.",
    advanced: true,
  }),
  secret: Schema.optional(Schema.Boolean).annotate({
    title: "Secret",
    description: "Treat the entered value as a secret that user interfaces should mask.",
    advanced: true,
  }),
}

/** Emits the input's value on `result`, or nothing when it has none (AutoGPT skips `None`). */
export const emitValue = <A>(value: A | null | undefined): { readonly result: A } | undefined =>
  value === undefined || value === null ? undefined : { result: value }
