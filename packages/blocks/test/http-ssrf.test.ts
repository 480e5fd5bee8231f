/**
 * Reliability items 8 and 9: the SSRF address matrix is refused with a loopback listener receiving 0
 * connections, the allow-list opens chosen hosts, and DNS rebinding cannot move a connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { pinnedLookup } from "../src/http/SafeHttpClient.js"
import { type ConnectionInfo, HttpRefused, type Resolver } from "../src/index.js"
import { type Listener, listen, loopbackOnly, reply, testClient } from "./http-listener.js"

/** A resolver with a fixed table that counts its calls; unknown names fail like NXDOMAIN. */
const resolver = (table: Readonly<Record<string, string | ReadonlyArray<string>>>) => {
  const calls: Array<string> = []
  const lookup: Resolver = async (hostname) => {
    calls.push(hostname)
    const entry = table[hostname]
    if (entry === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" })
    return (typeof entry === "string" ? [entry] : entry).map((address) => ({
      address,
      family: address.includes(":") ? 6 : 4,
    }))
  }
  return { lookup, calls }
}

const refusal = async (promise: Promise<unknown>): Promise<HttpRefused> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(HttpRefused)
  return error as HttpRefused
}

let server: Listener

beforeAll(async () => {
  server = await listen(reply(200, "reached", { "content-type": "text/plain" }))
})
afterAll(() => server.close())

/** Names that a hostile resolver maps to private addresses. */
const NAMES: Readonly<Record<string, string | ReadonlyArray<string>>> = {
  "evil.test": "127.0.0.1",
  "loop2.test": "127.8.9.10",
  "zero.test": "0.0.0.0",
  "meta.test": "169.254.169.254",
  "private10.test": "10.0.0.5",
  "private172.test": "172.20.1.1",
  "private192.test": "192.168.1.1",
  "cgnat.test": "100.64.1.1",
  "bench.test": "198.18.0.1",
  "multicast.test": "224.0.0.251",
  "reserved.test": "240.0.0.1",
  "broadcast.test": "255.255.255.255",
  "v6loop.test": "::1",
  "v6any.test": "::",
  "v6link.test": "fe80::1",
  "v6ula.test": "fd00::1",
  "v6multi.test": "ff02::1",
  "mapped.test": "::ffff:127.0.0.1",
  "mappedhex.test": "::ffff:7f00:1",
  "mappedmeta.test": "::ffff:169.254.169.254",
  "compat.test": "::127.0.0.1",
  "nat64.test": "64:ff9b::7f00:1",
  "sixtofour.test": "2002:7f00:1::1",
  "teredo.test": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
  // A public address first and a private one second: every answer is checked, not only the first.
  "mixed.test": ["93.184.216.34", "127.0.0.1"],
  "mixed6.test": ["2606:4700:4700::1111", "::1"],
}

describe("the SSRF matrix is refused and the listener sees 0 connections", () => {
  const literals = [
    // loopback and wildcard IPv4, in every spelling
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0",
    // IPv4 ranges
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.255.255",
    "100.64.0.1",
    "100.127.255.255",
    "169.254.169.254",
    "169.254.0.1",
    "0xa9fea9fe",
    "192.0.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    // IPv6
    "[::1]",
    "[::]",
    "[0:0:0:0:0:0:0:1]",
    "[fe80::1]",
    "[febf::1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[ff02::1]",
    "[ff05::1:3]",
    // IPv4 mapped and embedded in IPv6
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:10.0.0.1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b:1::1]",
    "[2002:7f00:1::1]",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "[2001:db8::1]",
  ]

  it.each(literals)("address %s", async (host) => {
    const dns = resolver({})
    const client = testClient({ lookup: dns.lookup })
    const before = server.connections
    const error = await refusal(client.request({ url: `http://${host}:${server.port}/` }))
    expect(error.message).toMatch(/^Refused to request http:\/\/.+ is .+; it is not on the allow-list$/)
    expect(dns.calls).toEqual([]) // an address is never sent to a resolver
    expect(server.connections).toBe(before)
  })

  it.each(["localhost", "LOCALHOST", "localhost.", "api.localhost"])(
    "name %s (always this machine)",
    async (host) => {
      const dns = resolver({ localhost: "127.0.0.1" })
      const client = testClient({ lookup: dns.lookup })
      const error = await refusal(client.request({ url: `http://${host}:${server.port}/` }))
      expect(error.reason).toContain("loopback")
      expect(dns.calls).toEqual([])
      expect(server.connections).toBe(0)
    },
  )

  it.each(Object.keys(NAMES))("name %s resolving to a blocked address", async (host) => {
    const dns = resolver(NAMES)
    const client = testClient({ lookup: dns.lookup })
    const error = await refusal(client.request({ url: `http://${host}:${server.port}/` }))
    expect(error.reason).toMatch(new RegExp(`^${host.replace(".", "\\.")} resolves to `))
    expect(dns.calls).toEqual([host])
    expect(server.connections).toBe(0)
  })

  it.each([
    ["file:///etc/passwd", "file:"],
    ["gopher://127.0.0.1:PORT/_GET%20/", "gopher:"],
    ["data:text/plain,hello", "data:"],
    ["ftp://127.0.0.1:PORT/", "ftp:"],
    ["ws://127.0.0.1:PORT/", "ws:"],
    ["javascript:alert(1)", "javascript:"],
  ])("scheme of %s", async (url, scheme) => {
    const client = testClient({ allow: ["127.0.0.1"] }) // even an allow-listed host needs http(s)
    const error = await refusal(client.request({ url: url.replace("PORT", String(server.port)) }))
    expect(error.reason).toBe(`the scheme ${scheme} is not allowed (only http: and https:)`)
    expect(server.connections).toBe(0)
  })

  it("an invalid URL", async () => {
    const error = await refusal(testClient().request({ url: "not a url" }))
    expect(error.reason).toBe("not a valid absolute URL")
  })

  it("user name and password never appear in the message", async () => {
    const error = await refusal(testClient().request({ url: "http://admin:hunter2@127.0.0.1/" }))
    expect(error.message).not.toContain("hunter2")
    expect(error.url).toBe("http://127.0.0.1/")
  })

  it("the listener was never reached by any of the above", () => {
    expect(server.connections).toBe(0)
    expect(server.requests).toEqual([])
  })
})

describe("the allow-list opens chosen private hosts", () => {
  it("an allow-listed address is reached, in any spelling", async () => {
    const client = testClient({ allow: ["127.0.0.1"] })
    const before = server.connections
    const response = await client.request({ url: `http://127.1:${server.port}/hello?x=1` })
    expect(response.status).toBe(200)
    expect(response.text()).toBe("reached")
    expect(server.connections).toBe(before + 1)
    expect(server.requests.at(-1)?.url).toBe("/hello?x=1")
  })

  it("a CIDR range opens its addresses and nothing else", async () => {
    const client = testClient({ allow: ["127.0.0.0/8"] })
    expect((await client.request({ url: `http://127.0.0.1:${server.port}/` })).status).toBe(200)
    const other = testClient({ allow: ["10.0.0.0/8", "fc00::/7"] })
    const before = server.connections
    await refusal(other.request({ url: `http://127.0.0.1:${server.port}/` }))
    expect(server.connections).toBe(before)
  })

  it("an allow-listed host name may resolve to a private address; other names may not", async () => {
    const dns = resolver({
      "internal.test": "127.0.0.1",
      "other.test": "127.0.0.1",
      "a.corp.test": "127.0.0.1",
    })
    const client = testClient({ allow: ["internal.test", "*.corp.test"], lookup: dns.lookup })
    expect((await client.request({ url: `http://internal.test:${server.port}/` })).status).toBe(200)
    expect((await client.request({ url: `http://a.corp.test:${server.port}/` })).status).toBe(200)
    const before = server.connections
    await refusal(client.request({ url: `http://other.test:${server.port}/` }))
    await refusal(client.request({ url: `http://127.0.0.1:${server.port}/` }))
    expect(server.connections).toBe(before)
  })

  it("a host's beforeConnect hook can refuse a connection the checks let through", async () => {
    const client = testClient({
      allow: ["127.0.0.1"],
      beforeConnect: () => {
        throw new Error("audit: outbound requests are disabled")
      },
    })
    const before = server.connections
    const error = await refusal(client.request({ url: server.url("/") }))
    expect(error.reason).toBe("audit: outbound requests are disabled")
    expect(server.connections).toBe(before)
  })

  it("an invalid allow-list entry is an error at construction", () => {
    expect(() => testClient({ allow: ["10.0.0.0/40"] })).toThrow(/prefix/)
  })
})

describe("DNS rebinding: the client connects to exactly the address it checked", () => {
  it("sends the request to the checked address with the original Host header", async () => {
    const dns = resolver({ "app.test": "127.0.0.1" })
    const connections: Array<ConnectionInfo> = []
    const client = testClient({
      allow: ["127.0.0.1"],
      lookup: dns.lookup,
      beforeConnect: loopbackOnly(connections),
    })
    const response = await client.request({ url: `http://app.test:${server.port}/where` })
    expect(connections).toEqual([
      {
        url: `http://app.test:${server.port}/where`,
        hostname: "app.test",
        address: "127.0.0.1",
        family: 4,
        port: server.port,
      },
    ])
    expect(response.status).toBe(200)
    expect(response.url).toBe(`http://app.test:${server.port}/where`)
    expect(server.requests.at(-1)?.headers.host).toBe(`app.test:${server.port}`)
    expect(dns.calls).toEqual(["app.test"])
  })

  it("a resolver that answers an allowed address first and loopback second cannot move the connection", async () => {
    // 127.0.0.2 stands in for "a public address": it passes the check (allow-listed) but is not
    // 127.0.0.1. A second listener on 127.0.0.2 with the same port tells which address was connected to.
    const twin = await listen(reply(200, "checked address"), "127.0.0.2", server.port)
    try {
      let calls = 0
      const rebinding: Resolver = async () => {
        calls++
        return [{ address: calls === 1 ? "127.0.0.2" : "127.0.0.1", family: 4 }]
      }
      const client = testClient({ allow: ["127.0.0.2"], lookup: rebinding })
      const before = server.connections
      const response = await client.request({ url: `http://rebind.test:${server.port}/` })
      expect(response.text()).toBe("checked address")
      expect(twin.connections).toBe(1)
      expect(twin.requests[0]?.headers.host).toBe(`rebind.test:${server.port}`)
      expect(server.connections).toBe(before) // loopback 127.0.0.1 never reached
      expect(calls).toBe(1) // one lookup for one hop: no second lookup at connect time

      // The next request resolves again, gets the loopback answer, and is refused before connecting.
      await refusal(client.request({ url: `http://rebind.test:${server.port}/` }))
      expect(calls).toBe(2)
      expect(server.connections).toBe(before)
      expect(twin.connections).toBe(1)
    } finally {
      await twin.close()
    }
  })

  it("the connect-time lookup only ever answers the checked address", () => {
    const lookup = pinnedLookup({ address: "93.184.216.34", family: 4 })
    const answers: Array<Array<unknown>> = []
    const record = (...args: Array<unknown>) => {
      answers.push(args)
    }
    lookup("rebind.test", { all: true }, record as Parameters<typeof lookup>[2])
    lookup("rebind.test", {}, record as Parameters<typeof lookup>[2])
    expect(answers).toEqual([
      [null, [{ address: "93.184.216.34", family: 4 }]],
      [null, "93.184.216.34", 4],
    ])
  })

  it("an IPv4-mapped answer is connected to as IPv4 and allow-listed as such", async () => {
    const dns = resolver({ "mapped.test": "::ffff:127.0.0.1" })
    const client = testClient({ allow: ["127.0.0.1"], lookup: dns.lookup })
    expect(await client.check(`http://mapped.test:${server.port}/`)).toEqual({
      address: "127.0.0.1",
      family: 4,
    })
    const response = await client.request({ url: `http://mapped.test:${server.port}/` })
    expect(response.status).toBe(200)
  })
})
