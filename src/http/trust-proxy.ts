import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Which proxies' `X-Forwarded-For` the HTTP edge believes when it logs a client's address (issue 17.10):
 * `false` (none: the address is the connection's), a hop count, or the proxies' addresses and ranges. Fastify's
 * `trustProxy` takes these three forms. `true` (believe any caller) is refused: every refusal log line would carry
 * whatever address the caller wrote.
 */
export type TrustProxy = false | number | string[];

/**
 * What Fastify's `trustProxy` option is given. A hop count becomes a function: Fastify 5.12 turns a number into
 * "trust nothing" (fail closed: it cannot check that the nearest peer is a proxy), so `n` means here what it means
 * in Express and proxy-addr, the nearest `n` hops are proxies. Use a count only when nothing reaches the bridge but
 * through those proxies; a list of their addresses is checked on every hop.
 */
export function fastifyTrustProxy(
  setting: TrustProxy,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting;
}

/** Names proxy-addr (under Fastify) accepts for well-known ranges. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** A canonical address (node's `isIP`, so no `1.5` or octal forms), a CIDR range, or a named range. */
function isAddressOrRange(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const MESSAGE =
  'must be false (trust no proxy), a hop count (1 = one proxy in front), or comma-separated proxy addresses or ' +
  'CIDR ranges (10.0.0.0/8, loopback); true is refused: any caller could choose the logged address';

/** `HTTP_TRUST_PROXY`: unset, empty or `false` = no proxy is trusted. */
export const trustProxySetting = z
  .string()
  .default('false')
  .transform((value, ctx): TrustProxy => {
    const v = value.trim();
    if (v === '' || v.toLowerCase() === 'false' || v === '0') return false;
    if (/^\d+$/.test(v)) return Number(v);
    const entries = v
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    if (v.toLowerCase() !== 'true' && entries.length > 0 && entries.every(isAddressOrRange)) return entries;
    ctx.addIssue({ code: 'custom', message: MESSAGE });
    return z.NEVER;
  });
