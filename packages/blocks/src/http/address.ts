/**
 * Address checks of the safe HTTP client: parses IPv4 and IPv6 addresses (including the odd IPv4
 * spellings `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`), tells which ones are not on the public
 * internet, and reads the self-hoster's allow-list.
 *
 * Pure functions with no I/O, so that they can be tested one by one.
 *
 * @since 0.1.0
 */

/** An IP address in bytes: 4 for IPv4, 16 for IPv6. */
type Bytes = ReadonlyArray<number>

/** A parsed IP address. */
export interface IpAddress {
  readonly family: 4 | 6
  readonly bytes: Bytes
}

const parseIpv4Part = (part: string): number | undefined => {
  if (part === "") return undefined
  if (/^0x[0-9a-f]*$/i.test(part)) return part.length === 2 ? 0 : Number.parseInt(part.slice(2), 16)
  if (/^0[0-7]+$/.test(part)) return Number.parseInt(part.slice(1), 8)
  if (/^(0|[1-9][0-9]*)$/.test(part)) return Number.parseInt(part, 10)
  return undefined
}

/**
 * Parses an IPv4 address the way URL parsers and `inet_aton` do: one to four parts, each decimal, octal
 * (leading `0`) or hexadecimal (`0x`), the last part filling the remaining bytes. So `127.1`,
 * `2130706433`, `0x7f000001` and `0177.0.0.1` are all 127.0.0.1. Returns `undefined` for anything else.
 *
 * @category parsing
 */
export const parseIpv4 = (text: string): IpAddress | undefined => {
  const parts = text.endsWith(".") ? text.slice(0, -1).split(".") : text.split(".")
  if (parts.length === 0 || parts.length > 4) return undefined
  const numbers: Array<number> = []
  for (const part of parts) {
    const value = parseIpv4Part(part)
    if (value === undefined || !Number.isSafeInteger(value)) return undefined
    numbers.push(value)
  }
  const last = numbers.pop() ?? 0
  if (numbers.some((n) => n > 255)) return undefined
  if (last >= 256 ** (4 - numbers.length)) return undefined
  const bytes = [...numbers]
  for (let i = 3 - numbers.length; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256)
  return { family: 4, bytes }
}

/**
 * Parses an IPv6 address (with or without brackets, `::` compression, an embedded dotted IPv4 tail, and a
 * `%zone` suffix, which is ignored). Returns `undefined` for anything else.
 *
 * @category parsing
 */
export const parseIpv6 = (text: string): IpAddress | undefined => {
  let s = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text
  const zone = s.indexOf("%")
  if (zone >= 0) s = s.slice(0, zone)
  if (!s.includes(":")) return undefined
  const halves = s.split("::")
  if (halves.length > 2) return undefined
  const groups = (half: string): Array<number> | undefined => {
    if (half === "") return []
    const out: Array<number> = []
    const pieces = half.split(":")
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(piece) ? parseIpv4(piece) : undefined
        if (v4 === undefined) return undefined
        const [a = 0, b = 0, c = 0, d = 0] = v4.bytes
        out.push(a * 256 + b, c * 256 + d)
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(piece)) return undefined
        out.push(Number.parseInt(piece, 16))
      }
    }
    return out
  }
  const head = groups(halves[0] ?? "")
  const tail = halves.length === 2 ? groups(halves[1] ?? "") : []
  if (head === undefined || tail === undefined) return undefined
  let all: Array<number>
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length
    if (missing < 1) return undefined
    all = [...head, ...new Array<number>(missing).fill(0), ...tail]
  } else {
    all = head
  }
  if (all.length !== 8) return undefined
  return { family: 6, bytes: all.flatMap((g) => [g >> 8, g & 0xff]) }
}

/**
 * Parses an IP address in any spelling that a URL host or a resolver may produce.
 *
 * @category parsing
 */
export const parseIp = (text: string): IpAddress | undefined => parseIpv6(text) ?? parseIpv4(text)

/**
 * The canonical text of an address: dotted quad for IPv4, RFC 5952 compressed form for IPv6.
 *
 * @category formatting
 */
export const formatIp = (ip: IpAddress): string => {
  if (ip.family === 4) return ip.bytes.join(".")
  const groups: Array<number> = []
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0))
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength && j - i > 1) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (list: ReadonlyArray<number>) => list.map((g) => g.toString(16)).join(":")
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}

/** A CIDR range: an address and a prefix length. */
export interface Cidr {
  readonly network: IpAddress
  readonly prefix: number
}

/**
 * Whether `ip` lies in `range` (same family only).
 *
 * @category ranges
 */
export const inRange = (ip: IpAddress, range: Cidr): boolean => {
  if (ip.family !== range.network.family) return false
  let bits = range.prefix
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if (((ip.bytes[i] ?? 0) & mask) !== ((range.network.bytes[i] ?? 0) & mask)) return false
  }
  return true
}

/**
 * Parses `address/prefix` (a bare address is a single-address range). Throws on invalid input.
 *
 * @category ranges
 */
export const parseCidr = (text: string): Cidr => {
  const slash = text.indexOf("/")
  const addressText = slash < 0 ? text : text.slice(0, slash)
  const network = parseIp(addressText)
  if (network === undefined) throw new Error(`not an IP address or CIDR range: ${text}`)
  const max = network.family === 4 ? 32 : 128
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefixText)) throw new Error(`invalid prefix length in ${text}`)
  const prefix = Number(prefixText)
  if (prefix > max) throw new Error(`invalid prefix length in ${text}`)
  return { network, prefix }
}

interface Rule {
  readonly range: Cidr
  readonly reason: string
}

const rules = (list: ReadonlyArray<readonly [string, string]>): ReadonlyArray<Rule> =>
  list.map(([cidr, reason]) => ({ range: parseCidr(cidr), reason }))

const IPV4_BLOCKED = rules([
  ["0.0.0.0/8", "an unspecified ('this network') address"],
  ["10.0.0.0/8", "a private network address"],
  ["100.64.0.0/10", "a carrier-grade NAT address"],
  ["127.0.0.0/8", "a loopback address"],
  ["169.254.0.0/16", "a link-local address (cloud metadata endpoints live here)"],
  ["172.16.0.0/12", "a private network address"],
  ["192.0.0.0/24", "an IETF protocol assignment address"],
  ["192.0.2.0/24", "a documentation address"],
  ["192.88.99.0/24", "a 6to4 relay anycast address"],
  ["192.168.0.0/16", "a private network address"],
  ["198.18.0.0/15", "a benchmarking address"],
  ["198.51.100.0/24", "a documentation address"],
  ["203.0.113.0/24", "a documentation address"],
  ["224.0.0.0/4", "a multicast address"],
  ["240.0.0.0/4", "a reserved or broadcast address"],
])

const IPV6_BLOCKED = rules([
  ["::/128", "an unspecified address"],
  ["::1/128", "a loopback address"],
  ["::ffff:0:0:0/96", "an IPv4-translated address"],
  ["::/96", "an IPv4-compatible address"],
  ["64:ff9b::/96", "a NAT64 address"],
  ["64:ff9b:1::/48", "a local NAT64 address"],
  ["100::/64", "a discard-only address"],
  ["2001::/32", "a Teredo address"],
  ["2001:db8::/32", "a documentation address"],
  ["2002::/16", "a 6to4 address"],
  ["fc00::/7", "a unique local (private) address"],
  ["fe80::/10", "a link-local address"],
  ["fec0::/10", "a site-local address"],
  ["ff00::/8", "a multicast address"],
])

/** Global unicast IPv6: everything outside it is not on the public internet. */
const IPV6_GLOBAL = parseCidr("2000::/3")
const IPV4_MAPPED = parseCidr("::ffff:0:0/96")

/**
 * The address a socket should use for `ip`: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4
 * address, so that it is checked, allow-listed and connected to as IPv4; anything else is unchanged.
 *
 * @category ranges
 */
export const unmap = (ip: IpAddress): IpAddress =>
  ip.family === 6 && inRange(ip, IPV4_MAPPED) ? { family: 4, bytes: ip.bytes.slice(12) } : ip

/**
 * Why an address must not be requested, or `undefined` when it is a public address. IPv4-mapped IPv6
 * addresses are judged by the IPv4 address they carry.
 *
 * @category ranges
 */
export const blockedReason = (address: IpAddress): string | undefined => {
  const ip = unmap(address)
  const list = ip.family === 4 ? IPV4_BLOCKED : IPV6_BLOCKED
  for (const rule of list) if (inRange(ip, rule.range)) return rule.reason
  if (ip.family === 6 && !inRange(ip, IPV6_GLOBAL)) return "not a global unicast address"
  return undefined
}

/**
 * Host names that always mean this machine (RFC 6761), whatever a resolver answers.
 *
 * @category ranges
 */
export const isLocalhostName = (hostname: string): boolean => {
  const name = normalizeHostname(hostname)
  return name === "localhost" || name.endsWith(".localhost")
}

/**
 * Lower-cases a host name and drops one trailing dot and IPv6 brackets.
 *
 * @category parsing
 */
export const normalizeHostname = (hostname: string): string => {
  let name = hostname.toLowerCase()
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1)
  if (name.endsWith(".")) name = name.slice(0, -1)
  return name
}

/**
 * The self-hoster's allow-list: host names (exact, or `*.example.com` for every sub-domain), IP addresses
 * and CIDR ranges that may be requested even though they are private.
 *
 * @category allow-list
 */
export interface AllowList {
  readonly allowsHost: (hostname: string) => boolean
  readonly allowsAddress: (ip: IpAddress) => boolean
}

/**
 * Reads allow-list entries. Throws on an entry that is neither a host name, an address nor a range.
 *
 * @category allow-list
 */
export const makeAllowList = (entries: ReadonlyArray<string>): AllowList => {
  const names = new Set<string>()
  const suffixes: Array<string> = []
  const ranges: Array<Cidr> = []
  for (const raw of entries) {
    const entry = raw.trim()
    if (entry === "") continue
    if (entry.includes("/") || parseIp(entry) !== undefined) {
      const range = parseCidr(entry.startsWith("[") ? entry.replace(/^\[|\](?=\/|$)/g, "") : entry)
      ranges.push(
        range.network.family === 6 && inRange(range.network, IPV4_MAPPED) && range.prefix >= 96
          ? { network: unmap(range.network), prefix: range.prefix - 96 }
          : range,
      )
      continue
    }
    const name = normalizeHostname(entry)
    if (name.startsWith("*.") && /^[a-z0-9.-]+$/.test(name.slice(2))) suffixes.push(name.slice(1))
    else if (/^[a-z0-9_.-]+$/.test(name)) names.add(name)
    else throw new Error(`allow-list entry is not a host name, IP address or CIDR range: ${raw}`)
  }
  return {
    allowsHost: (hostname) => {
      const name = normalizeHostname(hostname)
      return names.has(name) || suffixes.some((suffix) => name.endsWith(suffix))
    },
    allowsAddress: (ip) => {
      const address = unmap(ip)
      return ranges.some((range) => inRange(address, range))
    },
  }
}
