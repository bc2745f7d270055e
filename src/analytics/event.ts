import { createHmac } from 'node:crypto';
import type { AttachmentLink, DomainEventMap } from '../core/events';
import { stableId } from '../core/ids';
import type { TicketRef } from '../core/model';

/**
 * The analytics event: one vendor-neutral, versioned shape built from each domain event, which every sink maps
 * to its tool's format (the webhook sink posts it as it is; docs/analytics.md documents it).
 * Version 1. Adding a field is not a breaking change; removing or changing one bumps `version`.
 */
export const ANALYTICS_SCHEMA_VERSION = 1;

/** The domain events the hub forwards, in the bridge's own names. */
export const analyticsEventTypes = [
  'handoff.started',
  'customer.message',
  'agent.message',
  'automatic.message',
  'ticket.assigned',
  'ticket.transferred',
  'ticket.closed',
  'redirect.sent',
  'delivery.failed',
  'work.dead-lettered',
  'survey.ended',
] as const satisfies ReadonlyArray<keyof DomainEventMap>;

export type AnalyticsEventType = (typeof analyticsEventTypes)[number];

/** The message events: the ones the message-tracking tools (Dashbot, Chatbase, BotAnalytics) understand. */
export const messageEventTypes = ['customer.message', 'agent.message', 'automatic.message'] as const;

export interface AnalyticsCustomer {
  /** The customer's stable key (the tunnel identity behind a router), or its keyed hash. */
  id: string;
  /** True when `id`, `address` and `originator` are hashes (ANALYTICS_*_HASH_CUSTOMER_IDS). */
  hashed: boolean;
  /** The address the bridge answers to; on `handoff.started` only. */
  address?: string;
  /** The real customer behind the router's tunnel (e.g. a WhatsApp number identity); on `handoff.started` only. */
  originator?: string;
  /** The router bot that owns the tunnel; on `handoff.started` only. */
  owner?: string;
  /** Display name; on `handoff.started` only, dropped when ids are hashed. */
  name?: string;
  /** Messaging channel derived from the originator's domain (`whatsapp`, `instagram`, …); on `handoff.started` only. */
  channel?: string;
}

export interface AnalyticsAttachment {
  /** Dropped when text is omitted (links to customer files are message content). */
  url?: string;
  mimeType: string;
  name?: string;
  size?: number;
}

export interface AnalyticsMessage {
  id: string;
  /** `in`: from the customer; `out`: to the customer. */
  direction: 'in' | 'out';
  author: 'customer' | 'agent' | 'bot';
  /** Absent when text is omitted (ANALYTICS_*_OMIT_TEXT); `textOmitted` is then true. */
  text?: string;
  textOmitted?: boolean;
  contentType?: string;
  attachments: AnalyticsAttachment[];
  agent?: { id?: string; name?: string };
  /** automatic.message: why the bridge wrote (`closing`, `waiting`, …). */
  purpose?: string;
}

export interface AnalyticsEvent {
  version: typeof ANALYTICS_SCHEMA_VERSION;
  /** Stable for the same occurrence: receivers dedupe on it (a retried delivery carries the same id). */
  id: string;
  type: AnalyticsEventType;
  /** ISO-8601 time it happened in the bridge. */
  occurredAt: string;
  sessionId?: string;
  customer?: AnalyticsCustomer;
  ticket?: { vendor: string; id: string; number?: string };
  message?: AnalyticsMessage;
  /** The event's own fields (see docs/analytics.md per type); never message text. */
  data: Record<string, string | number | boolean | string[]>;
}

/** Builds the analytics event for a domain event: pure, synchronous, cheap (it runs inside the emitting call). */
export function toAnalyticsEvent<E extends AnalyticsEventType>(
  type: E,
  payload: DomainEventMap[E],
): AnalyticsEvent {
  // Each case narrows the payload by its type name; TypeScript cannot correlate `type` and `payload` by itself.
  const p = payload as DomainEventMap[AnalyticsEventType];
  const base = (naturalKey: string, extra: Partial<AnalyticsEvent> = {}): AnalyticsEvent => ({
    version: ANALYTICS_SCHEMA_VERSION,
    id: stableId(`analytics:${type}:${naturalKey}`),
    type,
    occurredAt: p.at,
    data: {},
    ...extra,
  });
  switch (type) {
    case 'handoff.started': {
      const e = p as DomainEventMap['handoff.started'];
      return base(e.sessionId, {
        sessionId: e.sessionId,
        customer: {
          id: e.customerKey,
          hashed: false,
          address: e.customer.address,
          ...(e.customer.originator ? { originator: e.customer.originator } : {}),
          ...(e.customer.owner ? { owner: e.customer.owner } : {}),
          ...(e.customer.name ? { name: e.customer.name } : {}),
          ...channelOf(e.customer.originator ?? e.customer.address),
        },
        ticket: ticketOf(e.ticket),
        data: compact({ vendor: e.vendor, openedAt: e.openedAt, tags: e.tags, locale: e.locale }),
      });
    }
    case 'customer.message': {
      const e = p as DomainEventMap['customer.message'];
      return base(`${e.sessionId}:${e.messageId}`, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        message: {
          id: e.messageId,
          direction: 'in',
          author: 'customer',
          text: e.text,
          ...(e.contentType ? { contentType: e.contentType } : {}),
          attachments: attachmentsOf(e.attachments),
        },
        data: compact({ receivedAt: e.receivedAt }),
      });
    }
    case 'agent.message': {
      const e = p as DomainEventMap['agent.message'];
      return base(`${e.sessionId}:${e.messageId}`, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        message: {
          id: e.messageId,
          direction: 'out',
          author: 'agent',
          text: e.text,
          attachments: attachmentsOf(e.attachments),
          ...(e.agentId || e.agentName ? { agent: compact({ id: e.agentId, name: e.agentName }) } : {}),
        },
      });
    }
    case 'automatic.message': {
      const e = p as DomainEventMap['automatic.message'];
      const key = `${e.sessionId}:${e.purpose}:${e.at}`;
      return base(key, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ...(e.ticket ? { ticket: ticketOf(e.ticket) } : {}),
        message: {
          id: stableId(`automatic:${key}`),
          direction: 'out',
          author: 'bot',
          text: e.text,
          attachments: [],
          purpose: e.purpose,
        },
      });
    }
    case 'ticket.assigned': {
      const e = p as DomainEventMap['ticket.assigned'];
      return base(`${e.sessionId}:${e.agentId}:${e.at}`, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        data: compact({ agentId: e.agentId, agentName: e.agentName, first: e.first }),
      });
    }
    case 'ticket.transferred': {
      const e = p as DomainEventMap['ticket.transferred'];
      return base(`${e.sessionId}:${e.teamId}:${e.transfers}`, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        data: compact({
          teamId: e.teamId,
          teamName: e.teamName,
          previousTeam: e.previousTeam,
          transfers: e.transfers,
        }),
      });
    }
    case 'ticket.closed': {
      const e = p as DomainEventMap['ticket.closed'];
      return base(e.sessionId, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        data: compact({
          closedBy: e.closedBy,
          reason: e.reason,
          agentId: e.agentId,
          agentName: e.agentName,
          locale: e.locale,
        }),
      });
    }
    case 'survey.ended': {
      const e = p as DomainEventMap['survey.ended'];
      return base(e.sessionId, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        data: compact({ outcome: e.outcome, rating: e.rating, locale: e.locale }),
      });
    }
    case 'redirect.sent': {
      const e = p as DomainEventMap['redirect.sent'];
      return base(e.sessionId, {
        sessionId: e.sessionId,
        customer: { id: e.customerKey, hashed: false },
        ticket: ticketOf(e.ticket),
        // No address: the Redirect went to the router's default (main) bot.
        data: compact({ address: e.address }),
      });
    }
    case 'delivery.failed': {
      const e = p as DomainEventMap['delivery.failed'];
      return base(`${e.customerKey}:${e.messageId ?? e.at}:${e.direction}:${e.code}`, {
        ...(e.sessionId ? { sessionId: e.sessionId } : {}),
        customer: { id: e.customerKey, hashed: false },
        ...(e.ticket ? { ticket: ticketOf(e.ticket) } : {}),
        data: compact({ direction: e.direction, messageId: e.messageId, code: e.code, reason: e.reason }),
      });
    }
    case 'work.dead-lettered': {
      const e = p as DomainEventMap['work.dead-lettered'];
      return base(e.deadLetterId, {
        ...(e.sessionId ? { sessionId: e.sessionId } : {}),
        ...(e.customerKey ? { customer: { id: e.customerKey, hashed: false } } : {}),
        data: compact({
          kind: e.kind,
          deadLetterId: e.deadLetterId,
          code: e.code,
          reason: e.reason,
          attempts: e.attempts,
        }),
      });
    }
  }
  throw new Error(`not an analytics event type: ${String(type)}`);
}

export interface PrivacyOptions {
  /** Drop message text and attachment links/names. */
  omitText: boolean;
  /** Replace customer ids with a keyed hash and drop the customer's name. */
  hashCustomerIds: boolean;
}

/** A keyed hash (HMAC-SHA256, 32 hex characters): the same customer gets the same id at every sink. */
export function customerHasher(salt: string): (value: string) => string {
  return (value) => createHmac('sha256', salt).update(value).digest('hex').slice(0, 32);
}

/** What one sink may see of an event. Returns a new object; the input is not changed. */
export function applyPrivacy(
  event: AnalyticsEvent,
  options: PrivacyOptions,
  hash: ((value: string) => string) | undefined,
): AnalyticsEvent {
  if (!options.omitText && !options.hashCustomerIds) return event;
  const out: AnalyticsEvent = { ...event };
  if (options.omitText && event.message) {
    const { text: _text, ...rest } = event.message;
    out.message = {
      ...rest,
      textOmitted: true,
      attachments: event.message.attachments.map(({ mimeType, size }) => compact({ mimeType, size })),
    } as AnalyticsMessage;
  }
  if (options.hashCustomerIds && event.customer) {
    if (!hash) throw new Error('hashCustomerIds needs a hash salt');
    const { name: _name, ...c } = event.customer;
    out.customer = {
      ...c,
      id: hash(c.id),
      hashed: true,
      ...(c.address ? { address: hash(c.address) } : {}),
      ...(c.originator ? { originator: hash(c.originator) } : {}),
    };
  }
  return out;
}

/** Channel names by the domain of the identity behind the tunnel (BLiP gateway domains). */
const CHANNELS: Record<string, string> = {
  'wa.gw.msging.net': 'whatsapp',
  '0mn.io': 'blipchat',
  'mailgw.msging.net': 'email',
};

/** `<name>.gw.msging.net` gives `<name>` (messenger, instagram, telegram…); a few gateways have their own names. */
function channelOf(identity: string): { channel?: string } {
  const at = identity.indexOf('@');
  const domain = (at >= 0 ? identity.slice(at + 1) : identity).split('/')[0]!.toLowerCase();
  const gateway = /^([a-z0-9-]+)\.gw\.msging\.net$/.exec(domain)?.[1];
  const channel = CHANNELS[domain] ?? gateway;
  return channel ? { channel } : {};
}

function ticketOf(t: TicketRef): { vendor: string; id: string; number?: string } {
  return { vendor: t.vendor, id: t.id, ...(t.number ? { number: t.number } : {}) };
}

function attachmentsOf(links: AttachmentLink[]): AnalyticsAttachment[] {
  return links.map(({ url, mimeType, name, size }) => compact({ url, mimeType, name, size }));
}

/** Drops undefined values, so the JSON has no `null`s and the shapes stay exact. */
function compact<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
