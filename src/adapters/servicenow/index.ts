import {
  PermanentError,
  type AdapterContext,
  type AdapterModule,
  type AgentMessageEvent,
  type Attachment,
  type ChatMessage,
  type ClosedBy,
  type HelpdeskAdapter,
  type HelpdeskEvent,
  type Logger,
  type MediaFile,
  type OpenTicketRequest,
  type TicketRef,
  type WriteOptions,
} from '../adapter';
import { sameOrigin } from '../shared/download';
import { mappedValues, teamId } from '../shared/field-map';
import { ServiceNowApi } from './api';
import { neutraliseCodeTags } from './code-tags';
import { integrationUser, type ServiceNowConfig, servicenowConfigSchema } from './config';
import { servicenowSetup } from './setup';
import {
  attachmentEvent,
  CORRELATION_DISPLAY,
  commentEvent,
  correlationId,
  serviceNowDateTime,
  ticketRef,
} from './mapping';
import { ServiceNowPoll } from './poll';
import { ServiceNowWebhook } from './webhook';

/** `short_description` is a 160-character String on the base incident table. */
const SHORT_DESCRIPTION_MAX = 160;
/** The catch-up before a hand-back reads up to this many agent comments of the record and keeps the last ones. */
const RECENT_LIMIT = 200;
const RECENT_KEEP = 20;
/** Before a repeated comment: the integration user's comments on the record since the message, newest first. */
const APPLIED_LIMIT = 50;

/**
 * ServiceNow: one record (incident, or a CSM case) per handoff, customer messages as Additional comments written
 * by the integration user. Agent replies and closes come by push (the Business Rule in business-rule.js, when
 * SERVICENOW_PUSH_SECRET is set) and by polling (SERVICENOW_POLL, the safety net); both report the same event ids.
 */
export class ServiceNowAdapter implements HelpdeskAdapter {
  readonly name = 'servicenow';
  readonly limits: { requestsPerMinute: number };
  /** The Attachment API attaches a file to a record: it needs the record's sys_id. */
  readonly uploadNeedsTicket = true;
  /** Only with SERVICENOW_PUSH_SECRET: without it the bridge exposes no ServiceNow route and relies on polling. */
  readonly webhook?: ServiceNowWebhook;
  /** Only with SERVICENOW_POLL=true (the default). */
  readonly poll?: (cursor: string | undefined) => Promise<{ events: HelpdeskEvent[]; cursor: string }>;
  private readonly table: string;
  private readonly integrationUser: string;
  private readonly logger: Logger;

  constructor(
    private readonly config: ServiceNowConfig,
    context: AdapterContext,
    private readonly api = new ServiceNowApi(config),
  ) {
    this.logger = context.logger;
    this.table = config.SERVICENOW_TABLE;
    this.integrationUser = integrationUser(config);
    this.limits = { requestsPerMinute: config.SERVICENOW_REQUESTS_PER_MINUTE };
    if (config.SERVICENOW_PUSH_SECRET) {
      this.webhook = new ServiceNowWebhook(config.SERVICENOW_PUSH_SECRET, {
        closedStates: config.SERVICENOW_CLOSED_STATES,
        integrationUser: this.integrationUser,
        baseUrl: api.baseUrl,
        maxSkewSeconds: config.SERVICENOW_WEBHOOK_MAX_SKEW_SECONDS,
      });
    }
    if (config.SERVICENOW_POLL) {
      const poller = new ServiceNowPoll(
        api,
        {
          table: this.table,
          closedStates: config.SERVICENOW_CLOSED_STATES,
          integrationUser: this.integrationUser,
          attachments: { baseUrl: api.baseUrl },
        },
        this.logger,
      );
      this.poll = (cursor) => poller.poll(cursor);
    }
  }

  /**
   * ServiceNow has no idempotency key. The record carries `correlation_id = blip-<session id>`, so a retry (or the
   * core resuming an `opening` handoff after a crash) first looks for the record the earlier attempt created and
   * returns it instead of creating a second one. Not atomic: it relies on the core running one open per customer
   * at a time, which it does (per-customer lock).
   */
  async openTicket(req: OpenTicketRequest): Promise<TicketRef> {
    const correlation = correlationId(req.sessionId);
    const { rows } = await this.api.list(
      this.table,
      `correlation_id=${correlation}^ORDERBYsys_created_on`,
      ['sys_id', 'number'],
      1,
    );
    const existing = rows[0];
    if (existing?.sys_id) {
      this.logger.info('servicenow record of this session already exists; reusing it', {
        vendor: this.name,
        session: req.sessionId,
        ticket: existing.sys_id,
      });
      return ticketRef({ sys_id: existing.sys_id, number: existing.number });
    }
    const customer = req.customer;
    const created = await this.api.create(this.table, {
      ...this.handoffFields(req),
      short_description: req.subject.slice(0, SHORT_DESCRIPTION_MAX),
      description: [contactLine(req), commentBody(req.first)].filter(Boolean).join('\n\n'),
      contact_type: 'chat',
      correlation_id: correlation,
      // The Business Rule's condition, and the poll's filter: only the bridge's records.
      correlation_display: CORRELATION_DISPLAY,
      // Who the customer is (the real customer behind the tunnel): a custom column the README asks admins to add.
      [this.config.SERVICENOW_CUSTOMER_FIELD]: customer.originator ?? customer.key,
      ...(this.config.SERVICENOW_CALLER_ID ? { caller_id: this.config.SERVICENOW_CALLER_ID } : {}),
    });
    return ticketRef({ sys_id: created.sys_id as string, number: created.number });
  }

  /**
   * Reopen policy: a resolved record goes back to SERVICENOW_REOPEN_STATE (incident: 2 In Progress; a CSM case:
   * 10 Open) with the customer's comment. A Closed record is read-only in the base system: the refusal (403) makes
   * the core open a new record. Both fields go in one PATCH: a comment found from an earlier try means the state
   * was set with it.
   */
  async reopenTicket(
    ticket: TicketRef,
    message: ChatMessage,
    _idempotencyKey?: string,
    options?: WriteOptions,
  ): Promise<void> {
    const comments = commentBody(message);
    if (options?.again && (await this.commentApplied(ticket, comments, message.at))) return;
    await this.api.update(
      this.table,
      ticket.id,
      { state: this.config.SERVICENOW_REOPEN_STATE, comments },
      'reopen',
    );
  }

  /**
   * Urgency and impact from the priority (ServiceNow derives the priority from both: urgent → 1 Critical,
   * high → 2 High, normal → 3 Moderate, low → 4 Low), the assignment group from the team
   * (SERVICENOW_ASSIGNMENT_GROUPS, or a sys_id), and the mapped columns (SERVICENOW_CONTACT_FIELDS).
   */
  private handoffFields(req: OpenTicketRequest): Record<string, string> {
    const fields: Record<string, string> = {};
    for (const { target, value } of mappedValues(this.config.SERVICENOW_CONTACT_FIELDS, req))
      fields[target] = value;
    const priority = req.fields?.priority;
    if (priority) Object.assign(fields, URGENCY_IMPACT[priority]);
    const group = teamId(req.fields?.team, this.config.SERVICENOW_ASSIGNMENT_GROUPS, /^[0-9a-f]{32}$/);
    if (group.id) fields.assignment_group = group.id;
    if (group.unmapped) {
      this.logger.warn(
        'team has no assignment group in SERVICENOW_ASSIGNMENT_GROUPS; the record goes without one',
        {
          vendor: this.name,
          team: group.unmapped,
          code: 'SERVICENOW_UNKNOWN_TEAM',
        },
      );
    }
    return fields;
  }

  async appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    _idempotencyKey?: string,
    options?: WriteOptions,
  ): Promise<void> {
    const comments = commentBody(message);
    if (options?.again && (await this.commentApplied(ticket, comments, message.at))) return;
    await this.api.update(this.table, ticket.id, { comments }, 'add comment');
  }

  /**
   * Whether an earlier try of this comment was applied: ServiceNow takes no idempotency key and a journal entry
   * carries nothing but its text, so this is a heuristic (README, "No idempotency key"). The comment counts as
   * applied when the record has a comments entry by the integration user with the same text (line endings and
   * surrounding blanks aside), created in or after the second the bridge received the message: an older identical
   * text (the customer said "ok" before) is not taken for it.
   */
  private async commentApplied(ticket: TicketRef, body: string, receivedAt: string): Promise<boolean> {
    const received = new Date(receivedAt);
    // Without the message's time an older identical text could be taken for it: post (a duplicate at worst).
    if (Number.isNaN(received.getTime())) return false;
    const since = serviceNowDateTime(received); // to the second, as sys_created_on
    const { rows } = await this.api.list(
      'sys_journal_field',
      `name=${this.table}^element_id=${ticket.id}^element=comments^sys_created_by=${this.integrationUser}` +
        `^sys_created_on>=${since}^ORDERBYDESCsys_created_on`,
      ['value', 'sys_created_on'],
      APPLIED_LIMIT,
    );
    // The API wrote the text with its [code] tags neutralised (code-tags.ts): that is what the journal holds.
    const wanted = sameText(neutraliseCodeTags(body));
    const applied = rows.some(
      (r) => r.value !== undefined && (r.sys_created_on ?? '') >= since && sameText(r.value) === wanted,
    );
    if (applied) {
      this.logger.info('comment already on the record from an earlier try; not posting it again', {
        vendor: this.name,
        ticket: ticket.id,
        code: 'SERVICENOW_COMMENT_ALREADY_APPLIED',
      });
    }
    return applied;
  }

  /** The customer's file on the record (Attachment API); the comment then names it. Returns its sys_id. */
  async uploadAttachment(file: MediaFile, ticket?: TicketRef): Promise<string> {
    if (!ticket) {
      throw new PermanentError(
        'servicenow upload attachment: no record to attach the file to',
        'SERVICENOW_NO_RECORD',
      );
    }
    return this.api.uploadAttachment(this.table, ticket.id, file);
  }

  /**
   * An agent's file from the instance's Attachment API, with the integration user's credentials; undefined for
   * a link on any other host (the core fetches it as a public link).
   */
  async downloadAttachment(attachment: Attachment, maxBytes: number): Promise<MediaFile | undefined> {
    if (!sameOrigin(attachment.url, this.api.baseUrl)) return undefined;
    return this.api.downloadAttachment(attachment, maxBytes);
  }

  /** The poll names an assignee by sys_id only: `sys_user.name` (or `sys_user_group.name`). */
  async nameOf(what: 'agent' | 'team', id: string): Promise<string | undefined> {
    const table = what === 'agent' ? 'sys_user' : 'sys_user_group';
    const { rows } = await this.api.list(table, `sys_id=${id}`, ['sys_id', 'name'], 1);
    const name = rows[0]?.name;
    return typeof name === 'string' && name.trim() ? name : undefined;
  }

  async addInternalNote(ticket: TicketRef, text: string): Promise<void> {
    await this.api.update(this.table, ticket.id, { work_notes: text }, 'work note');
  }

  /** Resolves the record (the first of SERVICENOW_CLOSED_STATES) with the close fields the base data policy asks for. */
  async closeTicket(ticket: TicketRef, closedBy: ClosedBy): Promise<void> {
    await this.api.update(
      this.table,
      ticket.id,
      {
        state: this.config.SERVICENOW_CLOSED_STATES[0] as string,
        close_code: this.config.SERVICENOW_CLOSE_CODE,
        close_notes: `The BLiP chat ended (${closedBy}); resolved by blip-helpdesk-bridge.`,
        work_notes: `blip-helpdesk-bridge: the chat ended (${closedBy}), so the bridge resolved this record.`,
      },
      'resolve',
    );
  }

  /**
   * The record's latest public comments not written by the bridge, oldest first (run by the core before a
   * hand-back). Asked for oldest first: several entries can share one second, and a descending order would turn
   * those ties around.
   */
  async recentAgentMessages(ticket: TicketRef): Promise<AgentMessageEvent[]> {
    const { rows } = await this.api.list(
      'sys_journal_field',
      `name=${this.table}^element_id=${ticket.id}^element=comments^sys_created_by!=${this.integrationUser}^ORDERBYsys_created_on`,
      ['sys_id', 'element', 'value', 'sys_created_on', 'sys_created_by'],
      RECENT_LIMIT,
    );
    const comments = rows
      .filter((r) => r.sys_id && r.element === 'comments' && r.sys_created_by !== this.integrationUser)
      .slice(-RECENT_KEEP)
      .flatMap((r) => {
        const event = commentEvent(ticket, {
          sys_id: r.sys_id as string,
          value: r.value,
          sys_created_on: r.sys_created_on,
          sys_created_by: r.sys_created_by ?? '',
        });
        return event ? [{ at: r.sys_created_on ?? '', event }] : [];
      });
    // Files agents attached to the record, with the push's and the poll's ids (`attachment:<sys_id>`).
    const files = await this.api.list(
      'sys_attachment',
      `table_name=${this.table}^table_sys_id=${ticket.id}^sys_created_by!=${this.integrationUser}^ORDERBYsys_created_on`,
      ['sys_id', 'file_name', 'content_type', 'size_bytes', 'sys_created_on', 'sys_created_by'],
      RECENT_LIMIT,
    );
    const attachments = files.rows
      .filter((r) => r.sys_id && r.sys_created_by !== this.integrationUser)
      .slice(-RECENT_KEEP)
      .map((r) => ({
        at: r.sys_created_on ?? '',
        event: attachmentEvent(
          ticket,
          {
            sys_id: r.sys_id as string,
            file_name: r.file_name,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sys_created_on: r.sys_created_on,
            sys_created_by: r.sys_created_by ?? '',
          },
          this.api.baseUrl,
        ),
      }));
    // Oldest first; a comment before a file of the same second (stable sort).
    return [...comments, ...attachments]
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
      .map((x) => x.event);
  }
}

const URGENCY_IMPACT: Record<string, { urgency: string; impact: string }> = {
  urgent: { urgency: '1', impact: '1' },
  high: { urgency: '1', impact: '2' },
  normal: { urgency: '2', impact: '2' },
  low: { urgency: '2', impact: '3' },
};

/**
 * Who the customer is, from their BLiP contact, as the description's first line (agents read it first; the
 * record has no requester of its own: `u_blip_customer` holds the identity). Only when BLiP knows a name or an
 * e-mail: a phone number alone is the identity again.
 */
function contactLine(req: OpenTicketRequest): string {
  const c = req.contact;
  if (!c?.name && !c?.email) return '';
  const parts = [c.name, c.email, c.phone].filter((p): p is string => !!p && p.trim() !== '');
  return `BLiP contact: ${parts.join(' · ')}`;
}

/**
 * The comment text: the readable message, then a line naming each file attached to the record for it (so agents
 * know which message a file in the record's attachments belongs to), and the links of files that are only links.
 * Files the core already noted in the text (`notAttached`) are not repeated.
 */
function commentBody(message: ChatMessage): string {
  const attachments = message.attachments ?? [];
  const attached = attachments.filter((a) => a.uploadRef).map((a) => `[attached: ${a.name ?? a.mimeType}]`);
  const links = attachments
    .filter((a) => !a.uploadRef && !a.notAttached)
    .map((a) => `${a.name ?? a.mimeType}: ${a.url}`);
  return (
    [message.text, ...attached, ...links].filter((part) => part.trim() !== '').join('\n') || '(empty message)'
  );
}

/** A journal entry's text as compared with the comment sent: line endings and surrounding blanks aside. */
function sameText(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}

export const servicenowModule: AdapterModule<typeof servicenowConfigSchema> = {
  name: 'servicenow',
  configSchema: servicenowConfigSchema,
  create: (config, context) => new ServiceNowAdapter(config, context),
  setup: servicenowSetup,
};
