import { Block } from "@weft/engine"
import { Schema } from "effect"
import { FormatType, isoFormat, nowIn, strftime } from "../../internal/logic-time.js"

/**
 * Get current date and time: emits the current date and time when triggered, with a strftime format
 * (`%Y-%m-%d %H:%M:%S` by default) or as ISO 8601 / RFC 3339 (`2025-01-31T14:03:05+00:00`), in a time zone
 * (UTC by default). AutoGPT: GetCurrentDateAndTimeBlock. Weft accepts any IANA time zone, and has no user
 * profile time zone, so `use_user_timezone` falls back to `timezone`.
 */
export default Block.make({
  id: "weft/time/get-current-date-and-time",
  title: "Get current date and time",
  description: "Emits the current date and time when triggered, formatted and in the time zone chosen.",
  categories: ["time"],
  aliases: ["716a67b3-6760-42e7-86dc-18645c6e00fc"],
  input: Schema.Struct({
    trigger: Schema.Unknown.annotate({
      title: "Trigger",
      description: "Any value; its arrival makes the block emit the date and time.",
    }),
    format_type: Schema.optional(FormatType).annotate({
      title: "Format",
      description: "A strftime format (default %Y-%m-%d %H:%M:%S) or ISO 8601, and the time zone to use.",
    }),
  }),
  output: Schema.Struct({
    date_time: Schema.String.annotate({
      title: "Date and time",
      description: "The current date and time, formatted.",
    }),
  }),
  examples: [
    {
      description: "unknown directives are kept as written",
      input: { trigger: "go", format_type: { discriminator: "strftime", format: "%Q stays" } },
      output: [["date_time", "%Q stays"]],
    },
    {
      description: "an unknown time zone fails",
      input: { trigger: "go", format_type: { discriminator: "iso8601", timezone: "Europe/Atlantis" } },
      output: [["error", 'unknown time zone "Europe/Atlantis"']],
    },
  ],
  run: ({ format_type }) => {
    const now = nowIn(format_type)
    if (format_type?.discriminator === "iso8601") {
      return { date_time: isoFormat(now, format_type.include_microseconds === true) }
    }
    return { date_time: strftime(now, format_type?.format ?? "%Y-%m-%d %H:%M:%S") }
  },
})
