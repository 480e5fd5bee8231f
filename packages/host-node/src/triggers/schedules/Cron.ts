/**
 * Cron expressions in a time zone: validation, and the next due time after an instant.
 *
 * An expression has 5 fields (`minute hour day-of-month month day-of-week`) or 6 with a leading `second`
 * field (`* * * * * *` is every second). Fields take numbers, `*`, lists, ranges, steps, month and weekday
 * names, `L` and `#` (the `cron-parser` syntax); `@`-macros are not accepted. `H` picks a value seeded by the
 * schedule id, the same in every process. Times are computed in the schedule's IANA time zone with its
 * daylight-saving rules: a local time skipped by a spring-forward transition fires once, at the same offset
 * after the transition (02:30 becomes 03:30), and one repeated by a fall-back transition fires once, at its
 * first occurrence, while expressions that fire every few minutes keep firing through both.
 *
 * @since 0.1.0
 */
import { CronExpressionParser } from "cron-parser"
import { Data, Effect } from "effect"

/**
 * A cron expression that does not parse, or that never fires.
 *
 * @category errors
 */
export class CronInvalid extends Data.TaggedError("CronInvalid")<{
  readonly cron: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid cron expression "${this.cron}": ${this.reason}`
  }
}

/**
 * A time zone that is not an IANA time zone name.
 *
 * @category errors
 */
export class TimeZoneInvalid extends Data.TaggedError("TimeZoneInvalid")<{ readonly timezone: string }> {
  override get message(): string {
    return `Unknown time zone "${this.timezone}": use an IANA name such as "Europe/Berlin" or "UTC"`
  }
}

/**
 * A validated schedule rule: the expression, its canonical time zone, and the seed of its `H` fields.
 *
 * @category models
 */
export interface CronRule {
  readonly cron: string
  readonly timezone: string
  readonly seed: string
}

/** IANA names are letters, digits, `_`, `-` and `+`, in `/`-separated parts (`America/Argentina/Salta`). */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/

/**
 * The canonical IANA name of a time zone (`US/Eastern` → `America/New_York`, `utc` → `UTC`), or `undefined`
 * when the runtime's time zone data does not know it. Offsets such as `+01:00` are refused.
 *
 * @category constructors
 */
export const canonicalTimeZone = (timezone: string): string | undefined => {
  if (timezone.length > 64 || !ZONE_NAME.test(timezone)) return undefined
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

const fieldCount = (cron: string): number => cron.trim().split(/\s+/).length

/** The first due time strictly after `after` (epoch ms), or the parser's reason why there is none. */
const next = (rule: CronRule, after: number): number | string => {
  try {
    const expression = CronExpressionParser.parse(rule.cron.trim(), {
      tz: rule.timezone,
      currentDate: new Date(after),
      hashSeed: rule.seed,
    })
    return expression.next().getTime()
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/**
 * Validates an expression and a time zone: 5 or 6 fields that parse and fire at least once after `now`, and
 * a known IANA zone. Answers the rule with the zone's canonical name.
 *
 * @category constructors
 */
export const parse = (
  cron: string,
  timezone: string,
  options: { readonly seed: string; readonly now: number },
): Effect.Effect<CronRule, CronInvalid | TimeZoneInvalid> =>
  Effect.suspend((): Effect.Effect<CronRule, CronInvalid | TimeZoneInvalid> => {
    const zone = canonicalTimeZone(timezone)
    if (zone === undefined) return Effect.fail(new TimeZoneInvalid({ timezone }))
    if (cron.length > 200) return Effect.fail(new CronInvalid({ cron, reason: "longer than 200 characters" }))
    const fields = fieldCount(cron)
    if (cron.trim() === "" || (fields !== 5 && fields !== 6)) {
      return Effect.fail(
        new CronInvalid({
          cron,
          reason: `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading second, got ${cron.trim() === "" ? 0 : fields}`,
        }),
      )
    }
    const rule: CronRule = { cron: cron.trim().split(/\s+/).join(" "), timezone: zone, seed: options.seed }
    const first = next(rule, options.now)
    if (typeof first === "string") return Effect.fail(new CronInvalid({ cron, reason: first }))
    return Effect.succeed(rule)
  })

/**
 * The first due time of a valid rule strictly after `after` (epoch milliseconds), or `undefined` when it never
 * fires again.
 *
 * @category utilities
 */
export const nextAfter = (rule: CronRule, after: number): number | undefined => {
  const due = next(rule, after)
  return typeof due === "number" ? due : undefined
}
