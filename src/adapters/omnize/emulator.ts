/**
 * A local Omnize (ClientApi V1, https://github.com/omnize/omnize.github.io docs/api/v1/interactions.md): the routes
 * the adapter calls (emulator-api.ts), agents who accept, type, answer, transfer and finish, and Omnize's triggers
 * (webhooks) shaped like test/fixtures/omnize/*.json, posted to the URL registered with its route token.
 *
 * Like Omnize, it reads what the bridge points it at: the `external_history` URL when an interaction starts (kept in
 * `history`), and a customer file message's `url` (kept as the interaction's file, byte for byte). Omnize publishes
 * no OpenAPI file: requests are checked against the documented tables (strict zod schemas in emulator-api.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  closeServer,
  FaultQueue,
  listen,
  type RecordedRequest,
  serverUrl,
  WebhookSender,
} from '../../../sandbox/emulator-kit';
import {
  type AgentFile,
  type RecordedApiCall,
  type TicketView,
  type VendorEmulator,
  type VendorTestKit,
  type WebhookDelivery,
  waitUntil,
} from '../../../sandbox/vendor-emulator';
import { externalHistoryDocument, omnizeApp, type startInteractionBody } from './emulator-api';
import type { OmnizeEmulatorOptions, OmnizeInteraction, OmnizeMessage } from './emulator-types';
import { CUSTOMER_EXTRA, NOTE_PREFIX } from './mapping';
import type { z } from 'zod';

export type { OmnizeEmulatorOptions, OmnizeInteraction, OmnizeMessage } from './emulator-types';

export class OmnizeEmulator implements VendorEmulator {
  readonly vendor = 'omnize';
  /** Omnize publishes no OpenAPI file: requests are checked against the documented tables (emulator-api.ts). */
  readonly validating = false;
  readonly webhookAuth = 'route-token' as const;
  readonly interactions = new Map<string, OmnizeInteraction>();
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  private readonly faults = new FaultQueue();
  private readonly webhooks = new WebhookSender(this.deliveries, { timeoutMs: 5_000 });
  private readonly agents = new Map<string, { id: number; name: string }>();
  private readonly departments: Array<{ id: number; name: string }>;
  private readonly files = new Map<string, { name: string; mimeType: string; data: Buffer }>();
  private readonly pending = new Set<Promise<unknown>>();
  private webhookBase?: string;
  private lastBody?: string;
  private server?: Server;

  private constructor(private readonly options: OmnizeEmulatorOptions) {
    this.departments = [
      ...(options.departments ?? [
        { id: 1, name: 'Atendimento' },
        { id: 2, name: 'Financeiro' },
      ]),
    ];
  }

  static async start(options: OmnizeEmulatorOptions): Promise<OmnizeEmulator> {
    const emulator = new OmnizeEmulator(options);
    emulator.server = await listen(
      omnizeApp({
        token: options.token,
        requests: emulator.requests,
        faults: emulator.faults,
        startInteraction: (body) => emulator.startInteraction(body),
        customerMessage: (hash, body) => emulator.customerMessage(hash, body),
        finish: (hash) => emulator.finish(hash),
        clientTyping: (hash, state) => emulator.clientTyping(hash, state),
        departments: () => emulator.departments,
        file: (id) => emulator.files.get(id),
      }),
      options.port,
    );
    return emulator;
  }

  get url(): string {
    return serverUrl(this.server);
  }

  bridgeEnv(): Record<string, string> {
    return {
      BRIDGE_VENDOR: 'omnize',
      OMNIZE_BASE_URL: this.url,
      OMNIZE_SERVICES_URL: this.url,
      OMNIZE_TOKEN: this.options.token,
      OMNIZE_WEBHOOK_TOKEN: this.options.webhookToken,
      OMNIZE_DEPARTMENT_ID: String(this.departments[0]!.id),
    };
  }

  /** The bridge's `/webhooks/omnize`: triggers go to it with the route token appended. */
  setWebhookTarget(url: string): void {
    this.webhookBase = url.replace(/\/+$/, '');
  }

  tickets(): TicketView[] {
    return [...this.interactions.values()].map((i) => {
      const texts = i.messages.filter((m) => m.from === 'customer' && m.type === 'text');
      return {
        id: i.hash,
        customerMessages: texts.filter((m) => !m.content.startsWith(NOTE_PREFIX)).map((m) => m.content),
        customerExternalId: stringOr(i.request.extra?.[CUSTOMER_EXTRA]),
        customerFiles: i.messages.flatMap((m) => (m.from === 'customer' && m.file ? [m.file] : [])),
        closed: i.state === 'finished',
        bridgeNotes: texts
          .filter((m) => m.content.startsWith(NOTE_PREFIX))
          .map((m) => m.content.slice(NOTE_PREFIX.length)),
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
    description = 'an Omnize state',
  ): Promise<T> {
    return waitUntil(check, timeoutMs, description);
  }

  // ---- the agents -------------------------------------------------------------------------------------------

  /** An agent's message (the agent who accepted, else the first agent). */
  agentReply(hash: string, text: string): Promise<WebhookDelivery> {
    return this.agentMessage(hash, { content: text, type: 'text' });
  }

  async agentSendFile(hash: string, file: AgentFile, text?: string): Promise<WebhookDelivery[]> {
    const out: WebhookDelivery[] = [];
    if (text) out.push(await this.agentReply(hash, text));
    const id = randomUUID().replace(/-/g, '');
    this.files.set(id, { name: file.name, mimeType: file.mimeType, data: file.data });
    const family = file.mimeType.split('/')[0]!;
    const type = ['image', 'video', 'audio'].includes(family) ? family : 'file';
    const url = `${this.url}/_emulator/files/${id}/${encodeURIComponent(file.name)}`;
    out.push(await this.agentMessage(hash, { content: file.name, type, url }));
    return out;
  }

  /**
   * Omnize's ClientApi has no private notes and no trigger for them: the note stays in Omnize and nothing is sent
   * (the delivery is a local record, status 204, nothing posted).
   */
  agentNote(hash: string, text: string): Promise<WebhookDelivery> {
    this.interaction(hash).messages.push({ hash: randomUUID(), from: 'agent', content: text, type: 'note' });
    return Promise.resolve({ body: '', headers: {}, status: 204 });
  }

  /** `accepted` by this agent (made when new): Omnize's trigger, with the agent (assumption A4 of the README). */
  agentAssign(hash: string, agentName: string): Promise<WebhookDelivery> {
    const interaction = this.interaction(hash);
    interaction.state = 'accepted';
    interaction.agent = this.agent(agentName);
    return this.trigger(interaction, { state: 'accepted', agent: interaction.agent });
  }

  /** `accepted` as Omnize documents it: no agent named. */
  accept(hash: string): Promise<WebhookDelivery> {
    const interaction = this.interaction(hash);
    interaction.state = 'accepted';
    return this.trigger(interaction, { state: 'accepted' });
  }

  /** Moved to another department (made when new): `transferred` with the department (assumption A5). */
  transfer(hash: string, teamName: string): Promise<WebhookDelivery> {
    let department = this.departments.find((d) => d.name === teamName);
    if (!department) {
      department = { id: Math.max(...this.departments.map((d) => d.id)) + 1, name: teamName };
      this.departments.push(department);
    }
    return this.trigger(this.interaction(hash), { state: 'transferred', department });
  }

  /** `queued`, at `position` (1 = next), as Omnize documents it. */
  queued(hash: string, position?: number): Promise<WebhookDelivery> {
    return this.trigger(this.interaction(hash), { state: 'queued', ...(position ? { position } : {}) });
  }

  /** `unavailable`: no agent can take the interaction. */
  unavailable(hash: string): Promise<WebhookDelivery> {
    return this.trigger(this.interaction(hash), { state: 'unavailable' });
  }

  /** `typing` (the agent types) or `cleared` (stopped). */
  typing(hash: string, typing = true): Promise<WebhookDelivery> {
    return this.trigger(this.interaction(hash), { state: typing ? 'typing' : 'cleared' });
  }

  /** The agent finishes the interaction: `finished`. */
  closeTicket(hash: string): Promise<WebhookDelivery> {
    const interaction = this.interaction(hash);
    interaction.state = 'finished';
    return this.trigger(interaction, { state: 'finished' });
  }

  redeliverLast(): Promise<WebhookDelivery> {
    if (this.lastBody === undefined) return Promise.reject(new Error('nothing was delivered yet'));
    return this.post(this.lastBody, this.signedHeaders(this.lastBody));
  }

  /** Omnize signs nothing: its headers are the JSON content type; the credential is the token in the URL. */
  signedHeaders(_body: string): Record<string, string> {
    return { 'content-type': 'application/json' };
  }

  /** No signed time to re-date: the same body and headers (a replay is the dedupe's). */
  signedDeliveryAt(body: string, _at: Date): { body: string; headers: Record<string, string> } {
    return { body, headers: this.signedHeaders(body) };
  }

  deliverWithCredential(body: string, credential: 'wrong' | 'none'): Promise<WebhookDelivery> {
    const url =
      credential === 'none' ? this.webhookBase : `${this.webhookBase}/not-the-route-token-0123456789`;
    return this.webhooks.post(url, body, this.signedHeaders(body));
  }

  deliverRaw(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    return this.post(body, headers);
  }

  agentReplyBodyForUnknownTicket(text: string): string {
    return JSON.stringify({
      interaction_hash: randomUUID(),
      message: { hash: randomUUID(), content: text, type: 'text', url: null },
      agent: { id: 111, name: 'Atendente' },
      extra: {},
    });
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.webhooks.settle();
    await closeServer(this.server);
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private startInteraction(request: z.infer<typeof startInteractionBody>): string {
    const hash = randomUUID();
    const interaction: OmnizeInteraction = {
      hash,
      request,
      state: 'queued',
      messages: [],
      clientTypingLog: [],
    };
    this.interactions.set(hash, interaction);
    if (request.external_history) this.track(this.readHistory(interaction, request.external_history));
    return hash;
  }

  private async readHistory(interaction: OmnizeInteraction, url: string): Promise<void> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      interaction.history = externalHistoryDocument.parse(await res.json());
    } catch (err) {
      interaction.historyError = err instanceof Error ? err.message : String(err);
    }
  }

  private async customerMessage(
    hash: string,
    body: { content: string; type?: string | null; url?: string },
  ): Promise<'ok' | 'unknown' | 'finished'> {
    const interaction = this.interactions.get(hash);
    if (!interaction) return 'unknown';
    if (interaction.state === 'finished') return 'finished';
    const message: OmnizeMessage = {
      hash: randomUUID(),
      from: 'customer',
      content: body.content,
      type: body.type ?? 'text',
      ...(body.url ? { url: body.url } : {}),
    };
    if (body.url && message.type !== 'text') {
      // Omnize shows the file from its URL: read it now, as the agent's screen would.
      const res = await fetch(body.url, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`the file at the message's url answered HTTP ${res.status}`);
      const data = Buffer.from(await res.arrayBuffer());
      const mimeType = (res.headers.get('content-type') ?? 'application/octet-stream').split(';')[0]!;
      message.file = { name: body.content, mimeType, size: data.length, data };
    }
    interaction.messages.push(message);
    return 'ok';
  }

  private clientTyping(hash: string, state: 'typing' | 'cleared'): 'ok' | 'unknown' | 'finished' {
    const interaction = this.interactions.get(hash);
    if (!interaction) return 'unknown';
    if (interaction.state === 'finished') return 'finished';
    interaction.clientTyping = state;
    interaction.clientTypingLog.push(state);
    return 'ok';
  }

  private finish(hash: string): boolean {
    const interaction = this.interactions.get(hash);
    if (!interaction) return false;
    interaction.state = 'finished';
    return true;
  }

  private agentMessage(
    hash: string,
    message: { content: string; type: string; url?: string },
  ): Promise<WebhookDelivery> {
    const interaction = this.interaction(hash);
    const agent = interaction.agent ?? this.agent('Atendente');
    const stored: OmnizeMessage = { hash: randomUUID(), from: 'agent', ...message };
    interaction.messages.push(stored);
    return this.trigger(interaction, {
      message: { hash: stored.hash, content: message.content, type: message.type, url: message.url ?? null },
      agent,
    });
  }

  private agent(name: string): { id: number; name: string } {
    let agent = this.agents.get(name);
    if (!agent) {
      agent = { id: 111 + this.agents.size, name };
      this.agents.set(name, agent);
    }
    return agent;
  }

  private interaction(hash: string): OmnizeInteraction {
    const interaction = this.interactions.get(hash);
    if (!interaction) throw new Error(`no Omnize interaction ${hash}`);
    return interaction;
  }

  /** One trigger, as Omnize posts it: `interaction_hash`, the event's fields, and the interaction's `extra`. */
  private trigger(interaction: OmnizeInteraction, fields: Record<string, unknown>): Promise<WebhookDelivery> {
    const body = JSON.stringify({
      interaction_hash: interaction.hash,
      ...fields,
      extra: interaction.request.extra ?? {},
    });
    this.lastBody = body;
    return this.post(body, this.signedHeaders(body));
  }

  private post(body: string, headers: Record<string, string>): Promise<WebhookDelivery> {
    if (!this.webhookBase) return Promise.reject(new Error('the emulator has no webhook target'));
    return this.webhooks.post(`${this.webhookBase}/${this.options.webhookToken}`, body, headers);
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export const testKit: VendorTestKit<OmnizeEmulator> = {
  start: () =>
    OmnizeEmulator.start({
      token: 'sandbox-omnize-client-sdk-token',
      webhookToken: 'sandbox-omnize-route-token-0123456789',
    }),
  harnessEnv: { OMNIZE_REQUESTS_PER_MINUTE: '100000' },
  demoEnv: { OMNIZE_DEPARTMENTS: 'financeiro:2' },
  fuzzSample: 'fixtures/omnize/agent-message.json',
};
