import {
  errorCode,
  PermanentError,
  type AdapterContext,
  type AdapterModule,
  type AgentMessageEvent,
  type ChatMessage,
  type ClosedBy,
  type CustomerTypingState,
  type HelpdeskAdapter,
  type Logger,
  type MediaFile,
  type OpenTicketRequest,
  type TicketRef,
  type WriteOptions,
} from '../adapter';
import { type FieldMapping, mappedValues, teamId } from '../shared/field-map';
import { ChatwootApi, type NewContact, SESSION_ATTRIBUTE, statusOf } from './api';
import { type ChatwootConfig, chatwootConfigSchema } from './config';
import { escapeMarkdown } from './markdown';
import { chatwootSetup } from './setup';
import { agentMessage, type ChatwootMessage, ChatwootWebhook, messageType } from './webhook';

/**
 * How far Chatwoot's clock may be behind the bridge's when a message is dated (whole seconds in the API). A larger
 * allowance would let an older identical text pass for this message's earlier try.
 */
const CLOCK_SKEW_SECONDS = 2;
/** Conversations whose contact `source_id` is remembered for the live signals (the oldest forgotten first). */
const SOURCE_IDS_KEPT = 5_000;

/**
 * Chatwoot: one conversation per handoff in an API-channel inbox, for the contact whose `identifier` (and
 * contact_inbox `source_id`) is the real customer behind the tunnel; customer messages as `incoming` messages
 * (authored by the contact), files as multipart incoming messages, notes as private messages. README.md says
 * which calls, why the application API, and what covers retries (Chatwoot takes no idempotency key).
 */
export class ChatwootAdapter implements HelpdeskAdapter {
  readonly name = 'chatwoot';
  readonly limits: HelpdeskAdapter['limits'];
  /** Files travel inside a message (multipart `attachments[]`), so they need the conversation. */
  readonly uploadNeedsTicket = true;
  readonly webhook: ChatwootWebhook;
  private readonly api: ChatwootApi;
  private readonly fields: FieldMapping[];
  private readonly teams: Record<string, string>;
  /** The API inbox's identifier (the public client API's key), read once from `GET inboxes/{id}`. */
  private inboxIdentifier?: Promise<string>;
  /** Conversation (display id) → its contact_inbox's `source_id` (the contact's identifier). */
  private readonly sourceIds = new Map<string, string>();

  constructor(
    config: ChatwootConfig,
    private readonly logger?: Logger,
  ) {
    this.api = new ChatwootApi(config);
    this.fields = config.CHATWOOT_CONTACT_FIELDS;
    this.teams = config.CHATWOOT_TEAMS;
    this.webhook = new ChatwootWebhook(config.CHATWOOT_WEBHOOK_SECRET, config.CHATWOOT_INBOX_ID);
    // openTicket: the contact (search, then create or the contact's conversations), then the conversation with its
    // first message; reopen: open, then the message.
    this.limits = {
      requestsPerMinute: config.CHATWOOT_REQUESTS_PER_MINUTE,
      callsPerMethod: { openTicket: 3, reopenTicket: 2 },
    };
  }

  /**
   * The contact (found by its identifier, else created), then the conversation with the first message in one call.
   * A retried open first looks for the conversation an earlier try made: the contact's conversation in this inbox
   * whose `bridge_session_id` custom attribute is this session.
   */
  async openTicket(req: OpenTicketRequest, _idempotencyKey?: string): Promise<TicketRef> {
    const identifier = req.customer.originator ?? req.customer.key;
    let contactId = await this.api.findContact(identifier);
    if (contactId) {
      const found = (await this.api.contactConversations(contactId)).find(
        (c) =>
          c.custom_attributes?.[SESSION_ATTRIBUTE] === req.sessionId &&
          (c.inbox_id === undefined || c.inbox_id === null || c.inbox_id === this.api.inboxId),
      );
      if (found) {
        this.logger?.info('conversation already opened for this session by an earlier try', {
          vendor: this.name,
          ticket: found.id,
          code: 'CHATWOOT_OPEN_ALREADY_APPLIED',
        });
        this.rememberSource(found.id, identifier);
        return { vendor: this.name, id: found.id, requesterId: contactId };
      }
    } else {
      contactId = await this.createContact(req, identifier);
    }
    const team = teamId(req.fields?.team, this.teams, /^\d+$/);
    if (team.unmapped) {
      this.logger?.warn('team has no Chatwoot team in CHATWOOT_TEAMS; the conversation has no team', {
        vendor: this.name,
        team: team.unmapped,
        code: 'CHATWOOT_UNKNOWN_TEAM',
      });
    }
    const id = await this.api.createConversation({
      contactId,
      sourceId: identifier,
      sessionId: req.sessionId,
      content: messageBody(req.first),
      ...(team.id ? { teamId: team.id } : {}),
    });
    this.rememberSource(id, identifier);
    return { vendor: this.name, id, requesterId: contactId };
  }

  /**
   * The contact with the customer's name, e-mail, phone and mapped custom attributes. Chatwoot refuses (422) an
   * e-mail or phone another contact has, or one it finds invalid: the contact is then made without them, and the
   * handoff goes on.
   */
  private async createContact(req: OpenTicketRequest, identifier: string): Promise<string> {
    const customAttributes = Object.fromEntries(
      mappedValues(this.fields, req).map((m) => [m.target, m.value]),
    );
    const name = req.contact?.name ?? req.customer.name;
    const base: NewContact = { identifier, ...(name ? { name } : {}) };
    const details: NewContact = {
      ...base,
      ...(req.contact?.email ? { email: req.contact.email } : {}),
      ...(req.contact?.phone ? { phoneNumber: req.contact.phone } : {}),
      ...(Object.keys(customAttributes).length ? { customAttributes } : {}),
    };
    if (Object.keys(details).length === Object.keys(base).length) return this.api.createContact(base);
    try {
      return await this.api.createContact(details);
    } catch (err) {
      if (statusOf(err) !== 422) throw err;
      this.logger?.warn('chatwoot refused the contact details; creating the contact without them', {
        vendor: this.name,
        code: errorCode(err),
      });
      return this.api.createContact(base);
    }
  }

  /**
   * The message as an `incoming` message (the contact is its sender). Chatwoot takes no idempotency key and keeps
   * nothing of ours on a message, so when an earlier try may have landed (`options.again`) the conversation is read
   * first (README.md, "Retries").
   */
  async appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    _idempotencyKey?: string,
    options?: WriteOptions,
  ): Promise<void> {
    if (options?.again && (await this.alreadyApplied(ticket, message))) return;
    await this.api.createMessage(ticket.id, { content: messageBody(message), kind: 'incoming' });
  }

  /** Reopen policy: the conversation opened again, then the message (an incoming message alone reopens only unmuted ones). */
  async reopenTicket(
    ticket: TicketRef,
    message: ChatMessage,
    _idempotencyKey?: string,
    options?: WriteOptions,
  ): Promise<void> {
    if (options?.again && (await this.alreadyApplied(ticket, message))) return;
    try {
      await this.api.setStatus(ticket.id, 'open');
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new PermanentError(
          `chatwoot reopen: conversation ${ticket.id} is gone`,
          'CHATWOOT_CONVERSATION_GONE',
        );
      }
      throw err;
    }
    await this.api.createMessage(ticket.id, { content: messageBody(message), kind: 'incoming' });
  }

  private async alreadyApplied(ticket: TicketRef, message: ChatMessage): Promise<boolean> {
    const applied = appliedMessage(await this.api.messages(ticket.id), message);
    if (!applied) return false;
    this.logger?.info('message already in the conversation from an earlier try; not posting it again', {
      vendor: this.name,
      ticket: ticket.id,
      message: applied.id,
      code: 'CHATWOOT_MESSAGE_ALREADY_APPLIED',
    });
    return true;
  }

  /** The customer's file as its own incoming message carrying it (multipart); its text follows in the next one. */
  async uploadAttachment(file: MediaFile, ticket?: TicketRef): Promise<string> {
    if (!ticket) {
      throw new PermanentError('chatwoot message with file: no conversation', 'CHATWOOT_NO_CONVERSATION');
    }
    const created = await this.api.createFileMessage(ticket.id, file);
    return `message:${created.id}`;
  }

  async addInternalNote(ticket: TicketRef, text: string): Promise<void> {
    await this.api.createMessage(ticket.id, { content: escapeMarkdown(text), kind: 'note' });
  }

  async closeTicket(ticket: TicketRef, _closedBy?: ClosedBy): Promise<void> {
    await this.api.setStatus(ticket.id, 'resolved');
  }

  /** Webhooks name the assignee and the team (`meta`); this covers one that does not. */
  async nameOf(what: 'agent' | 'team', id: string): Promise<string | undefined> {
    if (what === 'team') return (await this.api.team(id))?.name ?? undefined;
    const agent = (await this.api.agents()).find((a) => a.id === id);
    return agent?.available_name ?? agent?.name ?? undefined;
  }

  /**
   * The customer typing (`composing`) or stopped (`paused`), shown to the agent as the contact typing: the public
   * client API's `toggle_typing` (the application API's `toggle_typing_status` would show the bridge's own user
   * typing). README.md, "Live signals".
   */
  async customerTyping(ticket: TicketRef, state: CustomerTypingState): Promise<void> {
    await this.api.contactSignal(await this.publicRef(ticket), { typing: state === 'composing' });
  }

  /**
   * The customer's app showed an agent's message: the contact's "last seen" (`update_last_seen`), which marks the
   * agents' messages up to now `read` in the dashboard. Chatwoot takes no message id or time, only "now": an agent
   * message sent in the instant between the customer's `consumed` and this call shows as read too.
   */
  async markReadByCustomer(ticket: TicketRef, _upTo: { messageId: string; at: string }): Promise<void> {
    await this.api.contactSignal(await this.publicRef(ticket), 'last-seen');
  }

  /** The public client API's address of the conversation: the inbox identifier and the contact's `source_id`. */
  private async publicRef(
    ticket: TicketRef,
  ): Promise<{ inboxIdentifier: string; sourceId: string; conversationId: string }> {
    const [inboxIdentifier, sourceId] = await Promise.all([
      this.apiInboxIdentifier(),
      this.sourceIdOf(ticket),
    ]);
    return { inboxIdentifier, sourceId, conversationId: ticket.id };
  }

  private apiInboxIdentifier(): Promise<string> {
    if (!this.inboxIdentifier) {
      const read = this.api.inbox().then((inbox) => {
        if (!inbox.inbox_identifier) {
          throw new PermanentError(
            `chatwoot inbox ${this.api.inboxId} has no inbox_identifier: not an API inbox`,
            'CHATWOOT_NO_INBOX_IDENTIFIER',
          );
        }
        return inbox.inbox_identifier;
      });
      // A failure is not kept: the next signal asks again.
      read.catch(() => {
        if (this.inboxIdentifier === read) this.inboxIdentifier = undefined;
      });
      this.inboxIdentifier = read;
    }
    return this.inboxIdentifier;
  }

  /** Known from the open (this process), else the contact's identifier (`GET contacts/{requesterId}`). */
  private async sourceIdOf(ticket: TicketRef): Promise<string> {
    const known = this.sourceIds.get(ticket.id);
    if (known) return known;
    const identifier = ticket.requesterId ? await this.api.contactIdentifier(ticket.requesterId) : undefined;
    if (!identifier) {
      throw new PermanentError(
        `chatwoot conversation ${ticket.id}: no contact identifier to address it by`,
        'CHATWOOT_NO_SOURCE_ID',
      );
    }
    this.rememberSource(ticket.id, identifier);
    return identifier;
  }

  private rememberSource(conversationId: string, sourceId: string): void {
    this.sourceIds.delete(conversationId);
    this.sourceIds.set(conversationId, sourceId);
    if (this.sourceIds.size > SOURCE_IDS_KEPT) {
      const oldest = this.sourceIds.keys().next().value;
      if (oldest !== undefined) this.sourceIds.delete(oldest);
    }
  }

  async recentAgentMessages(ticket: TicketRef): Promise<AgentMessageEvent[]> {
    const now = new Date().toISOString();
    return (await this.api.messages(ticket.id)).flatMap((m) => agentMessage(ticket, m, now) ?? []).slice(-20);
  }
}

/**
 * The message body: the readable text, then each file that is only a link as `name: url`, as Markdown that shows
 * exactly that text (markdown.ts). Files already in the conversation (`uploadRef`: their own message, posted just
 * before) and files the core noted in the text (`notAttached`) are not listed again.
 */
export function messageBody(message: ChatMessage): string {
  const links = (message.attachments ?? [])
    .filter((a) => !a.uploadRef && !a.notAttached)
    .map((a) => `${a.name ?? a.mimeType}: ${a.url}`);
  const body = [message.text, ...links].filter((part) => part.trim() !== '').join('\n');
  return body ? escapeMarkdown(body) : '(empty message)';
}

/**
 * The message an earlier try of `message` made, if the conversation shows one: the LATEST incoming message with
 * text (the core posts one customer's messages one at a time, in order, so nothing of theirs can follow it), made
 * no earlier than the message was received (less CLOCK_SKEW_SECONDS), whose content is this message's body.
 * A message without a date, or a message without a valid time, matches nothing: posting twice is the lesser harm.
 */
export function appliedMessage(
  messages: readonly ChatwootMessage[],
  message: ChatMessage,
): ChatwootMessage | undefined {
  const latest = messages
    .filter((m) => messageType(m.message_type) === 'incoming' && (m.content ?? '').trim() !== '')
    .at(-1);
  const receivedAt = Math.floor(Date.parse(message.at) / 1000);
  if (!latest || !Number.isFinite(receivedAt)) return undefined;
  const created =
    typeof latest.created_at === 'number'
      ? latest.created_at
      : Math.floor(Date.parse(latest.created_at ?? '') / 1000);
  if (!Number.isFinite(created) || created < receivedAt - CLOCK_SKEW_SECONDS) return undefined;
  return collapsed(latest.content ?? '') === collapsed(messageBody(message)) ? latest : undefined;
}

function collapsed(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

export const chatwootModule: AdapterModule<typeof chatwootConfigSchema> = {
  name: 'chatwoot',
  configSchema: chatwootConfigSchema,
  create: (config, context: AdapterContext) => new ChatwootAdapter(config, context.logger),
  setup: chatwootSetup,
};
