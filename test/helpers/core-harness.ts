/**
 * The core as production builds it (`assembleCore`: intake, lanes, failure policy, the handoff's handlers, vendor
 * gateways) over a fake helpdesk and a fake customer channel, on the memory state or a real Redis. Tests feed work in
 * through the intake and wait for the lanes to be idle: the path production takes.
 */
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { assembleCore, type Core } from '../../src/core/assemble';
import { UnavailableError } from '../../src/core/errors';
import { type DomainEventMap, type DomainEventName, DomainEvents } from '../../src/core/events';
import type { HandoffSettings } from '../../src/core/handoff/context';
import type { TicketDetails } from '../../src/core/handoff/details';
import { Lifecycle, type LifecycleOptions } from '../../src/core/handoff/lifecycle';
import { Survey, type SurveyOptions } from '../../src/core/handoff/survey';
import type { Logger } from '../../src/core/logger';
import type { LocalizedTexts } from '../../src/core/texts';
import type {
  AgentMessageEvent,
  Attachment,
  ChatMessage,
  ChatState,
  ClosedBy,
  CustomerRef,
  Handback,
  HelpdeskEvent,
  MediaFile,
  OpenTicketRequest,
  TicketRef,
} from '../../src/core/model';
import type { CustomerChannel, MediaFetcher, MediaHost, Question } from '../../src/core/ports';
import { MemoryRateLimiter, type RateLimiter } from '../../src/core/rate-limiter';
import { Routing, type RoutingRule } from '../../src/core/routing';
import { type GatewayObserver, VendorGateway, VendorGateways } from '../../src/core/vendor-gateway';
import type { FailurePolicyOptions } from '../../src/core/work/failure-policy';
import type { DeadLetter } from '../../src/core/work/queue';
import type { LaneRunnerOptions } from '../../src/core/work/runner';
import { createState, type State } from '../../src/state/create-store';
import { captureLogs, type CapturedLogs } from './log-capture';

export type Step =
  | { what: 'openTicket'; vendor: string; key: string; req: OpenTicketRequest }
  | { what: 'append'; vendor: string; ticket: TicketRef; message: ChatMessage; key: string; again: boolean }
  | { what: 'reopen'; vendor: string; ticket: TicketRef; message: ChatMessage; key: string; again: boolean }
  | { what: 'note'; vendor: string; ticket: TicketRef; text: string }
  | { what: 'upload'; vendor: string; file: MediaFile; ticket?: TicketRef }
  | { what: 'closeTicket'; vendor: string; ticket: TicketRef; closedBy: ClosedBy }
  | { what: 'rate'; vendor: string; ticket: TicketRef; rating: number; key: string; again: boolean }
  | { what: 'send'; to: string; text: string; attachments?: Attachment[]; messageId: string }
  | { what: 'ask'; to: string; question: Question; messageId: string }
  | { what: 'handBack'; handback: Handback; messageId: string }
  | { what: 'chatState'; to: string; state: ChatState }
  | { what: 'consumed'; to: string; messageIds: string[] };

/** Everything that reached the helpdesks and the customer, in order. */
export class Timeline {
  readonly steps: Step[] = [];
  of<W extends Step['what']>(what: W): Extract<Step, { what: W }>[] {
    return this.steps.filter((s): s is Extract<Step, { what: W }> => s.what === what);
  }
}

type Method = 'openTicket' | 'append' | 'reopen' | 'recent' | 'note' | 'upload' | 'close' | 'nameOf' | 'rate';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A helpdesk in memory: numbered tickets (one per idempotency key), comments in order, failures on demand per
 * method, an optional gate that holds a customer's calls. Optional abilities (reopen, notes, uploads) are on unless
 * turned off in the constructor.
 */
export class FakeHelpdesk implements HelpdeskAdapter {
  readonly limits: { requestsPerMinute: number; callsPerMethod?: Partial<Record<string, number>> } = {
    requestsPerMinute: 100_000,
  };
  /** Errors thrown by the next calls of each method, in order. */
  readonly failures: Partial<Record<Method, unknown[]>> = {};
  /** What `recentAgentMessages` returns. */
  recent: AgentMessageEvent[] = [];
  /** What `nameOf` answers, by `agent:<id>` / `team:<id>`. */
  readonly names = new Map<string, string>();
  /** Resolves before each call when set (holds one customer). */
  gate?: (customerKey: string) => Promise<void>;
  readonly tickets = new Map<string, { customer: string; comments: string[]; status: 'open' | 'closed' }>();
  private readonly byKey = new Map<string, TicketRef>();
  private next = 1000;
  private uploaded = 0;
  reopenTicket?: HelpdeskAdapter['reopenTicket'];
  addInternalNote?: HelpdeskAdapter['addInternalNote'];
  uploadAttachment?: HelpdeskAdapter['uploadAttachment'];
  uploadNeedsTicket?: boolean;

  constructor(
    readonly timeline: Timeline,
    readonly name = 'fakedesk',
    abilities: { reopen?: boolean; notes?: boolean; uploads?: boolean; uploadNeedsTicket?: boolean } = {},
  ) {
    if (abilities.reopen !== false) {
      this.reopenTicket = async (ticket, message, key, options) => {
        this.timeline.steps.push({
          what: 'reopen',
          vendor: this.name,
          ticket,
          message,
          key,
          again: !!options?.again,
        });
        await this.fail('reopen');
        const t = this.tickets.get(ticket.id);
        if (t) {
          t.status = 'open';
          t.comments.push(message.text);
        }
      };
    }
    if (abilities.notes !== false) {
      this.addInternalNote = async (ticket, text) => {
        this.timeline.steps.push({ what: 'note', vendor: this.name, ticket, text });
        await this.fail('note');
      };
    }
    if (abilities.uploads) {
      this.uploadAttachment = async (file, ticket) => {
        this.timeline.steps.push({ what: 'upload', vendor: this.name, file, ...(ticket ? { ticket } : {}) });
        await this.fail('upload');
        return `upload-${++this.uploaded}:${file.name}`;
      };
      this.uploadNeedsTicket = abilities.uploadNeedsTicket;
    }
  }

  async openTicket(req: OpenTicketRequest, key: string): Promise<TicketRef> {
    await this.gate?.(req.customer.key);
    this.timeline.steps.push({ what: 'openTicket', vendor: this.name, key, req });
    await this.fail('openTicket');
    let ticket = this.byKey.get(key);
    if (!ticket) {
      ticket = { vendor: this.name, id: String(++this.next), requesterId: `req-${req.customer.key}` };
      this.byKey.set(key, ticket);
      this.tickets.set(ticket.id, { customer: req.customer.key, comments: [req.first.text], status: 'open' });
    }
    return ticket;
  }

  async appendCustomerMessage(
    ticket: TicketRef,
    message: ChatMessage,
    key: string,
    options?: { again?: boolean },
  ): Promise<void> {
    const t = this.tickets.get(ticket.id);
    if (t) await this.gate?.(t.customer);
    this.timeline.steps.push({
      what: 'append',
      vendor: this.name,
      ticket,
      message,
      key,
      again: !!options?.again,
    });
    await this.fail('append');
    t?.comments.push(message.text);
  }

  async closeTicket(ticket: TicketRef, closedBy: ClosedBy): Promise<void> {
    this.timeline.steps.push({ what: 'closeTicket', vendor: this.name, ticket, closedBy });
    await this.fail('close');
    const t = this.tickets.get(ticket.id);
    if (t) t.status = 'closed';
  }

  async rateTicket(
    ticket: TicketRef,
    rating: number,
    key: string,
    options?: { again?: boolean },
  ): Promise<void> {
    this.timeline.steps.push({
      what: 'rate',
      vendor: this.name,
      ticket,
      rating,
      key,
      again: !!options?.again,
    });
    await this.fail('rate');
  }

  async nameOf(what: 'agent' | 'team', id: string): Promise<string | undefined> {
    await this.fail('nameOf');
    return this.names.get(`${what}:${id}`);
  }

  async recentAgentMessages(): Promise<AgentMessageEvent[]> {
    await this.fail('recent');
    return this.recent;
  }

  /** The comments of every ticket of a customer, in order (the opening message first). */
  commentsOf(customerKey: string): string[] {
    return [...this.tickets.values()].filter((t) => t.customer === customerKey).flatMap((t) => t.comments);
  }

  private async fail(method: Method): Promise<void> {
    await tick();
    const failures = this.failures[method];
    if (failures?.length) throw failures.shift();
  }
}

/** The customer's side: every message and hand-back, in the shared timeline; `down` plays BLiP disconnected. */
export class FakeChannel implements CustomerChannel {
  /** Errors thrown by the next sends (and hand-backs, while `handBackFailures` is empty), in order. */
  readonly failures: unknown[] = [];
  /** Errors thrown by the next hand-backs only, in order. */
  readonly handBackFailures: unknown[] = [];
  /** While set, every send and hand-back fails as the BLiP edge does while its session is down. */
  down = false;
  constructor(private readonly timeline: Timeline) {}

  async send(customer: CustomerRef, message: Pick<ChatMessage, 'text' | 'attachments'>, messageId: string) {
    await tick();
    if (this.down) throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    if (this.failures.length) throw this.failures.shift();
    this.timeline.steps.push({
      what: 'send',
      to: customer.address,
      text: message.text,
      ...(message.attachments ? { attachments: message.attachments } : {}),
      messageId,
    });
  }

  async ask(customer: CustomerRef, question: Question, messageId: string): Promise<void> {
    await tick();
    if (this.down) throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    if (this.failures.length) throw this.failures.shift();
    this.timeline.steps.push({ what: 'ask', to: customer.address, question, messageId });
  }

  /** The customer's messages marked read (BRIDGE_READ_RECEIPTS=agent). */
  async markConsumed(customer: CustomerRef, messageIds: string[]): Promise<void> {
    await tick();
    if (this.down) throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    this.timeline.steps.push({ what: 'consumed', to: customer.address, messageIds });
  }

  async handBack(handback: Handback, messageId: string): Promise<{ address?: string }> {
    await tick();
    if (this.down) throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    if (this.handBackFailures.length) throw this.handBackFailures.shift();
    if (this.failures.length) throw this.failures.shift();
    this.timeline.steps.push({ what: 'handBack', handback, messageId });
    return {};
  }

  async chatState(customer: CustomerRef, state: ChatState): Promise<void> {
    await tick();
    if (this.down) throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    if (this.failures.length) throw this.failures.shift();
    this.timeline.steps.push({ what: 'chatState', to: customer.address, state });
  }
}

export interface CoreHarnessOptions {
  redisUrl?: string;
  /** Shared with another core (two instances on one Redis write to one timeline). */
  timeline?: Timeline;
  /** The helpdesks (default: one FakeHelpdesk named `fakedesk`); the first is the default route. */
  helpdesks?: (timeline: Timeline) => HelpdeskAdapter[];
  rules?: RoutingRule[];
  settings?: Partial<HandoffSettings>;
  lifecycle?: LifecycleOptions;
  /** The satisfaction survey (`BRIDGE_SURVEY`); its timer in the state's work queue. */
  survey?: SurveyOptions;
  details?: TicketDetails;
  /** Every locale's customer texts (production passes `config.texts`). */
  texts?: LocalizedTexts;
  media?: MediaFetcher;
  mediaHost?: MediaHost;
  now?: () => Date;
  failures?: Partial<FailurePolicyOptions>;
  lanes?: Partial<LaneRunnerOptions>;
  /** A rate limiter per vendor (default: none that waits). */
  limiter?: (vendor: string) => RateLimiter;
  /** Metrics of the vendor calls. */
  observer?: GatewayObserver;
  /** Where the core logs (default: a captured JSON logger at debug level, `CoreHarness.logs`). */
  logs?: CapturedLogs;
  /** Do not start the lanes (a test that starts them itself). */
  paused?: boolean;
}

export interface CoreHarness {
  core: Core;
  state: State;
  timeline: Timeline;
  /** The first helpdesk, as a FakeHelpdesk when it is one. */
  helpdesk: FakeHelpdesk;
  helpdesks: HelpdeskAdapter[];
  channel: FakeChannel;
  /** What the core logged (a real winston logger, JSON, debug level). */
  logs: CapturedLogs;
  emitted: Array<{ name: DomainEventName; payload: DomainEventMap[DomainEventName] }>;
  /** Records the customer's message (as the BLiP edge does), without waiting for the work. */
  accept(customer: CustomerRef, message: ChatMessage): Promise<void>;
  /** Records the customer's message and waits until every lane is idle. */
  write(customer: CustomerRef, message: ChatMessage): Promise<void>;
  /** Records helpdesk events (as a webhook does) and waits until every lane is idle. */
  helpdeskSends(...events: HelpdeskEvent[]): Promise<void>;
  idle(timeoutMs?: number): Promise<void>;
  deadLetters(): Promise<DeadLetter[]>;
  stop(): Promise<void>;
}

const ALL_EVENTS: DomainEventName[] = [
  'handoff.started',
  'customer.message',
  'agent.message',
  'automatic.message',
  'ticket.assigned',
  'ticket.transferred',
  'ticket.closed',
  'survey.ended',
  'redirect.sent',
  'delivery.failed',
  'work.dead-lettered',
];

/** Fast retries: a test waits milliseconds, not seconds, for the failure policy. */
export const FAST_FAILURES: Partial<FailurePolicyOptions> = {
  maxAttempts: 4,
  baseDelayMs: 2,
  maxDelayMs: 10,
  unavailableRetryMs: 5,
  recordForMs: 200,
};

export function startCore(options: CoreHarnessOptions = {}): CoreHarness {
  const timeline = options.timeline ?? new Timeline();
  const logs = options.logs ?? captureLogs();
  const logger: Logger = logs.logger;
  const state = createState(options.redisUrl, logger);
  const helpdesks = options.helpdesks?.(timeline) ?? [new FakeHelpdesk(timeline)];
  const channel = new FakeChannel(timeline);
  const events = new DomainEvents((event, err) => {
    throw new Error(`listener of ${event} failed: ${String(err)}`);
  });
  const emitted: CoreHarness['emitted'] = [];
  for (const name of ALL_EVENTS) events.on(name, (payload) => void emitted.push({ name, payload }));
  const limiter =
    options.limiter ??
    ((vendor: string) =>
      new MemoryRateLimiter(helpdesks.find((h) => h.name === vendor)!.limits.requestsPerMinute));
  const gateways = new VendorGateways(
    helpdesks.map((h) => new VendorGateway(h, limiter(h.name), options.observer)),
  );
  const lifecycle = options.lifecycle ? new Lifecycle(options.lifecycle, state.queue) : undefined;
  const core = assembleCore({
    queue: state.queue,
    store: state.store,
    vendors: gateways,
    routing: new Routing(helpdesks[0]!.name, options.rules ?? [], (at) => lifecycle?.admits(at).open ?? true),
    channel,
    events,
    logger,
    settings: {
      tags: ['blip_bridge'],
      closingText: 'Atendimento encerrado. Obrigado!',
      dedupeTtlMs: 60_000,
      ...options.settings,
    },
    ...(lifecycle ? { lifecycle } : {}),
    ...(options.survey ? { survey: new Survey(options.survey, state.queue) } : {}),
    ...(options.details ? { details: options.details } : {}),
    ...(options.texts ? { texts: options.texts } : {}),
    ...(options.media ? { media: options.media } : {}),
    ...(options.mediaHost ? { mediaHost: options.mediaHost } : {}),
    ...(options.now ? { now: options.now } : {}),
    failures: { ...FAST_FAILURES, ...options.failures },
    lanes: { scanIntervalMs: 5, ...options.lanes },
  });
  if (!options.paused) core.runner.start();
  // Idle: no lane has work, not even work waiting for a retry (the runner's own `idle` looks at due work only).
  const idle = async (timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await core.runner.idle(Math.max(1, deadline - Date.now()));
      if ((await state.queue.depth()).queued === 0) return;
      if (Date.now() > deadline) throw new Error('the lanes did not become idle in time');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return {
    core,
    state,
    timeline,
    helpdesk: helpdesks[0] as FakeHelpdesk,
    helpdesks,
    channel,
    logs,
    emitted,
    accept: (customer, message) => core.intake.acceptCustomerMessage(customer, message),
    write: async (customer, message) => {
      await core.intake.acceptCustomerMessage(customer, message);
      await idle();
    },
    helpdeskSends: async (...sent) => {
      await core.intake.acceptHelpdeskEvents(sent);
      await idle();
    },
    idle,
    deadLetters: () => state.queue.deadLetters(),
    stop: async () => {
      await core.runner.stop(2_000);
      await state.store.close();
    },
  };
}

/** Waits until `check` holds (polling every few ms), or fails naming `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
