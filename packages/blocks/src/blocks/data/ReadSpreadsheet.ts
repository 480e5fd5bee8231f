import { Block, BlockError } from "@weft/engine"
import { Schema } from "effect"
import { CsvError, readCsv } from "../../internal/io-csv.js"

/** One character, or none for an empty or missing setting. */
const oneChar = (name: string, value: string | undefined, fallback: string): string | undefined => {
  const char = value ?? fallback
  if (char === "") return undefined
  if ([...char].length !== 1) {
    throw new BlockError({ message: `"${name}" must be a 1-character string`, retryable: false })
  }
  return char
}

/** The text of a `data:` URI; other file references cannot be read by this block. */
const fileText = (file: string): string => {
  const match = /^data:([^,]*?),(.*)$/s.exec(file)
  if (match === null) {
    throw new BlockError({
      message: "file_input: only data: URIs can be read; pass the CSV text in contents instead",
      retryable: false,
    })
  }
  const meta = (match[1] ?? "").split(";").map((part) => part.trim().toLowerCase())
  const type = meta[0] ?? ""
  if (type.includes("spreadsheet") || type.includes("excel")) {
    throw new BlockError({ message: "file_input: Excel files are not supported; use CSV", retryable: false })
  }
  const payload = match[2] ?? ""
  if (!meta.includes("base64")) return decodeURIComponent(payload)
  const binary = atob(payload.replace(/\s/g, ""))
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))
}

const Row = Schema.Record(Schema.String, Schema.String)

/**
 * Read spreadsheet: reads CSV text into rows, each a dictionary keyed by the header row (or by column
 * number, "0", "1"…, when there is no header). Emits all rows at once on `rows`, or, with
 * `produce_singular_result`, each row on `row` as it is read, in order. Fields are split exactly as
 * Python's `csv` module splits them (see `internal/io-csv.ts`): quoting, doubled quotes, the escape
 * character, blank lines as empty rows.
 *
 * Weft differs from AutoGPT in what it can read: `file_input` accepts only a `data:` URI holding CSV
 * (no URLs, stored files or Excel workbooks; `sheet_name` is accepted and ignored). Rows are streamed, so
 * rows before a malformed one are already out when it fails. AutoGPT: ReadSpreadsheetBlock (formerly
 * ReadCsvBlock).
 */
export default Block.make({
  id: "weft/data/read-spreadsheet",
  title: "Read spreadsheet",
  description: "Reads CSV data into rows, each a dictionary keyed by the column headers.",
  categories: ["data", "text"],
  aliases: ["acf7625e-d2cb-4941-bfeb-2819fc6fc015"],
  deterministic: true,
  input: Schema.Struct({
    contents: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "Contents",
      description: "The CSV text to read.",
    }),
    file_input: Schema.optional(Schema.NullOr(Schema.String)).annotate({
      title: "File",
      description: "A CSV file as a data: URI, read instead of contents when given.",
    }),
    delimiter: Schema.optional(Schema.String).annotate({
      title: "Delimiter",
      description: "The character between fields (default: a comma).",
    }),
    quotechar: Schema.optional(Schema.String).annotate({
      title: "Quote character",
      description: 'The character that quotes fields (default: ").',
    }),
    escapechar: Schema.optional(Schema.String).annotate({
      title: "Escape character",
      description: "The character that makes the next one literal (default: a backslash).",
    }),
    has_header: Schema.optional(Schema.Boolean).annotate({
      title: "Has header",
      description: "The first row names the columns (default: on).",
    }),
    skip_rows: Schema.optional(Schema.Int).annotate({
      title: "Skip rows",
      description: "How many rows to skip after the header (default: 0).",
    }),
    strip: Schema.optional(Schema.Boolean).annotate({
      title: "Strip",
      description: "Trim whitespace around headers and values (default: on).",
    }),
    skip_columns: Schema.optional(Schema.Array(Schema.String)).annotate({
      title: "Skip columns",
      description: 'Columns to leave out: header names, or column numbers ("0", "1"…) without a header.',
    }),
    sheet_name: Schema.optional(Schema.Union([Schema.String, Schema.Int])).annotate({
      title: "Sheet name",
      description: "The Excel sheet to read; ignored, since only CSV is read.",
      advanced: true,
    }),
    produce_singular_result: Schema.optional(Schema.Boolean).annotate({
      title: "One row at a time",
      description: "Emit each row on row as it is read, instead of all rows at once on rows.",
    }),
  }),
  output: Schema.Struct({
    row: Row.annotate({ title: "Row", description: "One row, keyed by column (one value per row)." }),
    rows: Schema.Array(Row).annotate({ title: "Rows", description: "All the rows, as a list." }),
  }),
  examples: [
    {
      description: "all rows at once",
      input: { contents: "a, b, c\n1,2,3\n4,5,6" },
      output: [
        [
          "rows",
          [
            { a: "1", b: "2", c: "3" },
            { a: "4", b: "5", c: "6" },
          ],
        ],
      ],
    },
    {
      description: "one row at a time",
      input: { contents: "a, b, c\n1,2,3\n4,5,6", produce_singular_result: true },
      output: [
        ["row", { a: "1", b: "2", c: "3" }],
        ["row", { a: "4", b: "5", c: "6" }],
      ],
    },
    {
      description: "quoting, doubled quotes and escapes as Python reads them",
      input: { contents: 'name;note\n"Smith; J";"says ""hi"""\nLee;a\\;b', delimiter: ";" },
      output: [
        [
          "rows",
          [
            { name: "Smith; J", note: 'says "hi"' },
            { name: "Lee", note: "a;b" },
          ],
        ],
      ],
    },
    {
      description: "no header, skipped rows and columns",
      input: { contents: "x,y,z\n1,2,3\n4,5,6", has_header: false, skip_rows: 1, skip_columns: ["1"] },
      output: [
        [
          "rows",
          [
            { "0": "1", "2": "3" },
            { "0": "4", "2": "6" },
          ],
        ],
      ],
    },
    {
      description: "nothing to read",
      input: { contents: "" },
      output: [["error", "give the CSV text in contents, or a data: URI in file_input"]],
    },
  ],
  *run(input) {
    const text =
      input.file_input !== undefined && input.file_input !== null && input.file_input !== ""
        ? fileText(input.file_input)
        : input.contents
    if (text === undefined || text === null || text === "") {
      throw new BlockError({
        message: "give the CSV text in contents, or a data: URI in file_input",
        retryable: false,
      })
    }
    const delimiter = oneChar("delimiter", input.delimiter, ",")
    if (delimiter === undefined) {
      throw new BlockError({ message: '"delimiter" must be a 1-character string', retryable: false })
    }
    const dialect = {
      delimiter,
      quotechar: oneChar("quotechar", input.quotechar, '"'),
      escapechar: oneChar("escapechar", input.escapechar, "\\"),
    }
    const hasHeader = input.has_header !== false
    const strip = input.strip !== false
    const skipColumns = new Set(input.skip_columns ?? [])
    const clean = (value: string) => (strip ? value.trim() : value)
    const reader = readCsv(text, dialect)
    const next = (): Array<string> | undefined => {
      try {
        const step = reader.next()
        return step.done === true ? undefined : step.value
      } catch (error) {
        if (error instanceof CsvError) throw new BlockError({ message: error.message, retryable: false })
        throw error
      }
    }
    let header: Array<string> | undefined
    if (hasHeader) header = (next() ?? []).map(clean)
    for (let i = 0; i < (input.skip_rows ?? 0); i++) {
      if (next() === undefined) {
        throw new BlockError({ message: "skip_rows is more than the number of rows", retryable: false })
      }
    }
    const toRow = (fields: ReadonlyArray<string>): Record<string, string> => {
      const row: Record<string, string> = {}
      fields.forEach((value, i) => {
        let key: string | undefined
        if (header !== undefined && header.length > 0) key = header[i]
        else key = String(i)
        if (key === undefined || skipColumns.has(key)) return
        Object.defineProperty(row, key, {
          value: clean(value),
          enumerable: true,
          writable: true,
          configurable: true,
        })
      })
      return row
    }
    if (input.produce_singular_result === true) {
      for (let fields = next(); fields !== undefined; fields = next()) yield ["row", toRow(fields)] as const
      return
    }
    const rows: Array<Record<string, string>> = []
    for (let fields = next(); fields !== undefined; fields = next()) rows.push(toRow(fields))
    yield ["rows", rows] as const
  },
})
