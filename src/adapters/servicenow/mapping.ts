import type { AgentMessageEvent, HelpdeskEvent, TicketRef } from '../adapter';

/**
 * What push (webhook.ts) and poll (poll.ts) share, so both report the same journal entry or state change with
 * the same event id and the core's dedupe on (vendor, eventId) delivers it once, whichever path comes first.
 */

export const VENDOR = 'servicenow';
/** The value the bridge writes in `correlation_display`; the Business Rule's condition and the poll filter on it. */
export const CORRELATION_DISPLAY = 'blip-helpdesk-bridge';

export function ticketRef(record: { sys_id: string; number?: string | null }): TicketRef {
  return { vendor: VENDOR, id: record.sys_id, ...(record.number ? { number: record.number } : {}) };
}

/** A comment: the `sys_journal_field` row's sys_id (the push's `event_id` for comments). */
export function journalEventId(journalSysId: string): string {
  return `journal:${journalSysId}`;
}

/** A state change: `<record sys_id>:<sys_mod_count>` (the push's `event_id` for state changes). */
export function stateEventId(recordAndModCount: string): string {
  return `state:${recordAndModCount}`;
}

/** `correlation_id` of the record the bridge opens for a handoff session (dashes dropped, as in the fixtures). */
export function correlationId(sessionId: string): string {
  return `blip-${sessionId.replace(/-/g, '')}`;
}

/**
 * The handoff session a record belongs to, read back from its `correlation_id`, so an event that races the open
 * (the record exists, the bridge has not recorded its sys_id yet) still finds its customer.
 */
export function sessionIdFrom(correlation: string | null | undefined): string | undefined {
  const hex = /^blip-([0-9a-f]{32})$/i.exec(correlation ?? '')?.[1]?.toLowerCase();
  if (!hex) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The event with the record's session, when its correlation_id is one the bridge wrote. */
export function withSession<E extends HelpdeskEvent>(event: E, correlation: string | null | undefined): E {
  const sessionId = sessionIdFrom(correlation);
  return sessionId ? { ...event, sessionId } : event;
}

export interface JournalEntry {
  sys_id: string;
  value?: string | null;
  sys_created_on?: string | null;
  sys_created_by: string;
  author_name?: string;
}

/** A public comment as an agent message; undefined when it has no text (nothing to tell the customer). */
export function commentEvent(ticket: TicketRef, journal: JournalEntry): AgentMessageEvent | undefined {
  const text = journal.value ?? '';
  if (text.trim() === '') return undefined;
  return {
    kind: 'agent.message',
    ticket,
    eventId: journalEventId(journal.sys_id),
    agent: { id: journal.sys_created_by, ...(journal.author_name ? { name: journal.author_name } : {}) },
    message: { id: journal.sys_id, text, at: isoFromServiceNow(journal.sys_created_on) },
  };
}

/** Base-system labels of the states that end a handoff; other values are reported as `state <value>`. */
const closedLabels: Record<string, Record<string, string>> = {
  incident: { '6': 'resolved', '7': 'closed', '8': 'canceled' },
  sn_customerservice_case: { '3': 'closed', '6': 'resolved', '7': 'cancelled' },
};

/** A stable, English reason for the Redirect context (`state_label` is localised, so it is not used). */
export function closeReason(table: string, state: string): string {
  return closedLabels[table]?.[state] ?? `state ${state}`;
}

const SN_DATETIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

export function isServiceNowDateTime(value: string): boolean {
  return SN_DATETIME.test(value);
}

/** `2026-11-03 14:22:05` (ServiceNow's internal UTC format) as ISO-8601; now when absent or unreadable. */
export function isoFromServiceNow(value: string | null | undefined, now = new Date()): string {
  const m = value ? SN_DATETIME.exec(value) : null;
  return m ? `${m[1]}T${m[2]}Z` : now.toISOString();
}

/** A Date in ServiceNow's internal UTC format (`YYYY-MM-DD HH:mm:ss`), as encoded queries compare it. */
export function serviceNowDateTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/** A file on a record: the `sys_attachment` row's sys_id (the push's `event_id` for attachments). */
export function attachmentEventId(attachmentSysId: string): string {
  return `attachment:${attachmentSysId}`;
}

/** The Attachment API's download link of a file (`GET /api/now/attachment/<sys_id>/file`, authenticated). */
export function attachmentUrl(baseUrl: string, attachmentSysId: string): string {
  return `${baseUrl.replace(/\/$/, '')}/api/now/attachment/${encodeURIComponent(attachmentSysId)}/file`;
}

export interface AttachmentEntry {
  sys_id: string;
  file_name?: string | null;
  content_type?: string | null;
  size_bytes?: string | number | null;
  sys_created_on?: string | null;
  sys_created_by: string;
  author_name?: string;
}

/**
 * A file an agent attached to the record, as an agent message with no text. Its link is the instance's own
 * Attachment API, readable only with credentials (`needsAuth`): the bridge downloads it and re-hosts it.
 */
export function attachmentEvent(
  ticket: TicketRef,
  entry: AttachmentEntry,
  baseUrl: string,
): AgentMessageEvent {
  const size = Number(entry.size_bytes);
  return {
    kind: 'agent.message',
    ticket,
    eventId: attachmentEventId(entry.sys_id),
    agent: { id: entry.sys_created_by, ...(entry.author_name ? { name: entry.author_name } : {}) },
    message: {
      id: entry.sys_id,
      text: '',
      attachments: [
        {
          url: attachmentUrl(baseUrl, entry.sys_id),
          mimeType: entry.content_type || 'application/octet-stream',
          ...(entry.file_name ? { name: entry.file_name } : {}),
          ...(Number.isFinite(size) && size > 0 ? { size } : {}),
          needsAuth: true,
        },
      ],
      at: isoFromServiceNow(entry.sys_created_on),
    },
  };
}

/** `assigned:<record sys_id>:<user sys_id>`: the same on the push and the poll, so an assignment counts once. */
export function assignedEventId(recordSysId: string, userSysId: string): string {
  return `assigned:${recordSysId}:${userSysId}`;
}

/** `group:<record sys_id>:<group sys_id>`: a move to an assignment group (push only). */
export function groupEventId(recordSysId: string, groupSysId: string): string {
  return `group:${recordSysId}:${groupSysId}`;
}
