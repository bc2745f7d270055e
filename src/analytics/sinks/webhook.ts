import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { analyticsEventTypes } from '../event';
import { postJson } from '../http';
import { defineSink } from '../sink';
import { httpUrl, secret } from './shared';

/** Header names of the generic webhook (see docs/analytics.md for the verification snippet). */
export const WEBHOOK_HEADERS = {
  id: 'x-bridge-event-id',
  type: 'x-bridge-event-type',
  timestamp: 'x-bridge-timestamp',
  signature: 'x-bridge-signature',
} as const;

/** `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>` with the shared secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does (and what the docs show): constant-time compare, then a replay window. */
export function verifyWebhookSignature(
  secret: string,
  headers: Record<string, string | undefined>,
  body: string,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  const timestamp = headers[WEBHOOK_HEADERS.timestamp];
  const signature = headers[WEBHOOK_HEADERS.signature];
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(webhookSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * The generic sink: POSTs each analytics event, as documented in docs/analytics.md (schema version 1), to a URL of
 * yours, signed with HMAC-SHA256 over `<timestamp>.<body>`. One event per request; `id` lets you drop repeats
 * (a delivery retried after a timeout arrives again with the same id).
 */
export const webhookSink = defineSink({
  name: 'webhook',
  title: 'Webhook',
  supports: analyticsEventTypes,
  settingsSchema: z.object({
    ANALYTICS_WEBHOOK_URL: httpUrl(),
    ANALYTICS_WEBHOOK_SECRET: secret(16),
  }),
  create(settings, context) {
    return {
      maxBatch: 1,
      async send(events, signal) {
        for (const event of events) {
          const body = JSON.stringify(event);
          // Signed at each attempt, so a retried delivery still passes the receiver's replay window.
          const timestamp = String(Math.floor(context.now().getTime() / 1000));
          await postJson(settings.ANALYTICS_WEBHOOK_URL, body, {
            sink: 'webhook',
            timeoutMs: context.timeoutMs,
            signal,
            headers: {
              'user-agent': 'blip-helpdesk-bridge',
              [WEBHOOK_HEADERS.id]: event.id,
              [WEBHOOK_HEADERS.type]: event.type,
              [WEBHOOK_HEADERS.timestamp]: timestamp,
              [WEBHOOK_HEADERS.signature]: webhookSignature(
                settings.ANALYTICS_WEBHOOK_SECRET,
                timestamp,
                body,
              ),
            },
          });
        }
      },
    };
  },
});
