import type {
  AgentMessageEvent,
  Attachment,
  ChatMessage,
  ClosedBy,
  MediaFile,
  OpenTicketRequest,
  TicketRef,
} from '../../core/model';
import type { AdapterModule, HelpdeskAdapter } from '../adapter';
import { sameOrigin } from '../shared/download';
import { ZendeskApi } from './api';
import { type ZendeskConfig, zendeskConfigSchema } from './config';
import { externalIdFor } from './external-id';
import { ZendeskWebhook } from './webhook';

/** Zendesk Support: one ticket per handoff, customer messages as public comments authored by the requester. */
export class ZendeskAdapter implements HelpdeskAdapter {
  readonly name = 'zendesk';
  readonly limits: { requestsPerMinute: number };
  readonly webhook: ZendeskWebhook;
  private readonly api: ZendeskApi;

  constructor(config: ZendeskConfig) {
    this.api = new ZendeskApi(config);
    this.webhook = new ZendeskWebhook(config.ZENDESK_WEBHOOK_SECRET);
    this.limits = { requestsPerMinute: config.ZENDESK_REQUESTS_PER_MINUTE };
  }

  async openTicket(req: OpenTicketRequest, idempotencyKey: string): Promise<TicketRef> {
    const customer = req.customer;
    const requesterId = await this.api.createOrUpdateEndUser({
      name: customer.name ?? customer.originator ?? customer.key,
      externalId: customer.originator ?? customer.key,
    });
    const { id } = await this.api.createTicket(
      {
        subject: req.subject,
        body: commentBody(req.first),
        requesterId,
        externalId: externalIdFor(req.sessionId),
        tags: req.tags,
        uploads: uploadsOf(req.first),
      },
      idempotencyKey,
    );
    return { vendor: this.name, id, requesterId };
  }

  async appendCustomerMessage(ticket: TicketRef, message: ChatMessage): Promise<void> {
    await this.api.addComment(ticket.id, {
      body: commentBody(message),
      authorId: ticket.requesterId,
      public: true,
      uploads: uploadsOf(message),
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
  create: (config) => new ZendeskAdapter(config),
};
