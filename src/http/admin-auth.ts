import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RefusalLog } from '../telemetry/refusals';

/**
 * The `onRequest` hook of every admin route: `Authorization: Bearer <ADMIN_TOKEN>`, or HTTP Basic with the token
 * as the password (so a browser can open a page). Compared in constant time; a refusal is logged without the
 * header, in aggregate (`RefusalLog`: the first at once, then a count per minute) and counted in
 * `bhb_requests_refused_total{route,reason="unauthenticated"}`. Answers are never cached.
 */
export function adminGuard(token: string, refusals: RefusalLog, realm = 'blip-helpdesk-bridge') {
  const expected = digest(token);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (authorized(request, expected)) return;
    refusals.refuse({
      route: request.routeOptions.url ?? 'unknown',
      reason: 'unauthenticated',
      code: 'ADMIN_UNAUTHENTICATED',
      message: 'admin request refused',
      meta: { path: request.url.split('?')[0], ip: request.ip },
    });
    await reply
      .status(401)
      .header('www-authenticate', [`Basic realm="${realm}", charset="UTF-8"`, `Bearer realm="${realm}"`])
      .send({ error: 'admin token required' });
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Bearer <token>, or Basic with the token as the password; compared in constant time (hashes of equal length). */
function authorized(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization;
  if (!header) return false;
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  let presented: string | undefined;
  if (scheme.toLowerCase() === 'bearer') presented = value;
  else if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    presented = colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  if (!presented) return false;
  return timingSafeEqual(digest(presented), expected);
}
