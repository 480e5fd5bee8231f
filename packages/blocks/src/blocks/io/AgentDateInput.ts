import { Block } from "@weft/engine"
import { Schema } from "effect"
import { emitValue, inputName, inputSettings } from "../../internal/io-input.js"

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** A real calendar date written `YYYY-MM-DD`. */
const isCalendarDate = (text: string): boolean => {
  const match = DATE.exec(text)
  if (match === null) return false
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])]
  if (year < 1 || month < 1 || month > 12 || day < 1) return false
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}

const DateText = Schema.String.check(
  Schema.makeFilter((text: string) => isCalendarDate(text) || "expected a date written YYYY-MM-DD"),
)

/**
 * Date input: a date input of the graph, written `YYYY-MM-DD` (AutoGPT parses it as a Python `date`
 * and emits it back in that form). Emits the date on `result`, nothing when there is none.
 * AutoGPT: AgentDateInputBlock.
 */
export default Block.make({
  id: "weft/io/agent-date-input",
  title: "Date input",
  description: "A date input of the agent (YYYY-MM-DD): emits the date given for it.",
  categories: ["io"],
  aliases: ["7e198b09-4994-47db-8b4d-952d98241817"],
  kind: "input",
  staticOutput: true,
  deterministic: true,
  input: Schema.Struct({
    name: inputName,
    value: Schema.optional(Schema.NullOr(DateText)).annotate({
      title: "Default value",
      description: "The date, YYYY-MM-DD: the run's value, or this default when the run gives none.",
      format: "date",
    }),
    ...inputSettings,
  }),
  output: Schema.Struct({
    result: Schema.String.annotate({ title: "Result", description: "The date given, as YYYY-MM-DD." }),
  }),
  examples: [
    {
      description: "emits the date",
      input: { name: "day", value: "2025-03-19" },
      output: [["result", "2025-03-19"]],
    },
    {
      description: "a leap day",
      input: { name: "day", value: "2024-02-29" },
      output: [["result", "2024-02-29"]],
    },
    { description: "no date, no output", input: { name: "day" }, output: [] },
  ],
  run: ({ value }) => emitValue(value),
})
