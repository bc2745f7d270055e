import { type AxiosInstance, type AxiosRequestConfig, isAxiosError } from 'axios';
import { z } from 'zod';
import type { MediaFile } from '../adapter';
import { vendorApiClient } from '../shared/api-client';
import { toBridgeError } from '../shared/http-errors';
import { requestValidated } from '../shared/response';
import type { ChatwootConfig } from './config';
import { messageSchema, type ChatwootMessage } from './webhook';

const id = z.union([z.number(), z.string()]).transform(String);

const contactSchema = z.looseObject({ id, identifier: z.string().nullish() });
/** `POST /contacts` answers `{ payload: { contact, contact_inbox } }` (contacts_controller#create). */
const createdContact = z.looseObject({
  payload: z.looseObject({ contact: contactSchema }),
});
const contactList = z.looseObject({ payload: z.array(contactSchema) });

const conversationSchema = z.looseObject({
  id, // the display id: what every /conversations/{id} route takes
  inbox_id: id.nullish(),
  status: z.string().nullish(),
  custom_attributes: z.record(z.string(), z.unknown()).nullish(),
});
const conversationList = z.looseObject({ payload: z.array(conversationSchema) });
const messageList = z.looseObject({ payload: z.array(messageSchema) });
const toggled = z.looseObject({
  payload: z.looseObject({ success: z.boolean().nullish(), current_status: z.string().nullish() }),
});
const profile = z.looseObject({ id, name: z.string().nullish(), email: z.string().nullish() });
const inboxSchema = z.looseObject({
  id,
  name: z.string().nullish(),
  channel_type: z.string().nullish(),
  webhook_url: z.string().nullish(),
  /** An API inbox's `channel.identifier` (`api/v1/models/_inbox.json.jbuilder`): the public client API's key. */
  inbox_identifier: z.string().nullish(),
});
/** `GET /contacts/{id}` answers `{ payload: contact }` (contacts_controller#show). */
const shownContact = z.looseObject({ payload: contactSchema });
/** The public client API's `head :ok` (an empty body). */
const emptyOk = z.unknown();
const teamSchema = z.looseObject({ id, name: z.string().nullish() });
const agentSchema = z.looseObject({ id, name: z.string().nullish(), available_name: z.string().nullish() });

/** The custom attribute the bridge puts its session id in (found again by a retried openTicket). */
export const SESSION_ATTRIBUTE = 'bridge_session_id';

export interface NewContact {
  identifier: string;
  name?: string;
  email?: string;
  phoneNumber?: string;
  customAttributes?: Record<string, string>;
}

export interface NewConversation {
  contactId: string;
  sourceId: string;
  sessionId: string;
  content: string;
  teamId?: string;
}

/**
 * The Chatwoot application API calls the adapter makes (`/api/v1/accounts/{account_id}/...`, header
 * `api_access_token`), each response validated. Routes and shapes: README.md, "Calls".
 */
export class ChatwootApi {
  readonly http: AxiosInstance;
  /** The public client API (`/public/api/v1/inboxes/...`): authenticated by the inbox identifier alone, no token. */
  private readonly publicHttp: AxiosInstance;
  readonly baseUrl: string;
  private readonly account: string;
  readonly inboxId: string;

  constructor(config: ChatwootConfig) {
    this.baseUrl = config.CHATWOOT_BASE_URL.replace(/\/$/, '');
    this.account = `/api/v1/accounts/${config.CHATWOOT_ACCOUNT_ID}`;
    this.inboxId = config.CHATWOOT_INBOX_ID;
    this.http = vendorApiClient({
      baseURL: this.baseUrl,
      timeout: config.CHATWOOT_TIMEOUT_MS,
      headers: {
        api_access_token: config.CHATWOOT_API_ACCESS_TOKEN,
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
    });
    this.publicHttp = vendorApiClient({
      baseURL: this.baseUrl,
      timeout: config.CHATWOOT_TIMEOUT_MS,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    });
  }

  /** GET /contacts/{id}: the contact's `identifier` (the bridge's contact_inbox `source_id`). */
  async contactIdentifier(contactId: string): Promise<string | undefined> {
    const shown = await this.call('show contact', shownContact, {
      method: 'GET',
      url: `${this.account}/contacts/${encodeURIComponent(contactId)}`,
    });
    return shown.payload.identifier ?? undefined;
  }

  /**
   * The public client API on the contact's behalf (`public/api/v1/inboxes/conversations_controller.rb`):
   * `toggle_typing` `{typing_status: "on"|"off"}` dispatches `conversation.typing_on/off` with the contact as the
   * user (the dashboard shows the contact typing); `update_last_seen` sets `contact_last_seen_at` to now and
   * `Conversations::UpdateMessageStatusJob` marks the agents' messages up to it `read`. The route finds the inbox by
   * its identifier (`Channel::Api.find_by!(identifier:)`), the contact_inbox by `source_id`, the conversation by
   * display id among that contact_inbox's: 404 when any is not found.
   */
  async contactSignal(
    where: { inboxIdentifier: string; sourceId: string; conversationId: string },
    signal: { typing: boolean } | 'last-seen',
  ): Promise<void> {
    const path = [
      '/public/api/v1/inboxes',
      encodeURIComponent(where.inboxIdentifier),
      'contacts',
      encodeURIComponent(where.sourceId),
      'conversations',
      encodeURIComponent(where.conversationId),
    ].join('/');
    const call = signal === 'last-seen' ? 'update last seen' : 'toggle typing';
    await requestValidated(
      this.publicHttp,
      'chatwoot',
      call,
      emptyOk,
      signal === 'last-seen'
        ? { method: 'POST', url: `${path}/update_last_seen` }
        : {
            method: 'POST',
            url: `${path}/toggle_typing`,
            data: { typing_status: signal.typing ? 'on' : 'off' },
          },
      (err) => toBridgeError(err, 'chatwoot', call),
    );
  }

  /** GET /contacts/search?q=: the contact whose identifier is exactly `identifier`. */
  async findContact(identifier: string): Promise<string | undefined> {
    const list = await this.call('search contact', contactList, {
      method: 'GET',
      url: `${this.account}/contacts/search`,
      params: { q: identifier },
    });
    return list.payload.find((c) => c.identifier === identifier)?.id;
  }

  /** POST /contacts in the API inbox (which makes its contact_inbox); 422 when a detail is taken or invalid. */
  async createContact(contact: NewContact): Promise<string> {
    const created = await this.call('create contact', createdContact, {
      method: 'POST',
      url: `${this.account}/contacts`,
      data: {
        inbox_id: Number(this.inboxId),
        identifier: contact.identifier,
        ...(contact.name ? { name: contact.name } : {}),
        ...(contact.email ? { email: contact.email } : {}),
        ...(contact.phoneNumber ? { phone_number: contact.phoneNumber } : {}),
        ...(contact.customAttributes ? { custom_attributes: contact.customAttributes } : {}),
      },
    });
    return created.payload.contact.id;
  }

  /** GET /contacts/{id}/conversations: the contact's conversations (ours: this inbox, with our session id). */
  async contactConversations(contactId: string): Promise<z.infer<typeof conversationSchema>[]> {
    const list = await this.call('list contact conversations', conversationList, {
      method: 'GET',
      url: `${this.account}/contacts/${contactId}/conversations`,
    });
    return list.payload;
  }

  /**
   * POST /conversations: the conversation and its first message in one transaction (conversations_controller#create
   * builds both), the contact's contact_inbox found or made by `source_id`.
   */
  async createConversation(input: NewConversation): Promise<string> {
    const created = await this.call('create conversation', conversationSchema, {
      method: 'POST',
      url: `${this.account}/conversations`,
      data: {
        // Strings, as the OpenAPI file types them (Rails casts either).
        inbox_id: this.inboxId,
        contact_id: input.contactId,
        source_id: input.sourceId,
        status: 'open',
        ...(input.teamId ? { team_id: input.teamId } : {}),
        custom_attributes: { [SESSION_ATTRIBUTE]: input.sessionId },
        message: { content: input.content, message_type: 'incoming' },
      },
    });
    return created.id;
  }

  /** POST /conversations/{id}/messages as JSON: incoming (the customer) or a private note (outgoing, private). */
  async createMessage(
    conversationId: string,
    message: { content: string; kind: 'incoming' | 'note' },
  ): Promise<ChatwootMessage> {
    return this.call('create message', messageSchema, {
      method: 'POST',
      url: `${this.account}/conversations/${conversationId}/messages`,
      data:
        message.kind === 'incoming'
          ? { content: message.content, message_type: 'incoming', private: false }
          : { content: message.content, message_type: 'outgoing', private: true },
    });
  }

  /** POST /conversations/{id}/messages as multipart: an incoming message carrying the file (`attachments[]`). */
  async createFileMessage(conversationId: string, file: MediaFile): Promise<ChatwootMessage> {
    const form = new FormData();
    form.append('message_type', 'incoming');
    form.append('private', 'false');
    form.append('attachments[]', new Blob([file.data], { type: file.mimeType }), file.name);
    return this.call('create message with file', messageSchema, {
      method: 'POST',
      url: `${this.account}/conversations/${conversationId}/messages`,
      data: form,
      // axios sets multipart/form-data with its boundary for a FormData body.
      headers: { 'Content-Type': 'multipart/form-data' },
    });
  }

  /** GET /conversations/{id}/messages: the latest messages, oldest first. */
  async messages(conversationId: string): Promise<ChatwootMessage[]> {
    const list = await this.call('list messages', messageList, {
      method: 'GET',
      url: `${this.account}/conversations/${conversationId}/messages`,
    });
    return list.payload;
  }

  /** POST /conversations/{id}/toggle_status with an explicit status (`resolved`, `open`). */
  async setStatus(conversationId: string, status: 'resolved' | 'open'): Promise<void> {
    await this.call('toggle status', toggled, {
      method: 'POST',
      url: `${this.account}/conversations/${conversationId}/toggle_status`,
      data: { status },
    });
  }

  async agents(): Promise<z.infer<typeof agentSchema>[]> {
    return this.call('list agents', z.array(agentSchema), { method: 'GET', url: `${this.account}/agents` });
  }

  async team(teamId: string): Promise<z.infer<typeof teamSchema> | undefined> {
    try {
      return await this.call('show team', teamSchema, {
        method: 'GET',
        url: `${this.account}/teams/${teamId}`,
      });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** GET /api/v1/profile: whose token this is. */
  async profile(): Promise<z.infer<typeof profile>> {
    return this.call('profile', profile, { method: 'GET', url: '/api/v1/profile' });
  }

  /** GET /inboxes/{id}: the configured inbox (its channel type and webhook URL). */
  async inbox(): Promise<z.infer<typeof inboxSchema>> {
    return this.call('show inbox', inboxSchema, {
      method: 'GET',
      url: `${this.account}/inboxes/${this.inboxId}/`,
    });
  }

  private call<S extends z.ZodType>(
    call: string,
    schema: S,
    config: AxiosRequestConfig,
  ): Promise<z.infer<S>> {
    return requestValidated(this.http, 'chatwoot', call, schema, config, (err) =>
      toBridgeError(err, 'chatwoot', call),
    );
  }
}

/** The HTTP status of a mapped API error (its axios cause), if it had one. */
export function statusOf(err: unknown): number | undefined {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return isAxiosError(cause) ? cause.response?.status : undefined;
}
