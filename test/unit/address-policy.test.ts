/**
 * The SSRF address classifier (issue 17.9): every spelling of a loopback, private, link-local or otherwise
 * non-public address is refused, including IPv4 addresses embedded in IPv6 (IPv4-mapped, IPv4-compatible,
 * IPv4-translated, NAT64, 6to4, Teredo, ISATAP) and the IPv6 ranges no public host lives in.
 */
import { classifyAddress, isForbiddenAddress } from '../../src/media/address-policy';
import { isForbiddenAddress as fromFetcher } from '../../src/media/fetcher';

/** [address, why it must be refused] */
const REFUSED: Array<[string, string]> = [
  // IPv4
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['100.127.255.255', 'carrier-grade NAT'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['0.0.0.0', 'this network'],
  ['0.1.2.3', 'this network'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'broadcast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.0.2.1', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['192.88.99.1', '6to4 relay anycast'],
  // IPv6 proper
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback, long form'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local with a zone'],
  ['febf::1', 'link-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456::1', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['fec0::1', 'site-local (deprecated)'],
  ['fec0::7f00:1', 'site-local embedding 127.0.0.1'],
  ['feff::1', 'site-local (deprecated)'],
  ['100::1', 'discard-only 100::/64'],
  ['100::7f00:1', 'discard-only embedding 127.0.0.1'],
  ['100::ffff:7f00:1', 'discard-only embedding 127.0.0.1'],
  ['2001:db8::1', 'documentation'],
  ['2001:2::1', 'benchmarking'],
  ['2001:10::1', 'ORCHID'],
  ['3fff::1', 'documentation (RFC 9637)'],
  ['5f00::1', 'segment routing'],
  ['4000::1', 'not in global unicast 2000::/3'],
  // IPv4-mapped ::ffff:0:0/96
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
  ['::FFFF:7F00:1', 'IPv4-mapped loopback, upper case'],
  ['0:0:0:0:0:ffff:7f00:1', 'IPv4-mapped loopback, long form'],
  ['::ffff:10.0.0.1', 'IPv4-mapped private'],
  ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata, hex'],
  // IPv4-compatible ::/96 (deprecated) and IPv4-translated ::ffff:0:0:0/96
  ['::127.0.0.1', 'IPv4-compatible loopback'],
  ['::7f00:1', 'IPv4-compatible loopback, hex'],
  ['::a00:1', 'IPv4-compatible private'],
  ['::8.8.8.8', 'IPv4-compatible (deprecated, never routed)'],
  ['::ffff:0:7f00:1', 'IPv4-translated loopback'],
  ['::ffff:0:808:808', 'IPv4-translated (never routed here)'],
  // NAT64 well-known prefix 64:ff9b::/96
  ['64:ff9b::127.0.0.1', 'NAT64 loopback'],
  ['64:ff9b::7f00:1', 'NAT64 loopback, hex'],
  ['0064:ff9b:0000:0000:0000:0000:7f00:0001', 'NAT64 loopback, long form'],
  ['64:ff9b::a00:1', 'NAT64 private'],
  ['64:ff9b::c0a8:101', 'NAT64 192.168.1.1'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 metadata'],
  ['64:ff9b::6440:1', 'NAT64 carrier-grade NAT'],
  // NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215): local by definition
  ['64:ff9b:1::7f00:1', 'local-use NAT64, loopback at /96'],
  ['64:ff9b:1:7f00:0:100::', 'local-use NAT64, loopback at /48'],
  ['64:ff9b:1::808:808', 'local-use NAT64 (a local translator)'],
  // 6to4 2002::/16: 2002:AABB:CCDD::
  ['2002:7f00:1::', '6to4 of 127.0.0.1'],
  ['2002:7f00:0001::1', '6to4 of 127.0.0.1, zero-padded'],
  ['2002:a00:1::1', '6to4 of 10.0.0.1'],
  ['2002:a9fe:a9fe::', '6to4 of the metadata address'],
  ['2002:c0a8:101:1::1', '6to4 of 192.168.1.1'],
  ['2002::1', '6to4 of 0.0.0.0'],
  // Teredo 2001::/32: 2001:0:<server v4>:<flags>:<port ^ ffff>:<client v4 ^ ffffffff>
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo, client 127.0.0.1'],
  ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'Teredo, client 10.0.0.1'],
  ['2001::4136:e378:8000:63bf:5601:5601', 'Teredo, client 169.254.169.254'],
  ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo, server 10.0.0.1'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo, client 192.0.2.45 (documentation)'],
  // ISATAP interface identifiers (::0:5efe:V4, ::200:5efe:V4) in any prefix
  ['2606:4700:1::5efe:a00:1', 'ISATAP, 10.0.0.1'],
  ['2606:4700:1::200:5efe:7f00:1', 'ISATAP, 127.0.0.1'],
  // not addresses
  ['not-an-ip', 'not an address'],
  ['127.1', 'not a canonical address'],
  ['0x7f.0.0.1', 'not a canonical address'],
  ['', 'empty'],
];

const ALLOWED: Array<[string, string]> = [
  ['8.8.8.8', 'public IPv4'],
  ['172.32.0.1', 'just outside 172.16/12'],
  ['100.128.0.1', 'just outside 100.64/10'],
  ['192.169.0.1', 'just outside 192.168/16'],
  ['52.239.1.1', 'public IPv4 (a blob store)'],
  ['2606:4700::1111', 'public IPv6'],
  ['2a00:1450:4001:81c::200e', 'public IPv6'],
  ['::ffff:8.8.8.8', 'IPv4-mapped public'],
  ['64:ff9b::8.8.8.8', 'NAT64 of a public address (DNS64 on an IPv6-only host)'],
  ['64:ff9b::3427:101', 'NAT64 of a public address, hex'],
  ['2002:808:808::1', '6to4 of a public address'],
  ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', 'Teredo, public server and client 8.8.8.8'],
];

describe('classifyAddress', () => {
  it.each(REFUSED)('refuses %s (%s)', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
    expect(fromFetcher(address)).toBe(true);
  });

  it.each(ALLOWED)('allows %s (%s)', (address) => {
    expect(classifyAddress(address)).toEqual(expect.objectContaining({ forbidden: false }));
    expect(isForbiddenAddress(address)).toBe(false);
  });

  it.each([
    ['64:ff9b::7f00:1', '127.0.0.1'],
    ['2002:a00:1::1', '10.0.0.1'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', '127.0.0.1'],
    ['::ffff:a9fe:a9fe', '169.254.169.254'],
    ['2606:4700:1::5efe:a00:1', '10.0.0.1'],
  ])('names the embedded IPv4 address of %s (%s) and its range', (address, embedded) => {
    const verdict = classifyAddress(address);
    expect(verdict.forbidden).toBe(true);
    expect(verdict.reason).toContain(embedded);
  });
});
