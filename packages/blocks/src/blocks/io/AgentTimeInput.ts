import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * A time of day as Python's `time.isoformat()` writes it: `HH:MM:SS`, then `.ffffff` when there are
 * microseconds, then the UTC offset if one was given. `undefined` when `text` is not a valid time.
 */
const normalizeTime = (text: string): string | undefined => {
  const match = TIME.exec(text)
  if (match === null) return undefined
  const [hours, minutes, seconds] = [Number(match[1]), Number(match[2]), Number(match[3] ?? "0")]
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined
  const fraction = (match[4] ?? "").padEnd(6, "0")
  let zone = match[5] ?? ""
  if (zone !== "" && zone !== "Z") {
    const digits = zone.slice(1).replace(":", "")
    if (Number(digits.slice(0, 2)) > 23 || Number(digits.slice(2)) > 59) return undefined
    zone = `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2)}`
  }
  const two = (n: number) => String(n).padStart(2, "0")
  const micro = /^0*$/.test(fraction) ? "" : `.${fraction}`
  return `${two(hours)}:${two(minutes)}:${two(seconds)}${micro}${zone}`
}

const TimeText = Schema.String.check(
  Schema.makeFilter(
    (text: string) => normalizeTime(text) !== undefined || "expected a time written HH:MM or HH:MM:SS",
  ),
)

/**
 * Time input: a time-of-day input of the graph, written `HH:MM` or `HH:MM:SS[.ffffff]` with an optional
 * UTC offset. Emits it on `result` in the form AutoGPT gives back (`09:30` → `09:30:00`), nothing when
 * there is none. AutoGPT: AgentTimeInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-time-input",
  title: "Time input",
  description: "A time-of-day input of the agent (HH:MM:SS): emits the time given for it.",
  categories: ["io"],
  aliases: ["2a1c757e-86cf-4c7e-aacf-060dc382e434"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(TimeText)).annotate({
      title: "Default value",
      description: "The time, HH:MM:SS: the run's value, or this default when the run gives none.",
      format: "time",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.String.annotate({ title: "Result", description: "The time given, as HH:MM:SS." }),
  }),
  examples: [
    {
      description: "emits the time",
      input: { name: "at", value: "23:59:59" },
      output: [["result", "23:59:59"]],
    },
    {
      description: "seconds are added",
      input: { name: "at", value: "09:30" },
      output: [["result", "09:30:00"]],
    },
    {
      description: "microseconds and offset are kept",
      input: { name: "at", value: "09:30:00.5+0200" },
      output: [["result", "09:30:00.500000+02:00"]],
    },
    { description: "no time, no output", input: { name: "at", value: null }, output: [] },
  ],
  run: ({ value }) => emitValue(value === undefined || value === null ? value : normalizeTime(value)),
})
