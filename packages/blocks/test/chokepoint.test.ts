/**
 * Reliability item 11: one chokepoint for outbound requests. Outside `src/http/` (the safe client), no
 * source file of `@weft/blocks` may import a network module or use the platform's own HTTP clients.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, relative, sep } from "node:path"
import { describe, expect, it } from "vitest"

const srcDir = join(import.meta.dirname, "..", "src")
const chokepoint = join(srcDir, "http")

/** Modules that open sockets or make requests. `node:` prefixes and sub-paths count too. */
const FORBIDDEN_MODULES = [
  "http",
  "https",
  "http2",
  "net",
  "tls",
  "dgram",
  "undici",
  "node-fetch",
  "axios",
  "got",
  "ws",
]

const forbiddenModule = (specifier: string): boolean => {
  const name = specifier.startsWith("node:") ? specifier.slice(5) : specifier
  return FORBIDDEN_MODULES.some((module) => name === module || name.startsWith(`${module}/`))
}

/** Characters after which a `/` starts a regular expression rather than a division. */
const REGEX_BEFORE = new Set("([{,;:=!&|?+-*%<>~^".split(""))
const REGEX_KEYWORDS = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/

/**
 * Splits source text into two views of the same length: `code` with comments blanked (strings kept, for
 * import specifiers) and `bare` with comments and the contents of strings, templates and regular
 * expressions blanked (for identifiers).
 */
export const lex = (source: string): { readonly code: string; readonly bare: string } => {
  const code: Array<string> = []
  const bare: Array<string> = []
  const blank = (c: string) => (c === "\n" ? "\n" : " ")
  const keep = (c: string) => {
    code.push(c)
    bare.push(c)
  }
  const stringChar = (c: string) => {
    code.push(c)
    bare.push(blank(c))
  }
  const comment = (c: string) => {
    code.push(blank(c))
    bare.push(blank(c))
  }
  /** Template nesting: for each open `${`, the brace depth inside it. */
  const templates: Array<number> = []
  let i = 0
  /** The last few characters of code before the current position, trailing white space skipped. */
  const previousSignificant = (): string => {
    let end = bare.length
    while (end > 0 && /\s/.test(bare[end - 1] ?? "")) end--
    return bare.slice(Math.max(0, end - 12), end).join("")
  }
  const inTemplate = (): void => {
    // called with source[i] just after the opening backtick or a closing `}` of `${…}`
    while (i < source.length) {
      const c = source[i] as string
      if (c === "\\") {
        stringChar(c)
        if (i + 1 < source.length) stringChar(source[i + 1] as string)
        i += 2
        continue
      }
      if (c === "`") {
        keep(c)
        i++
        return
      }
      if (c === "$" && source[i + 1] === "{") {
        keep("$")
        keep("{")
        i += 2
        templates.push(0)
        return
      }
      stringChar(c)
      i++
    }
  }
  while (i < source.length) {
    const c = source[i] as string
    const next = source[i + 1]
    if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") comment(source[i++] as string)
      continue
    }
    if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2)
      const stop = end < 0 ? source.length : end + 2
      while (i < stop) comment(source[i++] as string)
      continue
    }
    if (c === '"' || c === "'") {
      keep(c)
      i++
      while (i < source.length && source[i] !== c && source[i] !== "\n") {
        if (source[i] === "\\") stringChar(source[i++] as string)
        if (i < source.length) stringChar(source[i++] as string)
      }
      if (i < source.length) keep(source[i++] as string)
      continue
    }
    if (c === "`") {
      keep(c)
      i++
      inTemplate()
      continue
    }
    if (c === "{" && templates.length > 0) {
      templates[templates.length - 1] = (templates.at(-1) ?? 0) + 1
      keep(c)
      i++
      continue
    }
    if (c === "}" && templates.length > 0) {
      const depth = templates.at(-1) ?? 0
      keep(c)
      i++
      if (depth === 0) {
        templates.pop()
        inTemplate()
      } else {
        templates[templates.length - 1] = depth - 1
      }
      continue
    }
    if (c === "/") {
      const before = previousSignificant()
      const last = before.at(-1)
      if (last === undefined || REGEX_BEFORE.has(last) || REGEX_KEYWORDS.test(before)) {
        keep(c)
        i++
        let inClass = false
        while (i < source.length && source[i] !== "\n") {
          const r = source[i] as string
          if (r === "\\") {
            stringChar(r)
            i++
            if (i < source.length) stringChar(source[i++] as string)
            continue
          }
          if (r === "[") inClass = true
          else if (r === "]") inClass = false
          else if (r === "/" && !inClass) break
          stringChar(r)
          i++
        }
        if (i < source.length && source[i] === "/") keep(source[i++] as string)
        continue
      }
    }
    keep(c)
    i++
  }
  return { code: code.join(""), bare: bare.join("") }
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split("\n").length

/**
 * Every use of the network outside the safe client in one file's source: imports, requires and dynamic
 * imports of network modules, and the global `fetch`, `XMLHttpRequest`, `WebSocket` and `EventSource`.
 */
export const scan = (source: string): Array<string> => {
  const { code, bare } = lex(source)
  const findings: Array<string> = []
  const specifiers = [
    /\bfrom\s*(["'])([^"'\n]+)\1/g,
    /\bimport\s*(["'])([^"'\n]+)\1/g,
    /\bimport\s*\(\s*(["'])([^"'\n]+)\1/g,
    /\brequire\s*\(\s*(["'])([^"'\n]+)\1/g,
  ]
  for (const pattern of specifiers) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2] ?? ""
      if (forbiddenModule(specifier)) findings.push(`line ${lineOf(code, match.index)}: imports ${specifier}`)
    }
  }
  for (const match of bare.matchAll(/(?<![\w$.])fetch\s*\(/g)) {
    // `fetch(…) {` or `fetch(…): T {` declares a method or function named fetch: not a use of the global.
    let depth = 0
    let j = match.index + match[0].length - 1
    for (; j < bare.length; j++) {
      if (bare[j] === "(") depth++
      else if (bare[j] === ")" && --depth === 0) break
    }
    const after = bare.slice(j + 1).trimStart()
    const declared = /^(\{|:)/.test(after) || /\bfunction\s*\*?\s*$/.test(bare.slice(0, match.index))
    if (!declared) findings.push(`line ${lineOf(bare, match.index)}: calls the global fetch`)
  }
  for (const match of bare.matchAll(/\b(?:globalThis|window|self)\s*\.\s*fetch\b/g)) {
    findings.push(`line ${lineOf(bare, match.index)}: uses the global fetch`)
  }
  for (const match of code.matchAll(/\b(?:globalThis|window|self)\s*\[\s*(["'`])fetch\1\s*\]/g)) {
    findings.push(`line ${lineOf(code, match.index)}: uses the global fetch`)
  }
  for (const match of bare.matchAll(/(?<![\w$.])(XMLHttpRequest|WebSocket|EventSource)\b/g)) {
    findings.push(`line ${lineOf(bare, match.index)}: uses ${match[1]}`)
  }
  return findings
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return /\.(c|m)?(t|j)sx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : []
  })

describe("the scanner", () => {
  it.each([
    ['import * as http from "node:http"', "imports node:http"],
    ["import https from 'https'", "imports https"],
    ['import { connect } from "node:net"', "imports node:net"],
    ['import { connect } from "node:tls"', "imports node:tls"],
    ['import dgram from "node:dgram"', "imports node:dgram"],
    ['import { request } from "undici"', "imports undici"],
    ['import { Agent } from "undici/types/agent"', "imports undici/types/agent"],
    ['export { request } from "node:http"', "imports node:http"],
    ['import "node:http2"', "imports node:http2"],
    ['const h = await import("node:https")', "imports node:https"],
    ['const net = require("net")', "imports net"],
    ["const r = await fetch(url)", "calls the global fetch"],
    ["return fetch (url, { method: 'POST' })", "calls the global fetch"],
    ["const f = globalThis.fetch", "uses the global fetch"],
    ["const f = window['fetch']", "uses the global fetch"],
    ["const x = new XMLHttpRequest()", "uses XMLHttpRequest"],
    ['const ws = new WebSocket("wss://x")', "uses WebSocket"],
    ["const re = /a/; const r = fetch(u)", "calls the global fetch"],
    [`const t = \`\${await fetch(u)}\``, "calls the global fetch"],
  ])("flags %s", (source, finding) => {
    expect(scan(source)).toEqual([`line 1: ${finding}`])
  })

  it.each([
    ['import { Schema } from "effect"', "another module"],
    ['import { httpClientFor } from "../../http/index.js"', "the safe client"],
    ["const r = await client.fetch(url)", "a method of an object"],
    ["const r = await prefetch(url)", "another function"],
    ["const o = { async fetch(url: string): Promise<void> {} }", "a method named fetch"],
    ["function fetch(url) { return url }", "a function declaration"],
    ["// fetch(url) would be wrong here", "a comment"],
    ["/* import * as http from 'node:http' */", "a block comment"],
    ['const s = "we never call fetch(url) or new WebSocket()"', "a string"],
    [`const t = \`fetch(\${1}) XMLHttpRequest\``, "template text"],
    ["const re = /fetch\\(/g", "a regular expression"],
    ['const re = /["\']/g; const x = "fetch("', "a regular expression with quotes"],
    ["const a = b / c; const d = e / f", "divisions"],
    ['const m = "http"', "a string that names a module"],
  ])("does not flag %s (%s)", (source) => {
    expect(scan(source)).toEqual([])
  })

  it("reports the line of each finding", () => {
    expect(scan('import { Schema } from "effect"\n\nconst r = fetch(u)\n')).toEqual([
      "line 3: calls the global fetch",
    ])
  })

  it("would flag the safe client itself, which is the one place allowed to use node:http", () => {
    const findings = scan(readFileSync(join(chokepoint, "SafeHttpClient.ts"), "utf8"))
    const imports = findings.map((finding) => finding.replace(/^line \d+: /, ""))
    expect(imports).toEqual(
      expect.arrayContaining(["imports node:http", "imports node:https", "imports node:net"]),
    )
  })
})

describe("one chokepoint for outbound HTTP", () => {
  const files = sourceFiles(srcDir).filter((file) => !file.startsWith(chokepoint + sep))

  it("scans the whole source tree except src/http", () => {
    const names = files.map((file) => relative(srcDir, file).split(sep).join("/"))
    expect(names).toContain("index.ts")
    expect(names).toContain("blocks/http/SendWebRequest.ts")
    expect(names.some((name) => name.startsWith("http/"))).toBe(false)
  })

  it("no source file outside src/http imports a network module or uses fetch, XMLHttpRequest or WebSocket", () => {
    const offenders: Array<string> = []
    for (const file of files) {
      for (const finding of scan(readFileSync(file, "utf8"))) {
        offenders.push(`${relative(srcDir, file)} ${finding}`)
      }
    }
    expect(offenders).toEqual([])
  })
})
