/**
 * graphile-worker's own log lines (connections, job failures) through the process's structured logger, so
 * that a `weft worker` writes one JSON object per line like everything else.
 *
 * @since 0.1.0
 */
import type { LogLevel } from "effect"
import { Logger } from "graphile-worker"
import * as Logging from "./Logging.js"

const LEVELS: Record<string, LogLevel.Severity> = {
  error: "Error",
  warning: "Warn",
  info: "Info",
  debug: "Debug",
}

/**
 * A graphile-worker `Logger` that writes through `Logging.write`, annotated with `source: "graphile-worker"`
 * and its scope (`workerId`, `taskIdentifier`, `jobId`).
 *
 * @category constructors
 */
export const graphileLogger = (options: Logging.LoggingOptions): Logger =>
  new Logger((scope) => (level, message, meta) => {
    const fields: Record<string, unknown> = { source: "graphile-worker" }
    for (const [key, value] of Object.entries(scope)) if (value !== undefined) fields[key] = value
    if (meta !== undefined && Object.keys(meta).length > 0) fields.meta = meta
    Logging.write(options, LEVELS[level] ?? "Info", message, fields)
  })
