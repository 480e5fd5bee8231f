/**
 * The Prometheus text exposition format (version 0.0.4), for metrics computed at scrape time (database
 * gauges). Metrics kept in effect's registry are rendered by effect's own formatter
 * (`effect/observability` `PrometheusMetrics`), with the same escaping rules.
 *
 * @since 0.1.0
 */

/**
 * The content type of a scrape answer.
 *
 * @category constants
 */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/**
 * One sample: labels and a value.
 *
 * @category models
 */
export interface Sample {
  readonly labels?: Readonly<Record<string, string>>
  readonly value: number
}

/**
 * A metric family: its name, help text, type and samples.
 *
 * @category models
 */
export interface Family {
  readonly name: string
  readonly help: string
  readonly type: "gauge" | "counter"
  readonly samples: ReadonlyArray<Sample>
}

/**
 * A label value escaped for the text format: backslash, double quote and newline.
 *
 * @category formatting
 */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/**
 * A help text escaped for the text format: backslash and newline.
 *
 * @category formatting
 */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/**
 * A sample value in the text format (`+Inf`, `-Inf`, `NaN` for the special values).
 *
 * @category formatting
 */
export const formatValue = (value: number): string =>
  Number.isNaN(value)
    ? "NaN"
    : value === Number.POSITIVE_INFINITY
      ? "+Inf"
      : value === Number.NEGATIVE_INFINITY
        ? "-Inf"
        : String(value)

const formatLabels = (labels: Readonly<Record<string, string>> | undefined): string => {
  const entries = Object.entries(labels ?? {})
  if (entries.length === 0) return ""
  return `{${entries.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(",")}}`
}

/**
 * Families as text: `# HELP`, `# TYPE`, then one line per sample; a trailing newline when not empty.
 *
 * @category formatting
 */
export const render = (families: ReadonlyArray<Family>): string => {
  const lines: Array<string> = []
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${family.name} ${family.type}`)
    for (const sample of family.samples) {
      lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`)
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}
