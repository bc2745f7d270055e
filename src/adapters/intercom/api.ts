import { type AxiosInstance, isAxiosError } from 'axios';
import { z } from 'zod';
import { PermanentError, RetryableError, type MediaFile } from '../adapter';
import { toBridgeError } from '../shared/http-errors';
import { parseVendorResponse } from '../shared/response';
import { INTERCOM_HOSTS, type IntercomConfig } from './config';
import { textToHtml } from './html';
import { conversationItem } from './webhook';
import { vendorApiClient } from '../shared/api-client';

export interface IntercomContact {
  id: string;
  role: 'user' | 'lead';
}

/** What one customer message becomes in Intercom: the text (with file links) and the files to attach. */
export interface PartContent {
  /** Plain text; the API call sends it as escaped HTML (`textToHtml`). */
  body: string;
  /** At most 10 (Intercom's limit); Intercom fetches and attaches them. */
  attachmentUrls: string[];
}

/**
 * The Intercom REST calls the adapter makes (Bearer token, pinned `Intercom-Version`), responses validated. Every
 * `body` is plain text here and goes out as escaped HTML (`textToHtml`): Intercom renders bodies as HTML, and what
 * the bridge writes is the customer's text or text about the customer, never markup.
 */
export class IntercomApi {
  private readonly http: AxiosInstance;

  constructor(config: IntercomConfig) {
    const baseURL = config.INTERCOM_BASE_URL ?? INTERCOM_HOSTS[config.INTERCOM_REGION];
    this.http = vendorApiClient({
      baseURL: baseURL.replace(/\/$/, ''),
      timeout: config.INTERCOM_TIMEOUT_MS,
      headers: {
        Authorization: `Bearer ${config.INTERCOM_ACCESS_TOKEN}`,
        'Intercom-Version': config.INTERCOM_API_VERSION,
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
    });
  }

  /** POST /contacts/search on external_id (exact match). Newly created contacts can take a while to be found. */
  async findContactByExternalId(externalId: string): Promise<IntercomContact | undefined> {
    const list = await this.request('search contact', contactList, {
      method: 'POST',
      url: '/contacts/search',
      data: { query: { field: 'external_id', operator: '=', value: externalId } },
    });
    const found = list.data.find((c) => c.external_id === externalId);
    return found ? contact(found) : undefined;
  }

  /**
   * POST /contacts as a user with our external_id. Intercom answers 409 when a contact with that external_id
   * already exists (one the search did not return yet): then it is fetched by external_id.
   */
  async createContact(
    input: { externalId: string; name?: string } & ContactDetails,
  ): Promise<IntercomContact> {
    try {
      const created = await this.send('create contact', contactResponse, {
        method: 'POST',
        url: '/contacts',
        data: {
          role: 'user',
          external_id: input.externalId,
          ...(input.name ? { name: input.name } : {}),
          ...contactDetails(input),
        },
      });
      return contact(created);
    } catch (err) {
      if (!isAxiosError(err) || err.response?.status !== 409) throw intercomError(err, 'create contact');
    }
    const existing = await this.request('find contact by external_id', contactResponse, {
      method: 'GET',
      url: `/contacts/find_by_external_id/${encodeURIComponent(input.externalId)}`,
    });
    return contact(existing);
  }

  /** PUT /contacts/{id}: the contact's name, e-mail, phone and custom attributes from BLiP. */
  async updateContact(contactId: string, input: { name?: string } & ContactDetails): Promise<void> {
    await this.request('update contact', contactResponse, {
      method: 'PUT',
      url: `/contacts/${encodeURIComponent(contactId)}`,
      data: { ...(input.name ? { name: input.name } : {}), ...contactDetails(input) },
    });
  }

  /** PUT /conversations/{id}: its title (the ticket subject) and custom attributes. */
  async updateConversation(
    conversationId: string,
    input: { title?: string; customAttributes?: Record<string, string> },
  ): Promise<void> {
    await this.request('update conversation', conversationResponse, {
      method: 'PUT',
      url: `/conversations/${encodeURIComponent(conversationId)}`,
      data: {
        ...(input.title ? { title: input.title } : {}),
        ...(input.customAttributes && Object.keys(input.customAttributes).length
          ? { custom_attributes: input.customAttributes }
          : {}),
      },
    });
  }

  /** POST /conversations/{id}/parts: assigns the conversation to a team, as the bridge's admin. */
  async assignTeam(conversationId: string, adminId: string, teamId: string): Promise<void> {
    await this.request('assign team', conversationResponse, {
      method: 'POST',
      url: `/conversations/${encodeURIComponent(conversationId)}/parts`,
      data: { message_type: 'assignment', type: 'team', admin_id: adminId, assignee_id: teamId },
    });
  }

  /** POST /conversations/{id}/parts: opens a closed conversation again, as the bridge's admin. */
  async openConversation(conversationId: string, adminId: string): Promise<void> {
    await this.request('open conversation', conversationResponse, {
      method: 'POST',
      url: `/conversations/${encodeURIComponent(conversationId)}/parts`,
      data: { message_type: 'open', admin_id: adminId },
    });
  }

  /** GET /me: the admin the access token belongs to (`npm run bridge -- check`). */
  async me(): Promise<{ id: string; name?: string; email?: string }> {
    const me = await this.request('get me', adminResponse, { method: 'GET', url: '/me' });
    return { id: me.id, ...(me.name ? { name: me.name } : {}), ...(me.email ? { email: me.email } : {}) };
  }

  /** GET /admins/{id}: undefined when there is no such teammate. */
  async admin(adminId: string): Promise<{ id: string; name?: string } | undefined> {
    try {
      const admin = await this.send('get admin', adminResponse, {
        method: 'GET',
        url: `/admins/${encodeURIComponent(adminId)}`,
      });
      return { id: admin.id, ...(admin.name ? { name: admin.name } : {}) };
    } catch (err) {
      if (isAxiosError(err) && err.response?.status === 404) return undefined;
      throw err instanceof PermanentError || err instanceof RetryableError
        ? err
        : intercomError(err, 'get admin');
    }
  }

  /** GET /teams/{id}: the team's name; undefined when there is no such team. */
  async teamName(teamId: string): Promise<string | undefined> {
    try {
      const team = await this.send('get team', adminResponse, {
        method: 'GET',
        url: `/teams/${encodeURIComponent(teamId)}`,
      });
      return team.name ?? undefined;
    } catch (err) {
      if (isAxiosError(err) && err.response?.status === 404) return undefined;
      throw err instanceof PermanentError || err instanceof RetryableError
        ? err
        : intercomError(err, 'get team');
    }
  }

  /** POST /conversations as the contact: the conversation starts with the customer's first message. */
  async createConversation(from: IntercomContact, content: PartContent): Promise<string> {
    const message = await this.request('create conversation', messageResponse, {
      method: 'POST',
      url: '/conversations',
      data: {
        from: { type: from.role, id: from.id },
        body: textToHtml(content.body),
        ...(content.attachmentUrls.length ? { attachment_urls: content.attachmentUrls } : {}),
      },
    });
    return message.conversation_id;
  }

  /** POST /conversations/{id}/reply as the contact (never as an admin). */
  async replyAsContact(conversationId: string, contactId: string, content: PartContent): Promise<void> {
    await this.request('reply as contact', conversationResponse, {
      method: 'POST',
      url: `/conversations/${encodeURIComponent(conversationId)}/reply`,
      data: {
        message_type: 'comment',
        type: 'user',
        intercom_user_id: contactId,
        body: textToHtml(content.body),
        ...(content.attachmentUrls.length ? { attachment_urls: content.attachmentUrls } : {}),
      },
    });
  }

  /**
   * POST /conversations/{id}/reply as the contact with the file itself in `attachment_files` (base64): the
   * customer's file becomes a real upload in the conversation, which `attachment_urls` (image URLs Intercom must
   * be able to fetch) cannot promise. `POST /conversations` takes no files, so this needs the conversation.
   * Returns the new part's id (`part:<id>`) when the answer shows it.
   */
  async replyWithFile(conversationId: string, contactId: string, file: MediaFile): Promise<string> {
    const conversation = await this.request('reply with file', conversationResponse, {
      method: 'POST',
      url: `/conversations/${encodeURIComponent(conversationId)}/reply`,
      data: {
        message_type: 'comment',
        type: 'user',
        intercom_user_id: contactId,
        body: textToHtml(file.name),
        attachment_files: [
          { content_type: file.mimeType, data: file.data.toString('base64'), name: file.name },
        ],
      },
      maxBodyLength: Infinity,
    });
    const last = conversation.conversation_parts?.conversation_parts.at(-1);
    return last ? `part:${last.id}` : `conversation:${conversationId}`;
  }

  /** POST /conversations/{id}/reply as a note of the bridge's admin: seen by teammates only. */
  async addNote(conversationId: string, adminId: string, body: string): Promise<void> {
    await this.request('add note', conversationResponse, {
      method: 'POST',
      url: `/conversations/${encodeURIComponent(conversationId)}/reply`,
      data: { message_type: 'note', type: 'admin', admin_id: adminId, body: textToHtml(body) },
    });
  }

  /** POST /conversations/{id}/parts: closes the conversation as the bridge's admin. */
  async closeConversation(conversationId: string, adminId: string): Promise<void> {
    await this.request('close conversation', conversationResponse, {
      method: 'POST',
      url: `/conversations/${encodeURIComponent(conversationId)}/parts`,
      data: { message_type: 'close', type: 'admin', admin_id: adminId },
    });
  }

  /** GET /conversations/{id} with plain-text bodies: the conversation and its (up to 500 latest) parts. */
  async getConversation(conversationId: string): Promise<z.infer<typeof conversationResponse>> {
    return this.request('get conversation', conversationResponse, {
      method: 'GET',
      url: `/conversations/${encodeURIComponent(conversationId)}`,
      params: { display_as: 'plaintext' },
    });
  }

  private async request<S extends z.ZodType>(
    call: string,
    schema: S,
    config: Parameters<AxiosInstance['request']>[0],
  ): Promise<z.infer<S>> {
    try {
      return await this.send(call, schema, config);
    } catch (err) {
      throw err instanceof PermanentError || err instanceof RetryableError ? err : intercomError(err, call);
    }
  }

  /** The call without error mapping (callers that treat a status specially map the rest themselves). */
  private async send<S extends z.ZodType>(
    call: string,
    schema: S,
    config: Parameters<AxiosInstance['request']>[0],
  ): Promise<z.infer<S>> {
    const body: unknown = (await this.http.request(config)).data;
    return parseVendorResponse('intercom', call, schema, body);
  }
}

/**
 * The shared HTTP mapping (429 with its wait, 5xx retryable, other 4xx permanent), plus Intercom's own error
 * codes and messages from its `error.list` body (`unauthorized: Access Token Invalid`), never our request body.
 */
export function intercomError(err: unknown, call: string): Error {
  const mapped = toBridgeError(err, 'intercom', call);
  const detail = isAxiosError(err) ? describeErrorList(err.response?.data) : '';
  if (!detail) return mapped;
  if (mapped instanceof RetryableError)
    return new RetryableError(`${mapped.message}: ${detail}`, mapped.code, mapped.retryAfterMs, {
      cause: err,
    });
  if (mapped instanceof PermanentError)
    return new PermanentError(`${mapped.message}: ${detail}`, mapped.code, { cause: err });
  return mapped;
}

const errorList = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string().nullish() })).min(1),
});

function describeErrorList(data: unknown): string {
  const parsed = errorList.safeParse(data);
  if (!parsed.success) return '';
  return parsed.data.errors
    .map((e) => (e.message ? `${e.code} (${e.message})` : e.code))
    .join('; ')
    .slice(0, 300);
}

const id = z.union([z.string().min(1), z.number()]).transform(String);

const contactResponse = z.looseObject({
  id,
  external_id: z.string().nullish(),
  role: z.string().nullish(),
});
const contactList = z.looseObject({ data: z.array(contactResponse) });
const messageResponse = z.looseObject({ conversation_id: id });
const adminResponse = z.looseObject({ id, name: z.string().nullish(), email: z.string().nullish() });

/** What the bridge knows about the customer, for the contact. */
export interface ContactDetails {
  email?: string;
  phone?: string;
  customAttributes?: Record<string, string>;
}

function contactDetails(input: ContactDetails): Record<string, unknown> {
  return {
    ...(input.email ? { email: input.email } : {}),
    ...(input.phone ? { phone: input.phone } : {}),
    ...(input.customAttributes && Object.keys(input.customAttributes).length
      ? { custom_attributes: input.customAttributes }
      : {}),
  };
}
const conversationResponse = conversationItem;

function contact(c: z.infer<typeof contactResponse>): IntercomContact {
  return { id: c.id, role: c.role === 'lead' ? 'lead' : 'user' };
}
