/**
 * The webhook signature scheme: `X-Weft-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
 * a 5-minute tolerance either side, several `v1` entries allowed, and the same bytes as the documented
 * `openssl dgst -sha256 -hmac` line.
 */
import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { newSecret, sign, verify } from "../src/triggers/webhooks/Signature.js"

const secret = "whsec_test-secret"
const body = new TextEncoder().encode('{"action":"opened","n":7}')
const t = 1_790_000_000

const check = (header: string | undefined, nowSeconds = t, bytes = body, key = secret) =>
  verify({ secret: key, header, body: bytes, nowSeconds })

const reasonOf = (result: ReturnType<typeof verify>) => (result.ok ? "ok" : result.error.reason)

describe("webhook signatures", () => {
  it("a signature made with the secret verifies, and names the delivery by its HMAC", () => {
    const header = sign(secret, t, body)
    expect(header).toMatch(/^t=1790000000,v1=[0-9a-f]{64}$/)
    const result = check(header)
    expect(result).toEqual({ ok: true, signature: header.slice(header.indexOf("v1=") + 3) })
  })

  it('matches openssl dgst -sha256 -hmac over "<t>.<body>"', () => {
    const digest = execFileSync("openssl", ["dgst", "-sha256", "-hmac", secret, "-r"], {
      input: Buffer.concat([Buffer.from(`${t}.`), body]),
    })
      .toString()
      .split(" ")[0]
    expect(sign(secret, t, body)).toBe(`t=${t},v1=${digest}`)
    expect(check(`t=${t},v1=${digest?.toUpperCase()}`).ok).toBe(true)
  })

  it("refuses a missing, malformed, wrong or tampered signature, each with its reason", () => {
    const good = sign(secret, t, body)
    expect(reasonOf(check(undefined))).toBe("missing")
    expect(reasonOf(check(" "))).toBe("missing")
    for (const header of [
      "sha256=abcdef",
      `v1=${good.split("v1=")[1]}`,
      `t=${t}`,
      `t=soon,v1=${good.split("v1=")[1]}`,
      `t=${t},v1=abc`,
      `t=${t},v1=${"g".repeat(64)}`,
    ]) {
      expect(reasonOf(check(header)), header).toBe("malformed")
    }
    expect(reasonOf(check(sign("whsec_other", t, body)))).toBe("mismatch")
    expect(reasonOf(check(good, t, new TextEncoder().encode('{"action":"closed","n":7}')))).toBe("mismatch")
    // The timestamp is signed too: moving it breaks the signature.
    expect(reasonOf(check(good.replace(`t=${t}`, `t=${t + 1}`)))).toBe("mismatch")
    const refused = check(undefined)
    expect(refused.ok ? "" : refused.error.message).toContain("X-Weft-Signature: t=<unix seconds>")
  })

  it("accepts a timestamp up to 300 s away from the clock, either side, and refuses beyond", () => {
    const header = sign(secret, t, body)
    expect(check(header, t + 300).ok).toBe(true)
    expect(check(header, t - 300).ok).toBe(true)
    expect(reasonOf(check(header, t + 301))).toBe("stale")
    expect(reasonOf(check(header, t - 301))).toBe("stale")
    const wider = verify({ secret, header, body, nowSeconds: t + 900, toleranceSeconds: 1000 })
    expect(wider.ok).toBe(true)
  })

  it("accepts any one matching v1 among several, and ignores unknown keys", () => {
    const good = sign(secret, t, body).split("v1=")[1]
    const wrong = sign("whsec_old", t, body).split("v1=")[1]
    expect(check(`t=${t},v1=${wrong},v1=${good}`).ok).toBe(true)
    expect(check(`t=${t}, v0=legacy, v1=${good}`).ok).toBe(true)
    expect(reasonOf(check(`t=${t},v1=${wrong}`))).toBe("mismatch")
  })

  it("new secrets are distinct, prefixed, 32 random bytes", () => {
    const secrets = new Set(Array.from({ length: 50 }, () => newSecret()))
    expect(secrets.size).toBe(50)
    for (const s of secrets) expect(Buffer.from(s.slice("whsec_".length), "base64url")).toHaveLength(32)
  })
})
