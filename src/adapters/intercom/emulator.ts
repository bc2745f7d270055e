/**
 * A local Intercom (REST API 2.15): the endpoints the adapter calls, an admin (teammate) who replies, writes notes,
 * assigns and closes, and real signed webhooks shaped like test/fixtures/vendors/intercom-*.json
 * (notification_event envelope, `data.item` = the conversation with only the new part in `conversation_parts`).
 * Like real Intercom, the bridge's own API actions come back as webhooks too: the customer's replies as
 * `conversation.user.replied` (with `app_package_code` set), its close as `conversation.admin.closed`.
 *
 * Every API request is validated against the official OpenAPI file
 * (sandbox/openapi/intercom-2.15.yaml, kept in the repository). That file has two known gaps
 * (reference/vendors.md), relaxed on the parsed object before it reaches the validator:
 *  - 19 schemas carry `nullable` without `type`, which Ajv refuses to compile ("nullable cannot be used without
 *    type"): `nullable` is dropped there;
 *  - `POST /conversations` `from.id` is `format: uuid` AND `maxLength: 24`, so no real contact id validates:
 *    `format` is dropped where `maxLength` is 24.
 *
 * Why one file of this size: it is test-side only (lint forbids production imports; the build leaves it out) and is
 * one job, playing this vendor for the tests, the contract suite and the demo. Its parts (HTTP routes, the tickets'
 * state, agent actions, webhooks) share that state closely; splitting them, and moving what the three emulators
 * repeat into sandbox/emulator-kit.ts, is planned with the next vendor's emulator.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
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
  serverUrl,
  type SlowFault,
  slowCall,
  WebhookSender,
} from '../../../sandbox/emulator-kit';
import {
  type AgentFile,
  type FileView,
  type RecordedApiCall,
  type TicketView,
  type VendorEmulator,
  type WebhookDelivery,
  waitUntil,
} from '../../../sandbox/vendor-emulator';
import type { VendorTestKit } from '../../../sandbox/vendor-emulator';

export const DEFAULT_INTERCOM_SPEC = path.resolve(__dirname, '../../../sandbox/openapi/intercom-2.15.yaml');

export interface IntercomAdmin {
  id: string;
  name: string;
  email: string;
}

export interface IntercomEmulatorOptions {
  port?: number;
  accessToken: string;
  clientSecret: string;
  /** The `Intercom-Version` every request must pin (default 2.15, the version of the OpenAPI file). */
  apiVersion?: string;
  /** Where webhooks go (the bridge's `/webhooks/intercom`); can be set later with setWebhookTarget. */
  webhookUrl?: string;
  /** OpenAPI file to validate requests against (default: the repository's copy). */
  specPath?: string;
  /** The teammate who answers in the inbox. */
  agent?: IntercomAdmin;
  /** The admin the bridge closes conversations as (its INTERCOM_ADMIN_ID). */
  bridgeAdmin?: IntercomAdmin;
  /** `app_package_code` Intercom stamps on parts the bridge's app creates through the API. */
  appPackageCode?: string;
  /** Like Intercom's search index, a new contact is not found by `/contacts/search` for this long (default 0). */
  searchDelayMs?: number;
  appId?: string;
  firstConversationId?: number;
}

export interface EmulatedContact {
  id: string;
  role: 'user' | 'lead';
  external_id: string | null;
  name: string | null;
  email: string | null;
  phone?: string | null;
  custom_attributes?: Record<string, unknown>;
  created_at: number;
  /** When `/contacts/search` starts finding it (ms since epoch). */
  searchableAt: number;
}

export interface EmulatedAttachment {
  type: 'upload';
  name: string;
  url: string;
  content_type: string;
  filesize: number;
  width: number | null;
  height: number | null;
}

export interface EmulatedPart {
  id: string;
  part_type: string;
  body: string | null;
  created_at: number;
  author: { type: 'admin' | 'user'; id: string; name: string | null; email: string };
  attachments: EmulatedAttachment[];
  assigned_to: { type: 'admin' | 'team'; id: string } | null;
  app_package_code: string | null;
  state: 'open' | 'closed' | 'snoozed';
}

export interface EmulatedConversation {
  id: string;
  contactId: string;
  created_at: number;
  updated_at: number;
  state: 'open' | 'closed' | 'snoozed';
  admin_assignee_id: number | null;
  team_assignee_id?: number | null;
  title?: string;
  custom_attributes?: Record<string, unknown>;
  source: { id: string; body: string; attachments: EmulatedAttachment[] };
  parts: EmulatedPart[];
}

export type { RecordedRequest } from '../../../sandbox/emulator-kit';

type ErrorBody = { type: 'error.list'; request_id: string; errors: Array<{ code: string; message: string }> };

export class IntercomEmulator implements VendorEmulator {
  readonly vendor = 'intercom';
  readonly conversations = new Map<string, EmulatedConversation>();
  readonly contacts = new Map<string, EmulatedContact>();
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  readonly validating: boolean;
  /** The bytes behind every upload the emulator stores, by the upload's URL (never in the API's JSON). */
  readonly fileData = new Map<string, Buffer>();
  readonly agent: IntercomAdmin;
  readonly bridgeAdmin: IntercomAdmin;
  /** Other teammates (`agentAssign` creates them) and teams (`transfer`), as `GET /admins/{id}`, `/teams/{id}` show. */
  readonly teammates: IntercomAdmin[] = [];
  readonly teams = new Map<string, { id: string; name: string }>();
  private readonly apiVersion: string;
  private readonly appPackageCode: string;
  private readonly appId: string;
  private readonly specPath: string;
  private webhookUrl?: string;
  /** The body of the webhook sent last (by start of sending), for redeliverLast. */
  private lastBody?: string;
  private nextConversationId: number;
  private nextPartId = 37_360_071_186;
  private nextContact = 0x17d8a1f5;
  private readonly faults = new FaultQueue();
  // Intercom gives an endpoint 5 seconds to answer.
  private readonly webhooks = new WebhookSender(this.deliveries, { timeoutMs: 5_000 });
  private server?: Server;

  private constructor(private readonly options: IntercomEmulatorOptions) {
    this.webhookUrl = options.webhookUrl;
    this.apiVersion = options.apiVersion ?? '2.15';
    this.appPackageCode = options.appPackageCode ?? 'blip-helpdesk-bridge-sandbox';
    this.appId = options.appId ?? 'q3x7lm2k';
    this.agent = options.agent ?? { id: '8823104', name: 'Ana Souza', email: 'ana.souza@acme.com.br' };
    this.bridgeAdmin = options.bridgeAdmin ?? {
      id: '8823001',
      name: 'BLiP Bridge',
      email: 'bridge@acme.com.br',
    };
    this.nextConversationId = options.firstConversationId ?? 215_472_899_104_387;
    this.specPath = options.specPath ?? DEFAULT_INTERCOM_SPEC;
    this.validating = true;
  }

  static async start(options: IntercomEmulatorOptions): Promise<IntercomEmulator> {
    const emulator = new IntercomEmulator(options);
    emulator.server = await listen(emulator.buildApp(), options.port);
    return emulator;
  }

  get url(): string {
    return serverUrl(this.server);
  }

  bridgeEnv(): Record<string, string> {
    return {
      BRIDGE_VENDOR: 'intercom',
      INTERCOM_BASE_URL: this.url,
      INTERCOM_ACCESS_TOKEN: this.options.accessToken,
      INTERCOM_CLIENT_SECRET: this.options.clientSecret,
      INTERCOM_ADMIN_ID: this.bridgeAdmin.id,
      INTERCOM_API_VERSION: this.apiVersion,
    };
  }

  setWebhookTarget(url: string): void {
    this.webhookUrl = url;
  }

  tickets(): TicketView[] {
    return [...this.conversations.values()].map((c) => ({
      id: c.id,
      // What the agent reads: Intercom renders the bodies the API received as HTML.
      customerMessages: [
        agentText(c.source.body),
        ...c.parts
          .filter((p) => p.author.type === 'user' && p.part_type === 'comment')
          .map((p) => agentText(p.body ?? '')),
      ],
      customerExternalId: this.contacts.get(c.contactId)?.external_id ?? undefined,
      // Files the contact's parts carry as real uploads (`attachment_files`), oldest first.
      customerFiles: [
        ...c.source.attachments,
        ...c.parts.filter((p) => p.author.type === 'user').flatMap((p) => p.attachments),
      ].flatMap((a) => this.fileView(a)),
      closed: c.state === 'closed',
      bridgeNotes: c.parts
        .filter((p) => p.part_type === 'note' && p.app_package_code === this.appPackageCode)
        .map((p) => agentText(p.body ?? '')),
    }));
  }

  apiCalls(): RecordedApiCall[] {
    return this.requests;
  }

  /** The next `count` API calls answer `status` with `headers` (checked after auth, before validation). */
  failNext(count: number, status: number, headers: Record<string, string> = {}): void {
    this.faults.add(count, status, headers);
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

  waitFor<T>(
    check: () => T | undefined | false,
    timeoutMs = 10_000,
    description = 'an Intercom state',
  ): Promise<T> {
    return waitUntil(check, timeoutMs, description);
  }

  // ---- the agent (a teammate in the Intercom inbox) ---------------------------------------------------------

  /** A public reply: `conversation.admin.replied`. */
  agentReply(conversationId: string, text: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    const part = this.addPart(conversation, { part_type: 'comment', body: text, author: this.adminAuthor() });
    return this.fire('conversation.admin.replied', conversation, [part]);
  }

  /**
   * The teammate replies with a file, as from the inbox: one admin `comment` part whose `attachments` hold the
   * upload, at a signed URL that expires after 15 minutes (as Intercom's do), `conversation.admin.replied`.
   */
  async agentSendFile(conversationId: string, file: AgentFile, text = ''): Promise<WebhookDelivery[]> {
    const conversation = this.conversation(conversationId);
    const part = this.addPart(conversation, {
      part_type: 'comment',
      body: text,
      author: this.adminAuthor(),
      attachments: [this.storeFile(file.name, file.mimeType, Buffer.from(file.data))],
    });
    return [await this.fire('conversation.admin.replied', conversation, [part])];
  }

  /** A public reply (or another part, e.g. a note) WITHOUT its webhook: a lost or late delivery. */
  agentReplySilently(conversationId: string, text: string, partType = 'comment'): EmulatedPart {
    return this.addPart(this.conversation(conversationId), {
      part_type: partType,
      body: text,
      author: this.adminAuthor(),
    });
  }

  /** An internal note: `conversation.admin.noted` (Intercom tells the bridge; the bridge must not forward it). */
  agentNote(conversationId: string, text: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    const part = this.addPart(conversation, { part_type: 'note', body: text, author: this.adminAuthor() });
    return this.fire('conversation.admin.noted', conversation, [part]);
  }

  /**
   * The agent assigns the conversation to themselves: `conversation.admin.assigned`. With `text`, the reply that
   * also assigns, which Intercom sends as an `assignment` part carrying the text.
   */
  selfAssign(conversationId: string, text?: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    const part = this.addPart(conversation, {
      part_type: 'assignment',
      body: text ?? null,
      author: this.adminAuthor(),
      assigned_to: { type: 'admin', id: this.agent.id },
    });
    conversation.admin_assignee_id = Number(this.agent.id);
    return this.fire(text ? 'conversation.admin.replied' : 'conversation.admin.assigned', conversation, [
      part,
    ]);
  }

  /**
   * The agent assigns the conversation to another teammate (created when new): `conversation.admin.assigned`, an
   * `assignment` part authored by the agent, `assigned_to` the teammate by id (the notification does not name them).
   */
  agentAssign(conversationId: string, agentName: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    let admin = [this.agent, ...this.teammates].find((a) => a.name === agentName);
    if (!admin) {
      admin = {
        id: String(8_823_200 + this.teammates.length),
        name: agentName,
        email: `${agentName.toLowerCase().replace(/[^a-z]+/g, '.')}@acme.com.br`,
      };
      this.teammates.push(admin);
    }
    const part = this.addPart(conversation, {
      part_type: 'assignment',
      body: null,
      author: this.adminAuthor(),
      assigned_to: { type: 'admin', id: admin.id },
    });
    conversation.admin_assignee_id = Number(admin.id);
    return this.fire('conversation.admin.assigned', conversation, [part]);
  }

  /**
   * The agent moves the conversation to a team (created when new): `conversation.admin.assigned` with an
   * `assignment` part to `{ type: 'team', id }`, and the conversation's `team_assignee_id`.
   */
  transfer(conversationId: string, teamName: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    let team = [...this.teams.values()].find((t) => t.name === teamName);
    if (!team) {
      team = { id: String(5_017_700 + this.teams.size), name: teamName };
      this.teams.set(team.id, team);
    }
    const part = this.addPart(conversation, {
      part_type: 'assignment',
      body: null,
      author: this.adminAuthor(),
      assigned_to: { type: 'team', id: team.id },
    });
    conversation.team_assignee_id = Number(team.id);
    return this.fire('conversation.admin.assigned', conversation, [part]);
  }

  /** The agent closes the conversation: `conversation.admin.closed` (a `close` part with body null). */
  closeTicket(conversationId: string): Promise<WebhookDelivery> {
    const conversation = this.conversation(conversationId);
    conversation.state = 'closed';
    const part = this.addPart(conversation, { part_type: 'close', body: null, author: this.adminAuthor() });
    return this.fire('conversation.admin.closed', conversation, [part]);
  }

  /** Sends the last webhook again with the same body (same notification `id`), signed again. */
  redeliverLast(): Promise<WebhookDelivery> {
    if (this.lastBody === undefined) return Promise.reject(new Error('nothing was delivered yet'));
    return this.deliver(this.lastBody);
  }

  /**
   * Headers Intercom sends with this body. Intercom signs the body only (HMAC-SHA1 with the app's client secret)
   * and sends no timestamp header, so `at` changes nothing here: the time Intercom sent a notification is
   * `first_sent_at` / `created_at` INSIDE the body (see `signedDeliveryAt` for a notification sent at another time).
   */
  signedHeaders(body: string, _at?: Date): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': 'intercom-parrot-service-client/1.0',
      'x-hub-signature': `sha1=${createHmac('sha1', this.options.clientSecret).update(body).digest('hex')}`,
    };
  }

  /**
   * The request Intercom would have made for this notification had it sent it at `at` (replay tests): the body
   * with `created_at` and `first_sent_at` at that time, and its signature. Proposed as the contract suite's way
   * to build a stale delivery for every vendor (Zendesk: the same body, the timestamp header at `at`).
   */
  signedDeliveryAt(body: string, at: Date): { body: string; headers: Record<string, string> } {
    const json = JSON.parse(body) as Record<string, unknown>;
    const seconds = Math.floor(at.getTime() / 1000);
    const old = JSON.stringify({ ...json, first_sent_at: seconds, created_at: seconds });
    return { body: old, headers: this.signedHeaders(old) };
  }

  readonly webhookAuth = 'hmac-body-time' as const;

  deliverWithCredential(body: string, credential: 'wrong' | 'none'): Promise<WebhookDelivery> {
    const headers = this.signedHeaders(body);
    if (credential === 'none') delete headers['x-hub-signature'];
    else
      headers['x-hub-signature'] =
        `sha1=${createHmac('sha1', 'not-the-client-secret').update(body).digest('hex')}`;
    return this.post(body, headers);
  }

  deliverRaw(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.post(body, headers);
  }

  agentReplyBodyForUnknownTicket(text: string): string {
    const now = unixNow();
    const ghost: EmulatedConversation = {
      id: '999999999999999',
      contactId: '000000000000000000000000',
      created_at: now,
      updated_at: now,
      state: 'open',
      admin_assignee_id: Number(this.agent.id),
      source: { id: '1', body: 'not opened by the bridge', attachments: [] },
      parts: [],
    };
    const part = this.newPart(ghost, { part_type: 'comment', body: text, author: this.adminAuthor() });
    return this.notificationBody('conversation.admin.replied', ghost, [part]);
  }

  async stop(): Promise<void> {
    await this.webhooks.settle();
    await closeServer(this.server);
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private conversation(id: string): EmulatedConversation {
    const conversation = this.conversations.get(String(id));
    if (!conversation) throw new Error(`no conversation ${id} in the emulator`);
    return conversation;
  }

  private adminAuthor(admin: IntercomAdmin = this.agent): EmulatedPart['author'] {
    return { type: 'admin', id: admin.id, name: admin.name, email: admin.email };
  }

  private newPart(
    conversation: EmulatedConversation,
    input: Pick<EmulatedPart, 'part_type' | 'body' | 'author'> & Partial<EmulatedPart>,
  ): EmulatedPart {
    return {
      id: String(this.nextPartId++),
      created_at: unixNow(),
      attachments: [],
      assigned_to: null,
      app_package_code: null,
      state: conversation.state,
      ...input,
    };
  }

  private addPart(
    conversation: EmulatedConversation,
    input: Pick<EmulatedPart, 'part_type' | 'body' | 'author'> & Partial<EmulatedPart>,
  ): EmulatedPart {
    const part = this.newPart(conversation, input);
    conversation.parts.push(part);
    conversation.updated_at = part.created_at;
    return part;
  }

  private fire(
    topic: string,
    conversation: EmulatedConversation,
    parts: EmulatedPart[],
  ): Promise<WebhookDelivery> {
    return this.deliver(this.notificationBody(topic, conversation, parts));
  }

  /** The notification_event Intercom posts, key for key as in the fixtures. */
  private notificationBody(topic: string, conversation: EmulatedConversation, parts: EmulatedPart[]): string {
    const now = unixNow();
    return JSON.stringify({
      type: 'notification_event',
      app_id: this.appId,
      data: { type: 'notification_event_data', item: this.conversationJson(conversation, parts) },
      links: {},
      id: `notif_${randomUUID()}`,
      topic,
      delivery_status: 'pending',
      delivery_attempts: 1,
      delivered_at: 0,
      first_sent_at: now,
      created_at: now,
      self: null,
    });
  }

  /** A Conversation as the webhooks and the REST API show it; `parts` are the ones to include. */
  private conversationJson(
    conversation: EmulatedConversation,
    parts: EmulatedPart[] = conversation.parts,
    plaintext = false,
  ): Record<string, unknown> {
    // `display_as=plaintext`: the bodies the API received (HTML) as text; the agent's own parts are text already.
    const shown = (body: string | null, fromApi: boolean) =>
      plaintext && fromApi && body !== null ? agentText(body) : body;
    const contact = this.contacts.get(conversation.contactId);
    const admins = [
      ...new Set(conversation.parts.filter((p) => p.author.type === 'admin').map((p) => p.author.id)),
    ];
    const iso = (seconds: number | undefined) =>
      seconds === undefined ? null : new Date(seconds * 1000).toISOString();
    const lastAdmin = conversation.parts
      .filter((p) => p.author.type === 'admin' && p.part_type === 'comment')
      .at(-1);
    const lastClose = conversation.parts.filter((p) => p.part_type === 'close').at(-1);
    return {
      type: 'conversation',
      id: conversation.id,
      created_at: conversation.created_at,
      updated_at: conversation.updated_at,
      waiting_since: conversation.state === 'open' && !lastAdmin ? conversation.created_at : null,
      snoozed_until: null,
      source: {
        type: 'conversation',
        id: conversation.source.id,
        delivered_as: 'customer_initiated',
        subject: '',
        body: shown(conversation.source.body, true),
        author: {
          type: contact?.role ?? 'user',
          id: conversation.contactId,
          name: contact?.name ?? null,
          email: contact?.email ?? '',
        },
        attachments: conversation.source.attachments,
        url: null,
        redacted: false,
      },
      contacts: {
        type: 'contact.list',
        contacts: [
          { type: 'contact', id: conversation.contactId, external_id: contact?.external_id ?? null },
        ],
      },
      first_contact_reply: { created_at: conversation.created_at, type: 'conversation', url: null },
      admin_assignee_id: conversation.admin_assignee_id,
      team_assignee_id: conversation.team_assignee_id ?? null,
      open: conversation.state !== 'closed',
      state: conversation.state,
      read: true,
      tags: { type: 'tag.list', tags: [] },
      priority: 'not_priority',
      sla_applied: null,
      statistics: {
        type: 'conversation_statistics',
        first_contact_reply_at: iso(conversation.created_at),
        first_admin_reply_at: iso(conversation.parts.find((p) => p.author.type === 'admin')?.created_at),
        last_admin_reply_at: iso(lastAdmin?.created_at),
        last_close_at: iso(lastClose?.created_at),
        last_closed_by_id: lastClose?.author.id ?? null,
        count_reopens: 0,
        count_assignments: conversation.parts.filter((p) => p.part_type === 'assignment').length,
        count_conversation_parts: conversation.parts.length + 1,
      },
      conversation_rating: null,
      teammates: { type: 'admin.list', admins: admins.map((id) => ({ type: 'admin', id })) },
      title: conversation.title ?? '',
      custom_attributes: conversation.custom_attributes ?? {},
      topics: { type: 'topic.list', topics: [], total_count: 0 },
      ticket: null,
      linked_objects: { type: 'list', data: [], total_count: 0, has_more: false },
      ai_agent: null,
      ai_agent_participated: false,
      conversation_parts: {
        type: 'conversation_part.list',
        conversation_parts: parts.map((p) => ({
          type: 'conversation_part',
          id: p.id,
          part_type: p.part_type,
          body: shown(p.body, p.app_package_code === this.appPackageCode),
          created_at: p.created_at,
          updated_at: p.created_at,
          notified_at: p.created_at,
          assigned_to: p.assigned_to,
          author: { ...p.author, from_ai_agent: false, is_ai_answer: false },
          attachments: p.attachments,
          external_id: null,
          redacted: false,
          metadata: {},
          email_message_metadata: null,
          state: p.state,
          tags: [],
          event_details: {},
          app_package_code: p.app_package_code,
        })),
        total_count: parts.length,
      },
    };
  }

  private deliver(body: string): Promise<WebhookDelivery> {
    this.lastBody = body;
    return this.post(body, this.signedHeaders(body));
  }

  private post(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.webhooks.post(this.webhookUrl, body, headers);
  }

  /** A webhook caused by an API call: sent after the response, like Intercom's asynchronous notifications. */
  private fireLater(topic: string, conversation: EmulatedConversation, parts: EmulatedPart[]): void {
    if (this.webhookUrl) void this.fire(topic, conversation, parts).catch(() => {});
  }

  /**
   * Keeps a file the way Intercom's attachment store does: served at a signed URL valid for 15 minutes, without
   * the API token (`/_emulator/files/<id>/<name>?expires=…&signature=…`).
   */
  private storeFile(name: string, contentType: string, data: Buffer): EmulatedAttachment {
    const id = randomUUID().replace(/-/g, '');
    const expires = unixNow() + 900;
    const url = `${this.url}/_emulator/files/${id}/${encodeURIComponent(name)}?expires=${expires}&signature=${this.fileSignature(id, expires)}`;
    this.fileData.set(url, data);
    const image = contentType.startsWith('image/');
    return {
      type: 'upload',
      name,
      url,
      content_type: contentType,
      filesize: data.length,
      width: image ? 1 : null,
      height: image ? 1 : null,
    };
  }

  private fileSignature(id: string, expires: number): string {
    return createHmac('sha256', this.options.clientSecret).update(`${id}.${expires}`).digest('hex');
  }

  private fileView(attachment: EmulatedAttachment): FileView[] {
    const data = this.fileData.get(attachment.url);
    return data
      ? [{ name: attachment.name, mimeType: attachment.content_type, size: attachment.filesize, data }]
      : [];
  }

  /** `attachment_files` entries as uploads; undefined when one is not a file (no name, type or base64 bytes). */
  private filesFromRequest(files: ReplyInput['attachment_files']): EmulatedAttachment[] | undefined {
    const uploads: EmulatedAttachment[] = [];
    for (const f of files ?? []) {
      const data = typeof f.data === 'string' ? Buffer.from(f.data, 'base64') : Buffer.alloc(0);
      if (!f.name || !f.content_type || data.length === 0) return undefined;
      uploads.push(this.storeFile(f.name, f.content_type, data));
    }
    return uploads;
  }

  private newContactId(): string {
    return `6712a4f0c3b9e200${(this.nextContact++).toString(16).padStart(8, '0')}`;
  }

  private contactByRequest(input: ReplyInput): EmulatedContact | undefined {
    const all = [...this.contacts.values()];
    if (input.intercom_user_id) return this.contacts.get(input.intercom_user_id);
    if (input.user_id) return all.find((c) => c.external_id === input.user_id);
    if (input.email) return all.find((c) => c.email === input.email);
    return undefined;
  }

  private buildApp(): express.Express {
    const app = express();
    // Replies may carry files as base64 (`attachment_files`).
    app.use(express.json({ limit: '50mb' }));
    app.use(recordRequests(this.requests, (req) => !req.path.startsWith('/_emulator')));
    // Intercom's attachment store: public, signed, expiring links (no API token).
    app.get('/_emulator/files/:id/:name', (req, res) => {
      const expires = Number(req.query.expires);
      const signature = String(req.query.signature ?? '');
      if (!Number.isFinite(expires) || signature !== this.fileSignature(req.params.id, expires)) {
        return void res.status(403).type('application/xml').send('<Error><Code>AccessDenied</Code></Error>');
      }
      if (expires < unixNow()) {
        return void res
          .status(403)
          .type('application/xml')
          .send('<Error><Code>Request has expired</Code></Error>');
      }
      const entry = [...this.fileData.entries()].find(([url]) =>
        url.includes(`/_emulator/files/${req.params.id}/`),
      );
      const attachment = entry && this.findAttachment(entry[0]);
      if (!entry || !attachment) return void res.status(404).end();
      res.status(200).type(attachment.content_type).send(entry[1]);
    });
    app.use((req, res, next) => {
      if (req.path.startsWith('/_emulator')) return next();
      if (req.headers.authorization !== `Bearer ${this.options.accessToken}`) {
        return void res.status(401).json(errorBody('unauthorized', 'Access Token Invalid'));
      }
      const version = req.header('intercom-version');
      if (version !== this.apiVersion) {
        return void res
          .status(400)
          .json(
            errorBody(
              'intercom_version_invalid',
              `this emulator speaks Intercom-Version ${this.apiVersion}; the request ${version ? `asked for ${version}` : 'did not pin a version'}`,
            ),
          );
      }
      const fault = this.faults.take();
      if (fault) {
        markFault(res, String(fault.status));
        const code = fault.status === 429 ? 'rate_limit_exceeded' : 'server_error';
        return void res
          .status(fault.status)
          .set(fault.headers)
          .json(errorBody(code, `emulated HTTP ${fault.status}`));
      }
      // A slow call still goes through the OpenAPI validator and the handler (`late`), or never reaches them.
      const slow = this.faults.takeSlow();
      if (slow) return slowCall(slow, res, next);
      next();
    });
    if (this.validating) {
      app.use(
        OpenApiValidator.middleware({
          apiSpec: intercomSpec(this.specPath) as never, // a parsed OpenAPI 3.0 document (see intercomSpec)
          validateRequests: { allowUnknownQueryParameters: true },
          validateResponses: false,
          validateSecurity: false,
          validateApiSpec: false,
          ignorePaths: /^\/_emulator/,
          // Formats the file uses that Ajv does not know (on integers and numbers, where they mean nothing to a
          // validator): accept them rather than print a warning per schema.
          formats: { timestamp: () => true, int: () => true, float: () => true },
        }),
      );
    }

    app.post('/contacts/search', (req, res) => {
      const query = (req.body as { query?: { field?: string; operator?: string; value?: unknown } }).query;
      if (!query?.field || query.operator !== '=') {
        return void res
          .status(400)
          .json(errorBody('parameter_invalid', 'the emulator supports one `field = value` filter only'));
      }
      const field = query.field as keyof EmulatedContact;
      const now = Date.now();
      const data = [...this.contacts.values()]
        .filter((c) => c.searchableAt <= now && c[field] === query.value)
        .map((c) => this.contactJson(c));
      res.json({
        type: 'list',
        data,
        total_count: data.length,
        pages: { type: 'pages', page: 1, per_page: 50, total_pages: data.length ? 1 : 0 },
      });
    });

    app.post('/contacts', (req, res) => {
      const input = req.body as {
        role?: string;
        external_id?: string;
        email?: string;
        name?: string;
        phone?: string;
        custom_attributes?: Record<string, unknown>;
      };
      const existing = [...this.contacts.values()].find(
        (c) =>
          (input.external_id && c.external_id === input.external_id) ||
          (input.email && c.email === input.email),
      );
      if (existing) {
        return void res
          .status(409)
          .json(
            errorBody('conflict', `A contact matching those details already exists with id=${existing.id}`),
          );
      }
      const contact: EmulatedContact = {
        id: this.newContactId(),
        role: input.role === 'lead' ? 'lead' : 'user',
        external_id: input.external_id ?? null,
        name: input.name ?? null,
        email: input.email ?? null,
        phone: input.phone ?? null,
        custom_attributes: input.custom_attributes ?? {},
        created_at: unixNow(),
        searchableAt: Date.now() + (this.options.searchDelayMs ?? 0),
      };
      this.contacts.set(contact.id, contact);
      res.json(this.contactJson(contact));
    });

    app.put('/contacts/:id', (req, res) => {
      const contact = this.contacts.get(req.params.id);
      if (!contact) return void res.status(404).json(errorBody('not_found', 'User Not Found'));
      const input = req.body as {
        email?: string;
        name?: string;
        phone?: string;
        custom_attributes?: Record<string, unknown>;
      };
      const owner = input.email && [...this.contacts.values()].find((c) => c.email === input.email);
      if (owner && owner !== contact) {
        return void res
          .status(409)
          .json(errorBody('conflict', `A contact matching those details already exists with id=${owner.id}`));
      }
      if (input.name !== undefined) contact.name = input.name;
      if (input.email !== undefined) contact.email = input.email;
      if (input.phone !== undefined) contact.phone = input.phone;
      if (input.custom_attributes)
        contact.custom_attributes = { ...contact.custom_attributes, ...input.custom_attributes };
      res.json(this.contactJson(contact));
    });

    app.get('/me', (_req, res) => {
      const me = this.bridgeAdmin;
      res.json({ type: 'admin', id: me.id, name: me.name, email: me.email, app: { id_code: this.appId } });
    });

    app.get('/admins/:id', (req, res) => {
      const admin = this.admin(req.params.id);
      if (!admin) return void res.status(404).json(errorBody('not_found', 'Admin Not Found'));
      res.json({ type: 'admin', id: admin.id, name: admin.name, email: admin.email });
    });

    app.get('/teams/:id', (req, res) => {
      const team = this.teams.get(req.params.id);
      if (!team) return void res.status(404).json(errorBody('team_not_found', 'Team not found'));
      res.json({ type: 'team', id: team.id, name: team.name, admin_ids: [Number(this.agent.id)] });
    });

    app.put('/conversations/:id', (req, res) => {
      const conversation = this.conversations.get(req.params.id);
      if (!conversation) return void res.status(404).json(errorBody('not_found', 'Resource Not Found'));
      const input = req.body as { title?: string; custom_attributes?: Record<string, unknown> };
      if (input.title !== undefined) conversation.title = input.title;
      if (input.custom_attributes)
        conversation.custom_attributes = { ...conversation.custom_attributes, ...input.custom_attributes };
      res.json(this.conversationJson(conversation));
    });

    app.get('/contacts/find_by_external_id/:external_id', (req, res) => {
      const contact = [...this.contacts.values()].find(
        (c) => c.role === 'user' && c.external_id === req.params.external_id,
      );
      if (!contact) return void res.status(404).json(errorBody('not_found', 'User Not Found'));
      res.json(this.contactJson(contact));
    });

    app.post('/conversations', (req, res) => {
      const input = req.body as {
        from: { type: string; id: string };
        body: string;
        attachment_urls?: string[];
      };
      const contact = this.contacts.get(input.from.id);
      if (!contact) return void res.status(404).json(errorBody('not_found', 'User Not Found'));
      const now = unixNow();
      const conversation: EmulatedConversation = {
        id: String(this.nextConversationId++),
        contactId: contact.id,
        created_at: now,
        updated_at: now,
        state: 'open',
        admin_assignee_id: null,
        source: {
          id: String(this.nextPartId++),
          body: input.body,
          attachments: (input.attachment_urls ?? []).map(uploadFromUrl),
        },
        parts: [],
      };
      this.conversations.set(conversation.id, conversation);
      res.json({
        type: 'user_message',
        id: conversation.source.id,
        created_at: now,
        body: input.body,
        message_type: 'inapp',
        conversation_id: conversation.id,
      });
      this.fireLater('conversation.user.created', conversation, []);
    });

    app.get('/conversations/:id', (req, res) => {
      const conversation = this.conversations.get(req.params.id);
      if (!conversation) return void res.status(404).json(errorBody('not_found', 'Resource Not Found'));
      res.json(this.conversationJson(conversation, conversation.parts, req.query.display_as === 'plaintext'));
    });

    app.post('/conversations/:id/reply', (req, res) => {
      const conversation = this.conversations.get(req.params.id);
      if (!conversation) return void res.status(404).json(errorBody('not_found', 'Resource Not Found'));
      const input = req.body as ReplyInput;
      if (input.type === 'user') {
        const contact = this.contactByRequest(input);
        if (!contact) return void res.status(404).json(errorBody('not_found', 'User Not Found'));
        // A customer's reply reopens a closed conversation, as in Intercom.
        conversation.state = 'open';
        const files = this.filesFromRequest(input.attachment_files);
        if (!files) {
          return void res
            .status(400)
            .json(
              errorBody('parameter_invalid', 'attachment_files need a name, a content_type and base64 data'),
            );
        }
        const part = this.addPart(conversation, {
          part_type: 'comment',
          body: input.body ?? '',
          author: { type: 'user', id: contact.id, name: contact.name, email: contact.email ?? '' },
          attachments: [...(input.attachment_urls ?? []).map(uploadFromUrl), ...files],
          app_package_code: this.appPackageCode,
        });
        res.json(this.conversationJson(conversation));
        this.fireLater('conversation.user.replied', conversation, [part]);
        return;
      }
      const admin = this.admin(input.admin_id);
      if (!admin) return void res.status(404).json(errorBody('not_found', 'Admin Not Found'));
      const note = input.message_type === 'note';
      const part = this.addPart(conversation, {
        part_type: note ? 'note' : 'comment',
        body: input.body ?? '',
        author: this.adminAuthor(admin),
        attachments: (input.attachment_urls ?? []).map(uploadFromUrl),
        app_package_code: this.appPackageCode,
      });
      res.json(this.conversationJson(conversation));
      this.fireLater(note ? 'conversation.admin.noted' : 'conversation.admin.replied', conversation, [part]);
    });

    app.post('/conversations/:id/parts', (req, res) => {
      const conversation = this.conversations.get(req.params.id);
      if (!conversation) return void res.status(404).json(errorBody('not_found', 'Resource Not Found'));
      const input = req.body as {
        message_type: string;
        admin_id: string;
        body?: string;
        assignee_id?: string;
      };
      const admin = this.admin(input.admin_id);
      if (!admin) return void res.status(404).json(errorBody('not_found', 'Admin Not Found'));
      if (input.message_type === 'assignment') {
        const kind = (req.body as { type?: string }).type === 'team' ? 'team' : 'admin';
        if (!input.assignee_id) {
          return void res.status(400).json(errorBody('parameter_not_found', 'assignee_id not specified'));
        }
        if (kind === 'team') conversation.team_assignee_id = Number(input.assignee_id);
        else conversation.admin_assignee_id = Number(input.assignee_id);
        const part = this.addPart(conversation, {
          part_type: 'assignment',
          body: input.body ?? null,
          author: this.adminAuthor(admin),
          assigned_to: { type: kind, id: input.assignee_id },
          app_package_code: this.appPackageCode,
        });
        res.json(this.conversationJson(conversation));
        this.fireLater('conversation.admin.assigned', conversation, [part]);
        return;
      }
      const topics: Record<string, { state: EmulatedConversation['state']; part: string; topic: string }> = {
        close: { state: 'closed', part: 'close', topic: 'conversation.admin.closed' },
        open: { state: 'open', part: 'open', topic: 'conversation.admin.opened' },
        snoozed: { state: 'snoozed', part: 'snoozed', topic: 'conversation.admin.snoozed' },
      };
      const action = topics[input.message_type];
      if (!action) {
        return void res
          .status(400)
          .json(
            errorBody('parameter_invalid', `the emulator does not do message_type ${input.message_type}`),
          );
      }
      conversation.state = action.state;
      const part = this.addPart(conversation, {
        part_type: action.part,
        body: input.body ?? null,
        author: this.adminAuthor(admin),
        app_package_code: this.appPackageCode,
      });
      res.json(this.conversationJson(conversation));
      this.fireLater(action.topic, conversation, [part]);
    });

    // Agent controls over HTTP, for trying the sandbox by hand (curl) while the demo's bridge runs.
    app.post('/_emulator/conversations/:id/reply', async (req, res) => {
      const delivery = await this.agentReply(
        req.params.id,
        String((req.body as { body?: string }).body ?? ''),
      );
      res.json({ webhookStatus: delivery.status });
    });
    app.post('/_emulator/conversations/:id/close', async (req, res) => {
      const delivery = await this.closeTicket(req.params.id);
      res.json({ webhookStatus: delivery.status });
    });

    app.use(
      (err: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
        // OpenAPI validation failures: 400 in Intercom's error.list shape, naming what the spec expected.
        const status = err.status ?? 500;
        res
          .status(status)
          .json(errorBody(status === 400 ? 'parameter_invalid' : 'server_error', err.message));
      },
    );
    return app;
  }

  private findAttachment(url: string): EmulatedAttachment | undefined {
    for (const c of this.conversations.values()) {
      for (const a of [...c.source.attachments, ...c.parts.flatMap((p) => p.attachments)]) {
        if (a.url === url) return a;
      }
    }
    return undefined;
  }

  private admin(id: string | undefined): IntercomAdmin | undefined {
    return [this.agent, this.bridgeAdmin, ...this.teammates].find((a) => a.id === String(id));
  }

  private contactJson(contact: EmulatedContact): Record<string, unknown> {
    return {
      type: 'contact',
      id: contact.id,
      workspace_id: this.appId,
      external_id: contact.external_id,
      role: contact.role,
      email: contact.email,
      phone: contact.phone ?? null,
      name: contact.name,
      created_at: contact.created_at,
      updated_at: contact.created_at,
      custom_attributes: contact.custom_attributes ?? {},
    };
  }
}

interface ReplyInput {
  message_type?: string;
  type?: 'user' | 'admin';
  body?: string;
  intercom_user_id?: string;
  user_id?: string;
  email?: string;
  admin_id?: string;
  attachment_urls?: string[];
  attachment_files?: Array<{ content_type?: string; data?: string; name?: string }>;
}

/**
 * What an agent reads of a body the API received: Intercom renders bodies as HTML, so `<p>` blocks and `<br>` are
 * line breaks and entities are the characters they stand for. Reads the subset the bridge writes (`textToHtml`:
 * paragraphs, breaks, the five escaped characters); anything else (a tag that got through unescaped) stays in the
 * text as it was sent, where a test sees it. Independent of the bridge's own HTML reader on purpose.
 */
export function agentText(body: string): string {
  const blocks = /^<p>([\s\S]*)<\/p>$/.exec(body)?.[1];
  if (blocks === undefined) return body;
  const decode = (text: string) =>
    text
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  return blocks
    .split('</p><p>')
    .map((block) => block.split('<br>').map(decode).join('\n'))
    .join('\n\n');
}

function errorBody(code: string, message: string): ErrorBody {
  return { type: 'error.list', request_id: randomUUID(), errors: [{ code, message }] };
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  mp4: 'video/mp4',
};

/** What Intercom makes of an `attachment_urls` entry: it fetches the file and stores it as an upload. */
function uploadFromUrl(url: string): EmulatedAttachment {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || 'file');
  const extension = name.split('.').pop()?.toLowerCase() ?? '';
  const contentType = MIME_BY_EXTENSION[extension] ?? 'application/octet-stream';
  return { type: 'upload', name, url, content_type: contentType, filesize: 0, width: null, height: null };
}

let parsedSpec: { path: string; document: unknown } | undefined;

/**
 * The OpenAPI file, parsed once per process (it is 25k lines) and relaxed where it cannot validate real requests
 * (see the file comment); every emulator gets its own copy, since the validator annotates the document.
 */
export function intercomSpec(specPath = DEFAULT_INTERCOM_SPEC): unknown {
  if (parsedSpec?.path !== specPath) {
    // CORE_SCHEMA: YAML 1.2 JSON types only, so unquoted dates in examples stay strings.
    const document = yaml.load(readFileSync(specPath, 'utf8'), { schema: yaml.CORE_SCHEMA });
    relaxKnownGaps(document);
    parsedSpec = { path: specPath, document };
  }
  return structuredClone(parsedSpec.document);
}

function relaxKnownGaps(node: unknown): void {
  if (Array.isArray(node)) {
    for (const child of node) relaxKnownGaps(child);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  // Gap 1: `nullable` without `type` (Ajv: "nullable cannot be used without type").
  if (schema.nullable !== undefined && schema.type === undefined) delete schema.nullable;
  // Gap 2: a 24-character Intercom id declared `format: uuid` (a uuid is 36 characters: nothing validates).
  if (schema.format === 'uuid' && schema.maxLength === 24) delete schema.format;
  for (const child of Object.values(schema)) relaxKnownGaps(child);
}

/** Intercom's test side (sandbox/emulators.ts): the emulator with the sandbox's credentials, the suites' settings. */
export const testKit: VendorTestKit<IntercomEmulator> = {
  start: () =>
    IntercomEmulator.start({
      accessToken: 'sandbox-intercom-token',
      clientSecret: 'test-intercom-client-secret',
    }),
  harnessEnv: { INTERCOM_REQUESTS_PER_MINUTE: '100000' },
  demoEnv: { INTERCOM_TEAMS: 'financeiro:5017691' },
  fuzzSample: 'fixtures/vendors/intercom-conversation-admin-replied.json',
  // Intercom bodies are HTML: only <p>, </p> and <br> are the bridge's own.
  liveMarkup: (body) => {
    const html = (body as { body?: unknown } | undefined)?.body;
    return typeof html === 'string'
      ? (html.match(/<[^>]*>?/g) ?? []).filter((t) => !['<p>', '</p>', '<br>'].includes(t))
      : [];
  },
};
