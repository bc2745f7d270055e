/**
 * A local Chatwoot (test side only): one account with one API-channel inbox, the application API the adapter calls
 * (emulator-app.ts, validated against sandbox/openapi/chatwoot-openapi-3.0.json), its state and the webhooks its API
 * writes cause (emulator-state.ts), and here the agent, who replies, writes private notes, sends files, assigns,
 * moves the conversation to a team and resolves it, with the inbox's signed webhooks in Chatwoot's own shapes
 * (emulator-payloads.ts; fixtures in test/fixtures/chatwoot/). Like Chatwoot, the bridge's own API writes come back
 * as webhooks too: `message_created` for the customer's incoming messages and the bridge's private notes,
 * `conversation_status_changed` / `conversation_updated` for its status changes.
 */
import { closeServer, listen } from '../../../sandbox/emulator-kit';
import {
  type AgentFile,
  type RecordedApiCall,
  type TicketView,
  type VendorEmulator,
  type VendorTestKit,
  type WebhookDelivery,
  waitUntil,
} from '../../../sandbox/vendor-emulator';
import { buildChatwootApp } from './emulator-app';
import {
  conversationWebhookData,
  type EmulatedContact,
  type EmulatedConversation,
  messageWebhookData,
  userWebhookData,
} from './emulator-payloads';
import { type ChatwootEmulatorOptions, ChatwootState, fileView, signedWith, unixNow } from './emulator-state';

export type { ChatwootEmulatorOptions } from './emulator-state';

export class ChatwootEmulator extends ChatwootState implements VendorEmulator {
  readonly vendor = 'chatwoot';
  readonly validating = true;
  readonly webhookAuth = 'hmac-signed-time' as const;

  static async start(options: ChatwootEmulatorOptions): Promise<ChatwootEmulator> {
    const emulator = new ChatwootEmulator(options);
    emulator.server = await listen(buildChatwootApp(emulator), options.port);
    return emulator;
  }

  bridgeEnv(): Record<string, string> {
    return {
      BRIDGE_VENDOR: 'chatwoot',
      CHATWOOT_BASE_URL: this.url,
      CHATWOOT_ACCOUNT_ID: String(this.account.id),
      CHATWOOT_INBOX_ID: String(this.inbox.id),
      CHATWOOT_API_ACCESS_TOKEN: this.options.accessToken,
      CHATWOOT_WEBHOOK_SECRET: this.options.webhookSecret,
    };
  }

  setWebhookTarget(url: string): void {
    this.webhookTarget = url;
  }

  tickets(): TicketView[] {
    return [...this.conversations.values()].map((c) => {
      const incoming = c.messages.filter((m) => m.message_type === 'incoming');
      return {
        id: String(c.id),
        customerMessages: incoming
          .filter((m) => (m.content ?? '').trim() !== '')
          .map((m) => readAsAgent(m.content ?? '')),
        customerExternalId: c.contact.identifier ?? undefined,
        customerFiles: incoming.flatMap((m) => m.attachments).map(fileView),
        closed: c.status === 'resolved',
        bridgeNotes: c.messages
          .filter((m) => m.private && m.sender.type === 'user' && m.sender.user.id === this.bridgeUser.id)
          .map((m) => readAsAgent(m.content ?? '')),
      };
    });
  }

  apiCalls(): RecordedApiCall[] {
    return this.requests;
  }

  failNext(count: number, status: number, headers: Record<string, string> = {}): void {
    this.faults.add(count, status, headers);
  }

  waitFor<T>(
    check: () => T | undefined | false,
    timeoutMs = 10_000,
    description = 'a Chatwoot state',
  ): Promise<T> {
    return waitUntil(check, timeoutMs, description);
  }

  // ---- the agent (a user of the account, in the dashboard) --------------------------------------------------

  /** A public reply: an outgoing message, `message_created`. */
  agentReply(conversationId: string, text: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    const message = this.addMessage(conversation, {
      content: text,
      message_type: 'outgoing',
      private: false,
      sender: this.agent,
    });
    return this.fireMessage(conversation, message);
  }

  /** A private note: an outgoing message with `private: true` (still a `message_created`). */
  agentNote(conversationId: string, text: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    const message = this.addMessage(conversation, {
      content: text,
      message_type: 'outgoing',
      private: true,
      sender: this.agent,
    });
    return this.fireMessage(conversation, message);
  }

  /** The dashboard sends a file and its caption as one outgoing message with the attachment. */
  async agentSendFile(conversationId: string, file: AgentFile, text = ''): Promise<WebhookDelivery[]> {
    const conversation = this.conversation(conversationId);
    const message = this.addMessage(
      conversation,
      { content: text || null, message_type: 'outgoing', private: false, sender: this.agent },
      [{ originalname: file.name, mimetype: file.mimeType, buffer: file.data, fieldname: 'attachments[]' }],
    );
    return [await this.fireMessage(conversation, message)];
  }

  /** Another agent (made when new) takes the conversation: `conversation_updated`, `assignee_id` changed. */
  agentAssign(conversationId: string, agentName: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    let user = this.users.find((u) => u.name === agentName);
    if (!user) {
      user = {
        id: this.nextUserId++,
        name: agentName,
        email: `${agentName.toLowerCase().replace(/\W+/g, '.')}@acme.com.br`,
      };
      this.users.push(user);
    }
    const previous = conversation.assignee?.id ?? null;
    conversation.assignee = user;
    this.touch(conversation);
    return this.fireConversation('conversation_updated', conversation, { assignee_id: [previous, user.id] });
  }

  /** The conversation moves to another team (made when new): `conversation_updated`, `team_id` changed. */
  transfer(conversationId: string, teamName: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    let team = this.teams.get(teamName);
    if (!team) {
      team = { id: this.nextTeamId++, name: teamName };
      this.teams.set(teamName, team);
    }
    const previous = conversation.team?.id ?? null;
    conversation.team = team;
    this.touch(conversation);
    return this.fireConversation('conversation_updated', conversation, { team_id: [previous, team.id] });
  }

  /**
   * The agent types in the reply box (`conversation_typing_on`) or stops (`_off`), as
   * WebhookListener#handle_typing_status sends it; `inNote`: typing a private note (`is_private: true`).
   */
  typing(conversationId: string, typing = true, inNote = false): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    const body = {
      event: typing ? 'conversation_typing_on' : 'conversation_typing_off',
      user: userWebhookData(this.agent),
      conversation: conversationWebhookData(conversation, this.account),
      is_private: inNote,
    };
    return this.deliver(JSON.stringify(body));
  }

  /** The agent resolves it: `conversation_status_changed`, then `conversation_updated` (both fire on a status). */
  async closeTicket(conversationId: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    return this.changeStatus(conversation, 'resolved');
  }

  redeliverLast(): Promise<WebhookDelivery> {
    if (this.lastBody === undefined) return Promise.reject(new Error('nothing was delivered yet'));
    return this.post(this.lastBody, this.signedHeaders(this.lastBody));
  }

  signedDeliveryAt(body: string, at: Date): { body: string; headers: Record<string, string> } {
    return { body, headers: this.signedHeaders(body, at) };
  }

  deliverWithCredential(body: string, credential: 'wrong' | 'none'): Promise<WebhookDelivery> {
    const headers =
      credential === 'wrong'
        ? signedWith('not-the-inbox-webhook-secret', body, new Date())
        : this.signedHeaders(body);
    if (credential === 'none') delete headers['x-chatwoot-signature'];
    return this.post(body, headers);
  }

  deliverRaw(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.post(body, headers);
  }

  agentReplyBodyForUnknownTicket(text: string): string {
    const contact: EmulatedContact = {
      id: 1,
      name: 'Nobody',
      email: null,
      phone_number: null,
      identifier: 'nobody@wa.gw.msging.net',
      custom_attributes: {},
      created_at: unixNow(),
    };
    const ghost: EmulatedConversation = {
      id: 999_999,
      inboxId: this.inbox.id,
      contact,
      sourceId: 'nobody',
      status: 'open',
      assignee: this.agent,
      team: null,
      custom_attributes: {},
      created_at: unixNow(),
      updated_at: Date.now() / 1000,
      messages: [],
      contactTypingLog: [],
    };
    const message = this.addMessage(ghost, {
      content: text,
      message_type: 'outgoing',
      private: false,
      sender: this.agent,
    });
    return JSON.stringify(messageWebhookData(message, ghost, this.account, this.inbox));
  }

  async stop(): Promise<void> {
    await this.webhooks.settle();
    await closeServer(this.server);
  }
}

/** Chatwoot's test side (sandbox/emulators.ts): the emulator with the sandbox's credentials, the suites' settings. */
export const testKit: VendorTestKit<ChatwootEmulator> = {
  start: () =>
    ChatwootEmulator.start({
      accessToken: 'sandbox-chatwoot-access-token',
      webhookSecret: 'sandbox-chatwoot-inbox-secret-0123456789',
    }),
  harnessEnv: { CHATWOOT_REQUESTS_PER_MINUTE: '100000' },
  demoEnv: { CHATWOOT_TEAMS: 'financeiro:11' },
  fuzzSample: 'fixtures/chatwoot/message-created-outgoing.json',
  // Chatwoot renders message content as Markdown: no `content` the bridge writes may hold live Markdown.
  liveMarkup: (body) => contents(body).flatMap(liveMarkdown),
};

/**
 * What the agent reads of a message's content in the dashboard (MessageFormatter.js renders Markdown): here, the
 * text with CommonMark's backslash escapes resolved (the bridge writes nothing else that renders).
 */
export function readAsAgent(content: string): string {
  return content.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/**
 * Markdown in `text` that the dashboard would render as markup rather than show: an unescaped character that opens
 * emphasis, code, a link or an image, an autolink, strikethrough, a table or an entity anywhere outside a bare URL, or a block
 * marker (heading, quote, list, setext underline) at the start of a line.
 */
export function liveMarkdown(text: string): string[] {
  const found: string[] = [];
  const withoutUrls = text.replace(/\b(?:https?:\/\/|www\.)[^\s\\`*[\]<>~|]+/gi, ' ');
  for (let i = 0; i < withoutUrls.length; i++) {
    const c = withoutUrls[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if ('`*_[]<~|'.includes(c)) found.push(c);
    else if (c === '&' && /^&#?[A-Za-z0-9]+;/.test(withoutUrls.slice(i))) found.push('entity');
  }
  for (const line of withoutUrls.split('\n')) {
    const marker = /^ {0,3}([#>+=-]|\d{1,9}[.)])/.exec(line);
    if (marker) found.push(`line start ${marker[1]}`);
  }
  return found;
}

/** Every `content` value in an API request body (the only field the dashboard renders as Markdown). */
function contents(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(contents);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) =>
    key === 'content' && typeof v === 'string' ? [v] : contents(v),
  );
}
