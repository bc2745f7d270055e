import { z } from 'zod';
import { type AnalyticsEvent, analyticsEventTypes } from '../event';
import { postJson } from '../http';
import { defineSink } from '../sink';
import { epochMs, httpUrl, secret, userIdOf } from './shared';

/** The REST version the Universal tracker documents (developer.dashbot.io, "Integrate with Dashbot using REST"). */
const TRACKER_VERSION = '11.1.0-rest';
/** Dashbot refuses messages whose `dashbot_timestamp` is more than an hour old; past this age we leave it out. */
const MAX_TIMESTAMP_AGE_MS = 55 * 60_000;

/**
 * Dashbot's Universal REST integration: customer messages are `incoming`, agent and bridge messages `outgoing`
 * (`text`, `userId`, `sessionId` = the handoff, `platformJson` with ids and ticket), and the other events are custom
 * events (`type=event`, `customEvent` named after the event type). One request per event.
 */
export const dashbotSink = defineSink({
  name: 'dashbot',
  title: 'Dashbot',
  supports: analyticsEventTypes,
  settingsSchema: z.object({
    ANALYTICS_DASHBOT_API_KEY: secret(),
    ANALYTICS_DASHBOT_URL: httpUrl().default('https://tracker.dashbot.io/track'),
  }),
  create(settings, context) {
    const endpoint = (type: 'incoming' | 'outgoing' | 'event'): string => {
      const url = new URL(settings.ANALYTICS_DASHBOT_URL);
      url.searchParams.set('platform', 'universal');
      url.searchParams.set('v', TRACKER_VERSION);
      url.searchParams.set('type', type);
      url.searchParams.set('apiKey', settings.ANALYTICS_DASHBOT_API_KEY);
      return url.toString();
    };
    return {
      maxBatch: 1,
      async send(events, signal) {
        for (const event of events) {
          const { type, body } = dashbotRequest(event, context.now().getTime());
          await postJson(endpoint(type), JSON.stringify(body), {
            sink: 'dashbot',
            timeoutMs: context.timeoutMs,
            signal,
          });
        }
      },
    };
  },
});

/** The tracker call for one event: which `type=` and what body. Exported for the tests and the docs. */
export function dashbotRequest(
  event: AnalyticsEvent,
  nowMs: number,
): { type: 'incoming' | 'outgoing' | 'event'; body: Record<string, unknown> } {
  const userId = userIdOf(event);
  const at = epochMs(event.occurredAt);
  const timestamp = nowMs - at <= MAX_TIMESTAMP_AGE_MS ? { dashbot_timestamp: at } : {};
  const ticket = event.ticket ? { ticket: event.ticket } : {};
  const m = event.message;
  if (m) {
    return {
      type: m.direction === 'in' ? 'incoming' : 'outgoing',
      body: {
        text: m.text ?? '',
        userId,
        ...(event.sessionId ? { sessionId: event.sessionId } : {}),
        ...timestamp,
        platformJson: {
          eventId: event.id,
          eventType: event.type,
          messageId: m.id,
          author: m.author,
          occurredAt: event.occurredAt,
          ...ticket,
          ...(m.textOmitted ? { textOmitted: true } : {}),
          ...(m.contentType ? { contentType: m.contentType } : {}),
          ...(m.attachments.length ? { attachments: m.attachments } : {}),
          ...(m.agent ? { agent: m.agent } : {}),
          ...(m.purpose ? { purpose: m.purpose } : {}),
        },
      },
    };
  }
  return {
    type: 'event',
    body: {
      name: event.type,
      type: 'customEvent',
      userId,
      ...(event.sessionId ? { conversationId: event.sessionId } : {}),
      ...timestamp,
      extraInfo: {
        eventId: event.id,
        occurredAt: event.occurredAt,
        ...ticket,
        ...(event.customer?.channel ? { channel: event.customer.channel } : {}),
        ...event.data,
      },
    },
  };
}
