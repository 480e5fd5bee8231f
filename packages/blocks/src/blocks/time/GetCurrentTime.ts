import { Block } from "@weft/engine"
import { Schema } from "effect"
import { FormatType, isoFormat, nowIn, strftime } from "../../internal/logic-time.js"

/**
 * Get current time: emits the current time when triggered, with a strftime format (`%H:%M:%S` by default)
 * or as an ISO 8601 time (`T14:03:05+00:00`), in a time zone (UTC by default). AutoGPT:
 * GetCurrentTimeBlock. Weft accepts any IANA time zone, and has no user profile time zone, so
 * `use_user_timezone` falls back to `timezone`.
 */
export default Block.make({
  id: "weft/time/get-current-time",
  title: "Get current time",
  description: "Emits the current time of day when triggered, formatted and in the time zone chosen.",
  categories: ["time"],
  aliases: ["a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"],
  input: Schema.Struct({
    trigger: Schema.Unknown.annotate({
      title: "Trigger",
      description: "Any value; its arrival makes the block emit the time.",
    }),
    format_type: Schema.optional(FormatType).annotate({
      title: "Format",
      description: "A strftime format (default %H:%M:%S) or ISO 8601, and the time zone to use.",
    }),
  }),
  output: Schema.Struct({
    time: Schema.String.annotate({ title: "Time", description: "The current time, formatted." }),
  }),
  examples: [
    {
      description: "a format of plain text (with an escaped %) is emitted as written",
      input: { trigger: "go", format_type: { discriminator: "strftime", format: "100%% on time" } },
      output: [["time", "100% on time"]],
    },
    {
      description: "an unknown time zone fails",
      input: { trigger: "go", format_type: { discriminator: "iso8601", timezone: "Mars/Olympus_Mons" } },
      output: [["error", 'unknown time zone "Mars/Olympus_Mons"']],
    },
  ],
  run: ({ format_type }) => {
    const now = nowIn(format_type)
    if (format_type?.discriminator === "iso8601") {
      const iso = isoFormat(now, format_type.include_microseconds === true)
      return { time: `T${iso.slice(iso.indexOf("T") + 1)}` }
    }
    return { time: strftime(now, format_type?.format ?? "%H:%M:%S") }
  },
})
