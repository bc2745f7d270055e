/**
 * Which addresses a media download may connect to (server-side request forgery, issue 17.9). The ranges come from
 * a maintained classifier, `ipaddr.js` `range()` (IANA's special-purpose registries: loopback, private, carrier-grade
 * NAT, link-local, multicast, documentation, benchmarking, reserved…); only what it calls `unicast` is public. On
 * top of it:
 *  - IPv6 must also be in global unicast space (2000::/3): the discard prefix 100::/64, site-local fec0::/10, the
 *    deprecated IPv4-compatible ::/96 and whatever IANA has not allocated are refused whatever they embed;
 *  - IPv4 addresses embedded in IPv6 are extracted and must be public themselves: IPv4-mapped (::ffff:a.b.c.d, which
 *    the socket turns into an IPv4 connection), NAT64 with the well-known prefix (64:ff9b::/96, RFC 6052), 6to4
 *    (2002:AABB:CCDD::/48), Teredo (2001:0::/32: the server address, and the client address, which is the inverted
 *    last 32 bits) and ISATAP interface identifiers (::0:5efe:a.b.c.d, ::200:5efe:a.b.c.d, in any prefix);
 *  - the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is refused outright: it reaches a translator inside the
 *    network, whichever IPv4 address it carries, and RFC 6052 lets it embed one at several positions;
 *  - only canonical address strings (node's `isIP`) are classified: anything else is refused.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AddressVerdict {
  forbidden: boolean;
  /** Why, for the log line: the range's name and, for an embedded IPv4 address, which one. */
  reason: string;
}

/** IPv6 ranges whose addresses carry an IPv4 address that decides where the packets go. */
const TRANSLATION_RANGES = new Set(['ipv4Mapped', 'rfc6052', '6to4', 'teredo']);

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

export function classifyAddress(address: string): AddressVerdict {
  const family = isIP(address);
  if (family === 4) return classifyV4(ipaddr.IPv4.parse(address));
  if (family === 6) return classifyV6(ipaddr.IPv6.parse(withHexTail(address)));
  return { forbidden: true, reason: 'not an IP address' };
}

/**
 * `::a.b.c.d` as `::XXXX:XXXX`. ipaddr.js reads any dotted tail as IPv4-mapped (`::8.8.8.8` becomes
 * `::ffff:808:808`), which is another address: the socket would connect to `::808:808`.
 */
function withHexTail(address: string): string {
  const tail = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(address);
  if (!tail) return address;
  const [a = 0, b = 0, c = 0, d = 0] = (tail[2] ?? '').split('.').map(Number);
  const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
  return `${tail[1]}${hex(a, b)}:${hex(c, d)}`;
}

/** True when the address is one a media link must not reach. Unparseable addresses count as forbidden. */
export function isForbiddenAddress(address: string): boolean {
  return classifyAddress(address).forbidden;
}

function classifyV4(address: ipaddr.IPv4): AddressVerdict {
  const range = address.range();
  return range === 'unicast'
    ? { forbidden: false, reason: 'public IPv4' }
    : { forbidden: true, reason: `IPv4 ${range}` };
}

function classifyV6(address: ipaddr.IPv6): AddressVerdict {
  if (address.zoneId !== undefined) return { forbidden: true, reason: 'IPv6 with a zone (link-local scope)' };
  const range: string = address.range();
  if (TRANSLATION_RANGES.has(range)) {
    if (range === 'rfc6052' && !address.match(NAT64_WELL_KNOWN)) {
      return { forbidden: true, reason: 'IPv6 local-use NAT64 (64:ff9b:1::/48)' };
    }
    return embeddedVerdict(range, embeddedV4(address, range));
  }
  if (range !== 'unicast') return { forbidden: true, reason: `IPv6 ${range}` };
  if (!address.match(GLOBAL_UNICAST))
    return { forbidden: true, reason: 'IPv6 outside global unicast (2000::/3)' };
  const isatap = isatapV4(address);
  if (isatap) return embeddedVerdict('ISATAP', [isatap]);
  return { forbidden: false, reason: 'public IPv6' };
}

/** Forbidden when any embedded IPv4 address is not public. */
function embeddedVerdict(kind: string, embedded: ipaddr.IPv4[]): AddressVerdict {
  for (const v4 of embedded) {
    const verdict = classifyV4(v4);
    if (verdict.forbidden) {
      return { forbidden: true, reason: `IPv6 ${kind} embedding ${v4.toString()} (${verdict.reason})` };
    }
  }
  return { forbidden: false, reason: `IPv6 ${kind} of ${embedded.map((v4) => v4.toString()).join(', ')}` };
}

/** The IPv4 addresses a translation address carries (RFC 4291, 6052, 3056, 4380). */
function embeddedV4(address: ipaddr.IPv6, range: string): ipaddr.IPv4[] {
  const bytes = address.toByteArray();
  const at = (offset: number, invert = false) =>
    new ipaddr.IPv4(bytes.slice(offset, offset + 4).map((b) => (invert ? b ^ 0xff : b)));
  switch (range) {
    case '6to4':
      return [at(2)];
    case 'teredo':
      // 2001:0000:<server>:<flags>:<port xor ffff>:<client xor ffffffff>
      return [at(4), at(12, true)];
    default:
      // ::ffff:a.b.c.d and 64:ff9b::a.b.c.d: the last 32 bits
      return [at(12)];
  }
}

/** The IPv4 address of an ISATAP interface identifier (RFC 5214: 0000:5efe or 0200:5efe, then the address). */
function isatapV4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const [, , , , g4, g5, g6, g7] = address.parts;
  if ((g4 === 0x0000 || g4 === 0x0200) && g5 === 0x5efe) {
    return new ipaddr.IPv4([(g6! >> 8) & 0xff, g6! & 0xff, (g7! >> 8) & 0xff, g7! & 0xff]);
  }
  return undefined;
}
