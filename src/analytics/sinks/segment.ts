import { z } from 'zod';
import type { AnalyticsEvent, AnalyticsEventType } from '../event';
import { analyticsEventTypes } from '../event';
import { postJson } from '../http';
import { defineSink } from '../sink';
import { httpUrl, secret } from './shared';

/** Segment's event naming convention ("Object Action", title case). */
export const SEGMENT_EVENT_NAMES: Record<AnalyticsEventType, string> = {
  'handoff.started': 'Handoff Started',
  'customer.message': 'Customer Message Sent',
  'agent.message': 'Agent Message Sent',
  'automatic.message': 'Automatic Message Sent',
  'ticket.assigned': 'Ticket Assigned',
  'ticket.transferred': 'Ticket Transferred',
  'ticket.closed': 'Ticket Closed',
  'redirect.sent': 'Redirect Sent',
  'delivery.failed': 'Delivery Failed',
  'work.dead-lettered': 'Work Dead Lettered',
  'survey.ended': 'Survey Ended',
};

/** Segment takes 32 KB per event and 500 KB per batch request; we stay well under both. */
const MAX_TEXT = 8_000;
const MAX_REQUEST_BYTES = 400_000;

/**
 * A Segment-compatible HTTP Tracking API (`POST /v1/batch`, Basic auth with the write key as user name): Segment
 * itself, RudderStack (`https://<data plane>/v1/batch`) and other CDPs that speak it. Each event is a `track` call
 * whose `messageId` is the event id (Segment dedupes on it), `userId` the customer id, properties flat.
 */
export const segmentSink = defineSink({
  name: 'segment',
  title: 'Segment-compatible track API',
  supports: analyticsEventTypes,
  settingsSchema: z.object({
    ANALYTICS_SEGMENT_WRITE_KEY: secret(),
    ANALYTICS_SEGMENT_URL: httpUrl().default('https://api.segment.io/v1/batch'),
  }),
  create(settings, context) {
    const authorization = `Basic ${Buffer.from(`${settings.ANALYTICS_SEGMENT_WRITE_KEY}:`).toString('base64')}`;
    return {
      maxBatch: 100,
      async send(events, signal) {
        const calls = events.map((e) => JSON.stringify(segmentTrack(e)));
        // Several requests when the batch is large; a retry resends all of them and Segment dedupes by messageId.
        for (let start = 0; start < calls.length;) {
          let end = start + 1;
          let bytes = calls[start]!.length;
          while (end < calls.length && bytes + calls[end]!.length < MAX_REQUEST_BYTES)
            bytes += calls[end++]!.length;
          const body = `{"batch":[${calls.slice(start, end).join(',')}],"sentAt":${JSON.stringify(context.now().toISOString())}}`;
          await postJson(settings.ANALYTICS_SEGMENT_URL, body, {
            sink: 'segment',
            timeoutMs: context.timeoutMs,
            signal,
            headers: { authorization },
          });
          start = end;
        }
      },
    };
  },
});

/** The `track` call for one event. Exported for the tests and the docs. */
export function segmentTrack(event: AnalyticsEvent): Record<string, unknown> {
  const m = event.message;
  const properties: Record<string, unknown> = {
    schemaVersion: event.version,
    eventType: event.type,
    ...(event.sessionId ? { sessionId: event.sessionId } : {}),
    ...(event.ticket
      ? {
          ticketVendor: event.ticket.vendor,
          ticketId: event.ticket.id,
          ...(event.ticket.number ? { ticketNumber: event.ticket.number } : {}),
        }
      : {}),
    ...(event.customer?.channel ? { channel: event.customer.channel } : {}),
    ...(event.customer?.hashed ? { customerIdHashed: true } : {}),
    ...event.data,
  };
  if (m) {
    Object.assign(properties, {
      messageId: m.id,
      direction: m.direction,
      author: m.author,
      ...(m.text !== undefined ? { text: m.text.slice(0, MAX_TEXT) } : {}),
      ...(m.textOmitted ? { textOmitted: true } : {}),
      ...(m.contentType ? { contentType: m.contentType } : {}),
      attachmentCount: m.attachments.length,
      ...(m.attachments.length ? { attachments: m.attachments } : {}),
      ...(m.agent?.id ? { agentId: m.agent.id } : {}),
      ...(m.agent?.name ? { agentName: m.agent.name } : {}),
      ...(m.purpose ? { purpose: m.purpose } : {}),
    });
  }
  return {
    type: 'track',
    messageId: event.id,
    ...(event.customer ? { userId: event.customer.id } : { anonymousId: event.sessionId ?? event.id }),
    event: SEGMENT_EVENT_NAMES[event.type],
    properties,
    timestamp: event.occurredAt,
    context: { library: { name: 'blip-helpdesk-bridge' } },
  };
}
