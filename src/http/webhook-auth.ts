import { createHash, timingSafeEqual } from 'node:crypto';
import type { RawRequest, WebhookHandler } from '../adapters/adapter';
import { PermanentError } from '../core/errors';

/** The shortest secret or route token the core accepts: a guessable one is no authentication. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

/**
 * The longest path segment the HTTP edge routes (Fastify's `maxParamLength`; its default, 100, answers 414 beyond):
 * room for a long route token and for a media link's token (an 80-character id, its expiry and signature).
 */
export const MAX_PATH_SEGMENT_LENGTH = 256;

/** Why a webhook was refused: the `reason` label of `bhb_requests_refused_total` (a small fixed set). */
export type WebhookRefusal = 'bad-signature' | 'replay-window' | 'bad-secret' | 'bad-token';

export type WebhookCheck = { ok: true } | { ok: false; kind: WebhookRefusal; reason: string };

/**
 * Checked once, when the server is built: a vendor's webhook declares a known kind with what that kind needs (an
 * HMAC kind has `verify`; a secret kind has a secret long enough to be one). A vendor that cannot be authenticated
 * does not get a route; the bridge refuses to start instead (`WEBHOOK_AUTH_INVALID`).
 */
export function assertWebhookAuth(vendor: string, webhook: WebhookHandler): void {
  const fail = (why: string) => {
    throw new PermanentError(`${vendor} webhook: ${why}`, 'WEBHOOK_AUTH_INVALID');
  };
  const auth = webhook.auth as WebhookHandler['auth'] | undefined;
  switch (auth?.kind) {
    case 'hmac-signed-time':
    case 'hmac-body-time':
      if (typeof webhook.verify !== 'function') fail(`kind ${auth.kind} needs verify()`);
      return;
    case 'header-secret':
      if (!/^[a-z0-9-]+$/.test(auth.header)) fail('header-secret needs a lower-case header name');
      if (auth.secret.length < MIN_WEBHOOK_SECRET_LENGTH)
        fail(`the shared secret must be at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`);
      return;
    case 'route-token':
      if (auth.token.length < MIN_WEBHOOK_SECRET_LENGTH || !/^[A-Za-z0-9._~-]+$/.test(auth.token))
        fail(`the route token must be at least ${MIN_WEBHOOK_SECRET_LENGTH} URL-safe characters`);
      if (auth.token.length > MAX_PATH_SEGMENT_LENGTH)
        fail(`the route token must be at most ${MAX_PATH_SEGMENT_LENGTH} characters`);
      return;
    default:
      fail(`no known verification kind declared (${String((auth as { kind?: unknown } | undefined)?.kind)})`);
  }
}

/**
 * The core's check of one webhook request, for the kind its vendor declared, before `parse` sees the body.
 * `routeToken` is the token segment of `/webhooks/<name>/<token>` (undefined on `/webhooks/<name>`).
 */
export function checkWebhook(
  webhook: WebhookHandler,
  raw: RawRequest,
  routeToken: string | undefined,
  defaultSkewSeconds: number,
): WebhookCheck {
  const auth = webhook.auth;
  switch (auth.kind) {
    case 'route-token':
      return sameSecret(routeToken, auth.token)
        ? { ok: true }
        : { ok: false, kind: 'bad-token', reason: routeToken ? 'wrong route token' : 'no route token' };
    case 'header-secret': {
      const given = raw.headers[auth.header];
      return sameSecret(given, auth.secret)
        ? { ok: true }
        : {
            ok: false,
            kind: 'bad-secret',
            reason: given ? `wrong ${auth.header}` : `missing ${auth.header}`,
          };
    }
    case 'hmac-signed-time':
    case 'hmac-body-time': {
      // A token on the route of a signing vendor is a mistake somewhere: refuse rather than ignore it.
      if (routeToken !== undefined)
        return { ok: false, kind: 'bad-token', reason: 'this vendor takes no route token' };
      const result = webhook.verify!(raw);
      if (!result.ok) return { ok: false, kind: 'bad-signature', reason: result.reason };
      const skew = Math.abs(raw.receivedAt.getTime() - result.signedAt.getTime()) / 1000;
      const max = webhook.maxSkewSeconds ?? defaultSkewSeconds;
      if (!(skew <= max))
        return {
          ok: false,
          kind: 'replay-window',
          reason: `signature timestamp is ${Number.isFinite(skew) ? Math.round(skew) : 'an unreadable time'} s away (max ${max} s)`,
        };
      return { ok: true };
    }
  }
}

/** Constant-time comparison of a presented secret with the expected one (digests, so lengths do not leak). */
function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected)) && given.length === expected.length;
}

/** A request URL fit for a log line: the token of `/webhooks/<name>/<token>` replaced. */
export function redactWebhookUrl(url: string): string {
  return url.replace(/^(\/webhooks\/[^/?#]+\/)[^?#]*/, '$1[redacted]');
}
