/**
 * The emulated Chatwoot's state and what its API does to it (test side only): contacts, conversations, messages and
 * files, the API's writes (emulator-app.ts calls them) and the webhooks they cause, sent after the response like
 * Chatwoot's jobs. The agent's side and the VendorEmulator surface are in emulator.ts.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { FaultQueue, type RecordedRequest, serverUrl, WebhookSender } from '../../../sandbox/emulator-kit';
import type { FileView, WebhookDelivery } from '../../../sandbox/vendor-emulator';
import {
  type ContactInput,
  type ConversationInput,
  DEFAULT_CHATWOOT_SPEC,
  type MessageInput,
  type UploadedFile,
} from './emulator-app';
import {
  type Account,
  changedAttributes,
  contactPushData,
  conversationWebhookData,
  type EmulatedAttachment,
  type EmulatedContact,
  type EmulatedConversation,
  type EmulatedMessage,
  type EmulatedTeam,
  type EmulatedUser,
  type Inbox,
  messageWebhookData,
} from './emulator-payloads';

export interface ChatwootEmulatorOptions {
  accessToken: string;
  /** The API inbox's webhook secret (`channel.secret`): signs every webhook. */
  webhookSecret: string;
  port?: number;
  webhookUrl?: string;
  specPath?: string;
}

export abstract class ChatwootState {
  readonly account: Account = { id: 3, name: 'Acme Atendimento' };
  readonly inbox: Inbox = { id: 7, name: 'BLiP (API)' };
  /** The API inbox's `channel.identifier`: the public client API's key (`inbox_identifier` in the inbox JSON). */
  readonly inboxIdentifier = 'Xk3vG9qT2mPz8RbW1cYdN5hL';
  readonly bridgeUser: EmulatedUser = { id: 1, name: 'BLiP Bridge', email: 'bridge@acme.com.br' };
  readonly agent: EmulatedUser = { id: 2, name: 'Ana Souza', email: 'ana.souza@acme.com.br' };
  readonly users: EmulatedUser[] = [this.bridgeUser, this.agent];
  /** Teams by name; "Financeiro" (11) exists from the start: the demo's `CHATWOOT_TEAMS=financeiro:11`. */
  readonly teams = new Map<string, EmulatedTeam>([['Financeiro', { id: 11, name: 'Financeiro' }]]);
  readonly contacts = new Map<number, EmulatedContact>();
  readonly conversations = new Map<number, EmulatedConversation>();
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  readonly faults = new FaultQueue();
  readonly accessToken: string;
  readonly specPath: string;
  webhookTarget?: string;
  protected readonly files = new Map<string, EmulatedAttachment>();
  protected readonly webhooks = new WebhookSender(this.deliveries, { timeoutMs: 5_000 });
  protected nextContactId = 901;
  protected nextConversationId = 1201;
  protected nextMessageId = 48_001;
  protected nextAttachmentId = 6001;
  protected nextUserId = 3;
  protected nextTeamId = 12;
  protected lastBody?: string;
  protected server?: Server;

  protected constructor(protected readonly options: ChatwootEmulatorOptions) {
    this.accessToken = options.accessToken;
    this.specPath = options.specPath ?? DEFAULT_CHATWOOT_SPEC;
    this.webhookTarget = options.webhookUrl;
  }

  get url(): string {
    return serverUrl(this.server);
  }

  /** lib/webhooks/trigger.rb `request_headers`: the timestamp, and sha256=HMAC(secret, "<timestamp>.<body>"). */
  signedHeaders(body: string, at: Date = new Date()): Record<string, string> {
    return signedWith(this.options.webhookSecret, body, at);
  }

  // ---- what the API routes do (emulator-app.ts) -------------------------------------------------------------

  fileByKey(key: string): EmulatedAttachment | undefined {
    return this.files.get(key);
  }

  /** contacts_controller#create: the contact, and its contact_inbox in the given inbox. */
  createContact(
    input: ContactInput,
  ): { contact: EmulatedContact; sourceId: string } | { error: string; attribute: string } {
    const all = [...this.contacts.values()];
    if (input.identifier && all.some((c) => c.identifier === input.identifier))
      return { error: 'Identifier has already been taken', attribute: 'identifier' };
    if (input.email && all.some((c) => c.email === input.email))
      return { error: 'Email has already been taken', attribute: 'email' };
    if (input.phone_number && !/^\+[1-9]\d{1,14}$/.test(input.phone_number))
      return { error: 'Phone number should be in e164 format', attribute: 'phone_number' };
    const contact: EmulatedContact = {
      id: this.nextContactId++,
      name: input.name ?? null,
      email: input.email ?? null,
      phone_number: input.phone_number ?? null,
      identifier: input.identifier ?? null,
      custom_attributes: input.custom_attributes ?? {},
      created_at: unixNow(),
    };
    this.contacts.set(contact.id, contact);
    return { contact, sourceId: randomUUID() };
  }

  /** conversations_controller#create: the conversation and its first message (MessageBuilder) in one step. */
  createConversation(
    input: ConversationInput,
  ): { conversation: EmulatedConversation } | { error: string; status: number } {
    if (Number(input.inbox_id) !== this.inbox.id)
      return { error: 'Resource could not be found', status: 404 };
    const contact = this.contacts.get(Number(input.contact_id));
    if (!contact || !input.source_id) return { error: 'Resource could not be found', status: 404 };
    const team =
      input.team_id === undefined
        ? null
        : ([...this.teams.values()].find((t) => t.id === Number(input.team_id)) ?? null);
    const now = unixNow();
    const conversation: EmulatedConversation = {
      id: this.nextConversationId++,
      inboxId: this.inbox.id,
      contact,
      sourceId: input.source_id,
      status: input.status ?? 'open',
      assignee: null,
      team,
      custom_attributes: input.custom_attributes ?? {},
      created_at: now,
      updated_at: Date.now() / 1000,
      messages: [],
      contactTypingLog: [],
    };
    this.conversations.set(conversation.id, conversation);
    this.fireLater(
      JSON.stringify({
        ...conversationWebhookData(conversation, this.account),
        event: 'conversation_created',
      }),
    );
    if (input.message) {
      const result = this.apiMessage(conversation, input.message, []);
      if ('error' in result) return { error: result.error, status: 422 };
    }
    return { conversation };
  }

  /** messages_controller#create as the API user: `message_type` outgoing unless given; incoming = the contact. */
  apiMessage(
    conversation: EmulatedConversation,
    input: MessageInput,
    files: UploadedFile[],
  ): { message: EmulatedMessage } | { error: string } {
    const type = input.message_type ?? 'outgoing';
    if (type !== 'incoming' && type !== 'outgoing') return { error: `message_type ${type} is not valid` };
    const isPrivate = input.private === true || input.private === 'true';
    if (!input.content && files.length === 0) return { error: 'content or attachments required' };
    const message = this.addMessage(
      conversation,
      {
        content: input.content ?? null,
        message_type: type,
        private: isPrivate,
        sender: type === 'incoming' ? undefined : this.bridgeUser,
      },
      files,
    );
    // Message#reopen_conversation: an incoming message reopens a resolved conversation.
    if (type === 'incoming' && conversation.status === 'resolved')
      this.changeStatusLater(conversation, 'open');
    this.fireLater(JSON.stringify(messageWebhookData(message, conversation, this.account, this.inbox)));
    return { message };
  }

  apiSetStatus(conversation: EmulatedConversation, status: EmulatedConversation['status']): void {
    this.changeStatusLater(conversation, status);
  }

  // ---- internals --------------------------------------------------------------------------------------------

  protected conversation(id: string): EmulatedConversation {
    const conversation = this.conversations.get(Number(id));
    if (!conversation) throw new Error(`no Chatwoot conversation ${id}`);
    return conversation;
  }

  protected addMessage(
    conversation: EmulatedConversation,
    input: {
      content: string | null;
      message_type: EmulatedMessage['message_type'];
      private: boolean;
      sender?: EmulatedUser;
    },
    files: UploadedFile[] = [],
  ): EmulatedMessage {
    const message: EmulatedMessage = {
      id: this.nextMessageId++,
      content: input.content,
      message_type: input.message_type,
      private: input.private,
      created_at: new Date(),
      sender: input.sender
        ? { type: 'user', user: input.sender }
        : { type: 'contact', contact: conversation.contact },
      attachments: files.map((f) => this.storeFile(f)),
    };
    conversation.messages.push(message);
    this.touch(conversation);
    return message;
  }

  protected storeFile(file: UploadedFile): EmulatedAttachment {
    const key = randomUUID().replace(/-/g, '');
    const extension = /\.([a-z0-9]{1,8})$/i.exec(file.originalname)?.[1]?.toLowerCase() ?? null;
    const major = file.mimetype.split('/')[0];
    const attachment: EmulatedAttachment = {
      id: this.nextAttachmentId++,
      name: file.originalname,
      mimeType: file.mimetype,
      fileType: major === 'image' || major === 'audio' || major === 'video' ? major : 'file',
      extension,
      dataUrl: `${this.url}/rails/active_storage/blobs/redirect/${key}/${encodeURIComponent(file.originalname)}`,
      data: file.buffer,
    };
    this.files.set(key, attachment);
    return attachment;
  }

  protected touch(conversation: EmulatedConversation): void {
    conversation.updated_at = Math.max(Date.now() / 1000, conversation.updated_at + 0.001);
  }

  protected async changeStatus(
    conversation: EmulatedConversation,
    status: EmulatedConversation['status'],
  ): Promise<WebhookDelivery> {
    const previous = conversation.status;
    conversation.status = status;
    this.touch(conversation);
    const delivery = await this.fireConversation('conversation_status_changed', conversation, {
      status: [previous, status],
    });
    await this.fireConversation('conversation_updated', conversation, { status: [previous, status] });
    return delivery;
  }

  /** A status change made through the API: its webhooks are sent after the response, like Chatwoot's jobs. */
  protected changeStatusLater(
    conversation: EmulatedConversation,
    status: EmulatedConversation['status'],
  ): void {
    if (conversation.status === status) return;
    const previous = conversation.status;
    conversation.status = status;
    this.touch(conversation);
    const changes = changedAttributes({ status: [previous, status] });
    const data = conversationWebhookData(conversation, this.account);
    this.fireLater(
      JSON.stringify({ ...data, event: 'conversation_status_changed', changed_attributes: changes }),
    );
    this.fireLater(JSON.stringify({ ...data, event: 'conversation_updated', changed_attributes: changes }));
  }

  /**
   * The public client API's conversation of a contact (`Public::Api::V1::InboxesController` and
   * `inboxes/conversations_controller#set_conversation`): the API inbox by identifier, the contact_inbox by
   * `source_id`, the conversation by display id among that contact_inbox's.
   */
  publicConversation(
    inboxIdentifier: string,
    sourceId: string,
    displayId: string,
  ): EmulatedConversation | undefined {
    if (inboxIdentifier !== this.inboxIdentifier) return undefined;
    const conversation = this.conversations.get(Number(displayId));
    return conversation?.sourceId === sourceId && conversation.inboxId === this.inbox.id
      ? conversation
      : undefined;
  }

  /**
   * `toggle_typing`: the contact typing (`on`) or not (`off`); the dispatcher's `conversation.typing_on/off` goes to
   * the inbox's webhook with the contact as the user (WebhookListener#handle_typing_status), as for an agent's.
   */
  contactToggleTyping(conversation: EmulatedConversation, status: string | undefined): void {
    if (status !== 'on' && status !== 'off') return; // the controller's `case` ignores anything else
    conversation.contactTyping = status === 'on';
    conversation.contactTypingLog.push(status);
    this.fireLater(
      JSON.stringify({
        event: status === 'on' ? 'conversation_typing_on' : 'conversation_typing_off',
        user: contactPushData(conversation.contact),
        conversation: conversationWebhookData(conversation, this.account),
        is_private: false,
      }),
    );
  }

  /** `update_last_seen`: `contact_last_seen_at` = now (no webhook: not one of `list_of_keys`). */
  contactUpdateLastSeen(conversation: EmulatedConversation): void {
    conversation.contactLastSeenAt = unixNow();
  }

  protected fireMessage(
    conversation: EmulatedConversation,
    message: EmulatedMessage,
  ): Promise<WebhookDelivery> {
    return this.deliver(JSON.stringify(messageWebhookData(message, conversation, this.account, this.inbox)));
  }

  protected fireConversation(
    event: string,
    conversation: EmulatedConversation,
    changes: Record<string, [unknown, unknown]>,
  ): Promise<WebhookDelivery> {
    const body = {
      ...conversationWebhookData(conversation, this.account),
      event,
      changed_attributes: changedAttributes(changes),
    };
    return this.deliver(JSON.stringify(body));
  }

  protected deliver(body: string): Promise<WebhookDelivery> {
    this.lastBody = body;
    return this.post(body, this.signedHeaders(body));
  }

  protected fireLater(body: string): void {
    if (this.webhookTarget)
      setImmediate(() => void this.post(body, this.signedHeaders(body)).catch(() => {}));
  }

  protected post(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.webhooks.post(this.webhookTarget, body, headers);
  }
}

export function signedWith(secret: string, body: string, at: Date): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': 'rest-client/2.1.0 (linux x86_64) ruby/3.4.4p34',
    'x-chatwoot-delivery': randomUUID(),
    'x-chatwoot-timestamp': timestamp,
    'x-chatwoot-signature': `sha256=${signature}`,
  };
}

export function fileView(a: EmulatedAttachment): FileView {
  return { name: a.name, mimeType: a.mimeType, size: a.data.length, data: a.data };
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
