import type { DomainEventMap } from '../core/events';
import { channelOf } from './channels';
import { talkAad, type TextCipher } from './crypto';
import { withDerived, type Participant, type SessionRecord, type TalkEntry } from './schema';

/**
 * The record builder: how each domain event changes a session's record. Pure functions, so the same logic runs in
 * every storage backend (inside its transaction) and in the unit tests.
 *
 * Events of one session can reach the recorder out of order (several bridge instances record into one database,
 * each the events it saw), so every field is merged, never just overwritten: times take the earliest (or latest)
 * value, counters add up, and a message is counted once thanks to its talk log entry id (see `talkEntryFor`).
 */

export const RECORDED_EVENTS = [
  'handoff.started',
  'customer.message',
  'agent.message',
  'automatic.message',
  'ticket.assigned',
  'ticket.transferred',
  'ticket.closed',
  'survey.ended',
  'redirect.sent',
  'delivery.failed',
] as const;
export type RecordedEventName = (typeof RECORDED_EVENTS)[number];

export type ReportEvent = {
  [E in RecordedEventName]: { name: E; payload: DomainEventMap[E] };
}[RecordedEventName];

export interface BuilderOptions {
  /** A ticket tag starting with this names the team / queue (`team_billing` → `billing`). Empty: no team. */
  teamTagPrefix: string;
}

/** The session an event belongs to; undefined for events not tied to a session (nothing to record). */
export function sessionIdOf(event: ReportEvent): string | undefined {
  return event.payload.sessionId || undefined;
}

/** When the event happened, for ordering; a customer message counts from when the bridge received it. */
export function eventTime(event: ReportEvent): string {
  if (event.name === 'customer.message') return minTime(event.payload.receivedAt, event.payload.at)!;
  if (event.name === 'handoff.started') return minTime(event.payload.openedAt, event.payload.at)!;
  return iso(event.payload.at);
}

export function emptyRecord(sessionId: string, at: string): SessionRecord {
  return withDerived({
    session_id: sessionId,
    protocol: null,
    vendor: null,
    ticket_id: null,
    channel: null,
    channel_domain: null,
    router: null,
    customer_identity: null,
    customer_key: null,
    customer_name: null,
    team: null,
    agent_id: null,
    agent_name: null,
    agent_ids: null,
    agent_names: null,
    agents: [],
    status: 'open',
    created_at: at,
    ticket_opened_at: null,
    first_agent_reply_at: null,
    finished_at: null,
    waiting_seconds: null,
    handle_seconds: null,
    total_seconds: null,
    closed_by: null,
    close_reason: null,
    tags: null,
    expired: false,
    customer_messages: 0,
    agent_messages: 0,
    automatic_messages: 0,
    attachments: 0,
    delivery_failures: 0,
    handed_back_at: null,
    last_event_at: at,
    first_assigned_at: null,
    transfers: 0,
    locale: null,
    rating: null,
    survey: null,
  });
}

/** The record after one event. `record` is undefined for a session not seen before. */
export function applyEvent(
  record: SessionRecord | undefined,
  event: ReportEvent,
  options: BuilderOptions,
): SessionRecord {
  const at = eventTime(event);
  const base = record ?? emptyRecord(event.payload.sessionId as string, at);
  const r: SessionRecord = {
    ...base,
    agents: base.agents.map((a) => ({ ...a })),
    created_at: minTime(base.created_at, at)!,
    last_event_at: maxTime(base.last_event_at, at)!,
  };
  const ticket = 'ticket' in event.payload ? event.payload.ticket : undefined;
  if (ticket) {
    r.vendor = ticket.vendor || r.vendor;
    r.ticket_id = ticket.id || r.ticket_id;
    // The number wins whenever an event carries it (webhook events often carry only the id).
    r.protocol = nonEmpty(ticket.number) ?? r.protocol ?? nonEmpty(ticket.id);
  }

  switch (event.name) {
    case 'handoff.started': {
      const p = event.payload;
      const { channel, domain } = channelOf(p.customer.originator ?? p.customer.key);
      r.vendor = p.vendor || r.vendor;
      r.channel = channel;
      r.channel_domain = domain;
      r.router = nonEmpty(p.customer.owner) ?? r.router;
      r.customer_identity =
        nonEmpty(p.customer.originator) ?? nonEmpty(p.customer.key) ?? r.customer_identity;
      r.customer_key = nonEmpty(p.customer.key) ?? r.customer_key;
      r.customer_name = nonEmpty(p.customer.name) ?? r.customer_name;
      r.tags = p.tags.length ? p.tags.map((t) => t.replaceAll(';', ',')).join(';') : r.tags;
      // The team the handoff named (BRIDGE_TEAM or the Redirect context); else a `team_<name>` tag.
      r.team = nonEmpty(p.team) ?? teamOf(p.tags, options.teamTagPrefix) ?? r.team;
      r.ticket_opened_at = minTime(r.ticket_opened_at, p.at);
      r.locale = nonEmpty(p.locale) ?? r.locale ?? null;
      break;
    }
    case 'customer.message':
      r.customer_messages += 1;
      r.attachments += event.payload.attachments.length;
      break;
    case 'agent.message': {
      const p = event.payload;
      r.agent_messages += 1;
      r.attachments += p.attachments.length;
      r.first_agent_reply_at = minTime(r.first_agent_reply_at, p.at);
      if (p.agentId) takePart(r, { id: p.agentId, name: nonEmpty(p.agentName) }, r.status !== 'closed');
      break;
    }
    case 'automatic.message':
      r.automatic_messages += 1;
      break;
    case 'ticket.assigned': {
      const p = event.payload;
      takePart(r, { id: p.agentId, name: nonEmpty(p.agentName) }, r.status !== 'closed');
      r.first_assigned_at = minTime(r.first_assigned_at, p.at);
      break;
    }
    case 'ticket.transferred':
      // The event carries the handoff's count so far: the largest seen is right in any order, and once.
      r.transfers = Math.max(r.transfers ?? 0, event.payload.transfers);
      break;
    case 'ticket.closed': {
      const p = event.payload;
      r.status = 'closed';
      r.finished_at = minTime(r.finished_at, p.at);
      r.closed_by = p.closedBy;
      r.close_reason = nonEmpty(p.reason) ?? r.close_reason;
      if (p.agentId) takePart(r, { id: p.agentId, name: nonEmpty(p.agentName) }, true);
      r.locale = r.locale ?? nonEmpty(p.locale);
      break;
    }
    case 'survey.ended': {
      const p = event.payload;
      // A rating, once recorded, stays (a survey ends once; a repeated event changes nothing).
      r.rating = r.rating ?? p.rating ?? null;
      r.survey = r.rating !== null ? 'answered' : p.outcome;
      r.locale = r.locale ?? nonEmpty(p.locale);
      break;
    }
    case 'redirect.sent':
      r.handed_back_at = minTime(r.handed_back_at, event.payload.at);
      break;
    case 'delivery.failed':
      r.delivery_failures += 1;
      break;
  }
  return withDerived(r);
}

/**
 * The talk log line of a message event (undefined for other events). Its `entry_id` is what makes a message count
 * once. Text and media links are kept only with a cipher (text storage on), and then only encrypted.
 */
export function talkEntryFor(event: ReportEvent, cipher?: TextCipher): TalkEntry | undefined {
  const sessionId = event.payload.sessionId;
  if (!sessionId) return undefined;
  const seal = (entryId: string, text: string, links: unknown[]) => ({
    text_enc: cipher && text ? cipher.encrypt(text, talkAad(sessionId, entryId, 'text')) : null,
    media_enc:
      cipher && links.length
        ? cipher.encrypt(JSON.stringify(links), talkAad(sessionId, entryId, 'media'))
        : null,
  });
  switch (event.name) {
    case 'customer.message': {
      const p = event.payload;
      const entryId = `customer:${p.messageId}`;
      return {
        session_id: sessionId,
        entry_id: entryId,
        at: eventTime(event),
        origin: 'customer',
        type: p.contentType ?? 'text/plain',
        detail: null,
        attachments: p.attachments.length,
        ...seal(entryId, p.text, p.attachments),
      };
    }
    case 'agent.message': {
      const p = event.payload;
      const entryId = `agent:${p.messageId}`;
      return {
        session_id: sessionId,
        entry_id: entryId,
        at: iso(p.at),
        origin: 'agent',
        type: p.attachments.length ? 'application/vnd.lime.media-link+json' : 'text/plain',
        detail: nonEmpty(p.agentId),
        attachments: p.attachments.length,
        ...seal(entryId, p.text, p.attachments),
      };
    }
    case 'automatic.message': {
      const p = event.payload;
      const entryId = `automatic:${p.messageId}`;
      return {
        session_id: sessionId,
        entry_id: entryId,
        at: iso(p.at),
        origin: 'automatic',
        type: 'text/plain',
        detail: p.purpose,
        attachments: 0,
        ...seal(entryId, p.text, []),
      };
    }
    default:
      return undefined;
  }
}

/** Adds an agent to the participants (once; a later name fills a missing one) and, if `current`, makes them the agent. */
function takePart(r: SessionRecord, agent: Participant, current: boolean): void {
  const known = r.agents.find((a) => a.id === agent.id);
  if (!known) r.agents.push(agent);
  else if (!known.name && agent.name) known.name = agent.name;
  if (current) {
    r.agent_id = agent.id;
    r.agent_name = agent.name ?? known?.name ?? null;
  } else if (r.agent_id === agent.id && !r.agent_name && agent.name) {
    r.agent_name = agent.name;
  }
}

function teamOf(tags: string[], prefix: string): string | null {
  if (!prefix) return null;
  const tag = tags.find((t) => t.startsWith(prefix) && t.length > prefix.length);
  return tag ? tag.slice(prefix.length) : null;
}

function nonEmpty(value: string | undefined | null): string | null {
  return value && value.trim() ? value : null;
}

/** ISO-8601 UTC with milliseconds: one spelling, so stored times also compare as text (SQLite). */
function iso(value: string): string {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? new Date().toISOString() : new Date(ms).toISOString();
}

function minTime(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ? iso(b) : null;
  if (!b) return iso(a);
  return Date.parse(b) < Date.parse(a) ? iso(b) : iso(a);
}

function maxTime(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ? iso(b) : null;
  if (!b) return iso(a);
  return Date.parse(b) > Date.parse(a) ? iso(b) : iso(a);
}
