/**
 * A CSV reader that splits rows and fields exactly as Python's `csv.reader` does with its default
 * (`excel`) dialect and a chosen delimiter, quote character and escape character, since AutoGPT's
 * `ReadSpreadsheetBlock` reads with it. What an imported agent relies on:
 *
 * - a doubled quote inside a quoted field is one quote (`"say ""hi"""` → `say "hi"`);
 * - the escape character takes the next character literally, inside and outside quotes (`a\,b` → `a,b`);
 * - a blank line is a row with no fields;
 * - text after a closing quote is kept (`"a"b` → `ab`), and an unterminated quoted field runs to the end;
 * - lines end at `\n` or `\r\n`; newlines inside quotes are kept; a lone `\r` followed by more text
 *   on the same line is an error, as in Python;
 * - a field longer than 131072 characters is an error, as in Python.
 *
 * Rows are produced lazily, one at a time.
 *
 * csv-parse is not used here: it reads doubled quotes inside quoted fields as raw text when an escape
 * character other than the quote is set, ignores the escape character outside quotes, and reads blank
 * lines and unterminated quotes differently from Python.
 *
 * @since 0.1.0
 */

/** Python's default `csv.field_size_limit()`. */
export const FIELD_SIZE_LIMIT = 131_072

/** A row or field the reader cannot accept. */
export class CsvError extends Error {
  override readonly name = "CsvError"
}

/** How fields are delimited; `quotechar` and `escapechar` may be absent. */
export interface CsvDialect {
  readonly delimiter: string
  readonly quotechar?: string | undefined
  readonly escapechar?: string | undefined
}

type State =
  | "startRecord"
  | "startField"
  | "escapedChar"
  | "inField"
  | "inQuotedField"
  | "escapeInQuotedField"
  | "quoteInQuotedField"
  | "eatNewline"

/** The end-of-line marker fed after each line, as Python's reader does. */
const EOL = null

/**
 * Reads `text` as CSV, yielding each row as a list of fields. Throws `CsvError` for a field over the size
 * limit or a stray character after a line break inside an unquoted field (Python's "new-line character
 * seen in unquoted field").
 */
export function* readCsv(text: string, dialect: CsvDialect): Generator<Array<string>> {
  const { delimiter, quotechar, escapechar } = dialect
  let state: State = "startRecord"
  let fields: Array<string> = []
  let field = ""
  let line = 1

  const saveField = () => {
    fields.push(field)
    field = ""
  }
  const addChar = (c: string) => {
    if (field.length >= FIELD_SIZE_LIMIT) {
      throw new CsvError(`field larger than field limit (${FIELD_SIZE_LIMIT}) on line ${line}`)
    }
    field += c
  }
  const isNewline = (c: string | typeof EOL) => c === "\n" || c === "\r"

  /** One step of the reader's state machine; `EOL` marks the end of a physical line. */
  const step = (c: string | typeof EOL): void => {
    switch (state) {
      case "startRecord":
        if (c === EOL) return
        if (isNewline(c)) {
          state = "eatNewline"
          return
        }
        state = "startField"
        step(c)
        return
      case "startField":
        if (c === EOL || isNewline(c)) {
          saveField()
          state = c === EOL ? "startRecord" : "eatNewline"
        } else if (c === quotechar) state = "inQuotedField"
        else if (c === escapechar) state = "escapedChar"
        else if (c === delimiter) saveField()
        else {
          addChar(c)
          state = "inField"
        }
        return
      case "escapedChar":
        addChar(c === EOL ? "\n" : c)
        state = "inField"
        return
      case "inField":
        if (c === EOL || isNewline(c)) {
          saveField()
          state = c === EOL ? "startRecord" : "eatNewline"
        } else if (c === escapechar) state = "escapedChar"
        else if (c === delimiter) {
          saveField()
          state = "startField"
        } else addChar(c)
        return
      case "inQuotedField":
        if (c === EOL) return
        if (c === escapechar) state = "escapeInQuotedField"
        else if (c === quotechar) state = "quoteInQuotedField"
        else addChar(c)
        return
      case "escapeInQuotedField":
        addChar(c === EOL ? "\n" : c)
        state = "inQuotedField"
        return
      case "quoteInQuotedField":
        if (c === quotechar) {
          addChar(c)
          state = "inQuotedField"
        } else if (c === delimiter) {
          saveField()
          state = "startField"
        } else if (c === EOL || isNewline(c)) {
          saveField()
          state = c === EOL ? "startRecord" : "eatNewline"
        } else {
          addChar(c)
          state = "inField"
        }
        return
      case "eatNewline":
        if (c === EOL) state = "startRecord"
        else if (!isNewline(c)) {
          throw new CsvError(`new-line character seen in unquoted field on line ${line}`)
        }
        return
    }
  }

  let start = 0
  while (start < text.length) {
    const newline = text.indexOf("\n", start)
    const end = newline === -1 ? text.length : newline + 1
    for (let i = start; i < end; i++) step(text[i] ?? "")
    step(EOL)
    line++
    start = end
    if (state === "startRecord") {
      yield fields
      fields = []
    }
  }
  if (field.length > 0 || (state as State) === "inQuotedField") {
    saveField()
    yield fields
  }
}
