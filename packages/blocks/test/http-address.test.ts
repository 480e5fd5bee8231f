import { describe, expect, it } from "vitest"
import { blockedReason, formatIp, isLocalhostName, makeAllowList, parseCidr, parseIp } from "../src/index.js"

const ip = (text: string) => {
  const parsed = parseIp(text)
  if (parsed === undefined) throw new Error(`test address does not parse: ${text}`)
  return parsed
}

describe("address parsing", () => {
  it.each([
    ["127.0.0.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["127.0.1", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["0x7f000001", "127.0.0.1"],
    ["0x7F.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["017700000001", "127.0.0.1"],
    ["0", "0.0.0.0"],
    ["169.254.43518", "169.254.169.254"],
    ["0xa9fea9fe", "169.254.169.254"],
    ["4294967295", "255.255.255.255"],
    ["8.8.8.8.", "8.8.8.8"],
  ])("normalises the IPv4 spelling %s to %s", (text, canonical) => {
    expect(formatIp(ip(text))).toBe(canonical)
  })

  it.each([
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["::", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::ffff:127.0.0.1", "::ffff:7f00:1"],
    ["::FFFF:7F00:1", "::ffff:7f00:1"],
    ["fe80::1%eth0", "fe80::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ])("parses the IPv6 address %s as %s", (text, canonical) => {
    expect(formatIp(ip(text))).toBe(canonical)
  })

  it.each([
    "example.com",
    "1.2.3.4.5",
    "256.1.1.1",
    "4294967296",
    "08.0.0.1",
    "",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "::ffff:1.2.3",
    "gggg::1",
  ])("does not take %j for an address", (text) => {
    expect(parseIp(text)).toBeUndefined()
  })
})

describe("blocked ranges", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.127.255.255", "carrier-grade NAT"],
    ["169.254.169.254", "link-local"],
    ["192.0.0.8", "IETF"],
    ["192.0.2.1", "documentation"],
    ["198.18.0.1", "benchmarking"],
    ["198.19.255.255", "benchmarking"],
    ["198.51.100.1", "documentation"],
    ["203.0.113.1", "documentation"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["fc00::1", "unique local"],
    ["fdff:ffff::1", "unique local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:10.0.0.1", "private"],
    ["::127.0.0.1", "IPv4-compatible"],
    ["::8.8.8.8", "IPv4-compatible"],
    ["64:ff9b::7f00:1", "NAT64"],
    ["64:ff9b::808:808", "NAT64"],
    ["64:ff9b:1::1", "NAT64"],
    ["2002:7f00:1::1", "6to4"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"],
    ["2001:db8::1", "documentation"],
    ["fec0::1", "site-local"],
    ["100::1", "discard"],
    ["4000::1", "not a global unicast"],
  ])("%s is refused as %s", (text, word) => {
    expect(blockedReason(ip(text))).toContain(word)
  })

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "172.15.255.255",
    "172.32.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "::ffff:8.8.8.8",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
  ])("%s is public", (text) => {
    expect(blockedReason(ip(text))).toBeUndefined()
  })

  it("names that always mean this machine", () => {
    expect(isLocalhostName("localhost")).toBe(true)
    expect(isLocalhostName("LOCALHOST.")).toBe(true)
    expect(isLocalhostName("api.localhost")).toBe(true)
    expect(isLocalhostName("localhost.example.com")).toBe(false)
    expect(isLocalhostName("notlocalhost")).toBe(false)
  })
})

describe("allow-list", () => {
  it("opens host names, sub-domain wildcards, addresses and ranges", () => {
    const allow = makeAllowList(["internal.example", "*.corp.example", "10.0.0.0/8", "127.0.0.1", "fd00::/8"])
    expect(allow.allowsHost("internal.example")).toBe(true)
    expect(allow.allowsHost("INTERNAL.example.")).toBe(true)
    expect(allow.allowsHost("other.example")).toBe(false)
    expect(allow.allowsHost("a.b.corp.example")).toBe(true)
    expect(allow.allowsHost("corp.example")).toBe(false)
    expect(allow.allowsHost("evilcorp.example")).toBe(false)
    expect(allow.allowsAddress(ip("10.200.0.1"))).toBe(true)
    expect(allow.allowsAddress(ip("11.0.0.1"))).toBe(false)
    expect(allow.allowsAddress(ip("127.0.0.1"))).toBe(true)
    expect(allow.allowsAddress(ip("::ffff:127.0.0.1"))).toBe(true)
    expect(allow.allowsAddress(ip("127.0.0.2"))).toBe(false)
    expect(allow.allowsAddress(ip("fd12::1"))).toBe(true)
    expect(allow.allowsAddress(ip("fc00::1"))).toBe(false)
  })

  it("an empty allow-list opens nothing", () => {
    const allow = makeAllowList([])
    expect(allow.allowsHost("localhost")).toBe(false)
    expect(allow.allowsAddress(ip("127.0.0.1"))).toBe(false)
  })

  it("rejects entries that are neither names nor addresses", () => {
    expect(() => makeAllowList(["10.0.0.0/33"])).toThrow(/prefix/)
    expect(() => makeAllowList(["not a host"])).toThrow(/allow-list entry/)
    expect(() => makeAllowList(["http://internal.example"])).toThrow()
  })

  it("parses CIDR ranges", () => {
    expect(parseCidr("192.168.0.0/16").prefix).toBe(16)
    expect(parseCidr("::1").prefix).toBe(128)
    expect(() => parseCidr("nope/8")).toThrow(/not an IP address/)
  })
})
