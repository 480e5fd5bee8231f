import { describe, expect, it } from "vitest"
import { renderTemplate, TemplateError } from "../src/index.js"

const attempt = (template: string, values: Record<string, unknown> = {}): string | TemplateError => {
  try {
    return renderTemplate(template, values)
  } catch (error) {
    if (error instanceof TemplateError) return error
    throw error
  }
}

describe("templates", () => {
  it("render Jinja syntax: variables, loops, filters, conditions", () => {
    expect(
      renderTemplate("Hi {{ name }}! {% for x in items %}{{ loop.index }}:{{ x | upper }} {% endfor %}", {
        name: "Ada",
        items: ["a", "b"],
      }),
    ).toBe("Hi Ada! 1:A 2:B ")
    expect(renderTemplate("{% if n > 2 %}big{% else %}small{% endif %}", { n: 3 })).toBe("big")
    expect(renderTemplate("{{ d['k'] }}/{{ d.k }}", { d: { k: "v" } })).toBe("v/v")
  })

  it("cannot reach the host: every escape payload renders nothing or fails cleanly, and Object.prototype is untouched", () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort()
    const payloads = [
      "{{ ''.constructor.constructor('return process')() }}",
      "{{ ''.constructor.constructor('return globalThis')().process.exit(1) }}",
      "{{ x.constructor.constructor('return process')().mainModule }}",
      "{{ x.__proto__ }}",
      "{{ x.__proto__.polluted }}",
      "{% set y = x.__proto__ %}{{ y }}",
      "{{ globalThis }}{{ process }}{{ require }}{{ Function }}",
      "{{ range.constructor('return process')() }}",
      "{{ (1).toString.constructor('return this')() }}",
      "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
      "{{ self.__init__.__globals__ }}",
      "{{ lipsum.__globals__['os'] }}",
    ]
    for (const payload of payloads) {
      const result = attempt(payload, { x: {} })
      if (typeof result === "string") {
        expect(result, payload).not.toMatch(/process|function|native code|\[object/i)
        expect(result.trim(), payload).toBe("")
      } else {
        expect(result, payload).toBeInstanceOf(TemplateError)
      }
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("a syntax error is a TemplateError with the reason, not a crash", () => {
    const result = attempt("{% for x in %}")
    expect(result).toBeInstanceOf(TemplateError)
    expect((result as TemplateError).message).toMatch(/^template error: /)
  })
})

describe("template values", () => {
  it("a value with a __proto__ key is data, not a prototype", () => {
    const values = JSON.parse('{"d": {"__proto__": {"polluted": "yes"}, "k": "v"}}') as Record<
      string,
      unknown
    >
    expect(renderTemplate("{{ d.k }}|{{ d.polluted }}", values)).toBe("v|")
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
