import { PermanentError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import type {
  AgentMessageEvent,
  ChatMessage,
  ClosedBy,
  MediaFile,
  OpenTicketRequest,
  TicketRef,
} from '../../core/model';
import type { AdapterContext, AdapterModule, HelpdeskAdapter } from '../adapter';
import { IntercomApi, type PartContent } from './api';
import { type IntercomConfig, intercomConfigSchema } from './config';
import { agentMessage, IntercomWebhook } from './webhook';

/** Intercom allows at most 10 `attachment_urls` per message. */
const MAX_ATTACHMENT_URLS = 10;

/**
 * Intercom: one conversation per handoff, started by the customer's contact (external_id = the real customer
 * behind the tunnel), customer messages as replies by that contact, closed as `INTERCOM_ADMIN_ID`.
 * Intercom has no idempotency keys: see README.md for what covers retries.
 */
export class IntercomAdapter implements HelpdeskAdapter {
  readonly name = 'intercom';
  readonly limits: { requestsPerMinute: number };
  /** Files travel on a reply (`attachment_files`), and `POST /conversations` takes none. */
  readonly uploadNeedsTicket = true;
  readonly webhook: IntercomWebhook;
  private readonly api: IntercomApi;
  private readonly adminId: string;

  constructor(
    config: IntercomConfig,
    private readonly logger?: Logger,
  ) {
    this.api = new IntercomApi(config);
    this.adminId = config.INTERCOM_ADMIN_ID;
    this.webhook = new IntercomWebhook(config.INTERCOM_CLIENT_SECRET, config.INTERCOM_ADMIN_ID);
    this.limits = { requestsPerMinute: config.INTERCOM_REQUESTS_PER_MINUTE };
  }

  /** Intercom takes no idempotency key (see README.md: what covers a retried open). */
  async openTicket(req: OpenTicketRequest, _idempotencyKey?: string): Promise<TicketRef> {
    const customer = req.customer;
    const externalId = customer.originator ?? customer.key;
    const contact =
      (await this.api.findContactByExternalId(externalId)) ??
      (await this.api.createContact({ externalId, ...(customer.name ? { name: customer.name } : {}) }));
    const id = await this.withAttachmentFallback('create conversation', req.first, (content) =>
      this.api.createConversation(contact, content),
    );
    return { vendor: this.name, id, requesterId: contact.id };
  }

  async appendCustomerMessage(ticket: TicketRef, message: ChatMessage): Promise<void> {
    const contactId = ticket.requesterId;
    if (!contactId) {
      throw new PermanentError(
        `intercom reply as contact: conversation ${ticket.id} has no contact id (requesterId), so the message cannot be posted as the customer`,
        'INTERCOM_NO_CONTACT',
      );
    }
    await this.withAttachmentFallback('reply as contact', message, (content) =>
      this.api.replyAsContact(ticket.id, contactId, content),
    );
  }

  /**
   * The customer's file as its own reply by the contact, carrying the file (`attachment_files`, base64) and its
   * name as the body; the message's text follows in the next part. Returns the part's reference.
   */
  async uploadAttachment(file: MediaFile, ticket?: TicketRef): Promise<string> {
    const contactId = ticket?.requesterId;
    if (!ticket || !contactId) {
      throw new PermanentError(
        'intercom reply with file: no conversation or contact id, so the file cannot be posted as the customer',
        'INTERCOM_NO_CONTACT',
      );
    }
    return this.api.replyWithFile(ticket.id, contactId, file);
  }

  async addInternalNote(ticket: TicketRef, text: string): Promise<void> {
    await this.api.addNote(ticket.id, this.adminId, text);
  }

  async closeTicket(ticket: TicketRef, _closedBy?: ClosedBy): Promise<void> {
    await this.api.closeConversation(ticket.id, this.adminId);
  }

  async recentAgentMessages(ticket: TicketRef): Promise<AgentMessageEvent[]> {
    const conversation = await this.api.getConversation(ticket.id);
    const parts = conversation.conversation_parts?.conversation_parts ?? [];
    const now = new Date().toISOString();
    return parts.flatMap((part) => agentMessage(ticket, part, now) ?? []).slice(-20);
  }

  /**
   * Posts the message with its files as `attachment_urls`. Intercom documents them as image URLs and fetches
   * them itself; should it refuse them (4xx), the message goes again without them: the links are in the body,
   * so the agent still gets every file and the customer's text is never lost over an attachment.
   */
  private async withAttachmentFallback<T>(
    call: string,
    message: ChatMessage,
    post: (content: PartContent) => Promise<T>,
  ): Promise<T> {
    const content = partContent(message);
    try {
      return await post(content);
    } catch (err) {
      const refused = err instanceof PermanentError && /_HTTP_(400|422)$/.test(err.code);
      if (!refused || content.attachmentUrls.length === 0) throw err;
      this.logger?.warn('intercom refused the attachment URLs; sending the message with links only', {
        vendor: this.name,
        call,
        code: err.code,
        attachments: content.attachmentUrls.length,
      });
      return post({ ...content, attachmentUrls: [] });
    }
  }
}

/**
 * The part body: the readable text, then each file that is only a link as `name: url`. Files already in the
 * conversation (`uploadRef`: their own part, posted just before) and files the core noted in the text
 * (`notAttached`) are not listed again.
 */
export function partContent(message: ChatMessage): PartContent {
  const attachments = (message.attachments ?? []).filter((a) => !a.uploadRef && !a.notAttached);
  const links = attachments.map((a) => `${a.name ?? a.mimeType}: ${a.url}`);
  const body = [message.text, ...links].filter((part) => part.trim() !== '').join('\n') || '(empty message)';
  const attachmentUrls = attachments
    .map((a) => a.url)
    .filter((url) => /^https?:\/\//i.test(url))
    .slice(0, MAX_ATTACHMENT_URLS);
  return { body, attachmentUrls };
}

export const intercomModule: AdapterModule<typeof intercomConfigSchema> = {
  name: 'intercom',
  configSchema: intercomConfigSchema,
  create: (config, context: AdapterContext) => new IntercomAdapter(config, context.logger),
};
