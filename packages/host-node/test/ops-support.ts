/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for the operations tests: it throws on
 * any line that is neither a comment nor `name{labels} value`, on a sample without `# HELP` and `# TYPE`
 * before it, on interleaved families, on bad escapes, and on histograms whose buckets are not cumulative,
 * do not end with `le="+Inf"`, or lack `_sum` and `_count` (with `_count` equal to the `+Inf` bucket).
 */

export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface PromFamily {
  readonly name: string
  readonly type: string
  readonly help: string
  readonly samples: Array<PromSample>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string, line: string): number => {
  if (text === "+Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (text === "NaN") return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${text} in: ${line}`)
  return Number(text)
}

/** `{a="x",b="y"}` (the text after the name), answering the labels and the rest of the line. */
const parseLabels = (text: string, line: string): [Record<string, string>, string] => {
  const labels: Record<string, string> = {}
  if (!text.startsWith("{")) return [labels, text]
  let rest = text.slice(1)
  while (!rest.startsWith("}")) {
    const name = LABEL_NAME.exec(rest)?.[0]
    if (name === undefined) throw new Error(`bad label name in: ${line}`)
    rest = rest.slice(name.length)
    if (!rest.startsWith('="')) throw new Error(`expected =" after ${name} in: ${line}`)
    rest = rest.slice(2)
    let value = ""
    for (;;) {
      const char = rest[0]
      if (char === undefined) throw new Error(`unterminated label value in: ${line}`)
      rest = rest.slice(1)
      if (char === '"') break
      if (char === "\n") throw new Error(`raw newline in label value: ${line}`)
      if (char === "\\") {
        const escaped = rest[0]
        rest = rest.slice(1)
        if (escaped === "\\") value += "\\"
        else if (escaped === '"') value += '"'
        else if (escaped === "n") value += "\n"
        else throw new Error(`bad escape \\${escaped} in: ${line}`)
      } else value += char
    }
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`)
    labels[name] = value
    if (rest.startsWith(",")) rest = rest.slice(1)
    else if (!rest.startsWith("}")) throw new Error(`expected , or } in: ${line}`)
  }
  return [labels, rest.slice(1)]
}

/** The family a sample belongs to: histogram samples end in `_bucket`, `_sum` or `_count`. */
const familyOf = (name: string, families: ReadonlyMap<string, PromFamily>): PromFamily | undefined => {
  const direct = families.get(name)
  if (direct !== undefined) return direct
  const base = name.replace(/_(bucket|sum|count)$/, "")
  const family = families.get(base)
  return family !== undefined && (family.type === "histogram" || family.type === "summary")
    ? family
    : undefined
}

const key = (labels: Readonly<Record<string, string>>, without: string) =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== without)
      .sort(([a], [b]) => a.localeCompare(b)),
  )

const checkHistogram = (family: PromFamily) => {
  const series = new Map<
    string,
    { buckets: Array<[number, number]>; sum?: number; count?: number; sawInf: boolean }
  >()
  const of = (labels: Readonly<Record<string, string>>) => {
    const k = key(labels, "le")
    let s = series.get(k)
    if (s === undefined) {
      s = { buckets: [], sawInf: false }
      series.set(k, s)
    }
    return s
  }
  for (const sample of family.samples) {
    const s = of(sample.labels)
    if (sample.name === `${family.name}_bucket`) {
      const le = sample.labels.le
      if (le === undefined) throw new Error(`${family.name}_bucket without le`)
      if (s.sawInf) throw new Error(`${family.name}: a bucket after le="+Inf"`)
      const bound = parseValue(le, le)
      const previous = s.buckets.at(-1)
      if (previous !== undefined) {
        if (!(bound > previous[0])) throw new Error(`${family.name}: le not increasing (${le})`)
        if (sample.value < previous[1]) throw new Error(`${family.name}: buckets not cumulative at le=${le}`)
      }
      s.buckets.push([bound, sample.value])
      if (le === "+Inf") s.sawInf = true
    } else if (sample.name === `${family.name}_sum`) s.sum = sample.value
    else if (sample.name === `${family.name}_count`) s.count = sample.value
    else throw new Error(`${sample.name} in histogram ${family.name}`)
  }
  for (const [labels, s] of series) {
    if (!s.sawInf) throw new Error(`${family.name}${labels}: no le="+Inf" bucket`)
    if (s.sum === undefined || s.count === undefined)
      throw new Error(`${family.name}${labels}: no _sum or _count`)
    if (s.buckets.at(-1)?.[1] !== s.count)
      throw new Error(`${family.name}${labels}: _count is not the +Inf bucket`)
  }
}

/** Parses and checks a scrape; answers its families by name. */
export const parseExposition = (text: string): Map<string, PromFamily> => {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition does not end with a newline")
  const lines = text === "" ? [] : text.slice(0, -1).split("\n")
  const families = new Map<string, PromFamily>()
  const helps = new Map<string, string>()
  const types = new Map<string, string>()
  let current: PromFamily | undefined
  const closed = new Set<string>()
  for (const line of lines) {
    if (line === "") throw new Error("empty line in the exposition")
    if (line.startsWith("#")) {
      const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line)
      if (help?.[1] !== undefined) {
        if (helps.has(help[1])) throw new Error(`second HELP for ${help[1]}`)
        helps.set(help[1], help[2] ?? "")
      } else if (type?.[1] !== undefined && type[2] !== undefined) {
        if (types.has(type[1])) throw new Error(`second TYPE for ${type[1]}`)
        if (!TYPES.has(type[2])) throw new Error(`unknown type in: ${line}`)
        types.set(type[1], type[2])
        const help = helps.get(type[1])
        if (help === undefined) throw new Error(`TYPE before HELP (or no HELP) for ${type[1]}`)
        if (current !== undefined) closed.add(current.name)
        current = { name: type[1], type: type[2], help, samples: [] }
        families.set(type[1], current)
      } else if (line.startsWith("# HELP") || line.startsWith("# TYPE")) {
        throw new Error(`malformed HELP/TYPE line: ${line}`)
      }
      continue
    }
    const name = NAME.exec(line)?.[0]
    if (name === undefined) throw new Error(`not a sample: ${line}`)
    const [labels, rest] = parseLabels(line.slice(name.length), line)
    const parts = rest.split(" ")
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3) throw new Error(`bad sample line: ${line}`)
    const value = parseValue(parts[1] ?? "", line)
    const family = familyOf(name, families)
    if (family === undefined) throw new Error(`sample without HELP/TYPE: ${line}`)
    if (family !== current || closed.has(family.name)) throw new Error(`family ${family.name} is interleaved`)
    if (family.type === "counter" && !(value >= 0)) throw new Error(`negative counter: ${line}`)
    family.samples.push({ name, labels, value })
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family)
  return families
}

/** The value of the sample `name` whose labels include `labels`, or undefined. */
export const sampleValue = (
  families: ReadonlyMap<string, PromFamily>,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined => {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue
      if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) return sample.value
    }
  }
  return undefined
}

/** Fetches and parses `/metrics`. */
export const scrape = async (
  base: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number
  contentType: string | null
  text: string
  families: Map<string, PromFamily>
}> => {
  const response = await fetch(`${base}/metrics`, { headers })
  const text = await response.text()
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    text,
    families: response.status === 200 ? parseExposition(text) : new Map(),
  }
}
