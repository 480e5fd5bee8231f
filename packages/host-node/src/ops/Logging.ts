/**
 * Structured logs: one JSON object per line (`level`, `time`, `message`, then the log's annotations such as
 * `runId`, `nodeId`, `executionId`), or one readable line per entry (`pretty`), with secrets redacted
 * (`Redact`). `weft serve` and `weft worker` install it from `WEFT_LOG_FORMAT` (`json` | `pretty`; default
 * `json` when stdout is not a terminal) and `WEFT_LOG_LEVEL` (`trace` … `error`, `none`; default `info`).
 *
 * @example
 * ```ts
 * const host = await startHost({ logging: { format: "json", level: "Debug" } })
 * // {"level":"info","time":"2026-11-21T10:00:00.000Z","message":"run completed","runId":"…","graphId":"…"}
 * ```
 *
 * @since 0.1.0
 */
import { Cause, Context, Data, Effect, Layer, Logger, LogLevel, References } from "effect"
import { MASK, redact } from "./Redact.js"

/**
 * How log entries are written.
 *
 * @category models
 */
export type LogFormat = "json" | "pretty"

/**
 * What the logger of a host or worker does.
 *
 * @category models
 */
export interface LoggingOptions {
  /** `json` (one object per line, the default) or `pretty`. */
  readonly format?: LogFormat
  /** Entries below this level are dropped. Default `Info`. */
  readonly level?: LogLevel.LogLevel
  /** Where each line goes (without its newline). Default: standard output. */
  readonly write?: (line: string) => void
  /** Log every HTTP request (method, URL, status, duration; headers at `Debug`). Default true. */
  readonly accessLog?: boolean
}

/**
 * Whether structured logging is installed (by `layer` or `provide`). Run and block log entries
 * (`RunObserver`) are written only then: a host started without logging options stays as quiet as before.
 *
 * @category references
 */
export const Installed = Context.Reference<boolean>("@weft/host-node/ops/Logging/Installed", {
  defaultValue: () => false,
})

/**
 * `WEFT_LOG_FORMAT` or `WEFT_LOG_LEVEL` holds something else than a format or a level.
 *
 * @category errors
 */
export class LoggingConfigInvalid extends Data.TaggedError("LoggingConfigInvalid")<{
  readonly variable: string
  readonly value: string
  readonly expected: string
}> {
  override get message(): string {
    return `${this.variable} ${this.value}: expected ${this.expected}`
  }
}

const LEVELS: Record<string, LogLevel.LogLevel> = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None",
  off: "None",
}

/**
 * Reads a level name (`trace`, `debug`, `info`, `warn`, `error`, `fatal`, `none`; any case).
 *
 * @category parsing
 */
export const parseLevel = (text: string): LogLevel.LogLevel | undefined => LEVELS[text.trim().toLowerCase()]

/**
 * The logging options of `weft serve` and `weft worker` from their environment: `WEFT_LOG_FORMAT`
 * (`json` or `pretty`; default `pretty` on a terminal, else `json`) and `WEFT_LOG_LEVEL` (default `info`).
 * Throws `LoggingConfigInvalid` for an unknown value.
 *
 * @category parsing
 */
export const fromEnv = (
  env: Readonly<Record<string, string | undefined>>,
  isTty: boolean,
): LoggingOptions & { readonly format: LogFormat; readonly level: LogLevel.LogLevel } => {
  const formatText = env.WEFT_LOG_FORMAT?.trim().toLowerCase() ?? ""
  if (formatText !== "" && formatText !== "json" && formatText !== "pretty") {
    throw new LoggingConfigInvalid({
      variable: "WEFT_LOG_FORMAT",
      value: env.WEFT_LOG_FORMAT ?? "",
      expected: "json or pretty",
    })
  }
  const levelText = env.WEFT_LOG_LEVEL?.trim() ?? ""
  const level = levelText === "" ? "Info" : parseLevel(levelText)
  if (level === undefined) {
    throw new LoggingConfigInvalid({
      variable: "WEFT_LOG_LEVEL",
      value: levelText,
      expected: "trace, debug, info, warn, error, fatal or none",
    })
  }
  const format: LogFormat = formatText === "" ? (isTty ? "pretty" : "json") : formatText
  return { format, level }
}

/** Keys a record sets itself: annotations with these names go under `annotations`. */
const RESERVED = new Set(["level", "time", "message"])

const levelName = (level: LogLevel.LogLevel): string => (level === "Warn" ? "warn" : level.toLowerCase())

/**
 * One log entry as a plain object, before redaction: `level`, `time`, `message`, the annotations, `data`
 * (what was logged besides the message text) and `cause` (the cause, if any, rendered).
 *
 * @category formatting
 */
export const entryOf = (options: Logger.Options<unknown>): Record<string, unknown> => {
  const parts = Array.isArray(options.message) ? options.message : [options.message]
  const texts: Array<string> = []
  const data: Array<unknown> = []
  for (const part of parts) {
    if (typeof part === "string") texts.push(part)
    else if (part !== undefined) data.push(part)
  }
  const entry: Record<string, unknown> = {
    level: levelName(options.logLevel),
    time: options.date.toISOString(),
    message: texts.join(" "),
  }
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
  const clashing: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(annotations)) {
    if (RESERVED.has(key)) clashing[key] = value
    else entry[key] = value
  }
  if (Object.keys(clashing).length > 0) entry.annotations = clashing
  if (data.length === 1) entry.data = data[0]
  else if (data.length > 1) entry.data = data
  if (options.cause.reasons.length > 0) entry.cause = Cause.pretty(options.cause)
  return entry
}

/** JSON text of a value that may hold cycles, bigints, errors or functions. */
const toJson = (value: unknown): string => {
  const seen = new WeakSet<object>()
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === "bigint") return item.toString()
    if (typeof item === "function" || typeof item === "symbol") return String(item)
    if (item instanceof Error) return { name: item.name, message: item.message }
    if (typeof item === "object" && item !== null) {
      if (seen.has(item)) return "[Circular]"
      seen.add(item)
    }
    return item
  })
}

/**
 * One entry as a JSON line (without the newline), redacted.
 *
 * @category formatting
 */
export const jsonLine = (entry: Record<string, unknown>): string => {
  // Through JSON first: class instances (errors, dates) become plain data that redaction can walk.
  const plain = JSON.parse(toJson(entry)) as Record<string, unknown>
  return JSON.stringify(redact(plain))
}

/**
 * One entry as a readable line: `time LEVEL message key=value …`, redacted.
 *
 * @category formatting
 */
export const prettyLine = (entry: Record<string, unknown>): string => {
  const plain = redact(JSON.parse(toJson(entry)) as Record<string, unknown>)
  const { level, time, message, cause, ...rest } = plain
  const fields = Object.entries(rest).map(
    ([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`,
  )
  const head = `${String(time)} ${String(level).toUpperCase().padEnd(5)} ${String(message)}`
  const line = fields.length === 0 ? head : `${head} ${fields.join(" ")}`
  return cause === undefined ? line : `${line}\n${String(cause)}`
}

const stdout = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

/**
 * The logger for these options.
 *
 * @category constructors
 */
export const logger = (options: LoggingOptions = {}): Logger.Logger<unknown, void> => {
  const write = options.write ?? stdout
  const format = options.format === "pretty" ? prettyLine : jsonLine
  return Logger.make((entry) => {
    let line: string
    try {
      line = format(entryOf(entry))
    } catch {
      line = format({
        level: levelName(entry.logLevel),
        time: entry.date.toISOString(),
        message: MASK,
      })
    }
    write(line)
  })
}

/**
 * Installs the logger and the minimum level for everything built or run under it.
 *
 * @category layers
 */
export const layer = (options: LoggingOptions = {}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([logger(options)]),
    Layer.succeed(References.MinimumLogLevel)(options.level ?? "Info"),
    Layer.succeed(Installed)(true),
  )

/**
 * Runs an effect with the logger installed: it, the layers it builds and the fibers it forks log there.
 * Without options, the effect is left as it is (effect's default logger).
 *
 * @category combinators
 */
export const provide =
  (options: LoggingOptions | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    options === undefined
      ? effect
      : effect.pipe(
          Effect.provideService(Logger.CurrentLoggers, new Set([logger(options)])),
          Effect.provideService(References.MinimumLogLevel, options.level ?? "Info"),
          Effect.provideService(Installed, true),
        )

/**
 * Writes one entry outside of any effect (a command's start-up lines), in the options' format.
 *
 * @category constructors
 */
export const write = (
  options: LoggingOptions,
  level: LogLevel.Severity,
  message: string,
  fields: Readonly<Record<string, unknown>> = {},
): void => {
  if (LogLevel.isGreaterThan(options.level ?? "Info", level)) return
  const entry = { level: levelName(level), time: new Date().toISOString(), message, ...fields }
  ;(options.write ?? stdout)(options.format === "pretty" ? prettyLine(entry) : jsonLine(entry))
}
