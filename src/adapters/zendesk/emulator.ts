/**
 * A local Zendesk Support: the API endpoints the adapter calls, an agent who replies and solves, and real
 * signed webhooks (event subscriptions, shaped like test/fixtures/vendors/zendesk-event-*.json).
 *
 * Every API request is validated against the official OpenAPI file (sandbox/openapi/zendesk-support.yaml, kept in
 * the repository), so the adapter cannot drift from the real API. Known gaps of that file, allowed here:
 *  - only basicAuth is declared (we do not validate security; the emulator checks credentials itself);
 *  - `Idempotency-Key` is not declared (unknown headers are accepted anyway);
 *  - sorting/pagination query parameters are documented in prose only (unknown query parameters are allowed);
 *  - `POST /api/v2/uploads` declares no request body (nor its `filename` query parameter), though the real API takes
 *    the file's raw bytes with the file's own Content-Type: the bytes are read before validation and allowed.
 *  - a ticket's `custom_fields` items are described with the ticket *field definition* schema (required `key`,
 *    `type`, `title`), though a ticket takes `[{id, value}]` ("Setting custom field values" in Zendesk's docs):
 *    the items are replaced by `{id, value}` on the parsed file (see zendeskSpec).
 *
 * Why one file of this size: it is test-side only (lint forbids production imports; the build leaves it out) and is
 * one job, playing this vendor for the tests, the contract suite and the demo. Its parts (HTTP routes, the tickets'
 * state, agent actions, webhooks) share that state closely; splitting them, and moving what the three emulators
 * repeat into sandbox/emulator-kit.ts, is planned with the next vendor's emulator.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, type Server } from 'node:http';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import yaml from 'js-yaml';
import {
  closeServer,
  FaultQueue,
  listen,
  markFault,
  type RecordedRequest,
  recordRequests,
  RequestLimit,
  requestsTo,
  serverUrl,
  slowCall,
  type SlowFault,
  WebhookSender,
} from '../../../sandbox/emulator-kit';
import {
  type AgentFile,
  type RecordedApiCall,
  type TicketView,
  type VendorEmulator,
  waitUntil,
} from '../../../sandbox/vendor-emulator';
import { SANDBOX_WEBHOOK_SECRET } from '../../../sandbox/emulator-kit';
import type { VendorTestKit } from '../../../sandbox/vendor-emulator';
import { ZendeskAdmin } from './emulator-admin';

/** The user behind the API token (an agent): authors comments sent without author_id. */
const API_USER_ID = 30764500000001;

export const DEFAULT_ZENDESK_SPEC = path.resolve(__dirname, '../../../sandbox/openapi/zendesk-support.yaml');

export interface ZendeskEmulatorOptions {
  port?: number;
  email: string;
  apiToken: string;
  webhookSecret: string;
  /** Where webhooks go (the bridge's `/webhooks/zendesk`); can be set later with setWebhookTarget. */
  webhookUrl?: string;
  /** OpenAPI file to validate requests against (default: the repository's copy). */
  specPath?: string;
  /** First ticket number. */
  firstTicketId?: number;
  /** First id of users, comments and uploads (runs that share a bridge's state need ids it has not seen). */
  firstId?: number;
  agent?: { id: number; name: string };
  /**
   * "Require authentication to download" (Admin Center > Tickets > Settings): `content_url` answers only with the
   * API's credentials. On by default here, so the bridge's authenticated download is what is exercised.
   */
  privateAttachments?: boolean;
  /**
   * False turns the OpenAPI request validation off even when the file exists (the benchmark measures the bridge,
   * not the validator; `npm run bench -- --validate` keeps it on).
   */
  validateRequests?: boolean;
  /**
   * The account's API limit, enforced: over `requestsPerMinute` accepted calls in any trailing 60 s, a call is
   * answered 429 with `Retry-After` (Zendesk's behaviour; the benchmark's rate-limit scenario). Off by default.
   */
  rateLimit?: { requestsPerMinute: number };
  /**
   * Deliver webhooks over at most this many keep-alive node:http connections instead of fetch (which opens one
   * per delivery in flight): cheap for the emulator's process and bounded like Zendesk's delivery workers. The
   * benchmark sets it; unset, fetch as before.
   */
  webhookSockets?: number;
}

export interface EmulatedComment {
  id: number;
  author_id: number;
  body: string;
  public: boolean;
  created_at: string;
  /** Files attached through `comment.uploads` tokens. */
  attachments?: EmulatedAttachment[];
}

/** A file received on `POST /api/v2/uploads`, kept byte for byte. */
export interface EmulatedAttachment {
  id: number;
  token: string;
  file_name: string;
  content_type: string;
  size: number;
  content_url: string;
  data: Buffer;
}

export interface EmulatedTicket {
  id: number;
  subject: string;
  status: 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';
  requester_id: number;
  external_id?: string;
  tags: string[];
  priority?: string | null;
  group_id?: number | null;
  assignee_id?: number | null;
  custom_fields?: Array<{ id: number; value: unknown }>;
  comments: EmulatedComment[];
  created_at: string;
  updated_at: string;
}

/** One update of a ticket as `GET /api/v2/tickets/{id}/audits` shows it (only what the bridge reads). */
export interface EmulatedAudit {
  id: number;
  ticket_id: number;
  author_id: number;
  created_at: string;
  /** `custom` holds the update's `ticket.metadata`, as Zendesk records it. */
  metadata: { custom: Record<string, unknown>; system: Record<string, unknown> };
  events: Array<Record<string, unknown>>;
}

export interface EmulatedUser {
  id: number;
  name: string;
  external_id?: string;
  role: 'end-user' | 'agent';
  email?: string;
  phone?: string;
  user_fields?: Record<string, unknown>;
}

export type { RecordedRequest } from '../../../sandbox/emulator-kit';
export type { WebhookDelivery } from '../../../sandbox/vendor-emulator';
import type { WebhookDelivery } from '../../../sandbox/vendor-emulator';

export class ZendeskEmulator extends EventEmitter implements VendorEmulator {
  readonly vendor = 'zendesk';
  readonly ticketsById = new Map<number, EmulatedTicket>();
  readonly users = new Map<number, EmulatedUser>();
  /** Groups by id (agents move tickets between them: `transfer`). */
  readonly groups = new Map<number, { id: number; name: string }>();
  /** Audits of each ticket's updates (`PUT /api/v2/tickets/{id}`), oldest first. */
  readonly audits = new Map<number, EmulatedAudit[]>();
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  /** Every file uploaded, by upload token (attached to a comment or not). */
  readonly uploads = new Map<string, EmulatedAttachment>();
  /** True when requests are validated against the OpenAPI file. */
  readonly validating: boolean;
  /** The enforced API limit (`rateLimit` option), with the count of calls it refused. */
  readonly limit?: RequestLimit;
  /** Webhooks, triggers and the current user (`npm run bridge -- setup zendesk` / `check`). */
  readonly admin: ZendeskAdmin;
  private webhookUrl?: string;
  private nextTicketId: number;
  private nextId = 30764600000000;
  private readonly idempotency = new Map<string, { hash: string; ticketId: number }>();
  private readonly faults = new FaultQueue();
  private autoReply?: string;
  private readonly webhooks: WebhookSender;
  private readonly agent: { id: number; name: string };
  private server?: Server;

  private constructor(private readonly options: ZendeskEmulatorOptions) {
    super();
    this.webhookUrl = options.webhookUrl;
    this.nextTicketId = options.firstTicketId ?? 48213;
    if (options.firstId !== undefined) this.nextId = options.firstId;
    this.agent = options.agent ?? { id: 30764510028417, name: 'Ana Souza' };
    this.users.set(this.agent.id, { id: this.agent.id, name: this.agent.name, role: 'agent' });
    this.users.set(API_USER_ID, { id: API_USER_ID, name: options.email, role: 'agent' });
    this.validating = options.validateRequests !== false;
    if (options.rateLimit) this.limit = new RequestLimit(options.rateLimit.requestsPerMinute);
    this.admin = new ZendeskAdmin(
      () => ({ id: API_USER_ID, name: options.email, email: options.email, role: 'admin' }),
      undefined,
      options.validateRequests !== false,
    );
    this.webhooks = new WebhookSender(this.deliveries, {
      onDelivery: (delivery) => this.emit('delivery', delivery),
      ...(options.webhookSockets
        ? { agent: new HttpAgent({ keepAlive: true, maxSockets: options.webhookSockets }) }
        : {}),
    });
  }

  static async start(options: ZendeskEmulatorOptions): Promise<ZendeskEmulator> {
    const emulator = new ZendeskEmulator(options);
    emulator.server = await listen(emulator.buildApp(), options.port);
    return emulator;
  }

  get url(): string {
    return serverUrl(this.server);
  }

  setWebhookTarget(url: string): void {
    this.webhookUrl = url;
  }

  /** From now on every new ticket gets this public agent reply at once, like an auto-reply trigger. */
  setAutoReply(text: string | undefined): void {
    this.autoReply = text;
  }

  /** The next `count` API calls answer `status` (e.g. 429 with Retry-After, or 503). */
  failNext(count: number, status: number, headers: Record<string, string> = {}): void {
    this.faults.add(count, status, headers);
  }

  /** Fault injection: every API call for the next `durationMs` answers `status` (a 5xx storm; 503 by default). */
  stormFor(durationMs: number, status = 503): void {
    this.faults.addWindow(durationMs, status);
  }

  /** Fault injection: every API call for the next `durationMs` answers 429 with `Retry-After` (seconds). */
  rateLimitFor(durationMs: number, retryAfterSeconds = 1): void {
    this.faults.addWindow(durationMs, 429, { 'Retry-After': String(retryAfterSeconds) });
  }

  /**
   * Fault injection: the next `count` API calls are slow. `late`: done, but answered after `delayMs` (past the
   * client's timeout, the work is done and the client does not know it); `hang`: never done, connection dropped.
   */
  slowNext(count: number, delayMs: number, mode: SlowFault['mode'] = 'late'): void {
    this.faults.addSlow(count, delayMs, mode);
  }

  /** API calls answered by injected faults so far, by kind (`"503"`, `"429"`, `late`, `hang`). */
  faultCounts(): Record<string, number> {
    return this.faults.counts();
  }

  ticketByExternalId(externalId: string): EmulatedTicket | undefined {
    return [...this.ticketsById.values()].find((t) => t.external_id === externalId);
  }

  /** API requests (not webhooks) matching a method and a path pattern. */
  apiCallsTo(method: string, pathPattern: RegExp): RecordedRequest[] {
    return requestsTo(this.requests, method, pathPattern);
  }

  apiCalls(): RecordedApiCall[] {
    return this.requests;
  }

  bridgeEnv(): Record<string, string> {
    return {
      BRIDGE_VENDOR: 'zendesk',
      ZENDESK_BASE_URL: this.url,
      ZENDESK_EMAIL: this.options.email,
      ZENDESK_API_TOKEN: this.options.apiToken,
      ZENDESK_WEBHOOK_SECRET: this.options.webhookSecret,
    };
  }

  tickets(): TicketView[] {
    return [...this.ticketsById.values()].map((t) => ({
      id: String(t.id),
      customerMessages: t.comments.filter((c) => c.author_id === t.requester_id).map((c) => c.body),
      customerExternalId: this.users.get(t.requester_id)?.external_id,
      customerFiles: t.comments
        .filter((c) => c.author_id === t.requester_id)
        .flatMap((c) => c.attachments ?? [])
        .map((a) => ({ name: a.file_name, mimeType: a.content_type, size: a.size, data: a.data })),
      closed: t.status === 'solved' || t.status === 'closed',
      // Private comments by the API user (the emulator's agent otherwise writes notes as itself).
      bridgeNotes: t.comments.filter((c) => !c.public && c.author_id === API_USER_ID).map((c) => c.body),
    }));
  }

  waitFor<T>(
    check: () => T | undefined | false,
    timeoutMs = 10_000,
    description = 'a Zendesk state',
  ): Promise<T> {
    return waitUntil(check, timeoutMs, description);
  }

  closeTicket(ticketId: string): Promise<WebhookDelivery> {
    return this.solve(ticketId);
  }

  agentReplyBodyForUnknownTicket(text: string): string {
    const now = isoNow();
    const ghost: EmulatedTicket = {
      id: 999_999_999,
      subject: 'not opened by the bridge',
      status: 'open',
      requester_id: 1,
      tags: [],
      comments: [],
      created_at: now,
      updated_at: now,
    };
    const comment = {
      id: this.nextId++,
      author_id: this.agent.id,
      body: text,
      public: true,
      created_at: now,
    };
    return this.eventBody(ghost, 'zen:event-type:ticket.comment_added', this.commentEvent(comment));
  }

  // ---- the agent -------------------------------------------------------------------------------------------

  /** The agent answers in Zendesk: a public comment, and the comment_added webhook. Resolves with the delivery. */
  async agentReply(ticketId: number | string, body: string): Promise<WebhookDelivery> {
    const comment = this.addComment(this.ticket(ticketId), this.agent.id, body, true);
    return this.fireCommentAdded(this.ticket(ticketId), comment);
  }

  /**
   * The agent replies with a file: the file is uploaded, the public comment made with it, then Zendesk sends
   * `comment_added` (the text) and one `attachment_linked_to_comment` per file (the file is never in
   * comment_added). Its `content_url` needs the API credentials unless `privateAttachments` is off.
   */
  async agentSendFile(ticketId: number | string, file: AgentFile, text = ''): Promise<WebhookDelivery[]> {
    const ticket = this.ticket(ticketId);
    const upload = this.storeUpload(file.name, file.mimeType, Buffer.from(file.data));
    const comment = this.addComment(ticket, this.agent.id, text, true, [upload]);
    const deliveries = [await this.fireCommentAdded(ticket, comment)];
    for (const delivery of await this.fireAttachmentsLinked(ticket, comment)) deliveries.push(delivery);
    return deliveries;
  }

  /** An internal note: Zendesk still sends comment_added, with is_public false. */
  async agentNote(ticketId: number | string, body: string): Promise<WebhookDelivery> {
    const comment = this.addComment(this.ticket(ticketId), this.agent.id, body, false);
    return this.fireCommentAdded(this.ticket(ticketId), comment);
  }

  /** A public agent comment added WITHOUT firing its webhook (a lost or late delivery). */
  agentReplySilently(ticketId: number | string, body: string): EmulatedComment {
    return this.addComment(this.ticket(ticketId), this.agent.id, body, true);
  }

  /**
   * Another agent takes the ticket (created as an agent user when new): the ticket's assignee changes and Zendesk
   * sends `ticket.agent_assignment_changed`, naming the agent by id only.
   */
  async agentAssign(ticketId: number | string, agentName: string): Promise<WebhookDelivery> {
    const ticket = this.ticket(ticketId);
    let agent = [...this.users.values()].find((u) => u.role === 'agent' && u.name === agentName);
    if (!agent) {
      agent = { id: this.nextId++, name: agentName, role: 'agent' };
      this.users.set(agent.id, agent);
    }
    const previous = ticket.assignee_id ?? null;
    ticket.assignee_id = agent.id;
    ticket.updated_at = isoNow();
    return this.fireEvent(ticket, 'zen:event-type:ticket.agent_assignment_changed', {
      current: { id: String(agent.id) },
      previous: previous === null ? null : { id: String(previous) },
      meta: { sequence: { id: randomUUID().replace(/-/g, '').toUpperCase(), position: 1 } },
    });
  }

  /** The agent moves the ticket to another group (created when new): `ticket.group_assignment_changed`. */
  async transfer(ticketId: number | string, teamName: string): Promise<WebhookDelivery> {
    const ticket = this.ticket(ticketId);
    let group = [...this.groups.values()].find((g) => g.name === teamName);
    if (!group) {
      group = { id: this.nextId++, name: teamName };
      this.groups.set(group.id, group);
    }
    const previous = ticket.group_id ?? null;
    ticket.group_id = group.id;
    ticket.updated_at = isoNow();
    return this.fireEvent(ticket, 'zen:event-type:ticket.group_assignment_changed', {
      current: { id: String(group.id) },
      previous: previous === null ? null : { id: String(previous) },
      meta: { sequence: { id: randomUUID().replace(/-/g, '').toUpperCase(), position: 1 } },
    });
  }

  /** The agent sets the ticket to solved: the status_changed webhook. */
  async solve(ticketId: number | string): Promise<WebhookDelivery> {
    const ticket = this.ticket(ticketId);
    const previous = ticket.status;
    ticket.status = 'solved';
    ticket.updated_at = isoNow();
    return this.fireEvent(ticket, 'zen:event-type:ticket.status_changed', {
      current: 'SOLVED',
      previous: previous.toUpperCase(),
      meta: { sequence: { id: randomUUID().replace(/-/g, '').toUpperCase(), position: 1 } },
    });
  }

  /** A solved ticket becomes `closed` (Zendesk does it days after solved): it can no longer be updated. */
  closeForGood(ticketId: number | string): void {
    const ticket = this.ticket(ticketId);
    ticket.status = 'closed';
    ticket.updated_at = isoNow();
  }

  /** Sends the last delivery again, byte for byte, re-signed with a fresh timestamp (as a redelivery would be). */
  async redeliverLast(): Promise<WebhookDelivery> {
    const last = this.deliveries.at(-1);
    if (!last) throw new Error('nothing was delivered yet');
    return this.deliver(last.body);
  }

  readonly webhookAuth = 'hmac-signed-time' as const;

  async deliverWithCredential(body: string, credential: 'wrong' | 'none'): Promise<WebhookDelivery> {
    const headers = this.signedHeaders(body);
    const at = headers['x-zendesk-webhook-signature-timestamp']!;
    if (credential === 'none') {
      delete headers['x-zendesk-webhook-signature'];
      delete headers['x-zendesk-webhook-signature-timestamp'];
    } else
      headers['x-zendesk-webhook-signature'] = createHmac('sha256', 'not-the-webhook-secret')
        .update(at)
        .update(body)
        .digest('base64');
    return this.post(body, headers);
  }

  /** Sends any body with chosen headers (bad-signature and replay tests). */
  async deliverRaw(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.post(body, headers);
  }

  signedDeliveryAt(body: string, at: Date): { body: string; headers: Record<string, string> } {
    return { body, headers: this.signedHeaders(body, at) };
  }

  /** Headers Zendesk would send for this body at this time. */
  signedHeaders(body: string, at = new Date()): Record<string, string> {
    const timestamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      'content-type': 'application/json',
      'user-agent': 'Zendesk Webhook',
      'x-zendesk-account-id': '24680135',
      'x-zendesk-webhook-id': '01JBX7M2K8P4R6T9V3X5Z7B1CE',
      'x-zendesk-webhook-invocation-id': String(Math.floor(Math.random() * 1e10)),
      'x-zendesk-webhook-signature-timestamp': timestamp,
      'x-zendesk-webhook-signature': createHmac('sha256', this.options.webhookSecret)
        .update(timestamp)
        .update(body)
        .digest('base64'),
    };
  }

  async stop(): Promise<void> {
    await this.webhooks.settle();
    await closeServer(this.server);
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private ticket(id: number | string): EmulatedTicket {
    const ticket = this.ticketsById.get(Number(id));
    if (!ticket) throw new Error(`no ticket ${id} in the emulator`);
    return ticket;
  }

  private addComment(
    ticket: EmulatedTicket,
    authorId: number,
    body: string,
    isPublic: boolean,
    attachments?: EmulatedAttachment[],
  ): EmulatedComment {
    const comment: EmulatedComment = {
      id: this.nextId++,
      author_id: authorId,
      body,
      public: isPublic,
      created_at: isoNow(),
      ...(attachments?.length ? { attachments } : {}),
    };
    ticket.comments.push(comment);
    ticket.updated_at = comment.created_at;
    if (authorId === this.agent.id && ticket.status === 'new') ticket.status = 'open';
    this.emit('comment', ticket, comment);
    return comment;
  }

  private recordAudit(
    ticket: EmulatedTicket,
    authorId: number,
    metadata: unknown,
    comment: EmulatedComment | undefined,
    status: string | undefined,
  ): void {
    const events: Array<Record<string, unknown>> = [];
    if (comment) {
      events.push({ id: this.nextId++, type: 'Comment', body: comment.body, public: comment.public });
    }
    if (status) events.push({ id: this.nextId++, type: 'Change', field_name: 'status', value: status });
    const custom =
      metadata && typeof metadata === 'object' && !Array.isArray(metadata)
        ? { ...(metadata as Record<string, unknown>) }
        : {};
    const list = this.audits.get(ticket.id) ?? [];
    list.push({
      id: this.nextId++,
      ticket_id: ticket.id,
      author_id: authorId,
      created_at: isoNow(),
      metadata: { custom, system: { client: 'emulator' } },
      events,
    });
    this.audits.set(ticket.id, list);
  }

  private fireCommentAdded(ticket: EmulatedTicket, comment: EmulatedComment): Promise<WebhookDelivery> {
    return this.fireEvent(ticket, 'zen:event-type:ticket.comment_added', this.commentEvent(comment));
  }

  /** One `ticket.attachment_linked_to_comment` per file of the comment, in order (fixture shape). */
  private async fireAttachmentsLinked(
    ticket: EmulatedTicket,
    comment: EmulatedComment,
  ): Promise<WebhookDelivery[]> {
    const deliveries: WebhookDelivery[] = [];
    for (const [index, file] of (comment.attachments ?? []).entries()) {
      const event = {
        comment: {
          attachment: {
            content_type: file.content_type,
            content_url: file.content_url,
            filename: file.file_name,
            id: String(file.id),
            is_public: comment.public,
          },
          id: String(comment.id),
        },
        meta: { sequence: { id: randomUUID().replace(/-/g, '').toUpperCase(), position: index + 2 } },
      };
      deliveries.push(
        await this.deliver(
          this.eventBody(
            ticket,
            'zen:event-type:ticket.attachment_linked_to_comment',
            event,
            comment.author_id,
          ),
        ),
      );
    }
    return deliveries;
  }

  /** The comment_added echo of a comment, then its files' attachment events (the bridge must drop the echo). */
  private async echoComment(ticket: EmulatedTicket, comment: EmulatedComment): Promise<void> {
    await this.fireCommentAdded(ticket, comment);
    await this.fireAttachmentsLinked(ticket, comment);
  }

  private storeUpload(fileName: string, contentType: string, data: Buffer): EmulatedAttachment {
    const token = randomUUID().replace(/-/g, '').slice(0, 25);
    const upload: EmulatedAttachment = {
      id: this.nextId++,
      token,
      file_name: fileName,
      content_type: contentType,
      size: data.length,
      content_url: `${this.url}/attachments/token/${token}/?name=${encodeURIComponent(fileName)}`,
      data,
    };
    this.uploads.set(token, upload);
    return upload;
  }

  private commentEvent(comment: EmulatedComment): Record<string, unknown> {
    const author = this.users.get(comment.author_id);
    return {
      comment: {
        author: {
          id: String(comment.author_id),
          is_staff: author?.role === 'agent',
          name: author?.name ?? 'Unknown',
        },
        body: comment.body,
        html_body: `<div class="zd-comment" dir="auto"><p dir="auto">${escapeHtml(comment.body)}</p></div>`,
        id: String(comment.id),
        is_public: comment.public,
      },
      meta: { sequence: { id: randomUUID().replace(/-/g, '').toUpperCase(), position: 1 } },
    };
  }

  private fireEvent(
    ticket: EmulatedTicket,
    type: string,
    event: Record<string, unknown>,
  ): Promise<WebhookDelivery> {
    return this.deliver(this.eventBody(ticket, type, event));
  }

  private eventBody(
    ticket: EmulatedTicket,
    type: string,
    event: Record<string, unknown>,
    actorId?: number,
  ): string {
    return JSON.stringify({
      account_id: 24680135,
      detail: {
        actor_id: String(
          actorId ??
            (type.endsWith('comment_added')
              ? (event.comment as { author: { id: string } }).author.id
              : this.agent.id),
        ),
        assignee_id: String(this.agent.id),
        created_at: ticket.created_at,
        description: ticket.comments[0]?.body ?? '',
        external_id: ticket.external_id ?? null,
        id: String(ticket.id),
        is_public: true,
        priority: 'NORMAL',
        requester_id: String(ticket.requester_id),
        status: ticket.status.toUpperCase(),
        subject: ticket.subject,
        submitter_id: String(ticket.requester_id),
        tags: ticket.tags,
        type: 'QUESTION',
        updated_at: ticket.updated_at,
        via: { channel: 'web_service' },
      },
      event,
      id: randomUUID(),
      subject: `zen:ticket:${ticket.id}`,
      time: new Date().toISOString(),
      type,
      zendesk_event_version: '2022-11-06',
    });
  }

  private deliver(body: string): Promise<WebhookDelivery> {
    return this.post(body, this.signedHeaders(body));
  }

  private post(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.webhooks.post(this.webhookUrl, body, headers);
  }

  private buildApp(): express.Express {
    const app = express();
    // Zendesk answers `/api/v2/…` and `/api/v2/….json` alike (its `next_page` links carry `.json`); the OpenAPI
    // file names the paths without the suffix.
    app.use((req, _res, next) => {
      const strip = (url: string) => url.replace(/^(\/api\/[^?]*?)\.json(?=\?|$)/, '$1');
      req.url = strip(req.url);
      req.originalUrl = strip(req.originalUrl);
      next();
    });
    app.use(express.json({ limit: '10mb' }));
    // Uploads are the file's raw bytes with its own Content-Type (50 MB is Zendesk's per-file limit).
    app.use('/api/v2/uploads', express.raw({ type: () => true, limit: '50mb' }));
    app.use(recordRequests(this.requests, (req) => req.path.startsWith('/api/')));
    app.get('/access/unauthenticated', (_req, res) => {
      res.status(200).type('text/html').send('<html><body>Sign in to Zendesk</body></html>');
    });
    app.use('/api', (req, res, next) => {
      if (req.headers.authorization !== this.expectedAuth()) {
        res.status(401).json({ error: "Couldn't authenticate you" });
        return;
      }
      const retryAfter = this.limit?.take();
      if (retryAfter !== undefined) {
        markFault(res, 'rate-limit');
        res
          .status(429)
          .set({
            'Retry-After': String(retryAfter),
            'X-Rate-Limit': String(this.limit!.requestsPerMinute),
            'X-Rate-Limit-Remaining': '0',
          })
          .json({
            error: 'APIRateLimitExceeded',
            description: 'Number of allowed API requests per minute exceeded',
          });
        return;
      }
      const fault = this.faults.take();
      if (fault) {
        markFault(res, String(fault.status));
        res
          .status(fault.status)
          .set(fault.headers)
          .json({ error: 'EmulatedFault', description: `emulated HTTP ${fault.status}` });
        return;
      }
      const slow = this.faults.takeSlow();
      if (slow) return slowCall(slow, res, next);
      next();
    });
    // Webhooks are in their own OpenAPI file: validated by their own router, before the Support API's validator.
    app.use(this.admin.webhookRoutes());
    if (this.validating) {
      app.use(
        OpenApiValidator.middleware({
          apiSpec: zendeskSpec(this.options.specPath ?? DEFAULT_ZENDESK_SPEC) as never, // parsed OpenAPI 3.0
          validateRequests: { allowUnknownQueryParameters: true },
          validateResponses: false,
          validateSecurity: false,
          validateApiSpec: false,
          // The emulator's own routes, and the attachment links (not API endpoints, not in the file).
          ignorePaths: /^\/(_emulator|attachments\/|access\/)/,
          // The file uses `format: datetime` and `format: string`, which Ajv does not know: accept them
          // rather than print a warning per schema.
          formats: { datetime: () => true, string: () => true },
        }),
      );
    }

    app.use(this.admin.supportRoutes());

    app.post('/api/v2/uploads', (req, res) => {
      const fileName = typeof req.query.filename === 'string' ? req.query.filename : '';
      const data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!fileName || data.length === 0) {
        res
          .status(422)
          .json({ error: 'RecordInvalid', description: 'filename and a non-empty body are required' });
        return;
      }
      const upload = this.storeUpload(
        fileName,
        (req.header('content-type') ?? 'application/octet-stream').split(';')[0]!.trim(),
        data,
      );
      const { token } = upload;
      const { data: _bytes, token: _token, ...attachment } = upload;
      res.status(201).json({ upload: { token, attachment, attachments: [attachment] } });
    });

    // Where content_url points: the stored bytes (the agent's browser would open this). With private attachments,
    // only with the account's credentials (an anonymous request is sent to the sign-in page, as Zendesk does).
    app.get('/attachments/token/:token', (req, res) => {
      if (this.options.privateAttachments !== false && req.headers.authorization !== this.expectedAuth()) {
        return void res.redirect(302, `${this.url}/access/unauthenticated`);
      }
      const upload = this.uploads.get(req.params.token);
      if (!upload) return void res.status(404).end();
      res.type(upload.content_type).send(upload.data);
    });

    app.post('/api/v2/users/create_or_update', (req, res) => {
      const input = (
        req.body as {
          user: {
            name: string;
            external_id?: string;
            email?: string;
            phone?: string;
            user_fields?: Record<string, unknown>;
          };
        }
      ).user;
      const existing = [...this.users.values()].find(
        (u) => input.external_id && u.external_id === input.external_id,
      );
      // Like Zendesk: an e-mail is one user's identity; another user cannot take it.
      const owner = input.email && [...this.users.values()].find((u) => u.email === input.email);
      if (owner && owner !== existing) {
        res.status(422).json({
          error: 'RecordInvalid',
          description: 'Record validation errors',
          details: {
            email: [{ description: `Email: ${input.email} is already being used by another user` }],
          },
        });
        return;
      }
      const details = {
        ...(input.email ? { email: input.email } : {}),
        ...(input.phone ? { phone: input.phone } : {}),
        ...(input.user_fields ? { user_fields: { ...existing?.user_fields, ...input.user_fields } } : {}),
      };
      if (existing) {
        existing.name = input.name;
        Object.assign(existing, details);
        res.status(200).json({ user: existing });
        return;
      }
      const user: EmulatedUser = {
        id: this.nextId++,
        name: input.name,
        external_id: input.external_id,
        role: 'end-user',
        ...details,
      };
      this.users.set(user.id, user);
      res.status(201).json({ user });
    });

    app.post('/api/v2/tickets', (req, res) => {
      const key = req.header('idempotency-key');
      const hash = createHash('sha256').update(JSON.stringify(req.body)).digest('hex');
      if (key) {
        const seen = this.idempotency.get(key);
        if (seen && seen.hash !== hash) {
          res.status(400).json({
            error: 'IdempotentRequestError',
            description: 'Idempotency-Key reused with another payload',
          });
          return;
        }
        if (seen) {
          res
            .status(201)
            .set('x-idempotency-lookup', 'hit')
            .json({ ticket: this.ticketJson(this.ticket(seen.ticketId)) });
          return;
        }
      }
      const input = (req.body as { ticket: TicketInput }).ticket;
      const requesterId = Number(input.requester_id);
      if (!this.users.has(requesterId)) {
        res.status(422).json({ error: 'RecordInvalid', description: 'Requester not found' });
        return;
      }
      const files = this.takeUploads(input.comment?.uploads);
      if (!files) {
        res.status(422).json({ error: 'RecordInvalid', description: 'Upload token not found' });
        return;
      }
      const now = isoNow();
      const ticket: EmulatedTicket = {
        id: this.nextTicketId++,
        subject: input.subject ?? '',
        status: 'new',
        requester_id: requesterId,
        external_id: input.external_id,
        tags: input.tags ?? [],
        priority: input.priority ?? null,
        group_id: input.group_id ?? null,
        custom_fields: input.custom_fields ?? [],
        comments: [],
        created_at: now,
        updated_at: now,
      };
      this.ticketsById.set(ticket.id, ticket);
      if (key) this.idempotency.set(key, { hash, ticketId: ticket.id });
      const comment = this.addComment(
        ticket,
        Number(input.comment?.author_id ?? requesterId),
        input.comment?.body ?? '',
        true,
        files,
      );
      this.emit('ticket', ticket);
      const respond = () =>
        res
          .status(201)
          .set('x-idempotency-lookup', 'miss')
          .json({ ticket: this.ticketJson(ticket) });
      // Like the real event subscription, the requester's own comment (and its files) come back as webhooks.
      void this.echoComment(ticket, comment).catch(() => {});
      if (this.autoReply === undefined) return void respond();
      // A trigger that answers at once: its webhook reaches the bridge before the create call returns.
      const reply = this.addComment(ticket, this.agent.id, this.autoReply, true);
      void this.fireCommentAdded(ticket, reply).catch(() => {});
      setTimeout(respond, 150);
    });

    app.get('/api/v2/users/:id', (req, res) => {
      const user = this.users.get(Number(req.params.id));
      if (!user) return void res.status(404).json({ error: 'RecordNotFound', description: 'Not found' });
      res.json({ user: { id: user.id, name: user.name, role: user.role } });
    });

    app.get('/api/v2/groups/:id', (req, res) => {
      const group = this.groups.get(Number(req.params.id));
      if (!group) return void res.status(404).json({ error: 'RecordNotFound', description: 'Not found' });
      res.json({ group });
    });

    app.get('/api/v2/tickets/:id', (req, res) => {
      const ticket = this.ticketsById.get(Number(req.params.id));
      if (!ticket) return void res.status(404).json({ error: 'RecordNotFound', description: 'Not found' });
      res.json({ ticket: this.ticketJson(ticket) });
    });

    app.put('/api/v2/tickets/:id', (req, res) => {
      const ticket = this.ticketsById.get(Number(req.params.id));
      if (!ticket) return void res.status(404).json({ error: 'RecordNotFound', description: 'Not found' });
      if (ticket.status === 'closed')
        return void res.status(422).json({ error: 'RecordInvalid', description: 'Ticket is closed' });
      const input = (req.body as { ticket: TicketInput }).ticket;
      let comment: EmulatedComment | undefined;
      const files = this.takeUploads(input.comment?.uploads);
      if (!files) {
        res.status(422).json({ error: 'RecordInvalid', description: 'Upload token not found' });
        return;
      }
      if (input.comment?.body) {
        // Without author_id, Zendesk writes the comment as the API token's user (an agent).
        const authorId = Number(input.comment.author_id ?? API_USER_ID);
        comment = this.addComment(
          ticket,
          authorId,
          input.comment.body,
          input.comment.public !== false,
          files,
        );
      }
      if (input.status) ticket.status = input.status as EmulatedTicket['status'];
      // The API's OpenAPI file lists `metadata` on ticket create only; Zendesk takes it on updates too
      // ("Setting Metadata" in the ticket guide) and records it as the audit's `metadata.custom`.
      this.recordAudit(ticket, authorOf(input), input.metadata, comment, input.status);
      res.json({ ticket: this.ticketJson(ticket) });
      if (comment) void this.echoComment(ticket, comment).catch(() => {});
    });

    // Offset pagination like the real endpoint: `per_page` (default and most 100), `page`, absolute `next_page`.
    app.get('/api/v2/tickets/:id/audits', (req, res) => {
      const ticket = this.ticketsById.get(Number(req.params.id));
      if (!ticket) return void res.status(404).json({ error: 'RecordNotFound', description: 'Not found' });
      const all = this.audits.get(ticket.id) ?? [];
      const perPage = Math.min(100, Math.max(1, Number(req.query.per_page ?? 100) || 100));
      const page = Math.max(1, Number(req.query.page ?? 1) || 1);
      const audits = all.slice((page - 1) * perPage, page * perPage);
      const pageUrl = (n: number) =>
        `${this.url}/api/v2/tickets/${ticket.id}/audits.json?page=${n}&per_page=${perPage}`;
      res.json({
        audits,
        next_page: page * perPage < all.length ? pageUrl(page + 1) : null,
        previous_page: page > 1 ? pageUrl(page - 1) : null,
        count: all.length,
      });
    });

    app.get('/api/v2/tickets/:id/comments', (req, res) => {
      const ticket = this.ticketsById.get(Number(req.params.id));
      if (!ticket) return void res.status(404).json({ error: 'RecordNotFound', description: 'Not found' });
      const comments = [...ticket.comments].map((c) => ({
        ...c,
        plain_body: c.body,
        attachments: (c.attachments ?? []).map(({ data: _bytes, token: _token, ...a }) => a),
      }));
      if (req.query.sort_order === 'desc') comments.reverse();
      const users =
        req.query.include === 'users'
          ? [...new Set(comments.map((c) => c.author_id))].map((id) => this.users.get(id))
          : undefined;
      res.json({
        comments,
        ...(users ? { users } : {}),
        next_page: null,
        previous_page: null,
        count: comments.length,
      });
    });

    // Agent controls over HTTP, for trying the sandbox by hand (curl) while the demo's bridge runs.
    app.post('/_emulator/tickets/:id/reply', async (req, res) => {
      const delivery = await this.agentReply(
        Number(req.params.id),
        String((req.body as { body?: string }).body ?? ''),
      );
      res.json({ webhookStatus: delivery.status });
    });
    app.post('/_emulator/tickets/:id/solve', async (req, res) => {
      const delivery = await this.solve(Number(req.params.id));
      res.json({ webhookStatus: delivery.status });
    });

    app.use(
      (
        err: { status?: number; message: string; errors?: unknown },
        _req: Request,
        res: Response,
        _next: NextFunction,
      ) => {
        // OpenAPI validation failures: 400 naming what the spec expected, like the real API's RecordInvalid.
        res
          .status(err.status ?? 500)
          .json({ error: 'InvalidRequest', description: err.message, details: err.errors });
      },
    );
    return app;
  }

  private expectedAuth(): string {
    return `Basic ${Buffer.from(`${this.options.email}/token:${this.options.apiToken}`).toString('base64')}`;
  }

  /**
   * The files of a comment's `uploads` tokens, or undefined when a token is unknown. The real API is more lenient;
   * the emulator is strict so an adapter that sends a wrong token fails loudly.
   */
  private takeUploads(tokens: string[] | undefined): EmulatedAttachment[] | undefined {
    const files: EmulatedAttachment[] = [];
    for (const token of tokens ?? []) {
      const file = this.uploads.get(token);
      if (!file) return undefined;
      files.push(file);
    }
    return files;
  }

  private ticketJson(ticket: EmulatedTicket): Record<string, unknown> {
    const { comments: _comments, ...rest } = ticket;
    return {
      ...rest,
      url: `${this.url}/api/v2/tickets/${ticket.id}.json`,
      description: ticket.comments[0]?.body ?? '',
    };
  }
}

interface TicketInput {
  subject?: string;
  requester_id?: number | string;
  external_id?: string;
  tags?: string[];
  status?: string;
  priority?: string;
  group_id?: number;
  custom_fields?: Array<{ id: number; value: unknown }>;
  comment?: { body?: string; public?: boolean; author_id?: number | string; uploads?: string[] };
  /** Recorded as the update's audit `metadata.custom`. */
  metadata?: unknown;
}

function isoNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

const parsedSpecs = new Map<string, unknown>();

/**
 * The Support API file, parsed once per path, with its known gap fixed: a ticket's `custom_fields` are
 * `[{id, value}]` (the file reuses the ticket-field definition schema there).
 */
function zendeskSpec(specPath: string): unknown {
  const cached = parsedSpecs.get(specPath);
  if (cached) return cached;
  const doc = yaml.load(readFileSync(specPath, 'utf8')) as {
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };
  const valueItems = {
    type: 'object',
    properties: { id: { oneOf: [{ type: 'integer' }, { type: 'string' }] }, value: {} },
    required: ['id'],
  };
  for (const name of ['TicketObject', 'TicketUpdateInput']) {
    const properties = doc.components.schemas[name]?.properties;
    if (properties?.custom_fields) {
      properties.custom_fields = { type: 'array', items: valueItems };
    }
  }
  parsedSpecs.set(specPath, doc);
  return doc;
}

/** Who an update is made by: the comment's author, or the API token's user. */
function authorOf(input: { comment?: { author_id?: unknown } }): number {
  return Number(input.comment?.author_id ?? API_USER_ID);
}

/** Zendesk's test side (sandbox/emulators.ts): the emulator with the sandbox's credentials, the suites' settings. */
export const testKit: VendorTestKit<ZendeskEmulator> = {
  start: () =>
    ZendeskEmulator.start({
      email: 'bridge@acme.example',
      apiToken: 'sandbox-token',
      webhookSecret: SANDBOX_WEBHOOK_SECRET,
    }),
  harnessEnv: { ZENDESK_REQUESTS_PER_MINUTE: '100000' },
  demoEnv: { ZENDESK_GROUPS: 'financeiro:20001' },
  fuzzSample: 'fixtures/vendors/zendesk-event-comment-added-public-agent.json',
  // Zendesk's `body` is text: an HTML body would be rendered.
  liveMarkup: (body) => (JSON.stringify(body ?? null).includes('"html_body"') ? ['html_body'] : []),
};
