/**
 * Clock helpers for the time blocks: wall-clock time in an IANA time zone (through `Intl`), a
 * `strftime` formatter with the directives of Python on Linux (glibc), Python's `isoformat()`, the
 * `format_type` input of AutoGPT's time blocks, and a sleep that ends the moment its `AbortSignal` fires.
 */
import { Schema } from "effect"

/** A moment as a wall clock in some time zone sees it. `month` is 1–12; `weekday` is 0 for Sunday. */
export interface WallTime {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  readonly microsecond: number
  readonly weekday: number
  /** Minutes east of UTC. */
  readonly offsetMinutes: number
  /** The zone's abbreviation at that moment, as `%Z` prints it (e.g. `UTC`, `EST`, `+0545`). */
  readonly zoneName: string
  /** Seconds since the epoch. */
  readonly epochSeconds: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

const partsFormatter = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    })
    formatters.set(timeZone, f)
  }
  return f
}

/**
 * Checks an IANA time zone name (e.g. `Europe/Paris`); throws `unknown time zone "…"` for a name the
 * runtime does not know.
 */
export const checkTimeZone = (timeZone: string): string => {
  try {
    return partsFormatter(timeZone).resolvedOptions().timeZone
  } catch {
    throw new Error(`unknown time zone "${timeZone}"`)
  }
}

const wallFields = (epochMs: number, timeZone: string) => {
  const fields: Record<string, string> = {}
  for (const part of partsFormatter(timeZone).formatToParts(new Date(epochMs))) fields[part.type] = part.value
  const year = Number(fields.year)
  return {
    year: fields.era === "BC" ? 1 - year : year,
    month: Number(fields.month),
    day: Number(fields.day),
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
  }
}

/** Minutes east of UTC of `timeZone` at the instant `epochMs`. */
const offsetAt = (epochMs: number, timeZone: string): number => {
  const w = wallFields(epochMs, timeZone)
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
  const whole = Math.floor(epochMs / 1000) * 1000
  return Math.round((asUtc - whole) / 60_000)
}

const pad = (n: number, width: number, fill = "0"): string => String(Math.abs(n)).padStart(width, fill)

const numericZone = (offsetMinutes: number): string => {
  const sign = offsetMinutes < 0 ? "-" : "+"
  const hours = Math.floor(Math.abs(offsetMinutes) / 60)
  const minutes = Math.abs(offsetMinutes) % 60
  return `${sign}${pad(hours, 2)}${minutes === 0 ? "" : pad(minutes, 2)}`
}

const nameFormatters = new Map<string, Intl.DateTimeFormat>()

const nameFormatter = (locale: string, timeZone: string): Intl.DateTimeFormat => {
  const key = `${locale} ${timeZone}`
  let f = nameFormatters.get(key)
  if (f === undefined) {
    f = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" })
    nameFormatters.set(key, f)
  }
  return f
}

/**
 * tz database abbreviations (standard, then summer time) that `Intl` does not give in English, for common
 * zones; `%Z` prints them as Python does.
 */
const ABBREVIATIONS: Readonly<Record<string, readonly [string, string?]>> = {
  "Africa/Cairo": ["EET", "EEST"],
  "Africa/Johannesburg": ["SAST"],
  "Africa/Lagos": ["WAT"],
  "Africa/Nairobi": ["EAT"],
  "America/St_Johns": ["NST", "NDT"],
  "Asia/Calcutta": ["IST"],
  "Asia/Dubai": ["+04"],
  "Asia/Hong_Kong": ["HKT"],
  "Asia/Jakarta": ["WIB"],
  "Asia/Jerusalem": ["IST", "IDT"],
  "Asia/Karachi": ["PKT"],
  "Asia/Kolkata": ["IST"],
  "Asia/Manila": ["PST"],
  "Asia/Seoul": ["KST"],
  "Asia/Shanghai": ["CST"],
  "Asia/Tokyo": ["JST"],
  "Australia/Adelaide": ["ACST", "ACDT"],
  "Australia/Brisbane": ["AEST"],
  "Australia/Darwin": ["ACST"],
  "Australia/Hobart": ["AEST", "AEDT"],
  "Australia/Melbourne": ["AEST", "AEDT"],
  "Australia/Perth": ["AWST"],
  "Australia/Sydney": ["AEST", "AEDT"],
  "Europe/Dublin": ["GMT", "IST"],
  "Europe/Moscow": ["MSK"],
  "Pacific/Auckland": ["NZST", "NZDT"],
}

const zoneNameAt = (epochMs: number, timeZone: string, offsetMinutes: number): string => {
  const known = ABBREVIATIONS[timeZone]
  if (known !== undefined) {
    const year = new Date(epochMs).getUTCFullYear()
    const standard = Math.min(
      offsetAt(Date.UTC(year, 0, 1), timeZone),
      offsetAt(Date.UTC(year, 6, 1), timeZone),
    )
    return offsetMinutes > standard && known[1] !== undefined ? known[1] : known[0]
  }
  for (const locale of ["en-US", "en-GB"]) {
    const part = nameFormatter(locale, timeZone)
      .formatToParts(new Date(epochMs))
      .find((p) => p.type === "timeZoneName")?.value
    if (part !== undefined && /^[A-Z]{2,5}$/.test(part) && part !== "GMT") return part
    if (part === "GMT" && offsetMinutes === 0)
      return timeZone === "UTC" || timeZone === "Etc/UTC" ? "UTC" : "GMT"
  }
  return numericZone(offsetMinutes)
}

/** The wall clock of `timeZone` at `epochMs` (with microseconds when given). */
export const wallTime = (epochMs: number, timeZone: string, microsecond?: number): WallTime => {
  const w = wallFields(epochMs, timeZone)
  const offsetMinutes = offsetAt(epochMs, timeZone)
  return {
    ...w,
    microsecond: microsecond ?? (((epochMs % 1000) + 1000) % 1000) * 1000,
    weekday: new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay(),
    offsetMinutes,
    zoneName: zoneNameAt(epochMs, timeZone, offsetMinutes),
    epochSeconds: Math.floor(epochMs / 1000),
  }
}

/**
 * Moves a wall time by whole days keeping its time of day, like subtracting a `timedelta(days=n)` from an
 * aware Python datetime; the offset and zone name are those in force at the new wall time.
 */
export const addDays = (wall: WallTime, days: number, timeZone: string): WallTime => {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day + days, wall.hour, wall.minute, wall.second)
  let guess = asUtc - wall.offsetMinutes * 60_000
  for (let i = 0; i < 2; i++) guess = asUtc - offsetAt(guess, timeZone) * 60_000
  const moved = new Date(asUtc)
  const offsetMinutes = Math.round((asUtc - guess) / 60_000)
  return {
    year: moved.getUTCFullYear(),
    month: moved.getUTCMonth() + 1,
    day: moved.getUTCDate(),
    hour: wall.hour,
    minute: wall.minute,
    second: wall.second,
    microsecond: wall.microsecond,
    weekday: moved.getUTCDay(),
    offsetMinutes,
    zoneName: zoneNameAt(guess, timeZone, offsetMinutes),
    epochSeconds: Math.floor(guess / 1000),
  }
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
]

const dayOfYear = (w: WallTime): number =>
  (Date.UTC(w.year, w.month - 1, w.day) - Date.UTC(w.year, 0, 1)) / 86_400_000 + 1

/** ISO 8601 week-numbering year and week. */
const isoWeek = (w: WallTime): { year: number; week: number } => {
  const date = new Date(Date.UTC(w.year, w.month - 1, w.day))
  const isoDay = (w.weekday + 6) % 7 // Monday = 0
  date.setUTCDate(date.getUTCDate() - isoDay + 3) // the Thursday of this week decides the year
  const year = date.getUTCFullYear()
  const firstThursday = new Date(Date.UTC(year, 0, 4))
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3)
  return { year, week: 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000)) }
}

const colonZone = (offsetMinutes: number): string => {
  const sign = offsetMinutes < 0 ? "-" : "+"
  const abs = Math.abs(offsetMinutes)
  return `${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`
}

type Field =
  | { readonly text: string }
  | { readonly num: number; readonly width: number; readonly fill: string }

const hour12 = (h: number): number => (h % 12 === 0 ? 12 : h % 12)

/** The value of one conversion; `undefined` for a directive the formatter does not know. */
const directive = (c: string, w: WallTime, colon: boolean): Field | undefined => {
  const n = (num: number, width = 2, fill = "0"): Field => ({ num, width, fill })
  const t = (text: string): Field => ({ text })
  if (colon) return c === "z" ? t(colonZone(w.offsetMinutes)) : undefined
  switch (c) {
    case "a":
      return t(DAYS[w.weekday]?.slice(0, 3) ?? "")
    case "A":
      return t(DAYS[w.weekday] ?? "")
    case "b":
    case "h":
      return t(MONTHS[w.month - 1]?.slice(0, 3) ?? "")
    case "B":
      return t(MONTHS[w.month - 1] ?? "")
    case "c":
      return t(strftime(w, "%a %b %e %H:%M:%S %Y"))
    case "C":
      return n(Math.floor(w.year / 100))
    case "d":
      return n(w.day)
    case "D":
      return t(strftime(w, "%m/%d/%y"))
    case "e":
      return n(w.day, 2, " ")
    case "f":
      return n(w.microsecond, 6)
    case "F":
      return t(strftime(w, "%Y-%m-%d"))
    case "G":
      return n(isoWeek(w).year, 1)
    case "g":
      return n(isoWeek(w).year % 100)
    case "H":
      return n(w.hour)
    case "I":
      return n(hour12(w.hour))
    case "j":
      return n(dayOfYear(w), 3)
    case "k":
      return n(w.hour, 2, " ")
    case "l":
      return n(hour12(w.hour), 2, " ")
    case "m":
      return n(w.month)
    case "M":
      return n(w.minute)
    case "n":
      return t("\n")
    case "p":
      return t(w.hour < 12 ? "AM" : "PM")
    case "P":
      return t(w.hour < 12 ? "am" : "pm")
    case "r":
      return t(strftime(w, "%I:%M:%S %p"))
    case "R":
      return t(strftime(w, "%H:%M"))
    case "s":
      return n(w.epochSeconds, 1)
    case "S":
      return n(w.second)
    case "t":
      return t("\t")
    case "T":
    case "X":
      return t(strftime(w, "%H:%M:%S"))
    case "u":
      return n(w.weekday === 0 ? 7 : w.weekday, 1)
    case "U":
      return n(Math.floor((dayOfYear(w) - 1 + 7 - w.weekday) / 7))
    case "V":
      return n(isoWeek(w).week)
    case "w":
      return n(w.weekday, 1)
    case "W":
      return n(Math.floor((dayOfYear(w) - 1 + 7 - ((w.weekday + 6) % 7)) / 7))
    case "x":
      return t(strftime(w, "%m/%d/%y"))
    case "y":
      return n(((w.year % 100) + 100) % 100)
    case "Y":
      return n(w.year, 1)
    case "z":
      return t(colonZone(w.offsetMinutes).replace(":", ""))
    case "Z":
      return t(w.zoneName)
    case "%":
      return t("%")
    default:
      return undefined
  }
}

/**
 * Formats a wall time with a Python `strftime` format (glibc's directives, including the `-` (no padding),
 * `_` (pad with spaces), `0` and `^` (upper case) flags, `%f` and `%:z`). Unknown directives are kept as
 * written. `%s` is the true Unix time (glibc reads the wall time as the server's local time instead).
 */
export const strftime = (w: WallTime, format: string): string => {
  let out = ""
  let i = 0
  while (i < format.length) {
    const ch = format[i]
    if (ch !== "%") {
      out += ch
      i++
      continue
    }
    let j = i + 1
    let flag = ""
    while (j < format.length && "-_0^#".includes(format[j] ?? "")) flag += format[j++]
    let colon = false
    if (format[j] === ":") {
      colon = true
      j++
    }
    const c = format[j]
    const field = c === undefined ? undefined : directive(c, w, colon)
    if (field === undefined) {
      out += format.slice(i, c === undefined ? j : j + 1)
      i = c === undefined ? j : j + 1
      continue
    }
    let text: string
    if ("text" in field) text = field.text
    else if (flag.includes("-")) text = `${field.num < 0 ? "-" : ""}${Math.abs(field.num)}`
    else {
      const fill = flag.includes("_") ? " " : flag.includes("0") ? "0" : field.fill
      text = `${field.num < 0 ? "-" : ""}${pad(field.num, field.width, fill)}`
    }
    out += flag.includes("^") ? text.toUpperCase() : text
    i = j + 1
  }
  return out
}

/**
 * Python's `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS+HH:MM`; with `microseconds`, the fraction is added
 * unless it is zero (as Python does).
 */
export const isoFormat = (w: WallTime, microseconds: boolean): string => {
  const fraction = microseconds && w.microsecond !== 0 ? `.${pad(w.microsecond, 6)}` : ""
  return `${strftime(w, "%Y-%m-%dT%H:%M:%S")}${fraction}${colonZone(w.offsetMinutes)}`
}

/** The largest delay `setTimeout` takes; longer waits are chained. */
const MAX_TIMEOUT = 2_147_483_647

/**
 * Waits `ms` milliseconds. Rejects at once, and clears its timer, when `signal` aborts, so that a
 * cancelled run does not keep a sleeping block alive.
 */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const aborted = () => new Error("the wait was cancelled")
    if (signal.aborted) {
      reject(aborted())
      return
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer)
      reject(aborted())
    }
    const wait = (remaining: number) => {
      if (remaining <= 0) {
        signal.removeEventListener("abort", onAbort)
        resolve()
        return
      }
      const step = Math.min(remaining, MAX_TIMEOUT)
      timer = setTimeout(() => wait(remaining - step), step)
    }
    signal.addEventListener("abort", onAbort, { once: true })
    wait(ms)
  })

const timezoneField = Schema.optional(Schema.String).annotate({
  title: "Time zone",
  description: "An IANA time zone such as UTC, Europe/Paris or America/New_York; UTC when left out.",
})
const userTimezoneField = Schema.optional(Schema.Boolean).annotate({
  title: "Use user time zone",
  description: "AutoGPT uses the user's profile time zone instead; Weft has none and uses `timezone`.",
})

/** The `strftime` choice of a time block's `format_type`. */
export const StrftimeFormat = Schema.Struct({
  discriminator: Schema.Literal("strftime"),
  format: Schema.optional(Schema.String).annotate({
    title: "Format",
    description: "A strftime format such as %Y-%m-%d %H:%M:%S.",
  }),
  timezone: timezoneField,
  use_user_timezone: userTimezoneField,
})

/** The ISO 8601 choice of a time block's `format_type`. */
export const IsoFormat = Schema.Struct({
  discriminator: Schema.Literal("iso8601"),
  timezone: timezoneField,
  use_user_timezone: userTimezoneField,
  include_microseconds: Schema.optional(Schema.Boolean).annotate({
    title: "Include microseconds",
    description: "Add the fraction of a second.",
  }),
})

/** A time block's `format_type`: a strftime format or ISO 8601, each with a time zone. */
export const FormatType = Schema.Union([StrftimeFormat, IsoFormat])
/** The decoded `format_type`. */
export type FormatType = Schema.Schema.Type<typeof FormatType>

/** The current wall time in the time zone `format_type` names (UTC by default). */
export const nowIn = (format: FormatType | undefined): WallTime =>
  wallTime(Date.now(), checkTimeZone(format?.timezone ?? "UTC"))
