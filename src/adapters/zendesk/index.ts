import {
  errorCode,
  PermanentError,
  silentLogger,
  type AdapterModule,
  type AgentMessageEvent,
  type Attachment,
  type ChatMessage,
  type ClosedBy,
  type HelpdeskAdapter,
  type Logger,
  type MediaFile,
  type OpenTicketRequest,
  type TicketRef,
  type WriteOptions,
} from '../adapter';
import { sameOrigin } from '../shared/download';
import { type FieldMapping, mappedValues, teamId } from '../shared/field-map';
import { ZendeskApi } from './api';
import { type ZendeskConfig, zendeskConfigSchema } from './config';
import { zendeskSetup } from './setup';
import { externalIdFor } from './external-id';
import { ZendeskWebhook } from './webhook';

/** Zendesk Support: one ticket per handoff, customer messages as public comments authored by the requester. */
export class ZendeskAdapter implements HelpdeskAdapter {
  readonly name = 'zendesk';
  readonly limits: HelpdeskAdapter['limits'];
  readonly webhook: ZendeskWebhook;
  private readonly api: ZendeskApi;
  private readonly contactFields: FieldMapping[];
  private readonly groups: Record<string, string>;

  constructor(
    config: ZendeskConfig,
    private readonly logger: Logger = silentLogger,
  ) {
    this.api = new ZendeskApi(config);
    this.webhook = new ZendeskWebhook(config.ZENDESK_WEBHOOK_SECRET);
    // openTicket is two API calls (requester, then ticket): two slots of the shared limit.
    this.limits = {
      requestsPerMinute: config.ZENDESK_REQUESTS_PER_MINUTE,
      callsPerMethod: { openTicket: 2 },
    };
    this.contactFields = config.ZENDESK_CONTACT_FIELDS;
    this.groups = config.ZENDESK_GROUPS;
  }

  /**
   * The requester (created or updated by external_id = the real customer, with the BLiP contact's name, e-mail,
   * phone and mapped user fields), then the ticket with the subject, tags, priority, group and mapped ticket
   * fields, its first comment authored by the requester.
   */
  async openTicket(req: OpenTicketRequest, idempotencyKey: string): Promise<TicketRef> {
    const requesterId = await this.requester(req);
    const mapped = mappedValues(this.contactFields, req);
    const customFields = mapped
      .filter((m) => /^\d+$/.test(m.target))
      .map((m) => ({ id: Number(m.target), value: m.value }));
    const group = teamId(req.fields?.team, this.groups, /^\d+$/);
    if (group.unmapped) {
      this.logger.warn('team has no Zendesk group in ZENDESK_GROUPS; the ticket goes without a group', {
        vendor: this.name,
        team: group.unmapped,
        code: 'ZENDESK_UNKNOWN_TEAM',
      });
    }
    const { id } = await this.api.createTicket(
      {
        subject: req.subject,
        body: commentBody(req.first),
        requesterId,
        externalId: externalIdFor(req.sessionId),
        tags: req.tags,
        uploads: uploadsOf(req.first),
        ...(req.fields?.priority ? { priority: req.fields.priority } : {}),
        ...(group.id ? { groupId: Number(group.id) } : {}),
        ...(customFields.length ? { customFields } : {}),
      },
      idempotencyKey,
    );
    return { vendor: this.name, id, requesterId };
  }

  /** Reopen policy: a solved ticket goes back to open with the customer's message (a closed one cannot: 422). */
  async reopenTicket(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    options?: WriteOptions,
  ): Promise<void> {
    await this.keyedComment(ticket, message, idempotencyKey, options, 'open');
  }

  /**
   * The requester with the contact's data. Zendesk refuses an e-mail or phone another user already has (422):
   * then the requester is matched on external_id alone, so a contact detail never stops a handoff.
   */
  private async requester(req: OpenTicketRequest): Promise<string> {
    const customer = req.customer;
    const contact = req.contact;
    const base = {
      name: contact?.name ?? customer.name ?? customer.originator ?? customer.key,
      externalId: customer.originator ?? customer.key,
    };
    const userFields = Object.fromEntries(
      mappedValues(this.contactFields, req)
        .filter((m) => m.target.startsWith('user.'))
        .map((m) => [m.target.slice('user.'.length), m.value]),
    );
    const details = {
      ...(contact?.email ? { email: contact.email } : {}),
      ...(contact?.phone ? { phone: contact.phone } : {}),
      ...(Object.keys(userFields).length ? { userFields } : {}),
    };
    if (Object.keys(details).length === 0) return this.api.createOrUpdateEndUser(base);
    try {
      return await this.api.createOrUpdateEndUser({ ...base, ...details });
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      this.logger.warn('zendesk refused the contact details of the requester; matching on external_id only', {
        vendor: this.name,
        // Zendesk's description names the e-mail or phone: only the code goes into the log.
        code: errorCode(err),
      });
      return this.api.createOrUpdateEndUser(base);
    }
  }

  async appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    options?: WriteOptions,
  ): Promise<void> {
    await this.keyedComment(ticket, message, idempotencyKey, options);
  }

  /**
   * Zendesk takes `Idempotency-Key` on ticket creation only. A comment carries its key in the update's audit
   * metadata instead; when an earlier try may have landed, the ticket's audits are searched for the key first.
   */
  private async keyedComment(
    ticket: TicketRef,
    message: ChatMessage,
    idempotencyKey: string,
    options: WriteOptions | undefined,
    status?: 'open',
  ): Promise<void> {
    if (options?.again && (await this.api.hasAuditWithKey(ticket.id, idempotencyKey))) {
      this.logger.info('comment already on the ticket from an earlier try; not posting it again', {
        vendor: this.name,
        ticket: ticket.id,
        code: 'ZENDESK_COMMENT_ALREADY_APPLIED',
      });
      return;
    }
    await this.api.addComment(ticket.id, {
      body: commentBody(message),
      authorId: ticket.requesterId,
      public: true,
      uploads: uploadsOf(message),
      idempotencyKey,
      ...(status ? { status } : {}),
    });
  }

  /** The customer's file as a Zendesk upload; its token goes into `comment.uploads` of the next comment. */
  async uploadAttachment(file: MediaFile): Promise<string> {
    return this.api.uploadFile(file);
  }

  /**
   * An agent's file, with the API credentials when its link is on the account's own host (needed when "Require
   * authentication to download" is on); undefined for any other host, which the core fetches as a public link.
   */
  async downloadAttachment(attachment: Attachment, maxBytes: number): Promise<MediaFile | undefined> {
    if (!sameOrigin(attachment.url, this.api.baseUrl)) return undefined;
    return this.api.downloadAttachment(attachment, maxBytes);
  }

  async addInternalNote(ticket: TicketRef, text: string): Promise<void> {
    await this.api.addComment(ticket.id, { body: text, public: false });
  }

  async closeTicket(ticket: TicketRef, closedBy: ClosedBy): Promise<void> {
    await this.api.addComment(ticket.id, {
      body: `Conversation ended by the bridge (${closedBy}).`,
      public: false,
      status: 'solved',
    });
  }

  /**
   * The customer's rating from the bridge's survey, as an internal note on the (solved) ticket: what the agent API
   * token may write. Zendesk's own CSAT (`POST /api/v2/tickets/{id}/satisfaction_rating`) is an end-user endpoint:
   * only the verified requester may create it, with a good/bad score, so the bridge's agent token cannot (README).
   * The note carries the key in its audit, so a retry that may have landed is checked first.
   */
  async rateTicket(
    ticket: TicketRef,
    rating: number,
    idempotencyKey: string,
    options?: WriteOptions,
  ): Promise<void> {
    if (options?.again && (await this.api.hasAuditWithKey(ticket.id, idempotencyKey))) return;
    await this.api.addComment(ticket.id, {
      body: `Customer satisfaction rating (BLiP survey): ${rating}/5 ${'★'.repeat(rating)}${'☆'.repeat(5 - rating)}`,
      public: false,
      idempotencyKey,
    });
  }

  /** The event subscriptions name an assignee or a group by id only. */
  nameOf(what: 'agent' | 'team', id: string): Promise<string | undefined> {
    return this.api.nameOf(what === 'agent' ? 'users' : 'groups', id);
  }

  async recentAgentMessages(ticket: TicketRef): Promise<AgentMessageEvent[]> {
    const { comments, users } = await this.api.listRecentComments(ticket.id);
    const names = new Map((users ?? []).map((u) => [String(u.id), u.name ?? undefined]));
    return comments
      .filter(
        (c) => c.public && ticket.requesterId !== undefined && String(c.author_id) !== ticket.requesterId,
      )
      .slice(0, 20)
      .reverse()
      .flatMap((c) => {
        const authorId = String(c.author_id);
        const name = names.get(authorId);
        const agent = { id: authorId, ...(name ? { name } : {}) };
        const at = c.created_at ?? new Date().toISOString();
        const text = c.plain_body ?? c.body ?? '';
        const events: AgentMessageEvent[] = [];
        if (text.trim() !== '') {
          events.push({
            kind: 'agent.message',
            ticket,
            eventId: `comment:${c.id}`,
            agent,
            message: { id: String(c.id), text, at },
          });
        }
        // The webhook reports each file as its own event (`ticket.attachment_linked_to_comment`, id
        // `attachment:<attachment id>`): the same ids here, so a file is delivered once whichever path is first.
        (c.attachments ?? []).forEach((a, index) => {
          const fileId = a.id !== undefined && a.id !== null ? String(a.id) : `${c.id}:${index}`;
          events.push({
            kind: 'agent.message',
            ticket,
            eventId: `attachment:${fileId}`,
            agent,
            message: {
              id: `${c.id}:${fileId}`,
              text: '',
              attachments: [
                {
                  url: a.content_url,
                  mimeType: a.content_type ?? 'application/octet-stream',
                  ...(a.file_name ? { name: a.file_name } : {}),
                  ...(a.size ? { size: a.size } : {}),
                },
              ],
              at,
            },
          });
        });
        return events;
      });
  }
}

/**
 * The comment text: the readable message, then the links of attachments that were neither uploaded (those are
 * attached through `comment.uploads`) nor noted in the text already by the core (`notAttached`).
 */
function commentBody(message: ChatMessage): string {
  const links = (message.attachments ?? [])
    .filter((a) => !a.uploadRef && !a.notAttached)
    .map((a) => `${a.name ?? a.mimeType}: ${a.url}`);
  return [message.text, ...links].filter((part) => part.trim() !== '').join('\n') || '(empty message)';
}

function uploadsOf(message: ChatMessage): string[] | undefined {
  const tokens = (message.attachments ?? []).flatMap((a) => (a.uploadRef ? [a.uploadRef] : []));
  return tokens.length ? tokens : undefined;
}

export const zendeskModule: AdapterModule<typeof zendeskConfigSchema> = {
  name: 'zendesk',
  configSchema: zendeskConfigSchema,
  create: (config, context) => new ZendeskAdapter(config, context.logger),
  setup: zendeskSetup,
};
