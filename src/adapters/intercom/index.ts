import {
  errorCode,
  errorMessage,
  PermanentError,
  type AdapterContext,
  type AdapterModule,
  type AgentMessageEvent,
  type ChatMessage,
  type ClosedBy,
  type HelpdeskAdapter,
  type Logger,
  type MediaFile,
  type OpenTicketRequest,
  type TicketRef,
  type WriteOptions,
} from '../adapter';
import { type FieldMapping, mappedValues, teamId } from '../shared/field-map';
import { type ContactDetails, type IntercomContact, IntercomApi, type PartContent } from './api';
import { type IntercomConfig, intercomConfigSchema } from './config';
import { intercomSetup } from './setup';
import { partText } from './html';
import { agentMessage, type ConversationPart, IntercomWebhook } from './webhook';

/** Intercom allows at most 10 `attachment_urls` per message. */
const MAX_ATTACHMENT_URLS = 10;

/**
 * How far Intercom's clock may be behind the bridge's when a reply's part is dated (whole seconds, as Intercom
 * dates parts). A larger allowance would let an older identical text pass for this message's reply.
 */
const CLOCK_SKEW_SECONDS = 2;

/**
 * Intercom: one conversation per handoff, started by the customer's contact (external_id = the real customer
 * behind the tunnel), customer messages as replies by that contact, closed as `INTERCOM_ADMIN_ID`.
 * Intercom has no idempotency keys: see README.md for what covers retries.
 */
export class IntercomAdapter implements HelpdeskAdapter {
  readonly name = 'intercom';
  readonly limits: HelpdeskAdapter['limits'];
  /** Files travel on a reply (`attachment_files`), and `POST /conversations` takes none. */
  readonly uploadNeedsTicket = true;
  readonly webhook: IntercomWebhook;
  private readonly api: IntercomApi;
  private readonly adminId: string;
  private readonly attributes: FieldMapping[];
  private readonly teams: Record<string, string>;

  constructor(
    config: IntercomConfig,
    private readonly logger?: Logger,
  ) {
    this.api = new IntercomApi(config);
    this.adminId = config.INTERCOM_ADMIN_ID;
    this.attributes = config.INTERCOM_CONTACT_ATTRIBUTES;
    this.teams = config.INTERCOM_TEAMS;
    this.webhook = new IntercomWebhook(config.INTERCOM_CLIENT_SECRET, config.INTERCOM_ADMIN_ID);
    // openTicket: contact search, create (or update), the conversation, its title; reopen: open, then the reply.
    this.limits = {
      requestsPerMinute: config.INTERCOM_REQUESTS_PER_MINUTE,
      callsPerMethod: { openTicket: 4, reopenTicket: 2 },
    };
  }

  /** Intercom takes no idempotency key (see README.md: what covers a retried open). */
  async openTicket(req: OpenTicketRequest, _idempotencyKey?: string): Promise<TicketRef> {
    const contact = await this.contactFor(req);
    const id = await this.withAttachmentFallback('create conversation', req.first, (content) =>
      this.api.createConversation(contact, content),
    );
    await this.completeConversation(id, req);
    return { vendor: this.name, id, requesterId: contact.id };
  }

  /**
   * Reopen policy: the conversation is opened again (as the bridge's admin), then the customer's message. On a
   * retry (`options.again`) whose reply is already in the conversation, the open before it was done too.
   */
  async reopenTicket(
    ticket: TicketRef,
    message: ChatMessage,
    _idempotencyKey?: string,
    options?: WriteOptions,
  ): Promise<void> {
    const contactId = requireContact(ticket);
    if (options?.again && (await this.replyAlreadyApplied(ticket, contactId, message))) return;
    await this.api.openConversation(ticket.id, this.adminId);
    await this.reply(ticket, contactId, message);
  }

  /**
   * The contact (external_id = the real customer), created or updated with the BLiP contact's name, e-mail,
   * phone and mapped custom attributes. Details Intercom refuses (an e-mail another contact has, an attribute
   * not defined in the workspace) never stop the handoff: the contact is then created or kept without them.
   */
  private async contactFor(req: OpenTicketRequest): Promise<IntercomContact> {
    const customer = req.customer;
    const externalId = customer.originator ?? customer.key;
    const name = req.contact?.name ?? customer.name;
    const customAttributes = Object.fromEntries(
      mappedValues(this.attributes, req)
        .filter((m) => !m.target.startsWith('conversation.'))
        .map((m) => [m.target, m.value]),
    );
    const details: ContactDetails = {
      ...(req.contact?.email ? { email: req.contact.email } : {}),
      ...(req.contact?.phone ? { phone: req.contact.phone } : {}),
      ...(Object.keys(customAttributes).length ? { customAttributes } : {}),
    };
    const withDetails = Object.keys(details).length > 0;
    const found = await this.api.findContactByExternalId(externalId);
    if (found) {
      if (withDetails || name) {
        await this.bestEffort('update contact', () =>
          this.api.updateContact(found.id, { ...(name ? { name } : {}), ...details }),
        );
      }
      return found;
    }
    const base = { externalId, ...(name ? { name } : {}) };
    if (!withDetails) return this.api.createContact(base);
    try {
      return await this.api.createContact({ ...base, ...details });
    } catch (err) {
      if (!(err instanceof PermanentError)) throw err;
      this.logger?.warn('intercom refused the contact details; creating the contact without them', {
        vendor: this.name,
        code: err.code,
      });
      return this.api.createContact(base);
    }
  }

  /**
   * After the conversation exists: its title (the subject), mapped conversation attributes and the team. Each is
   * best effort: the conversation is open with the customer's message, and a retry of openTicket would open a
   * second one (Intercom takes no idempotency key), so these never throw.
   */
  private async completeConversation(conversationId: string, req: OpenTicketRequest): Promise<void> {
    const customAttributes = Object.fromEntries(
      mappedValues(this.attributes, req)
        .filter((m) => m.target.startsWith('conversation.'))
        .map((m) => [m.target.slice('conversation.'.length), m.value]),
    );
    await this.bestEffort('update conversation', () =>
      this.api.updateConversation(conversationId, { title: req.subject, customAttributes }),
    );
    const team = teamId(req.fields?.team, this.teams, /^\d+$/);
    if (team.unmapped) {
      this.logger?.warn('team has no Intercom team in INTERCOM_TEAMS; the conversation stays unassigned', {
        vendor: this.name,
        team: team.unmapped,
        code: 'INTERCOM_UNKNOWN_TEAM',
      });
    }
    if (team.id) {
      const teamId = team.id;
      await this.bestEffort('assign team', () => this.api.assignTeam(conversationId, this.adminId, teamId));
    }
  }

  private async bestEffort(call: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.logger?.warn(`intercom ${call} failed; the conversation goes on without it`, {
        vendor: this.name,
        call,
        code: errorCode(err),
        error: errorMessage(err),
      });
    }
  }

  /**
   * The message as a reply by the contact. Intercom takes no idempotency key and a part carries nothing of ours,
   * so when an earlier try may have landed (`options.again`) the conversation is read first, and the reply is not
   * posted again when the contact's latest part is this message's text, dated after the message (README.md,
   * "Retried replies": what is certain and what is not).
   */
  async appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    _idempotencyKey?: string,
    options?: WriteOptions,
  ): Promise<void> {
    const contactId = requireContact(ticket);
    if (options?.again && (await this.replyAlreadyApplied(ticket, contactId, message))) return;
    await this.reply(ticket, contactId, message);
  }

  private async reply(ticket: TicketRef, contactId: string, message: ChatMessage): Promise<void> {
    await this.withAttachmentFallback('reply as contact', message, (content) =>
      this.api.replyAsContact(ticket.id, contactId, content),
    );
  }

  /** `GET /conversations/{id}`: whether an earlier try already posted this message's text reply (see above). */
  private async replyAlreadyApplied(
    ticket: TicketRef,
    contactId: string,
    message: ChatMessage,
  ): Promise<boolean> {
    const conversation = await this.api.getConversation(ticket.id);
    const part = appliedReply(conversation.conversation_parts?.conversation_parts ?? [], contactId, message);
    if (!part) return false;
    this.logger?.info('reply already in the conversation from an earlier try; not posting it again', {
      vendor: this.name,
      ticket: ticket.id,
      part: part.id,
      code: 'INTERCOM_REPLY_ALREADY_APPLIED',
    });
    return true;
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

  /** An assignment made by another teammate names the assignee (or the team) by id only. */
  async nameOf(what: 'agent' | 'team', id: string): Promise<string | undefined> {
    if (what === 'team') return this.api.teamName(id);
    return (await this.api.admin(id))?.name;
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

function requireContact(ticket: TicketRef): string {
  if (ticket.requesterId) return ticket.requesterId;
  throw new PermanentError(
    `intercom reply as contact: conversation ${ticket.id} has no contact id (requesterId), so the message cannot be posted as the customer`,
    'INTERCOM_NO_CONTACT',
  );
}

/**
 * The part an earlier try of `message`'s text reply made, if the conversation shows one: the contact's LATEST part
 * (the core posts one customer's messages one at a time, in order, so nothing of theirs can follow it), leaving
 * out this message's own file parts (`uploadRef` `part:<id>`, posted just before the text), when it was created
 * no earlier than the message was received (less CLOCK_SKEW_SECONDS) and its text is the body `partContent` makes
 * for the message (compared as readable text, whitespace collapsed: Intercom may store HTML or re-space it).
 * A part without a date, or a message without a valid time, matches nothing: posting twice is the lesser harm.
 */
export function appliedReply(
  parts: readonly ConversationPart[],
  contactId: string,
  message: ChatMessage,
): ConversationPart | undefined {
  const ownFiles = new Set(
    (message.attachments ?? []).flatMap((a) =>
      a.uploadRef?.startsWith('part:') ? [a.uploadRef.slice(5)] : [],
    ),
  );
  const latest = parts
    .filter((p) => p.author.id === contactId && !['admin', 'bot', 'team'].includes(p.author.type))
    .filter((p) => !ownFiles.has(p.id))
    .at(-1);
  const receivedAt = Math.floor(Date.parse(message.at) / 1000);
  if (!latest || typeof latest.created_at !== 'number' || !Number.isFinite(receivedAt)) return undefined;
  if (latest.created_at < receivedAt - CLOCK_SKEW_SECONDS) return undefined;
  const theirs = comparable(latest.body);
  const ours = partContent(message).body;
  // The body went out as escaped HTML of this text; Intercom shows it back as text (display_as=plaintext) or as
  // that HTML: either reads as the text itself, which `partText` would take for markup if it looks like some.
  return theirs === collapsed(ours) || theirs === comparable(ours) ? latest : undefined;
}

function comparable(body: string | null | undefined): string {
  return collapsed(partText(body));
}

function collapsed(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
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
  setup: intercomSetup,
};
