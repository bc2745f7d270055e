import type { HelpdeskEvent, Logger, TicketClosedEvent } from '../adapter';
import type { Row, TableReader } from './api';
import {
  attachmentEvent,
  assignedEventId,
  attachmentEventId,
  CORRELATION_DISPLAY,
  closeReason,
  commentEvent,
  isServiceNowDateTime,
  journalEventId,
  serviceNowDateTime,
  stateEventId,
  ticketRef,
  withSession,
} from './mapping';

export interface PollOptions {
  table: string;
  closedStates: string[];
  /** user_name of the bridge's API user: its journal entries are the customer's own messages. */
  integrationUser: string;
  /** First poll (no cursor): start this far back, to cover clock skew between this host and the instance. */
  startMarginMs?: number;
  /** Rows per request (sysparm_limit) and requests per stream per poll. */
  pageSize?: number;
  maxPages?: number;
  /**
   * Also read `sys_attachment`: files agents attach to the bridge's records, as agent messages whose link is
   * the Attachment API under `baseUrl`. Off unless given (one more request per poll).
   */
  attachments?: { baseUrl: string };
}

/**
 * Where a poll left off: ServiceNow's UTC datetime (`YYYY-MM-DD HH:mm:ss`, what the encoded queries compare) and,
 * after a `|`, the event ids already read in exactly that second. Several rows share one second, so the next poll
 * asks again with `>=`; the ids keep it from handing the same rows to the core on every poll (the core would drop
 * them as duplicates, but a closed ticket's rows would log "unknown ticket" every interval until something newer).
 * A bare datetime is a valid cursor too.
 */
export interface Cursor {
  since: string;
  seen: Set<string>;
}

export function parseCursor(value: string): Cursor | undefined {
  const [since = '', ids = ''] = value.split('|', 2);
  if (!isServiceNowDateTime(since)) return undefined;
  return { since, seen: new Set(ids.split(',').filter(Boolean)) };
}

export function formatCursor(cursor: Cursor): string {
  return cursor.seen.size ? `${cursor.since}|${[...cursor.seen].join(',')}` : cursor.since;
}

const JOURNAL_FIELDS = [
  'sys_id',
  'element',
  'element_id',
  'name',
  'value',
  'sys_created_on',
  'sys_created_by',
];
const ATTACHMENT_FIELDS = [
  'sys_id',
  'table_name',
  'table_sys_id',
  'file_name',
  'content_type',
  'size_bytes',
  'sys_created_on',
  'sys_created_by',
];
const RECORD_FIELDS = [
  'sys_id',
  'number',
  'correlation_id',
  'state',
  'sys_mod_count',
  'sys_updated_on',
  'sys_updated_by',
  'assigned_to',
];

interface Item {
  at: string;
  id: string;
  /** 0 = comment, 1 = state: a reply and a resolve in the same second reach the customer in that order. */
  order: 0 | 1;
  event?: HelpdeskEvent;
}

/**
 * The poll path (a safety net beside push, or the only path without it). Per poll, whatever the number of open
 * incidents:
 *  1. `sys_journal_field`: every public comment on the table since the cursor, not by the integration user
 *     (`element_id` is a plain GUID column, not a reference, so the journal cannot be filtered on the incident's
 *     `correlation_display` by dot-walking);
 *  2. the table: records the bridge opened (`correlation_display=blip-helpdesk-bridge`) now in a closed state, or
 *     open with an agent in `assigned_to`, and updated since the cursor;
 *  3. with `attachments` on: `sys_attachment`, every file added to the table since the cursor, not by the
 *     integration user (the customer's files are the bridge's own uploads);
 *  4. only when step 1 or 3 found rows: which of their records are the bridge's (`sys_idIN…`), so comments and
 *     files on the rest of the instance's incidents are dropped here instead of logged as unknown tickets.
 * Event ids are the push's: `journal:<sys_journal_field sys_id>`, `attachment:<sys_attachment sys_id>`,
 * `state:<sys_id>:<sys_mod_count>`, `assigned:<sys_id>:<user sys_id>`.
 */
export class ServiceNowPoll {
  private readonly startMarginMs: number;
  private readonly pageSize: number;
  private readonly maxPages: number;

  constructor(
    private readonly reader: TableReader,
    private readonly options: PollOptions,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.startMarginMs = options.startMarginMs ?? 60_000;
    this.pageSize = options.pageSize ?? 100;
    this.maxPages = options.maxPages ?? 5;
  }

  async poll(value: string | undefined): Promise<{ events: HelpdeskEvent[]; cursor: string }> {
    const cursor = this.start(value);
    const { table, closedStates, integrationUser } = this.options;
    const { since, seen } = cursor;

    const journal = await this.readAll(
      'sys_journal_field',
      `name=${table}^element=comments^sys_created_on>=${since}^sys_created_by!=${integrationUser}^ORDERBYsys_created_on`,
      JOURNAL_FIELDS,
    );
    // Records of the bridge updated since the cursor that are closed, or have an agent assigned (the bridge never
    // sets assigned_to): one request for both. Team moves are left to the push: a poll cannot tell the group a
    // record opened with from a move.
    const closes = await this.readAll(
      table,
      `correlation_display=${CORRELATION_DISPLAY}^stateIN${closedStates.join(',')}^ORassigned_toISNOTEMPTY^sys_updated_on>=${since}^ORDERBYsys_updated_on`,
      RECORD_FIELDS,
    );
    const attachmentsOn = this.options.attachments;
    const files = attachmentsOn
      ? await this.readAll(
          'sys_attachment',
          `table_name=${table}^sys_created_on>=${since}^sys_created_by!=${integrationUser}^ORDERBYsys_created_on`,
          ATTACHMENT_FIELDS,
        )
      : { rows: [], complete: true };

    // A stream that did not fit in maxPages pages: stop this poll at its last row's second (the next poll asks
    // again from there), and leave later rows of the other streams for the next poll too.
    const caps = [journal, closes, files].filter((s) => !s.complete).map((s) => s.rows.at(-1)?.at ?? since);
    const cap = caps.length ? caps.sort()[0] : undefined;
    const fresh = (at: string, id: string) =>
      at >= since && (cap === undefined || at <= cap) && !(at === since && seen.has(id));

    // The client-side checks repeat the query's (a query on a field the instance does not know is ignored by
    // ServiceNow, not refused).
    const comments = journal.rows.filter(
      (r) =>
        r.row.element === 'comments' &&
        r.row.name === table &&
        r.row.sys_created_by !== integrationUser &&
        r.row.element_id &&
        fresh(r.at, journalEventId(r.id)),
    );
    const attachments = files.rows.filter(
      (r) =>
        r.row.table_name === table &&
        r.row.sys_created_by !== integrationUser &&
        r.row.table_sys_id &&
        fresh(r.at, attachmentEventId(r.id)),
    );
    const ours = await this.bridgeRecords([
      ...new Set([
        ...comments.map((r) => r.row.element_id as string),
        ...attachments.map((r) => r.row.table_sys_id as string),
      ]),
    ]);

    const items: Item[] = [];
    for (const { row, at, id } of comments) {
      const record = ours.get(row.element_id as string);
      const comment = record
        ? commentEvent(ticketRef({ sys_id: record.sys_id as string, number: record.number }), {
            sys_id: id,
            value: row.value,
            sys_created_on: row.sys_created_on,
            sys_created_by: row.sys_created_by ?? '',
          })
        : undefined;
      const event = comment && withSession(comment, record?.correlation_id);
      items.push({ at, id: journalEventId(id), order: 0, ...(event ? { event } : {}) });
    }
    for (const { row, at, id } of attachments) {
      const record = ours.get(row.table_sys_id as string);
      const event =
        record && attachmentsOn
          ? withSession(
              attachmentEvent(
                ticketRef({ sys_id: record.sys_id as string, number: record.number }),
                {
                  sys_id: id,
                  file_name: row.file_name,
                  content_type: row.content_type,
                  size_bytes: row.size_bytes,
                  sys_created_on: row.sys_created_on,
                  sys_created_by: row.sys_created_by ?? '',
                },
                attachmentsOn.baseUrl,
              ),
              record.correlation_id,
            )
          : undefined;
      items.push({ at, id: attachmentEventId(id), order: 0, ...(event ? { event } : {}) });
    }
    for (const { row, at, id } of closes.rows) {
      const eventId = stateEventId(`${id}:${row.sys_mod_count ?? ''}`);
      if (!row.state || !closedStates.includes(row.state) || !fresh(at, eventId)) continue;
      const agentId = row.sys_updated_by;
      const event: TicketClosedEvent = withSession(
        {
          kind: 'ticket.closed',
          ticket: ticketRef({ sys_id: id, number: row.number }),
          eventId,
          reason: closeReason(table, row.state),
          ...(agentId && agentId !== integrationUser ? { agent: { id: agentId } } : {}),
        },
        row.correlation_id,
      );
      items.push({ at, id: eventId, order: 1, event });
    }
    for (const { row, at, id } of closes.rows) {
      const agentId = row.assigned_to;
      if (!agentId || (row.state && closedStates.includes(row.state))) continue;
      const eventId = assignedEventId(id, agentId);
      if (!fresh(at, eventId)) continue;
      const event = withSession(
        {
          kind: 'ticket.assigned' as const,
          ticket: ticketRef({ sys_id: id, number: row.number }),
          eventId,
          agent: { id: agentId },
        },
        row.correlation_id,
      );
      items.push({ at, id: eventId, order: 0, event });
    }
    items.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order));

    const read = [...journal.rows, ...closes.rows, ...files.rows]
      .map((r) => r.at)
      .filter((at) => at >= since);
    const last = read.length ? read.sort().at(-1)! : since;
    const next = cap !== undefined && cap < last ? cap : last;
    const nextSeen = new Set(next === since ? seen : []);
    for (const item of items) if (item.at === next) nextSeen.add(item.id);

    const events = items.flatMap((i) => (i.event ? [i.event] : []));
    if (items.length) {
      this.logger.debug('servicenow poll', {
        vendor: 'servicenow',
        since,
        comments: comments.length,
        files: attachments.length,
        closes: items.filter((i) => i.order === 1).length,
        events: events.length,
        next,
      });
    }
    return { events, cursor: formatCursor({ since: next, seen: nextSeen }) };
  }

  /** The cursor to start from: the stored one, or (first poll, or an unreadable one) now minus a margin. */
  private start(value: string | undefined): Cursor {
    if (value !== undefined) {
      const parsed = parseCursor(value);
      if (parsed) return parsed;
      this.logger.warn('servicenow poll cursor unreadable; starting from now', {
        vendor: 'servicenow',
        code: 'SERVICENOW_BAD_CURSOR',
      });
    }
    return {
      since: serviceNowDateTime(new Date(this.now().getTime() - this.startMarginMs)),
      seen: new Set(),
    };
  }

  /** Up to maxPages pages of one query; `complete` is false when more rows may match. */
  private async readAll(
    table: string,
    query: string,
    fields: string[],
  ): Promise<{ rows: Array<{ row: Row; id: string; at: string }>; complete: boolean }> {
    const stamp = table === this.options.table ? 'sys_updated_on' : 'sys_created_on';
    const rows: Array<{ row: Row; id: string; at: string }> = [];
    for (let page = 0; page < this.maxPages; page++) {
      const { rows: batch, full } = await this.reader.list(
        table,
        query,
        fields,
        this.pageSize,
        page * this.pageSize,
      );
      for (const row of batch) {
        const at = row[stamp];
        if (row.sys_id && at && isServiceNowDateTime(at)) rows.push({ row, id: row.sys_id, at });
      }
      if (!full) return { rows, complete: true };
    }
    return { rows, complete: false };
  }

  /** Which of these records the bridge opened: `sys_id` -> the record (sys_id, number). */
  private async bridgeRecords(sysIds: string[]): Promise<Map<string, Row>> {
    const found = new Map<string, Row>();
    for (let i = 0; i < sysIds.length; i += this.pageSize) {
      const chunk = sysIds.slice(i, i + this.pageSize);
      const { rows } = await this.reader.list(
        this.options.table,
        `sys_idIN${chunk.join(',')}^correlation_display=${CORRELATION_DISPLAY}`,
        ['sys_id', 'number', 'correlation_id'],
        chunk.length,
      );
      for (const row of rows) if (row.sys_id) found.set(row.sys_id, row);
    }
    return found;
  }
}
