import { z } from 'zod';
import { PermanentError, RetryableError } from '../../core/errors';
import { type AnalyticsEvent, messageEventTypes } from '../event';
import { postJson } from '../http';
import { defineSink } from '../sink';
import { epochMs, httpUrl, secret, userIdOf } from './shared';

/** The `platform` every message carries: the channel is not known on message events, the bot platform is. */
export const CHATBASE_PLATFORM = 'BLiP';

/**
 * Chatbase's message API (the batch form, `POST /api/messages` with `{messages: [...]}`): customer messages are
 * `type: "user"` with `not_handled: false` (a person attends them), agent and bridge messages `type: "agent"`;
 * `session_id` is the handoff. Google no longer operates Chatbase (see docs/analytics.md); the format is kept for
 * receivers that still accept it, and the URL is configurable.
 */
export const chatbaseSink = defineSink({
  name: 'chatbase',
  title: 'Chatbase',
  supports: messageEventTypes,
  settingsSchema: z.object({
    ANALYTICS_CHATBASE_API_KEY: secret(),
    ANALYTICS_CHATBASE_URL: httpUrl().default('https://chatbase-area120.appspot.com/api/messages'),
  }),
  create(settings, context) {
    return {
      maxBatch: 100,
      async send(events, signal) {
        const body = { messages: events.map((e) => chatbaseMessage(e, settings.ANALYTICS_CHATBASE_API_KEY)) };
        const { data } = await postJson(settings.ANALYTICS_CHATBASE_URL, JSON.stringify(body), {
          sink: 'chatbase',
          timeoutMs: context.timeoutMs,
          signal,
        });
        // Chatbase answers HTTP 200 with its own status and per-message results.
        const answer = (data ?? {}) as { status?: unknown; all_succeeded?: unknown };
        if (typeof answer.status === 'number' && answer.status >= 500) {
          throw new RetryableError(`chatbase: status ${answer.status}`, 'ANALYTICS_CHATBASE_STATUS');
        }
        if (answer.all_succeeded === false || (typeof answer.status === 'number' && answer.status >= 400)) {
          throw new PermanentError('chatbase: some messages were rejected', 'ANALYTICS_CHATBASE_REJECTED');
        }
      },
    };
  },
});

/** One Chatbase message. Exported for the tests and the docs. */
export function chatbaseMessage(event: AnalyticsEvent, apiKey: string): Record<string, unknown> {
  const m = event.message;
  if (!m) throw new PermanentError(`chatbase cannot express ${event.type}`, 'ANALYTICS_CHATBASE_UNSUPPORTED');
  const fromCustomer = m.direction === 'in';
  return {
    api_key: apiKey,
    type: fromCustomer ? 'user' : 'agent',
    user_id: userIdOf(event),
    time_stamp: epochMs(event.occurredAt),
    platform: CHATBASE_PLATFORM,
    message: m.text ?? '',
    // not_handled is only allowed on user messages.
    ...(fromCustomer ? { not_handled: false } : {}),
    ...(event.sessionId ? { session_id: event.sessionId } : {}),
  };
}
