import { z } from 'zod';
import { PermanentError } from '../../core/errors';
import { type AnalyticsEvent, messageEventTypes } from '../event';
import { postJson } from '../http';
import { defineSink } from '../sink';
import { epochMs, httpUrl, secret, userIdOf } from './shared';

const DEFAULT_URLS = {
  v2: 'https://api.beta.botanalytics.co/v2/messages',
  v1: 'https://api.botanalytics.co/v1/messages/generic/',
} as const;

/**
 * Botanalytics. `v2` (default): the Universal channel of the current REST API, `POST /v2/messages` with
 * `{messages: [{message: {...}}]}` and `Authorization: Bearer <channel API key>`; the sender type tells the customer
 * (`user`), the helpdesk agent (`human-agent`) and the bridge's own texts (`virtual-agent`) apart.
 * `v1`: the older generic API BLiP's hub used, `POST /v1/messages/generic/` with `{is_sender_bot, user, message}`
 * and `Authorization: Token <token>`, one message per request.
 */
export const botanalyticsSink = defineSink({
  name: 'botanalytics',
  title: 'Botanalytics',
  supports: messageEventTypes,
  settingsSchema: z.object({
    ANALYTICS_BOTANALYTICS_TOKEN: secret(),
    ANALYTICS_BOTANALYTICS_API: z.enum(['v2', 'v1'], { error: 'must be v2 or v1' }).default('v2'),
    ANALYTICS_BOTANALYTICS_URL: httpUrl().optional(),
  }),
  create(settings, context) {
    const api = settings.ANALYTICS_BOTANALYTICS_API;
    const url = settings.ANALYTICS_BOTANALYTICS_URL ?? DEFAULT_URLS[api];
    const authorization =
      api === 'v2'
        ? `Bearer ${settings.ANALYTICS_BOTANALYTICS_TOKEN}`
        : `Token ${settings.ANALYTICS_BOTANALYTICS_TOKEN}`;
    const post = (body: unknown, signal: AbortSignal) =>
      postJson(url, JSON.stringify(body), {
        sink: 'botanalytics',
        timeoutMs: context.timeoutMs,
        signal,
        headers: { authorization },
      });
    return {
      maxBatch: api === 'v2' ? 100 : 1,
      async send(events, signal) {
        if (api === 'v2') {
          await post(
            { messages: events.map((e) => ({ message: botanalyticsV2Message(e, context.bot) })) },
            signal,
          );
          return;
        }
        for (const event of events) await post(botanalyticsV1Message(event), signal);
      },
    };
  },
});

/** A v2 Universal message. Exported for the tests and the docs. */
export function botanalyticsV2Message(event: AnalyticsEvent, bot: string): Record<string, unknown> {
  const m = messageOf(event);
  const user = userIdOf(event);
  const sender =
    m.author === 'customer'
      ? { id: user, type: 'user' }
      : m.author === 'agent'
        ? { id: m.agent?.id ?? 'agent', type: 'human-agent' }
        : { id: bot, type: 'virtual-agent' };
  return {
    id: m.id,
    thread: { id: user },
    conversation: { id: event.sessionId ?? user },
    timestamp: epochMs(event.occurredAt),
    sender,
    ...(m.author === 'customer' ? {} : { recipient: { id: user } }),
    content: { texts: [{ text: m.text ?? '' }] },
  };
}

/** A v1 generic message. Exported for the tests and the docs. */
export function botanalyticsV1Message(event: AnalyticsEvent): Record<string, unknown> {
  const m = messageOf(event);
  const user = userIdOf(event);
  return {
    is_sender_bot: m.author !== 'customer',
    // The v1 API requires a name; the customer's is not on message events (and never sent when ids are hashed).
    user: { id: user, name: user },
    message: { timestamp: epochMs(event.occurredAt), text: m.text ?? '' },
  };
}

function messageOf(event: AnalyticsEvent): NonNullable<AnalyticsEvent['message']> {
  if (!event.message) {
    throw new PermanentError(
      `botanalytics cannot express ${event.type}`,
      'ANALYTICS_BOTANALYTICS_UNSUPPORTED',
    );
  }
  return event.message;
}
