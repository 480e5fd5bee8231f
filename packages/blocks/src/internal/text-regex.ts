/**
 * Python `re` patterns on JavaScript's RegExp engine, for the AutoGPT text blocks
 * (`MatchTextPatternBlock`, `ExtractTextInformationBlock`), whose patterns are written for Python.
 *
 * A pattern is translated token by token into an equivalent JavaScript pattern (compiled with the `v`
 * flag) so that it matches what Python would match:
 *
 * - `(?P<name>…)` → `(?<name>…)`, `(?P=name)` → `\k<name>`, `(?#…)` comments dropped;
 * - leading inline flags `(?aimsux)` and scoped `(?ms-x:…)` groups (except scoped changes of case
 *   sensitivity, which JavaScript cannot express);
 * - verbose mode (`(?x)`): whitespace and `#` comments are dropped;
 * - `\A`, `\Z`, Python's `$` (end, or before a final newline), `^`/`$` in multiline mode (only `\n` ends a
 *   line), `.` (anything but `\n`, or anything under DOTALL);
 * - Unicode `\w`, `\W`, `\d`, `\D`, `\s`, `\S`, `\b`, `\B` as Python defines them for `str` patterns, or
 *   their ASCII forms under `(?a)`;
 * - `\x..`, `\u....`, `\U........`, octal escapes, escaped punctuation, `{,n}` repeats, and a `{` or `]`
 *   that does not start a repeat or a set is a literal.
 *
 * What cannot be translated is refused with a `PatternError` naming it: atomic groups `(?>…)`,
 * possessive quantifiers (`a*+`), conditionals `(?(1)…)`, `\N{…}`, the locale flag `(?L)`, scoped case
 * changes `(?i:…)`. Invalid patterns are refused with Python's wording where it has one.
 *
 * Runaway matching: JavaScript regular expressions cannot be interrupted, so a pattern that backtracks
 * catastrophically would block the process. Two guards keep that in check, as far as they can:
 * - patterns with nested unbounded quantifiers (star height 2, e.g. `(a+)+`, `(\w*\s?)*`), the classic
 *   cause of exponential backtracking, are refused (a repeat of more than `LARGE_REPEAT` counts as
 *   unbounded);
 * - the blocks search at most `MAX_REGEX_TEXT` characters of a text.
 * Overlapping alternatives under a repeat (`(a|a)*`) and polynomial patterns are not detected.
 *
 * @since 0.1.0
 */
import { BlockError } from "@weft/engine"

/** A pattern that cannot be used: invalid in Python, or a Python feature JavaScript cannot express. */
export class PatternError extends Error {
  override readonly name = "PatternError"
}

/** The flags a block passes, as Python's `re.IGNORECASE`, `re.DOTALL` and `re.MULTILINE`. */
export interface PythonFlags {
  readonly ignoreCase?: boolean
  readonly dotAll?: boolean
  readonly multiline?: boolean
}

/** The most characters of a text the regex blocks search (AutoGPT truncates at the same length). */
export const MAX_REGEX_TEXT = 1_000_000

/** A repeat allowing more than this many repetitions counts as unbounded for the nesting check. */
export const LARGE_REPEAT = 100

/** A compiled pattern: a global JavaScript RegExp and the number of capturing groups. */
export interface CompiledPattern {
  readonly regex: RegExp
  readonly groups: number
}

interface Flags {
  readonly a: boolean
  readonly i: boolean
  readonly m: boolean
  readonly s: boolean
  readonly x: boolean
}

interface Frame {
  readonly saved: Flags
  readonly start: number
  hasUnbounded: boolean
}

/** What came last, for quantifier checks: nothing, an anchor, an atom, a group, or a quantifier. */
type Last =
  | { readonly kind: "none" | "anchor" | "atom" | "quantified" }
  | { readonly kind: "group"; readonly nested: boolean }

type ClassItem =
  | { readonly kind: "char"; readonly code: number }
  | { readonly kind: "set"; readonly js: string; readonly name: string }

const hex = (code: number): string => `\\u{${code.toString(16)}}`

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9"
const isOctal = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "7"
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c)
const isAsciiLetter = (c: string): boolean => /^[A-Za-z]$/.test(c)
const isWordLiteral = (c: string): boolean => /^[A-Za-z0-9_]$/.test(c)

/** Python's `str.isspace()` characters. */
const SPACE_CHARS =
  "\\t\\n\\v\\f\\r \\u{1c}-\\u{1f}\\u{85}\\u{a0}\\u{1680}\\u{2000}-\\u{200a}\\u{2028}\\u{2029}\\u{202f}\\u{205f}\\u{3000}"

const word = (ascii: boolean): string => (ascii ? "A-Za-z0-9_" : "\\p{L}\\p{N}_")

const setEscape = (letter: string, ascii: boolean): string | undefined => {
  switch (letter) {
    case "d":
      return ascii ? "[0-9]" : "\\p{Nd}"
    case "D":
      return ascii ? "[^0-9]" : "\\P{Nd}"
    case "s":
      return ascii ? "[\\t\\n\\v\\f\\r ]" : `[${SPACE_CHARS}]`
    case "S":
      return ascii ? "[^\\t\\n\\v\\f\\r ]" : `[^${SPACE_CHARS}]`
    case "w":
      return `[${word(ascii)}]`
    case "W":
      return `[^${word(ascii)}]`
    default:
      return undefined
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 }

class Translator {
  private pos = 0
  private readonly out: Array<string> = []
  private flags: Flags
  private readonly root: Frame
  private readonly frames: Array<Frame> = []
  private last: Last = { kind: "none" }
  private groups = 0
  private atStart = true

  constructor(
    private readonly src: string,
    options: PythonFlags,
  ) {
    this.flags = {
      a: false,
      i: options.ignoreCase === true,
      m: options.multiline === true,
      s: options.dotAll === true,
      x: false,
    }
    this.root = { saved: this.flags, start: 0, hasUnbounded: false }
  }

  private fail(message: string, at = this.pos): never {
    throw new PatternError(`${message} at position ${at}`)
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset]
  }

  /** The next whole code point, or `undefined` at the end. */
  private nextChar(): string | undefined {
    const code = this.src.codePointAt(this.pos)
    if (code === undefined) return undefined
    const ch = String.fromCodePoint(code)
    this.pos += ch.length
    return ch
  }

  private emit(text: string, last: Last): void {
    this.out.push(text)
    this.last = last
    this.atStart = false
  }

  translate(): CompiledPattern {
    while (this.pos < this.src.length) this.token()
    const open = this.frames[this.frames.length - 1]
    if (open !== undefined) this.fail("missing ), unterminated subpattern", open.start)
    const flags = `gv${this.flags.i ? "i" : ""}`
    const source = this.out.join("")
    try {
      return { regex: new RegExp(source, flags), groups: this.groups }
    } catch (error) {
      const reason = error instanceof Error ? (error.message.split(": ").pop() ?? error.message) : "invalid"
      throw new PatternError(reason)
    }
  }

  private get frame(): Frame {
    return this.frames[this.frames.length - 1] ?? this.root
  }

  private skipVerbose(): boolean {
    if (!this.flags.x) return false
    const c = this.peek()
    if (c !== undefined && /\s/.test(c)) {
      this.pos++
      return true
    }
    if (c === "#") {
      const end = this.src.indexOf("\n", this.pos)
      this.pos = end === -1 ? this.src.length : end + 1
      return true
    }
    return false
  }

  private token(): void {
    if (this.skipVerbose()) return
    const start = this.pos
    const c = this.nextChar()
    if (c === undefined) return
    switch (c) {
      case "\\":
        this.escapeOutside(start)
        return
      case "[":
        this.emit(this.characterClass(start), { kind: "atom" })
        return
      case "(":
        this.openGroup(start)
        return
      case ")":
        this.closeGroup(start)
        return
      case "|":
        this.emit("|", { kind: "none" })
        return
      case ".":
        this.emit(this.flags.s ? "[\\s\\S]" : "[^\\n]", { kind: "atom" })
        return
      case "^":
        this.emit(this.flags.m ? "(?<![^\\n])" : "(?<![\\s\\S])", { kind: "anchor" })
        return
      case "$":
        this.emit(this.flags.m ? "(?![^\\n])" : "(?=\\n?(?![\\s\\S]))", { kind: "anchor" })
        return
      case "*":
      case "+":
      case "?":
        this.quantifier(c, c !== "?", start)
        return
      case "{": {
        const repeat = this.braces()
        if (repeat === undefined) {
          this.emit(hex(0x7b), { kind: "atom" })
          return
        }
        this.quantifier(repeat.text, repeat.unbounded, start)
        return
      }
      default:
        this.emit(this.literal(c), { kind: "atom" })
        return
    }
  }

  private literal(c: string): string {
    return isWordLiteral(c) ? c : hex(c.codePointAt(0) ?? 0)
  }

  /** Parses `{m}`, `{m,}`, `{,n}`, `{m,n}` after a `{`; `undefined` (position restored) when it is a literal. */
  private braces(): { readonly text: string; readonly unbounded: boolean } | undefined {
    const here = this.pos
    if (this.peek() === "}") return undefined
    let lo = ""
    let hi = ""
    while (isDigit(this.peek())) lo += this.src[this.pos++]
    const comma = this.peek() === ","
    if (comma) {
      this.pos++
      while (isDigit(this.peek())) hi += this.src[this.pos++]
    } else hi = lo
    if (this.peek() !== "}") {
      this.pos = here
      return undefined
    }
    this.pos++
    const min = lo === "" ? 0 : Number(lo)
    const max = hi === "" ? Number.POSITIVE_INFINITY : Number(hi)
    if (max < min) this.fail("min repeat greater than max repeat", here)
    const text = !comma ? `{${min}}` : hi === "" ? `{${min},}` : `{${min},${max}}`
    return { text, unbounded: max > LARGE_REPEAT }
  }

  private quantifier(text: string, unbounded: boolean, start: number): void {
    const last = this.last
    if (last.kind === "none" || last.kind === "anchor") this.fail("nothing to repeat", start)
    if (last.kind === "quantified") this.fail("multiple repeat", start)
    let out = text
    if (this.peek() === "?") {
      this.pos++
      out += "?"
    } else if (this.peek() === "+") {
      this.fail("possessive quantifiers (like a*+) are not supported")
    }
    if (unbounded) {
      if (last.kind === "group" && last.nested) {
        this.fail(
          "nested unbounded quantifiers (like (a+)+) can take exponential time and are refused; rewrite the pattern",
          start,
        )
      }
      this.frame.hasUnbounded = true
    }
    this.emit(out, { kind: "quantified" })
  }

  private openGroup(start: number): void {
    if (this.peek() !== "?") {
      this.groups++
      this.pushGroup("(", this.flags, start)
      return
    }
    this.pos++
    const c = this.peek()
    if (c === "#") {
      const end = this.src.indexOf(")", this.pos)
      if (end === -1) this.fail("missing ), unterminated comment", start)
      this.pos = end + 1
      return
    }
    if (c === ":" || c === "=" || c === "!") {
      this.pos++
      this.pushGroup(`(?${c}`, this.flags, start)
      return
    }
    if (c === "<") {
      this.pos++
      const kind = this.peek()
      if (kind === "=" || kind === "!") {
        this.pos++
        this.pushGroup(`(?<${kind}`, this.flags, start)
        return
      }
      this.namedGroup(start)
      return
    }
    if (c === "P") {
      this.pos++
      const kind = this.peek()
      this.pos++
      if (kind === "<") {
        this.namedGroup(start)
        return
      }
      if (kind === "=") {
        const name = this.groupName(")")
        this.emit(`\\k<${name}>`, { kind: "atom" })
        return
      }
      this.fail(`unknown extension ?P${kind ?? ""}`, start)
    }
    if (c === ">") this.fail("atomic groups (?>...) are not supported", start)
    if (c === "(") this.fail("conditional groups (?(...)...) are not supported", start)
    if (c !== undefined && /[aiLmsux-]/.test(c)) {
      this.flagGroup(start)
      return
    }
    this.fail(`unknown extension ?${c ?? ""}`, start)
  }

  /** A named capturing group, after `(?P<` or `(?<`. */
  private namedGroup(start: number): void {
    const name = this.groupName(">")
    this.groups++
    this.pushGroup(`(?<${name}>`, this.flags, start)
  }

  private groupName(terminator: string): string {
    const end = this.src.indexOf(terminator, this.pos)
    if (end === -1) this.fail("missing group name terminator")
    const name = this.src.slice(this.pos, end)
    if (!/^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u.test(name)) {
      this.fail(`bad character in group name ${JSON.stringify(name)}`)
    }
    this.pos = end + 1
    return name
  }

  private flagGroup(start: number): void {
    let on = ""
    let off = ""
    while (this.peek() !== undefined && /[aiLmsux]/.test(this.peek() ?? "")) on += this.src[this.pos++]
    if (this.peek() === "-") {
      this.pos++
      while (this.peek() !== undefined && /[imsx]/.test(this.peek() ?? "")) off += this.src[this.pos++]
      if (off === "") this.fail("missing flag", this.pos)
    }
    const end = this.peek()
    this.pos++
    if (on.includes("L")) this.fail("the locale flag (?L) is not supported for text patterns", start)
    const next = (base: Flags): Flags => ({
      a: on.includes("a") ? true : on.includes("u") ? false : base.a,
      i: on.includes("i") ? true : off.includes("i") ? false : base.i,
      m: on.includes("m") ? true : off.includes("m") ? false : base.m,
      s: on.includes("s") ? true : off.includes("s") ? false : base.s,
      x: on.includes("x") ? true : off.includes("x") ? false : base.x,
    })
    if (end === ")") {
      if (off !== "") this.fail("missing :", start)
      if (!this.atStart) this.fail("global flags not at the start of the expression", start)
      this.flags = next(this.flags)
      return
    }
    if (end !== ":") this.fail("missing -, : or )", start)
    const flags = next(this.flags)
    if (flags.i !== this.flags.i) {
      this.fail("changing case sensitivity inside a pattern ((?i:...) or (?-i:...)) is not supported", start)
    }
    this.pushGroup("(?:", flags, start)
  }

  private pushGroup(open: string, flags: Flags, start: number): void {
    this.frames.push({ saved: this.flags, start, hasUnbounded: false })
    this.flags = flags
    this.emit(open, { kind: "none" })
  }

  private closeGroup(start: number): void {
    const frame = this.frames.pop()
    if (frame === undefined) this.fail("unbalanced parenthesis", start)
    this.flags = frame.saved
    if (frame.hasUnbounded) this.frame.hasUnbounded = true
    this.emit(")", { kind: "group", nested: frame.hasUnbounded })
  }

  private escapeOutside(start: number): void {
    const c = this.nextChar()
    if (c === undefined) this.fail("bad escape (end of pattern)", start)
    const ascii = this.flags.a
    const set = setEscape(c, ascii)
    if (set !== undefined) {
      this.emit(set, { kind: "atom" })
      return
    }
    const w = `[${word(ascii)}]`
    switch (c) {
      case "b":
        this.emit(`(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`, { kind: "anchor" })
        return
      case "B":
        this.emit(`(?:(?<=${w})(?=${w})|(?<!${w})(?!${w}))`, { kind: "anchor" })
        return
      case "A":
        this.emit("(?<![\\s\\S])", { kind: "anchor" })
        return
      case "Z":
        this.emit("(?![\\s\\S])", { kind: "anchor" })
        return
    }
    if (isDigit(c)) {
      if (c === "0" || (isOctal(c) && isOctal(this.peek()) && isOctal(this.peek(1)))) {
        this.emit(hex(this.octal(c, start)), { kind: "atom" })
        return
      }
      let digits = c
      if (isDigit(this.peek())) digits += this.src[this.pos++]
      const group = Number(digits)
      if (group > this.groups) this.fail("invalid group reference", start)
      this.emit(`\\${group}(?:)`, { kind: "atom" })
      return
    }
    const code = this.escapedCode(c, start)
    this.emit(hex(code), { kind: "atom" })
  }

  /** An octal escape whose first digit is `first`: up to three digits in all, at most `\377`. */
  private octal(first: string, start: number): number {
    let digits = first
    while (digits.length < 3 && isOctal(this.peek())) digits += this.src[this.pos++]
    const code = Number.parseInt(digits, 8)
    if (code > 0o377) this.fail(`octal escape value \\${digits} outside of range 0-0o377`, start)
    return code
  }

  /** The character an escape stands for (`\n`, `\x41`, `\U0001F600`, `\.`…); refuses unknown letters. */
  private escapedCode(c: string, start: number): number {
    const simple = SIMPLE_ESCAPES[c]
    if (simple !== undefined) return simple
    if (c === "x" || c === "u" || c === "U") {
      const length = c === "x" ? 2 : c === "u" ? 4 : 8
      const digits = this.src.slice(this.pos, this.pos + length)
      if (digits.length !== length || ![...digits].every(isHex)) {
        this.fail(`incomplete escape \\${c}${digits}`, start)
      }
      this.pos += length
      const code = Number.parseInt(digits, 16)
      if (code > 0x10ffff) this.fail(`bad escape \\${c}${digits}`, start)
      return code
    }
    if (c === "N") this.fail("named character escapes (\\N{...}) are not supported", start)
    if (isAsciiLetter(c)) this.fail(`bad escape \\${c}`, start)
    return c.codePointAt(0) ?? 0
  }

  /** Translates a character set after its `[`. */
  private characterClass(start: number): string {
    let negate = false
    if (this.peek() === "^") {
      negate = true
      this.pos++
    }
    const items: Array<string> = []
    let first = true
    for (;;) {
      const c = this.peek()
      if (c === undefined) this.fail("unterminated character set", start)
      if (c === "]" && !first) {
        this.pos++
        break
      }
      first = false
      const itemStart = this.pos
      const item = this.classItem(start)
      if (this.peek() === "-" && this.peek(1) !== "]" && this.peek(1) !== undefined) {
        this.pos++
        const end = this.classItem(start)
        if (item.kind !== "char" || end.kind !== "char" || end.code < item.code) {
          this.fail(`bad character range ${this.src.slice(itemStart, this.pos)}`, itemStart)
        }
        items.push(`${hex(item.code)}-${hex(end.code)}`)
      } else {
        items.push(item.kind === "char" ? hex(item.code) : item.js)
      }
    }
    return `[${negate ? "^" : ""}${items.join("")}]`
  }

  private classItem(start: number): ClassItem {
    const c = this.nextChar()
    if (c === undefined) this.fail("unterminated character set", start)
    if (c !== "\\") return { kind: "char", code: c.codePointAt(0) ?? 0 }
    const escapeStart = this.pos - 1
    const e = this.nextChar()
    if (e === undefined) this.fail("unterminated character set", start)
    const set = setEscape(e, this.flags.a)
    if (set !== undefined) return { kind: "set", js: set, name: `\\${e}` }
    if (e === "b") return { kind: "char", code: 8 }
    if (isDigit(e)) {
      if (!isOctal(e)) this.fail(`bad escape \\${e}`, escapeStart)
      return { kind: "char", code: this.octal(e, escapeStart) }
    }
    return { kind: "char", code: this.escapedCode(e, escapeStart) }
  }
}

/**
 * Translates a Python `re` pattern and compiles it to a global JavaScript RegExp that matches the same
 * text. Throws `PatternError` for an invalid pattern, an untranslatable feature, or a pattern refused as
 * a runaway risk.
 *
 * @example
 * ```ts
 * const { regex } = compilePythonPattern("(?P<year>\\d{4})-(?P<month>\\d\\d)", {})
 * "on 2024-05-01".match(regex) // ["2024-05"]
 * ```
 */
export const compilePythonPattern = (pattern: string, flags: PythonFlags): CompiledPattern =>
  new Translator(pattern, flags).translate()

/** At most `MAX_REGEX_TEXT` characters of `text`, never cutting a surrogate pair in half. */
export const capText = (text: string): string => {
  if (text.length <= MAX_REGEX_TEXT) return text
  const cut = text.slice(0, MAX_REGEX_TEXT)
  const lastCode = cut.charCodeAt(cut.length - 1)
  return lastCode >= 0xd800 && lastCode <= 0xdbff ? cut.slice(0, -1) : cut
}

/**
 * `compilePythonPattern` for a block: a pattern that cannot be used fails the execution with
 * `invalid pattern: <reason>`, never retried.
 */
export const compileBlockPattern = (pattern: string, flags: PythonFlags): CompiledPattern => {
  try {
    return compilePythonPattern(pattern, flags)
  } catch (error) {
    if (!(error instanceof PatternError)) throw error
    throw new BlockError({ message: `invalid pattern: ${error.message}`, retryable: false })
  }
}
