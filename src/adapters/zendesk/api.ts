import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { errorCode, type Attachment, type MediaFile } from '../adapter';
import { downloadAttachmentWith } from '../shared/download';
import { toBridgeError } from '../shared/http-errors';
import { requestValidated } from '../shared/response';
import type { ZendeskConfig } from './config';
import { vendorApiClient } from '../shared/api-client';

/** The account's API client (credentials, timeout, JSON); shared by the adapter and `setup.ts`. */
export function zendeskHttp(config: ZendeskConfig): { http: AxiosInstance; baseUrl: string } {
  const baseUrl = (config.ZENDESK_BASE_URL ?? `https://${config.ZENDESK_SUBDOMAIN}.zendesk.com`).replace(
    /\/$/,
    '',
  );
  const http = vendorApiClient({
    baseURL: baseUrl,
    timeout: config.ZENDESK_TIMEOUT_MS,
    headers: {
      Authorization: config.ZENDESK_OAUTH_TOKEN
        ? `Bearer ${config.ZENDESK_OAUTH_TOKEN}`
        : `Basic ${Buffer.from(`${config.ZENDESK_EMAIL}/token:${config.ZENDESK_API_TOKEN}`).toString('base64')}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    },
  });
  return { http, baseUrl };
}

/** The Zendesk Support API calls the adapter makes, with responses validated at the edge. */
export class ZendeskApi {
  private readonly http: AxiosInstance;
  /** The account's base URL: attachment links on it get the API credentials, others never do. */
  readonly baseUrl: string;

  constructor(config: ZendeskConfig) {
    const { http, baseUrl } = zendeskHttp(config);
    this.baseUrl = baseUrl;
    this.http = http;
  }

  /** POST /api/v2/users/create_or_update: the requester, matched on external_id. */
  async createOrUpdateEndUser(user: {
    name: string;
    externalId: string;
    email?: string;
    phone?: string;
    /** Custom user fields by key (`ZENDESK_CONTACT_FIELDS` targets `user.<key>`). */
    userFields?: Record<string, string>;
  }): Promise<string> {
    const data = await this.request('create requester', userResponse, {
      method: 'POST',
      url: '/api/v2/users/create_or_update',
      data: {
        user: {
          name: user.name,
          external_id: user.externalId,
          role: 'end-user',
          skip_verify_email: true,
          ...(user.email ? { email: user.email } : {}),
          ...(user.phone ? { phone: user.phone } : {}),
          ...(user.userFields && Object.keys(user.userFields).length ? { user_fields: user.userFields } : {}),
        },
      },
    });
    return String(data.user.id);
  }

  /**
   * POST /api/v2/uploads?filename=NAME with the raw bytes and the file's real Content-Type: the token that
   * attaches the file to the next comment (`comment.uploads`), valid for 60 minutes.
   */
  async uploadFile(file: MediaFile): Promise<string> {
    const data = await this.request('upload file', uploadResponse, {
      method: 'POST',
      url: '/api/v2/uploads',
      params: { filename: file.name },
      headers: { 'Content-Type': file.mimeType },
      data: file.data,
      // The bytes go as they are (axios would otherwise try to serialise them), whatever their size.
      transformRequest: [(body: unknown) => body],
      maxBodyLength: Infinity,
    });
    return data.upload.token;
  }

  /** POST /api/v2/tickets with an Idempotency-Key: a retry returns the ticket the first call created. */
  async createTicket(
    ticket: {
      subject: string;
      body: string;
      requesterId: string;
      externalId: string;
      tags: string[];
      uploads?: string[];
      priority?: string;
      groupId?: number;
      customFields?: Array<{ id: number; value: string }>;
    },
    idempotencyKey: string,
  ): Promise<{ id: string }> {
    const data = await this.request('create ticket', ticketResponse, {
      method: 'POST',
      url: '/api/v2/tickets',
      headers: { 'Idempotency-Key': idempotencyKey },
      data: {
        ticket: {
          subject: ticket.subject,
          comment: {
            body: ticket.body,
            public: true,
            author_id: Number(ticket.requesterId),
            ...(ticket.uploads?.length ? { uploads: ticket.uploads } : {}),
          },
          requester_id: Number(ticket.requesterId),
          external_id: ticket.externalId,
          tags: ticket.tags,
          ...(ticket.priority ? { priority: ticket.priority } : {}),
          ...(ticket.groupId !== undefined ? { group_id: ticket.groupId } : {}),
          ...(ticket.customFields?.length ? { custom_fields: ticket.customFields } : {}),
        },
      },
    });
    return { id: String(data.ticket.id) };
  }

  /** PUT /api/v2/tickets/{id}: a public comment authored by the requester (without author_id it shows as an agent). */
  async addComment(
    ticketId: string,
    comment: {
      body: string;
      authorId?: string;
      public: boolean;
      status?: string;
      uploads?: string[];
      /** Recorded in the update's audit (`metadata.custom`), where `hasAuditWithKey` finds it. */
      idempotencyKey?: string;
    },
  ): Promise<void> {
    await this.request('add comment', ticketResponse, {
      method: 'PUT',
      url: `/api/v2/tickets/${encodeURIComponent(ticketId)}`,
      data: {
        ticket: {
          comment: {
            body: comment.body,
            public: comment.public,
            ...(comment.authorId ? { author_id: Number(comment.authorId) } : {}),
            ...(comment.uploads?.length ? { uploads: comment.uploads } : {}),
          },
          ...(comment.status ? { status: comment.status } : {}),
          ...(comment.idempotencyKey ? { metadata: { [AUDIT_KEY_FIELD]: comment.idempotencyKey } } : {}),
        },
      },
    });
  }

  /**
   * Whether an update of the ticket carried `idempotencyKey` in its audit metadata: GET
   * /api/v2/tickets/{id}/audits, newest pages last, following `next_page` (at most AUDIT_PAGES pages).
   */
  async hasAuditWithKey(ticketId: string, idempotencyKey: string): Promise<boolean> {
    let url: string | undefined = `/api/v2/tickets/${encodeURIComponent(ticketId)}/audits`;
    for (let page = 0; url && page < AUDIT_PAGES; page++) {
      const data: z.infer<typeof auditsResponse> = await this.request('list audits', auditsResponse, {
        method: 'GET',
        url,
      });
      if (data.audits.some((a) => a.metadata?.custom?.[AUDIT_KEY_FIELD] === idempotencyKey)) return true;
      // The credentials go to the account's own host only.
      const next = data.next_page ?? undefined;
      url = next && (next.startsWith('/') || next.startsWith(`${this.baseUrl}/`)) ? next : undefined;
    }
    return false;
  }

  /**
   * An attachment's `content_url` (`/attachments/token/<token>/?name=…`), with the API credentials: with "Require
   * authentication to download" on, that is what opens it. Zendesk may redirect to its CDN; the credentials are
   * not sent along to another host.
   */
  downloadAttachment(attachment: Attachment, maxBytes: number): Promise<MediaFile> {
    return downloadAttachmentWith(this.http, 'zendesk', attachment, maxBytes);
  }

  /** GET /api/v2/tickets/{id}/comments, newest first, with authors side-loaded. */
  async listRecentComments(ticketId: string): Promise<z.infer<typeof commentsResponse>> {
    return this.request('list comments', commentsResponse, {
      method: 'GET',
      url: `/api/v2/tickets/${encodeURIComponent(ticketId)}/comments`,
      params: { include: 'users', sort_order: 'desc' },
    });
  }

  /**
   * GET /api/v2/users/{id} or /api/v2/groups/{id}: the name of an assignee or a group (the event subscriptions
   * name them by id only). Undefined when there is no such user or group (404).
   */
  async nameOf(what: 'users' | 'groups', entityId: string): Promise<string | undefined> {
    const call = what === 'users' ? 'get user' : 'get group';
    try {
      const data = await this.request(call, namedResponse, {
        method: 'GET',
        url: `/api/v2/${what}/${encodeURIComponent(entityId)}`,
      });
      return (data.user ?? data.group)?.name ?? undefined;
    } catch (err) {
      if (errorCode(err) === 'ZENDESK_HTTP_404') return undefined;
      throw err;
    }
  }

  private request<S extends z.ZodType>(
    call: string,
    schema: S,
    config: Parameters<AxiosInstance['request']>[0],
  ): Promise<z.infer<S>> {
    return requestValidated(this.http, 'zendesk', call, schema, config, (err) =>
      toBridgeError(err, 'zendesk', call),
    );
  }
}

/** The field of an audit's `metadata.custom` that holds the bridge's idempotency key. */
const AUDIT_KEY_FIELD = 'blip_bridge_key';
/** 100 audits a page: a ticket whose key is further back than this many pages is not searched further. */
const AUDIT_PAGES = 20;

const id = z.union([z.number(), z.string()]);
const auditsResponse = z.object({
  audits: z.array(
    z.object({
      metadata: z.object({ custom: z.record(z.string(), z.unknown()).nullish() }).nullish(),
    }),
  ),
  next_page: z.string().nullish(),
});
const userResponse = z.object({ user: z.object({ id }) });
const ticketResponse = z.object({ ticket: z.object({ id }) });
const named = z.object({ id, name: z.string().nullish() });
const namedResponse = z.object({ user: named.optional(), group: named.optional() });
const uploadResponse = z.object({ upload: z.object({ token: z.string().min(1) }) });
const commentsResponse = z.object({
  comments: z.array(
    z.object({
      id,
      author_id: id,
      body: z.string().nullish(),
      plain_body: z.string().nullish(),
      public: z.boolean(),
      created_at: z.string().nullish(),
      attachments: z
        .array(
          z.object({
            id: id.nullish(),
            content_url: z.string(),
            content_type: z.string().nullish(),
            file_name: z.string().nullish(),
            size: z.number().nullish(),
          }),
        )
        .nullish(),
    }),
  ),
  users: z.array(z.object({ id, name: z.string().nullish(), role: z.string().nullish() })).nullish(),
});
