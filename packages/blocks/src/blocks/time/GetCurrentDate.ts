import { Block } from "@weft/engine"
import { Schema } from "effect"
import { pyParseInt } from "../../internal/logic-compare.js"
import { addDays, checkTimeZone, FormatType, nowIn, strftime } from "../../internal/logic-time.js"

/** AutoGPT reads the offset with `int()` and uses 0 when that fails. */
const days = (offset: number | string | undefined): number => {
  if (offset === undefined) return 0
  if (typeof offset === "number") return Number.isFinite(offset) ? Math.trunc(offset) : 0
  return pyParseInt(offset) ?? 0
}

/**
 * Get current date: emits today's date when triggered, moved back by `offset` days (AutoGPT subtracts the
 * offset: 7 gives the date a week ago, -1 tomorrow), with a strftime format (`%Y-%m-%d` by default) or as
 * an ISO 8601 date, in a time zone (UTC by default). An offset that is not a whole number counts as 0.
 * AutoGPT: GetCurrentDateBlock. Weft accepts any IANA time zone, and has no user profile time zone, so
 * `use_user_timezone` falls back to `timezone`.
 */
export default Block.make({
  id: "weft/time/get-current-date",
  title: "Get current date",
  description: "Emits the current date when triggered, optionally some days earlier or later, formatted.",
  categories: ["time"],
  aliases: ["b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1"],
  input: Schema.Struct({
    trigger: Schema.Unknown.annotate({
      title: "Trigger",
      description: "Any value; its arrival makes the block emit the date.",
    }),
    offset: Schema.optional(Schema.Union([Schema.Number, Schema.String])).annotate({
      title: "Days offset",
      description: "Days to subtract from today: 7 is a week ago, -1 is tomorrow.",
    }),
    format_type: Schema.optional(FormatType).annotate({
      title: "Format",
      description: "A strftime format (default %Y-%m-%d) or ISO 8601, and the time zone to use.",
    }),
  }),
  output: Schema.Struct({
    date: Schema.String.annotate({ title: "Date", description: "The date, formatted." }),
  }),
  examples: [
    {
      description: "a format of plain text is emitted as written",
      input: { trigger: "go", offset: "7", format_type: { discriminator: "strftime", format: "someday" } },
      output: [["date", "someday"]],
    },
    {
      description: "an unknown time zone fails",
      input: { trigger: "go", format_type: { discriminator: "strftime", timezone: "Nowhere/Land" } },
      output: [["error", 'unknown time zone "Nowhere/Land"']],
    },
  ],
  run: ({ offset, format_type }) => {
    const timeZone = checkTimeZone(format_type?.timezone ?? "UTC")
    const date = addDays(nowIn(format_type), -days(offset), timeZone)
    if (format_type?.discriminator === "iso8601") return { date: strftime(date, "%Y-%m-%d") }
    return { date: strftime(date, format_type?.format ?? "%Y-%m-%d") }
  },
})
