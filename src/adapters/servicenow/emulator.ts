/**
 * A local ServiceNow instance: the Table API endpoints the adapter calls (`/api/now/table/<table>` for the incident
 * table and a read-only `sys_journal_field`), an agent who comments, writes work notes and resolves, and the
 * after-update Business Rule of `src/adapters/servicenow/business-rule.js`, which pushes signed
 * `blip-helpdesk-bridge/servicenow-push/v1` bodies (shaped like test/fixtures/vendors/servicenow-push-*.json)
 * to the bridge.
 *
 * There is no public ServiceNow OpenAPI file (reference/vendors.md), so nothing is validated against one
 * (`validating` is false). What the emulator does check, like an instance would: Basic credentials, the table names,
 * the close fields the base data policy requires when resolving. Where a real instance is lax it is strict on
 * purpose, to catch adapter bugs: an encoded query on a field the table does not have, or with an operator this
 * emulator does not implement, is answered 400 (ServiceNow would silently ignore the term). Unknown fields in a
 * POST/PATCH body are ignored, as ServiceNow does.
 *
 * Like the instance, everything the Table API returns is a string and datetimes are UTC `YYYY-MM-DD HH:mm:ss`
 * (one-second resolution: several journal rows can share a second).
 *
 * Why one file of this size: it is test-side only (lint forbids production imports; the build leaves it out) and is
 * one job, playing this vendor for the tests, the contract suite and the demo. Its parts (HTTP routes, the tickets'
 * state, agent actions, webhooks) share that state closely; splitting them, and moving what the three emulators
 * repeat into sandbox/emulator-kit.ts, is planned with the next vendor's emulator.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  closeServer,
  FaultQueue,
  listen,
  markFault,
  type RecordedRequest,
  recordRequests,
  requestsTo,
  serverUrl,
  type SlowFault,
  slowCall,
  WebhookSender,
} from '../../../sandbox/emulator-kit';
import {
  type AgentFile,
  type RecordedApiCall,
  type TicketView,
  type VendorEmulator,
  type WebhookDelivery,
  waitUntil,
} from '../../../sandbox/vendor-emulator';
import type { VendorTestKit } from '../../../sandbox/vendor-emulator';
import { neutraliseCodeTags } from './code-tags';

export type { RecordedRequest } from '../../../sandbox/emulator-kit';
export type { WebhookDelivery } from '../../../sandbox/vendor-emulator';

export const PUSH_CONTRACT = 'blip-helpdesk-bridge/servicenow-push/v1';
const BRIDGE_CORRELATION_DISPLAY = 'blip-helpdesk-bridge';
const CLOSED_STATES = new Set(['6', '7', '8']);
const STATE_LABELS: Record<string, string> = {
  '1': 'New',
  '2': 'In Progress',
  '3': 'On Hold',
  '6': 'Resolved',
  '7': 'Closed',
  '8': 'Canceled',
};

export interface ServiceNowEmulatorOptions {
  port?: number;
  /** The integration user (Basic auth); its journal entries are the customer's messages. */
  username: string;
  password: string;
  /** `blip_bridge.push.secret`. */
  pushSecret: string;
  /** `blip_bridge.push.endpoint` (the bridge's `/webhooks/servicenow`); can be set later with setWebhookTarget. */
  webhookUrl?: string;
  /** The task table the bridge writes to (default incident). */
  table?: string;
  /** The custom column the adapter's README asks admins to create for the customer's identity. */
  customerField?: string;
  agent?: { userName: string; name: string };
  /** First incident number (INC0010234). */
  firstNumber?: number;
}

/** A record as stored: every value a string, as the Table API returns them. */
export type EmulatedRecord = Record<string, string>;

export interface EmulatedJournalEntry {
  sys_id: string;
  element: 'comments' | 'work_notes';
  element_id: string;
  name: string;
  value: string;
  sys_created_on: string;
  sys_created_by: string;
}

interface Condition {
  field: string;
  op: '=' | '!=' | '>=' | '<=' | '>' | '<' | 'IN' | 'NOT IN' | 'ISNOTEMPTY' | 'ISEMPTY';
  value: string;
  /** `^OR<condition>` terms: alternatives to this condition (ServiceNow binds OR tighter than AND). */
  or?: Condition[];
}

interface ParsedQuery {
  conditions: Condition[];
  order: Array<{ field: string; desc: boolean }>;
}

class QueryError extends Error {}

const JOURNAL_COLUMNS = [
  'sys_id',
  'element',
  'element_id',
  'name',
  'value',
  'sys_created_on',
  'sys_created_by',
] as const;

/** A `sys_attachment` row (the file's bytes are kept beside it, in `files`). */
export interface EmulatedAttachmentRow {
  sys_id: string;
  table_name: string;
  table_sys_id: string;
  file_name: string;
  content_type: string;
  size_bytes: string;
  sys_created_on: string;
  sys_created_by: string;
}

const ATTACHMENT_COLUMNS = [
  'sys_id',
  'table_name',
  'table_sys_id',
  'file_name',
  'content_type',
  'size_bytes',
  'sys_created_on',
  'sys_created_by',
] as const;

/** Columns of the emulated task table (a subset of incident's), plus the admin-created customer column. */
const TASK_COLUMNS = [
  'sys_id',
  'number',
  'short_description',
  'description',
  'caller_id',
  'contact_type',
  'correlation_id',
  'correlation_display',
  'state',
  'active',
  'close_code',
  'close_notes',
  'urgency',
  'impact',
  'assignment_group',
  'assigned_to',
  'opened_at',
  'resolved_at',
  'closed_at',
  'sys_created_on',
  'sys_created_by',
  'sys_updated_on',
  'sys_updated_by',
  'sys_mod_count',
  // Journal fields: written through the record, read back as '' (their entries live in sys_journal_field).
  'comments',
  'work_notes',
];
/** What a POST/PATCH may set; the rest is the system's. */
const WRITABLE = new Set([
  'short_description',
  'description',
  'caller_id',
  'contact_type',
  'correlation_id',
  'correlation_display',
  'state',
  'close_code',
  'close_notes',
  'urgency',
  'impact',
  'assignment_group',
]);

/**
 * Custom columns an admin added to the table (`u_…`, like the customer column): the emulated table has every one
 * a test writes (SERVICENOW_CONTACT_FIELDS targets), where a real instance would ignore an undefined one.
 */
const CUSTOM_COLUMN = /^u_[a-z0-9_]+$/;

export class ServiceNowEmulator extends EventEmitter implements VendorEmulator {
  readonly vendor = 'servicenow';
  readonly validating = false;
  readonly table: string;
  readonly customerField: string;
  readonly records = new Map<string, EmulatedRecord>();
  readonly journal: EmulatedJournalEntry[] = [];
  /** `sys_attachment`, oldest first; the bytes of each in `files`. */
  readonly attachments: EmulatedAttachmentRow[] = [];
  readonly files = new Map<string, Buffer>();
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  private readonly agent: { userName: string; name: string };
  private readonly displayNames = new Map<string, string>();
  /** sys_user and sys_user_group rows by sys_id (their names), made by `agentAssign` and `transfer`. */
  readonly users = new Map<string, string>();
  readonly groups = new Map<string, string>();
  private readonly faults = new FaultQueue();
  private readonly webhooks = new WebhookSender(this.deliveries, {
    onDelivery: (delivery) => this.emit('delivery', delivery),
  });
  private webhookUrl?: string;
  private pushEnabled = true;
  private nextNumber: number;
  private server?: Server;

  private constructor(private readonly options: ServiceNowEmulatorOptions) {
    super();
    this.webhookUrl = options.webhookUrl;
    this.table = options.table ?? 'incident';
    this.customerField = options.customerField ?? 'u_blip_customer';
    this.agent = options.agent ?? { userName: 'ana.souza', name: 'Ana Souza' };
    this.nextNumber = options.firstNumber ?? 10234;
    this.displayNames.set(this.agent.userName, this.agent.name);
    this.displayNames.set(options.username, 'BLiP Integration');
  }

  static async start(options: ServiceNowEmulatorOptions): Promise<ServiceNowEmulator> {
    const emulator = new ServiceNowEmulator(options);
    emulator.server = await listen(emulator.buildApp(), options.port);
    return emulator;
  }

  get url(): string {
    return serverUrl(this.server);
  }

  bridgeEnv(): Record<string, string> {
    return {
      BRIDGE_VENDOR: 'servicenow',
      SERVICENOW_BASE_URL: this.url,
      SERVICENOW_USERNAME: this.options.username,
      SERVICENOW_PASSWORD: this.options.password,
      SERVICENOW_PUSH_SECRET: this.options.pushSecret,
      SERVICENOW_INTEGRATION_USER: this.options.username,
      SERVICENOW_TABLE: this.table,
      SERVICENOW_CUSTOMER_FIELD: this.customerField,
      // The contract suite runs on push; polling has its own e2e test (test/e2e/servicenow-poll.e2e.test.ts).
      SERVICENOW_POLL: 'false',
    };
  }

  setWebhookTarget(url: string): void {
    this.webhookUrl = url;
  }

  /**
   * Whether the Business Rule is installed. Off: agent actions change the instance and push nothing (the bridge
   * must find them by polling); they resolve with the body that would have been sent and status 0.
   */
  setPushEnabled(enabled: boolean): void {
    this.pushEnabled = enabled;
  }

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

  apiCalls(): RecordedApiCall[] {
    return this.requests;
  }

  /** API requests matching a method and a pattern on the path (query string included). */
  apiCallsTo(method: string, pathPattern: RegExp): RecordedRequest[] {
    return requestsTo(this.requests, method, pathPattern);
  }

  tickets(): TicketView[] {
    return [...this.records.values()].map((r) => ({
      id: r.sys_id as string,
      // The first message is the description; every later one an Additional comment by the integration user.
      customerMessages: [
        ...(r.description ? [r.description] : []),
        ...this.entriesOf(r.sys_id as string, 'comments')
          .filter((e) => e.sys_created_by === this.options.username)
          .map((e) => e.value),
      ],
      customerExternalId: r[this.customerField] || undefined,
      // Files on the record uploaded by the integration user (the customer's), oldest first.
      customerFiles: this.attachmentsOf(r.sys_id as string)
        .filter((a) => a.sys_created_by === this.options.username)
        .map((a) => ({
          name: a.file_name,
          mimeType: a.content_type,
          size: Number(a.size_bytes),
          data: this.files.get(a.sys_id) ?? Buffer.alloc(0),
        })),
      closed: CLOSED_STATES.has(r.state ?? ''),
      bridgeNotes: this.entriesOf(r.sys_id as string, 'work_notes')
        .filter((e) => e.sys_created_by === this.options.username)
        .map((e) => e.value),
    }));
  }

  recordByNumber(number: string): EmulatedRecord | undefined {
    return [...this.records.values()].find((r) => r.number === number);
  }

  /** Files on one record, oldest first. */
  attachmentsOf(sysId: string): EmulatedAttachmentRow[] {
    return this.attachments.filter((a) => a.table_name === this.table && a.table_sys_id === sysId);
  }

  /** Journal entries of one record, oldest first. */
  entriesOf(sysId: string, element?: 'comments' | 'work_notes'): EmulatedJournalEntry[] {
    return this.journal.filter((e) => e.element_id === sysId && (!element || e.element === element));
  }

  waitFor<T>(
    check: () => T | undefined | false,
    timeoutMs = 10_000,
    description = 'a ServiceNow state',
  ): Promise<T> {
    return waitUntil(check, timeoutMs, description);
  }

  // ---- the agent -------------------------------------------------------------------------------------------

  /** The agent adds an Additional comment (customer-visible); the Business Rule pushes it. */
  async agentReply(ticketId: string, text: string): Promise<WebhookDelivery> {
    const [delivery] = await this.agentUpdate(ticketId, { comments: text });
    return delivery as WebhookDelivery;
  }

  /**
   * A work note (internal). The shipped Business Rule only fires on comments and state; the emulated one also
   * pushes work notes (as `comment.added` with `journal.element: "work_notes"`, what a rule edited to include them
   * would send), so the bridge's filter is exercised.
   */
  async agentNote(ticketId: string, text: string): Promise<WebhookDelivery> {
    const [delivery] = await this.agentUpdate(ticketId, { work_notes: text });
    return delivery as WebhookDelivery;
  }

  /** The agent resolves the incident (state 6 with the close fields); the Business Rule pushes the state change. */
  async closeTicket(ticketId: string): Promise<WebhookDelivery> {
    const deliveries = await this.agentUpdate(ticketId, {
      state: '6',
      close_code: 'Solution provided',
      close_notes: 'Resolved with the customer over chat.',
    });
    return deliveries.at(-1) as WebhookDelivery;
  }

  /**
   * The record is assigned to another agent (a sys_user made when new): `assigned_to` changes and the Business Rule
   * pushes `assignment.changed` with the user's sys_id and display name.
   */
  async agentAssign(ticketId: string, agentName: string): Promise<WebhookDelivery> {
    return this.assign(ticketId, 'assigned_to', this.users, agentName);
  }

  /** The record moves to another assignment group (made when new): the Business Rule pushes `assignment.changed`. */
  async transfer(ticketId: string, teamName: string): Promise<WebhookDelivery> {
    return this.assign(ticketId, 'assignment_group', this.groups, teamName);
  }

  private async assign(
    ticketId: string,
    field: 'assigned_to' | 'assignment_group',
    rows: Map<string, string>,
    name: string,
  ): Promise<WebhookDelivery> {
    const record = this.record(ticketId);
    let sysId = [...rows].find(([, n]) => n === name)?.[0];
    if (!sysId) {
      sysId = randomBytes(16).toString('hex');
      rows.set(sysId, name);
    }
    record[field] = sysId;
    this.touch(record, this.agent.userName);
    const body = asciiJson({
      contract: PUSH_CONTRACT,
      event_id: `${record.sys_id}:${record.sys_mod_count}:assignment`,
      event_type: 'assignment.changed',
      table: this.table,
      record: this.recordPart(record),
      assignment: {
        assigned_to: field === 'assigned_to' ? { sys_id: sysId, name } : null,
        assignment_group: field === 'assignment_group' ? { sys_id: sysId, name } : null,
      },
      sent_at: snNow(),
    });
    return this.push(body);
  }

  /**
   * The agent attaches a file to the record (the paperclip), after an Additional comment when `text` is given. The
   * attachment Business Rule (`src/adapters/servicenow/attachment-rule.js`) pushes `attachment.added`; the file's
   * link is the Attachment API, which needs the instance's credentials.
   */
  async agentSendFile(ticketId: string, file: AgentFile, text?: string): Promise<WebhookDelivery[]> {
    const record = this.record(ticketId);
    const deliveries = text ? await this.agentUpdate(ticketId, { comments: text }) : [];
    const row = this.addAttachment(record, file, this.agent.userName);
    const pushed = await this.runAttachmentRule(record, row);
    return pushed ? [...deliveries, pushed] : deliveries;
  }

  /** A file attached by the agent WITHOUT any push (found by polling or the catch-up). */
  agentSendFileSilently(ticketId: string, file: AgentFile): EmulatedAttachmentRow {
    return this.addAttachment(this.record(ticketId), file, this.agent.userName);
  }

  /** An Additional comment by the agent WITHOUT any push (a lost or late delivery). */
  agentReplySilently(ticketId: string, text: string): EmulatedJournalEntry {
    const record = this.record(ticketId);
    const entry = this.addJournal(record, 'comments', text, this.agent.userName);
    this.touch(record, this.agent.userName);
    return entry;
  }

  /** Sends the last push again, byte for byte, re-signed with a fresh timestamp (a retried delivery). */
  async redeliverLast(): Promise<WebhookDelivery> {
    const last = this.deliveries.at(-1);
    if (!last) throw new Error('nothing was delivered yet');
    return this.post(last.body, this.signedHeaders(last.body));
  }

  readonly webhookAuth = 'hmac-signed-time' as const;

  async deliverWithCredential(body: string, credential: 'wrong' | 'none'): Promise<WebhookDelivery> {
    const headers = this.signedHeaders(body);
    const timestamp = headers['X-Bridge-Timestamp']!;
    if (credential === 'none') {
      delete headers['X-Bridge-Signature'];
      delete headers['X-Bridge-Timestamp'];
    } else
      headers['X-Bridge-Signature'] =
        `v1=${createHmac('sha256', 'not-the-push-secret').update(`${timestamp}.${body}`, 'utf8').digest('base64')}`;
    return this.post(body, headers);
  }

  async deliverRaw(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.post(body, headers);
  }

  signedDeliveryAt(body: string, at: Date): { body: string; headers: Record<string, string> } {
    return { body, headers: this.signedHeaders(body, at) };
  }

  /** Headers the Business Rule sends for this body, signed at `at` (default now), in unix seconds. */
  signedHeaders(body: string, at = new Date()): Record<string, string> {
    const timestamp = String(Math.floor(at.getTime() / 1000));
    const mac = createHmac('sha256', this.options.pushSecret)
      .update(`${timestamp}.${body}`, 'utf8')
      .digest('base64');
    return {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': 'ServiceNow/1.0',
      'X-Bridge-Event-Id': eventIdOf(body),
      'X-Bridge-Timestamp': timestamp,
      'X-Bridge-Signature': `v1=${mac}`,
    };
  }

  /** A comment push for an incident this instance never created (the bridge must not know it). */
  agentReplyBodyForUnknownTicket(text: string): string {
    const now = snNow();
    const ghost: EmulatedRecord = {
      sys_id: newSysId(),
      number: 'INC0999999',
      correlation_id: `blip-${newSysId()}`,
      correlation_display: BRIDGE_CORRELATION_DISPLAY,
      state: '2',
      sys_updated_on: now,
      sys_updated_by: this.agent.userName,
    };
    const entry: EmulatedJournalEntry = {
      sys_id: newSysId(),
      element: 'comments',
      element_id: ghost.sys_id as string,
      name: this.table,
      value: text,
      sys_created_on: now,
      sys_created_by: this.agent.userName,
    };
    return this.commentBody(ghost, entry);
  }

  async stop(): Promise<void> {
    await this.webhooks.settle();
    await closeServer(this.server);
  }

  // ---- the instance -------------------------------------------------------------------------------------------

  private record(idOrNumber: string): EmulatedRecord {
    const record = this.records.get(idOrNumber) ?? this.recordByNumber(idOrNumber);
    if (!record) throw new Error(`no ${this.table} ${idOrNumber} in the emulator`);
    return record;
  }

  /** The agent saves the form with these changes; resolves once the Business Rule's pushes were delivered. */
  private async agentUpdate(ticketId: string, fields: Record<string, string>): Promise<WebhookDelivery[]> {
    const record = this.record(ticketId);
    const change = this.applyUpdate(record, fields, this.agent.userName);
    return this.runBusinessRule(record, change);
  }

  private addAttachment(record: EmulatedRecord, file: AgentFile, user: string): EmulatedAttachmentRow {
    const row: EmulatedAttachmentRow = {
      sys_id: newSysId(),
      table_name: this.table,
      table_sys_id: record.sys_id as string,
      file_name: file.name,
      content_type: file.mimeType,
      size_bytes: String(file.data.length),
      sys_created_on: snNow(),
      sys_created_by: user,
    };
    this.attachments.push(row);
    this.files.set(row.sys_id, Buffer.from(file.data));
    this.emit('attachment', row);
    return row;
  }

  /**
   * The attachment Business Rule (attachment-rule.js: after insert on sys_attachment): a file added to one of the
   * bridge's records is pushed, the integration user's own uploads included (marked as such).
   */
  private async runAttachmentRule(
    record: EmulatedRecord,
    row: EmulatedAttachmentRow,
  ): Promise<WebhookDelivery | undefined> {
    if (record.correlation_display !== BRIDGE_CORRELATION_DISPLAY) return undefined;
    return this.push(this.attachmentBody(record, row));
  }

  /** `attachment.added`, field for field as attachment-rule.js builds it. */
  private attachmentBody(record: EmulatedRecord, row: EmulatedAttachmentRow): string {
    return asciiJson({
      contract: PUSH_CONTRACT,
      event_id: row.sys_id,
      event_type: 'attachment.added',
      table: this.table,
      record: this.recordPart(record),
      attachment: {
        sys_id: row.sys_id,
        file_name: row.file_name,
        content_type: row.content_type,
        size_bytes: row.size_bytes,
        sys_created_on: row.sys_created_on,
        sys_created_by: row.sys_created_by,
        author_name: this.displayNames.get(row.sys_created_by) ?? row.sys_created_by,
        author_is_integration_user: row.sys_created_by === this.options.username,
      },
      sent_at: snNow(),
    });
  }

  private addJournal(
    record: EmulatedRecord,
    element: 'comments' | 'work_notes',
    value: string,
    user: string,
  ): EmulatedJournalEntry {
    const entry: EmulatedJournalEntry = {
      sys_id: newSysId(),
      element,
      element_id: record.sys_id as string,
      name: this.table,
      value,
      sys_created_on: snNow(),
      sys_created_by: user,
    };
    this.journal.push(entry);
    this.emit('journal', entry);
    return entry;
  }

  private touch(record: EmulatedRecord, user: string): void {
    record.sys_mod_count = String(Number(record.sys_mod_count ?? '0') + 1);
    record.sys_updated_on = snNow();
    record.sys_updated_by = user;
  }

  /** Applies a PATCH (or an agent's save): fields, journal entries, the system fields. */
  private applyUpdate(
    record: EmulatedRecord,
    fields: Record<string, unknown>,
    user: string,
  ): { previousState: string; entries: EmulatedJournalEntry[] } {
    const previousState = record.state ?? '';
    let changed = false;
    for (const [field, raw] of Object.entries(fields)) {
      if (!WRITABLE.has(field) && field !== this.customerField && !CUSTOM_COLUMN.test(field)) continue;
      const value = stringValue(raw);
      if (record[field] !== value) {
        record[field] = value;
        changed = true;
      }
    }
    const entries: EmulatedJournalEntry[] = [];
    for (const element of ['comments', 'work_notes'] as const) {
      const value = stringValue(fields[element]);
      if (value.trim() !== '') entries.push(this.addJournal(record, element, value, user));
    }
    if (record.state !== previousState) {
      const now = snNow();
      if (record.state === '6') record.resolved_at = now;
      if (record.state === '7') record.closed_at = now;
      record.active = CLOSED_STATES.has(record.state ?? '') ? 'false' : 'true';
    }
    if (changed || entries.length) this.touch(record, user);
    return { previousState, entries };
  }

  /**
   * The after-update Business Rule (business-rule.js): when a record of the bridge (`correlation_display`) has a
   * new comment or a new state, push it. Pushes go out one after the other, comment first, as the rule sends them.
   */
  private async runBusinessRule(
    record: EmulatedRecord,
    change: { previousState: string; entries: EmulatedJournalEntry[] },
  ): Promise<WebhookDelivery[]> {
    if (record.correlation_display !== BRIDGE_CORRELATION_DISPLAY) return [];
    const bodies = change.entries.map((entry) => this.commentBody(record, entry));
    if (record.state !== change.previousState) bodies.push(this.stateBody(record, change.previousState));
    const deliveries: WebhookDelivery[] = [];
    for (const body of bodies) deliveries.push(await this.push(body));
    return deliveries;
  }

  private recordPart(record: EmulatedRecord): Record<string, string> {
    return {
      sys_id: record.sys_id ?? '',
      number: record.number ?? '',
      correlation_id: record.correlation_id ?? '',
      correlation_display: record.correlation_display ?? '',
      state: record.state ?? '',
      state_label: STATE_LABELS[record.state ?? ''] ?? record.state ?? '',
      sys_updated_on: record.sys_updated_on ?? '',
      sys_updated_by: record.sys_updated_by ?? '',
    };
  }

  /** `comment.added`, field for field as the Business Rule builds it. */
  private commentBody(record: EmulatedRecord, entry: EmulatedJournalEntry): string {
    const author = this.displayNames.get(entry.sys_created_by) ?? entry.sys_created_by;
    const label = entry.element === 'comments' ? 'Additional comments' : 'Work notes';
    return asciiJson({
      contract: PUSH_CONTRACT,
      event_id: entry.sys_id,
      event_type: 'comment.added',
      table: this.table,
      record: this.recordPart(record),
      journal: {
        sys_id: entry.sys_id,
        element: entry.element,
        value: entry.value,
        entry: `${localTime(entry.sys_created_on)} - ${author} (${label})\n${entry.value}\n\n`,
        sys_created_on: entry.sys_created_on,
        sys_created_by: entry.sys_created_by,
        author_name: author,
        author_is_integration_user: entry.sys_created_by === this.options.username,
      },
      sent_at: snNow(),
    });
  }

  /** `state.changed`; the event id is `<sys_id>:<sys_mod_count>`. */
  private stateBody(record: EmulatedRecord, previous: string): string {
    const eventId = `${record.sys_id}:${record.sys_mod_count}`;
    return asciiJson({
      contract: PUSH_CONTRACT,
      event_id: eventId,
      event_type: 'state.changed',
      table: this.table,
      record: this.recordPart(record),
      state: { previous: previous || null, current: record.state ?? '' },
      close: { close_code: record.close_code ?? '', close_notes: record.close_notes ?? '' },
      sent_at: snNow(),
    });
  }

  private push(body: string): Promise<WebhookDelivery> {
    if (!this.pushEnabled) return Promise.resolve({ body, headers: {}, status: 0 });
    return this.post(body, this.signedHeaders(body));
  }

  private post(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.webhooks.post(this.webhookUrl, body, headers);
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  private buildApp(): express.Express {
    const app = express();
    // The Attachment API takes the file's raw bytes with the file's own Content-Type (before the JSON parser, so
    // a JSON file is kept as bytes too).
    app.use('/api/now/attachment/file', express.raw({ type: () => true, limit: '50mb' }));
    app.use(express.json({ limit: '10mb' }));
    app.use(recordRequests(this.requests, (req) => req.path.startsWith('/api/')));
    app.use('/api', (req, res, next) => {
      const expected = `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.status(401).json(snError('User Not Authenticated', 'Required to provide Auth information'));
        return;
      }
      const fault = this.faults.take();
      if (fault) {
        markFault(res, String(fault.status));
        res
          .status(fault.status)
          .set(fault.headers)
          .json(snError('Emulated fault', `emulated HTTP ${fault.status}`));
        return;
      }
      const slow = this.faults.takeSlow();
      if (slow) return slowCall(slow, res, next);
      next();
    });

    app.post('/api/now/attachment/file', (req, res) => {
      const table = typeof req.query.table_name === 'string' ? req.query.table_name : '';
      const sysId = typeof req.query.table_sys_id === 'string' ? req.query.table_sys_id : '';
      const fileName = typeof req.query.file_name === 'string' ? req.query.file_name : '';
      const data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const type = (req.header('content-type') ?? '').split(';')[0]!.trim();
      if (!table || !sysId || !fileName || !type) {
        return void res
          .status(400)
          .json(
            snError(
              'Missing parameters',
              'table_name, table_sys_id, file_name and a Content-Type are required',
            ),
          );
      }
      if (table !== this.table) return void res.status(403).json(aclRefused(table));
      const record = this.records.get(sysId);
      if (!record) return void res.status(404).json(notFound());
      if (data.length === 0) return void res.status(400).json(snError('Empty attachment'));
      const row = this.addAttachment(record, { name: fileName, mimeType: type, data }, this.options.username);
      res.status(201).json({
        result: {
          ...row,
          size_compressed: row.size_bytes,
          download_link: `${this.url}/api/now/attachment/${row.sys_id}/file`,
          image_width: '',
          image_height: '',
        },
      });
      // The attachment rule runs after the insert, not as part of the API answer.
      void this.runAttachmentRule(record, row).catch(() => {});
    });

    app.get('/api/now/attachment/:sysId/file', (req, res) => {
      const row = this.attachments.find((a) => a.sys_id === req.params.sysId);
      const data = row && this.files.get(row.sys_id);
      if (!row || !data) return void res.status(404).json(notFound());
      res.status(200).type(row.content_type).send(data);
    });

    app.get('/api/now/table/:table', (req, res) => {
      const rows = this.tableRows(String(req.params.table));
      if (!rows) return void res.status(400).json(snError(`Invalid table ${req.params.table}`));
      let query: ParsedQuery;
      try {
        query = parseEncodedQuery(String(req.query.sysparm_query ?? ''), this.columns(req.params.table));
      } catch (err) {
        return void res.status(400).json(snError('Invalid query', (err as Error).message));
      }
      const matching = sortRows(
        rows.filter((r) => query.conditions.every((c) => matches(r, c))),
        query.order,
      );
      const offset = Number(req.query.sysparm_offset ?? 0);
      const limit = Number(req.query.sysparm_limit ?? 10_000);
      const page = matching.slice(offset, offset + limit);
      res
        .set('X-Total-Count', String(matching.length))
        .json({ result: page.map((r) => this.project(r, req.query.sysparm_fields, req.params.table)) });
    });

    app.get('/api/now/table/:table/:sysId', (req, res) => {
      const rows = this.tableRows(String(req.params.table));
      if (!rows) return void res.status(400).json(snError(`Invalid table ${req.params.table}`));
      const row = rows.find((r) => r.sys_id === req.params.sysId);
      if (!row) return void res.status(404).json(notFound());
      res.json({ result: this.project(row, req.query.sysparm_fields, req.params.table) });
    });

    app.post('/api/now/table/:table', (req, res) => {
      if (req.params.table !== this.table) return void res.status(403).json(aclRefused(req.params.table));
      const input = objectBody(req.body);
      if (!input) return void res.status(400).json(snError('Exception while reading request'));
      const now = snNow();
      const user = this.options.username;
      const record: EmulatedRecord = {
        sys_id: newSysId(),
        number: `INC${String(this.nextNumber++).padStart(7, '0')}`,
        state: '1',
        active: 'true',
        opened_at: now,
        sys_created_on: now,
        sys_created_by: user,
        sys_updated_on: now,
        sys_updated_by: user,
        sys_mod_count: '0',
      };
      for (const [field, raw] of Object.entries(input)) {
        if (WRITABLE.has(field) || field === this.customerField || CUSTOM_COLUMN.test(field))
          record[field] = stringValue(raw);
      }
      this.records.set(record.sys_id as string, record);
      // Journal fields given on insert become entries too; the Business Rule runs on update only.
      for (const element of ['comments', 'work_notes'] as const) {
        const value = stringValue(input[element]);
        if (value.trim() !== '') this.addJournal(record, element, value, user);
      }
      this.emit('record', record);
      res.status(201).json({ result: this.project(record, req.query.sysparm_fields) });
    });

    const update = (req: Request, res: Response) => {
      if (req.params.table !== this.table)
        return void res.status(403).json(aclRefused(String(req.params.table)));
      const record = this.records.get(String(req.params.sysId));
      if (!record) return void res.status(404).json(notFound());
      const input = objectBody(req.body);
      if (!input) return void res.status(400).json(snError('Exception while reading request'));
      // Base system: a Closed incident is read-only (only resolved ones can be reopened).
      if (record.state === '7') {
        return void res
          .status(403)
          .json(snError('Operation Failed', 'Closed records cannot be updated (ACL: incident.write)'));
      }
      const missing = this.dataPolicyViolations({ ...record, ...stringFields(input) });
      if (missing.length) {
        return void res
          .status(403)
          .json(
            snError(
              'Operation Failed',
              `Data Policy Exception: \n\tThe following fields are mandatory: ${missing.join(', ')}\n`,
            ),
          );
      }
      const change = this.applyUpdate(record, input, this.options.username);
      res.json({ result: this.project(record, req.query.sysparm_fields) });
      // The Business Rule's RESTMessageV2.executeAsync(): after the save, not part of the API answer.
      void this.runBusinessRule(record, change).catch(() => {});
    };
    app.patch('/api/now/table/:table/:sysId', update);
    app.put('/api/now/table/:table/:sysId', update);

    // Agent controls over HTTP, for trying the sandbox by hand (curl).
    app.use('/_emulator', express.json());
    app.post('/_emulator/records/:id/reply', async (req, res) => {
      const delivery = await this.agentReply(
        String(req.params.id),
        String((req.body as { text?: string }).text ?? ''),
      );
      res.json({ pushStatus: delivery.status });
    });
    app.post('/_emulator/records/:id/resolve', async (req, res) => {
      const delivery = await this.closeTicket(String(req.params.id));
      res.json({ pushStatus: delivery.status });
    });

    app.use(
      (err: { status?: number; message: string }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(err.status ?? 500).json(snError(err.message));
      },
    );
    return app;
  }

  /** Base system: "Make close info mandatory when resolved or closed" (a data policy: it applies to the API too). */
  private dataPolicyViolations(after: EmulatedRecord): string[] {
    if (this.table !== 'incident' || !['6', '7'].includes(after.state ?? '')) return [];
    return [
      ...(after.close_code ? [] : ['Resolution code']),
      ...(after.close_notes ? [] : ['Resolution notes']),
    ];
  }

  private tableRows(table: string): EmulatedRecord[] | undefined {
    if (table === this.table) return [...this.records.values()];
    if (table === 'sys_journal_field') return this.journal.map((e) => ({ ...e }));
    if (table === 'sys_attachment') return this.attachments.map((a) => ({ ...a }));
    if (table === 'sys_user') return [...this.users].map(([sys_id, name]) => ({ sys_id, name }));
    if (table === 'sys_user_group') return [...this.groups].map(([sys_id, name]) => ({ sys_id, name }));
    return undefined;
  }

  private columns(table: string | string[] | undefined): Set<string> {
    return new Set<string>(this.columnsOf(table));
  }

  private columnsOf(table: string | string[] | undefined): string[] {
    if (table === 'sys_journal_field') return [...JOURNAL_COLUMNS];
    if (table === 'sys_attachment') return [...ATTACHMENT_COLUMNS];
    if (table === 'sys_user' || table === 'sys_user_group') return ['sys_id', 'name'];
    return [...TASK_COLUMNS, this.customerField];
  }

  /** A row as the Table API returns it: `sysparm_fields` only (all when absent), journal fields empty, strings. */
  private project(row: EmulatedRecord, fields: unknown, table: string = this.table): Record<string, string> {
    const all = this.columnsOf(table);
    const wanted =
      typeof fields === 'string' && fields.trim() !== ''
        ? fields
            .split(',')
            .map((f) => f.trim())
            .filter((f) => all.includes(f))
        : all;
    const out: Record<string, string> = {};
    for (const field of wanted) {
      out[field] = field === 'comments' || field === 'work_notes' ? '' : (row[field] ?? '');
    }
    return out;
  }
}

// ---- encoded queries ---------------------------------------------------------------------------------------------

/**
 * A small parser for the encoded queries the adapter emits: `^`-separated `field=value`, `field!=value`,
 * `field>=value` (and `<=`, `>`, `<`), `fieldINa,b`, `fieldNOT INa,b`, `fieldISNOTEMPTY`, `fieldISEMPTY`,
 * `^OR<condition>` (an alternative to the condition before it: OR binds tighter than AND, as on an instance),
 * `ORDERBYfield`, `ORDERBYDESCfield`. Anything else (`^NQ`, dot-walks, other operators) is refused rather than
 * guessed.
 */
export function parseEncodedQuery(query: string, columns?: Set<string>): ParsedQuery {
  const parsed: ParsedQuery = { conditions: [], order: [] };
  for (const term of query.split('^')) {
    if (term === '') continue;
    const order = /^ORDERBY(DESC)?([a-z0-9_]+)$/.exec(term);
    if (order) {
      check(order[2] as string);
      parsed.order.push({ field: order[2] as string, desc: order[1] === 'DESC' });
      continue;
    }
    const alternative = term.startsWith('OR') && parsed.conditions.length > 0;
    const condition = parseCondition(alternative ? term.slice(2) : term);
    if (alternative) {
      const previous = parsed.conditions.at(-1)!;
      (previous.or ??= []).push(condition);
    } else {
      parsed.conditions.push(condition);
    }
  }
  return parsed;

  function check(field: string): void {
    if (columns && !columns.has(field)) throw new QueryError(`unknown field "${field}"`);
  }

  function parseCondition(term: string): Condition {
    const empty = /^([a-z0-9_]+)(ISNOTEMPTY|ISEMPTY)$/.exec(term);
    if (empty) {
      check(empty[1] as string);
      return { field: empty[1] as string, op: empty[2] as Condition['op'], value: '' };
    }
    const m = /^([a-z0-9_]+)(NOT IN|IN|!=|>=|<=|=|>|<)(.*)$/.exec(term);
    if (!m) throw new QueryError(`unsupported term "${term}"`);
    check(m[1] as string);
    return { field: m[1] as string, op: m[2] as Condition['op'], value: m[3] as string };
  }
}

function compare(a: string, b: string): number {
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function matches(row: EmulatedRecord, c: Condition): boolean {
  return matchesOne(row, c) || (c.or ?? []).some((alternative) => matchesOne(row, alternative));
}

function matchesOne(row: EmulatedRecord, c: Condition): boolean {
  const value = row[c.field] ?? '';
  switch (c.op) {
    case '=':
      return value === c.value;
    case '!=':
      return value !== c.value;
    case '>=':
      return compare(value, c.value) >= 0;
    case '<=':
      return compare(value, c.value) <= 0;
    case '>':
      return compare(value, c.value) > 0;
    case '<':
      return compare(value, c.value) < 0;
    case 'IN':
      return c.value.split(',').includes(value);
    case 'NOT IN':
      return !c.value.split(',').includes(value);
    case 'ISNOTEMPTY':
      return value !== '';
    case 'ISEMPTY':
      return value === '';
  }
}

function sortRows(rows: EmulatedRecord[], order: ParsedQuery['order']): EmulatedRecord[] {
  if (!order.length) return rows;
  return [...rows].sort((a, b) => {
    for (const { field, desc } of order) {
      const d = compare(a[field] ?? '', b[field] ?? '');
      if (d !== 0) return desc ? -d : d;
    }
    return 0;
  });
}

// ---- helpers ---------------------------------------------------------------------------------------------------

function snError(message: string, detail: string | null = null): Record<string, unknown> {
  return { error: { message, detail }, status: 'failure' };
}

function notFound(): Record<string, unknown> {
  return snError('No Record found', "Record doesn't exist or ACL restricts the record retrieval");
}

function aclRefused(table: string): Record<string, unknown> {
  return snError(
    'Operation Failed',
    `ACL Exception Insert/Update Failed due to security constraints (${table})`,
  );
}

function objectBody(body: unknown): Record<string, unknown> | undefined {
  return body && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

function stringValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function stringFields(input: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, stringValue(v)]));
}

function newSysId(): string {
  return randomBytes(16).toString('hex');
}

/** `YYYY-MM-DD HH:mm:ss`, UTC: ServiceNow's internal datetime format. */
function snNow(): string {
  return new Date().toISOString().slice(0, 19).replace('T', ' ');
}

/** The journal entry header shows the session user's time zone; the agent here works in America/Sao_Paulo. */
function localTime(utc: string): string {
  const date = new Date(`${utc.replace(' ', 'T')}Z`);
  return new Date(date.getTime() - 3 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** The Business Rule's asciiJson: JSON with every non-ASCII character written as \uXXXX. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${`0000${c.charCodeAt(0).toString(16)}`.slice(-4)}`,
  );
}

function eventIdOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { event_id?: unknown };
    return typeof parsed.event_id === 'string' ? parsed.event_id : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** ServiceNow's test side (sandbox/emulators.ts): the emulator with the sandbox's credentials, the suites' settings. */
export const testKit: VendorTestKit<ServiceNowEmulator> = {
  start: () =>
    ServiceNowEmulator.start({
      username: 'blip.integration',
      password: 'sandbox-password',
      pushSecret: 'sandbox-servicenow-push-secret',
    }),
  harnessEnv: { SERVICENOW_REQUESTS_PER_MINUTE: '100000' },
  demoEnv: { SERVICENOW_ASSIGNMENT_GROUPS: 'financeiro:8a5055c9c61122780043563ef53438e3' },
  fuzzSample: 'fixtures/vendors/servicenow-push-comment-added.json',
  // A `[code]` tag in a journal field would be live HTML in the agent's view.
  liveMarkup: (body) => strings(body).filter((v) => /\[\s*\/?\s*code\s*\]/i.test(v)),
  asAgentReads: neutraliseCodeTags,
};

/** Every string in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}
