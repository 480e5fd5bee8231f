import { Block } from "@weft/engine"
import { Schema } from "effect"
import { intLiteralError, pyParseInt } from "../../internal/logic-compare.js"
import { sleep } from "../../internal/logic-time.js"

const DurationPart = Schema.optional(Schema.Union([Schema.Number, Schema.String]))

/** AutoGPT reads each part with `int()`: a whole number or its text, anything else fails. */
const whole = (value: number | string | undefined): number => {
  if (value === undefined) return 0
  if (typeof value === "number") return Math.trunc(value)
  const n = pyParseInt(value)
  if (n === undefined) throw new Error(intLiteralError(value))
  return n
}

/**
 * Countdown timer: waits for the duration given (seconds + minutes + hours + days), then emits
 * `input_message`; with `repeat`, waits and emits that many times. A zero or negative duration emits at
 * once. Cancelling the run ends the wait immediately. AutoGPT: CountdownTimerBlock.
 */
export default Block.make({
  id: "weft/time/countdown-timer",
  title: "Countdown timer",
  description: "Waits for a duration, then emits a message; can repeat the wait several times.",
  categories: ["time"],
  aliases: ["d67a9c52-5e4e-11e2-bcfd-0800200c9a71"],
  input: Schema.Struct({
    input_message: Schema.optional(Schema.Unknown).annotate({
      title: "Message",
      description: "What to emit when the time is up; 'timer finished' by default.",
    }),
    seconds: DurationPart.annotate({ title: "Seconds", description: "Seconds to wait." }),
    minutes: DurationPart.annotate({ title: "Minutes", description: "Minutes to wait." }),
    hours: DurationPart.annotate({ title: "Hours", description: "Hours to wait." }),
    days: DurationPart.annotate({ title: "Days", description: "Days to wait." }),
    repeat: Schema.optional(Schema.Number).annotate({
      title: "Repeat",
      description: "How many times to wait and emit; 1 by default.",
    }),
  }),
  output: Schema.Struct({
    output_message: Schema.Unknown.annotate({
      title: "Output message",
      description: "The message, once the time is up.",
    }),
  }),
  examples: [
    {
      description: "no duration emits at once",
      input: { seconds: 0 },
      output: [["output_message", "timer finished"]],
    },
    {
      description: "a custom message, repeated",
      input: { input_message: "Custom message", repeat: 2 },
      output: [
        ["output_message", "Custom message"],
        ["output_message", "Custom message"],
      ],
    },
    {
      description: "a duration that is not a whole number fails",
      input: { seconds: "1.5" },
      output: [["error", "invalid literal for int() with base 10: '1.5'"]],
    },
  ],
  async *run({ input_message, seconds, minutes, hours, days, repeat }, ctx) {
    const total = whole(seconds) + whole(minutes) * 60 + whole(hours) * 3600 + whole(days) * 86_400
    const message = input_message === undefined ? "timer finished" : input_message
    for (let i = 0; i < Math.trunc(repeat ?? 1); i++) {
      if (total > 0) await sleep(total * 1000, ctx.signal)
      yield ["output_message", message] as const
    }
  },
})
