/**
 * One load run through the sandbox: the local BLiP (LIME server) plays N customers, the Zendesk emulator plays the
 * helpdesk and its agent, and the system under test (the bridge or the raw relay, ./sut.ts) sits between them in a
 * process of its own. Everything the load generator measures is timed in this process, on one clock:
 *
 * - to the helpdesk: the LIME server writes the customer's message to the bot's socket (t0) → the emulator has the
 *   comment (t1; its `comment` event, in the request handler). The bridge "receives" the message when it is written
 *   to its socket: any time it spends before reading it (a busy event loop) is time it added.
 * - to the customer: the emulator posts the agent's reply webhook (t0) → the LIME server receives the bot's message
 *   (t1; its `sent` event).
 *
 * So each latency is the whole time the system under test held the message, plus two loopback hops and the
 * sandbox's own handling, which are the same for the bridge and the raw relay.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LimeServer, type SandboxCustomer, type SentByBot } from '../sandbox/lime-server';
import { SANDBOX_WEBHOOK_SECRET } from '../sandbox/emulators';
import { type EmulatedComment, type EmulatedTicket, ZendeskEmulator } from '../src/adapters/zendesk/emulator';
import { type RedisProcess, type SutMode, SutProcess } from './processes';
import { percentiles, type Percentiles, round, sleep } from './stats';
import { monotonicMs, type RedisTrip } from './redis-probe';
import type { SutStats } from './sut-protocol';

// The sandbox's bot (sandbox/harness.ts), repeated so this process does not load the bridge itself.
const BOT_ID = 'acmehelpdesk';
const BOT = `${BOT_ID}@msging.net`;
const ACCESS_KEY = Buffer.from('sandbox-access-key').toString('base64');

const FILLER =
  'Oi, preciso de ajuda com o meu pedido, o boleto veio com o valor errado e a entrega atrasou de novo. ' +
  'Vocês conseguem verificar o que aconteceu e me dizer quando chega? Obrigado pela atenção, fico no aguardo.';

export interface LoadSpec {
  label: string;
  sut: SutMode;
  /** The bridge keeps its state in this Redis (absent: in memory). */
  redis?: RedisProcess;
  customers: number;
  /** Messages per customer (the run sends customers × messages). */
  messages: number;
  /** Customer messages per second; undefined sends them all at once (maximum throughput). */
  rate?: number;
  /**
   * With `rate`: conversations start one after another, a new one every `messages / rate` seconds, and each
   * customer writes every `gapSeconds` (steady state: `rate` messages/s with one ticket opening in `messages`).
   * Absent: customers in turn (message 0 of everyone, then message 1, ...), which opens every ticket first.
   */
  gapSeconds?: number;
  /** The agent answers every customer message (`perMessage`), every comment the helpdesk gets, or never. */
  replies: 'perMessage' | 'perComment' | 'none';
  /** Characters per message text. */
  textLength: number;
  /** Keep the emulator's OpenAPI request validation on. */
  validate: boolean;
  /** The emulator enforces this many requests per minute (429 + Retry-After). */
  vendorLimit?: number;
  /** ZENDESK_REQUESTS_PER_MINUTE given to the bridge. */
  bridgeRequestsPerMinute: number;
  /**
   * Number of the first customer, and of the emulator's first ticket: runs that share a Redis (the idle
   * scenario) use new customers and tickets each time, never one a previous run left open.
   */
  customerBase?: number;
  firstTicketId?: number;
  /** The emulator's first comment (and user) id: new event ids, never deduplicated against an earlier run's. */
  firstId?: number;
  /** Customers (not measured) that open a ticket and exchange two messages first, to warm the JIT up. */
  warmupCustomers: number;
  /** Give up waiting for arrivals after this long without progress. */
  stallTimeoutMs: number;
  logFile: string;
  /** Write a CPU profile of the system under test over the measured part. */
  profileFile?: string;
  /** More environment for the bridge. */
  env?: Record<string, string>;
  /**
   * Bridge processes sharing the run (scale-out: several on one Redis; default 1). BLiP hands each customer message
   * to one of their sessions in turn, and the agent's webhooks go to each process in turn.
   */
  instances?: number;
  /**
   * After the measured run (Redis only): this many more customers, one at a time, each sending a message to their
   * open ticket and getting one agent reply, each alone in the bridge, with its Redis round trips traced
   * (./redis-probe.ts). Not part of the run's figures.
   */
  probeCustomers?: number;
  /** Progress lines. */
  say: (line: string) => void;
}

export interface VendorCallFigures {
  total: number;
  /** Calls per kind: `POST tickets`, `PUT tickets`, `POST users`, other. */
  byKind: Record<string, number>;
  /** Calls answered 429. */
  rateLimited: number;
  /** Calls answered anything else than 2xx or 429. */
  failed: number;
  /**
   * Each call: when it came (s from the start of the measured run), its kind and the status it was answered
   * (left empty in the saved results of the throughput runs).
   */
  timeline: Array<{ atS: number; kind: string; status: number }>;
}

export interface LoadResult {
  label: string;
  sut: SutMode;
  state: 'memory' | 'redis' | 'none';
  customers: number;
  messagesPerCustomer: number;
  offeredRate?: number;
  sent: number;
  arrived: number;
  /** Customer messages that reached the helpdesk more than once; after a later one of the same customer. */
  duplicates: number;
  outOfOrder: number;
  repliesSent: number;
  repliesArrived: number;
  repliesDuplicated: number;
  repliesOutOfOrder: number;
  /** Customer messages per second, first send → last arrival. */
  customerMessagesPerSecond: number;
  /** Agent replies per second, first webhook → last arrival at BLiP. */
  agentRepliesPerSecond: number;
  /** Both directions together, per second of the run. */
  messagesPerSecond: number;
  toHelpdesk: Percentiles;
  toCustomer: Percentiles;
  /** To the helpdesk, split: each customer's first message (it opens the ticket) and the later ones (comments). */
  toHelpdeskOpening: Percentiles;
  toHelpdeskLater: Percentiles;
  /**
   * To the customer, split: the reply to each customer's first message (it waits in the customer's lane while the
   * bridge finishes opening: transcript note, waiting text) and the later ones. Absent in results written before.
   */
  toCustomerFirst?: Percentiles;
  toCustomerLater?: Percentiles;
  /** CPU seconds of the system under test over the measured part, and per 1,000 messages carried (both ways). */
  cpuSeconds: number;
  cpuSecondsPer1000: number;
  /** Redis' CPU seconds over the same time (Redis runs only), and per 1,000 messages. */
  redisCpuSeconds?: number;
  redisCpuSecondsPer1000?: number;
  /**
   * Redis commands per message carried (both directions), in all and by command (the bench's own INFO calls
   * are left out): what one message costs in round trips.
   */
  redisCommands?: { perMessage: number; byCommand: Record<string, number> };
  /**
   * Redis work per customer message with its agent reply (Redis runs only): the commands the bridge sent (client-side,
   * a script is one), and the commands Redis executed (INFO commandstats: a script and each command inside it).
   */
  redisPerCustomerMessage?: { sent: number; executed: number };
  /** The round trips of the probe (`probeCustomers`), each message alone in the bridge. */
  probe?: ProbeResult;
  /** Bridge processes in the run (absent: 1), and each one's share of the CPU seconds. */
  instances?: number;
  cpuSecondsByInstance?: number[];
  /** The sandbox and load generator (this process): CPU seconds and event-loop utilisation over the run. */
  sandboxCpuSeconds: number;
  sandboxEventLoopUtilisation: number;
  /**
   * Share of the machine's CPU time the hypervisor gave to others over the run (`steal` in /proc/stat; absent where
   * there is no /proc): a run with much of it was slowed by something outside the benchmark.
   */
  stolenShare?: number;
  /** The system under test's event-loop utilisation over the run (1 = saturated). */
  sutEventLoopUtilisation: number;
  peakRssBytes: number;
  endRssBytes: number;
  /** RSS and heap after a full GC: right after start-up, and after the run. */
  startRssAfterGcBytes: number;
  endRssAfterGcBytes: number;
  endHeapAfterGcBytes: number;
  vendorCalls: VendorCallFigures;
  /** Webhook deliveries the system under test did not answer 2xx. */
  webhookFailures: number;
  /** Failures the system under test counted itself (the raw relay's failed calls). */
  sutFailures: number;
  wallSeconds: number;
  /** Why the run ended early, if it did. */
  incomplete?: string;
  /** The first order violations, if any. */
  violations?: string[];
  /**
   * Per customer comment: that customer's messages BLiP had delivered at least a second before it reached the
   * helpdesk but that it did not carry (they wait for a later call). Coalescing could have taken them.
   */
  leftBehindPerComment: number;
  profileFile?: string;
}

/** One direction of one probe message: the Redis round trips it waited for, and those after it was delivered. */
export interface ProbeDirection {
  /** Round trips that started between the message's arrival at the bridge and its delivery (the hot path). */
  before: number;
  /** Round trips after the delivery until the bridge was idle again (acknowledgement, dedupe mark, ...). */
  after: number;
  /** Commands sent in all (both phases). */
  commands: number;
  /** The round trips, in order: the commands each carried ("|" marks the delivery). */
  trace: string;
}

export interface ProbeResult {
  /** Per probe customer: the customer message to the helpdesk, and the agent's reply to the customer. */
  toHelpdesk: ProbeDirection[];
  toCustomer: ProbeDirection[];
  /** The same for each probe customer's first message (it opens the ticket) and first reply (not in the targets). */
  openingToHelpdesk?: ProbeDirection[];
  openingToCustomer?: ProbeDirection[];
  /** Scan commands (due lanes, timers) left out of the trips. */
  scans: number;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const lime = await LimeServer.start({
    accounts: { [BOT_ID]: ACCESS_KEY },
    router: 'acmerouter@msging.net',
  });
  const helpdesk = await ZendeskEmulator.start({
    email: 'bridge@acme.example',
    apiToken: 'sandbox-token',
    webhookSecret: SANDBOX_WEBHOOK_SECRET,
    validateRequests: spec.validate,
    ...(spec.firstTicketId ? { firstTicketId: spec.firstTicketId } : {}),
    ...(spec.firstId ? { firstId: spec.firstId } : {}),
    webhookSockets: 64,
    ...(spec.vendorLimit ? { rateLimit: { requestsPerMinute: spec.vendorLimit } } : {}),
  });
  const suts: SutProcess[] = [];
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bhb-bench-'));
  try {
    const env: Record<string, string> = {
      BLIP_IDENTIFIER: BOT_ID,
      BLIP_ACCESS_KEY: ACCESS_KEY,
      BLIP_SCHEME: 'ws',
      BLIP_HOST: '127.0.0.1',
      BLIP_PORT: String(lime.port),
      BLIP_INSTANCE: `bench-${spec.sut}`,
      ...helpdesk.bridgeEnv(),
      ZENDESK_REQUESTS_PER_MINUTE: String(spec.bridgeRequestsPerMinute),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_FORMAT: 'json',
      // Session reports on, in a file of their own (the default is a file too: data/reports.sqlite).
      REPORTS_SQLITE_PATH: path.join(scratch, 'reports.sqlite'),
      ...(spec.redis ? { REDIS_URL: spec.redis.url } : {}),
      ...spec.env,
    };
    const instances = Math.max(1, spec.instances ?? 1);
    let sessions = 0;
    const established = new Promise<void>((resolve) =>
      lime.on('established', () => {
        if (++sessions >= instances) resolve();
      }),
    );
    for (let i = 0; i < instances; i++) {
      const own =
        instances > 1
          ? {
              ...env,
              BLIP_INSTANCE: `bench-${spec.sut}-${i + 1}`,
              // Each process its own report file (SQLite is one writer's).
              REPORTS_SQLITE_PATH: path.join(scratch, `reports-${i + 1}.sqlite`),
            }
          : env;
      suts.push(await SutProcess.start(spec.sut, own, spec.logFile));
    }
    helpdesk.setWebhookTarget(`${suts[0]!.url}/webhooks/zendesk`);
    await within(established, 30_000, `${spec.sut}: no BLiP session within 30 s`);
    return await drive(spec, lime, helpdesk, suts);
  } finally {
    await Promise.allSettled(suts.map((sut) => sut.stop()));
    await Promise.allSettled([lime.stop(), helpdesk.stop()]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** What one batch of customers does, and what the sandbox saw of it. */
class Traffic {
  readonly sentAt: Float64Array;
  readonly arrivedAt: Float64Array;
  readonly replyPostedAt: Float64Array;
  readonly replyArrivedAt: Float64Array;
  /** Highest message (reply) number seen per customer, for the order check. */
  private readonly lastMessage: Int32Array;
  private readonly lastReply: Int32Array;
  readonly customers: SandboxCustomer[];
  sent = 0;
  arrived = 0;
  duplicates = 0;
  outOfOrder = 0;
  repliesSent = 0;
  repliesArrived = 0;
  repliesDuplicated = 0;
  repliesOutOfOrder = 0;
  replyErrors = 0;
  firstSendAt = NaN;
  lastArrivalAt = NaN;
  firstReplyAt = NaN;
  lastReplyArrivalAt = NaN;
  /** Customer comments that reached the helpdesk, and messages already waiting that each left behind. */
  comments = 0;
  leftBehind = 0;
  /** The first few order violations, described. */
  readonly violations: string[] = [];
  /** Arrival time of the last progress (any arrival), for the stall check. */
  progressAt = performance.now();

  constructor(
    lime: LimeServer,
    /** First customer number (warm-up customers and measured customers never share numbers). */
    readonly base: number,
    readonly count: number,
    readonly messages: number,
    private readonly textLength: number,
    /** The agent answers only when told (the probe), not each comment at once. */
    readonly manual = false,
  ) {
    const size = count * messages;
    this.sentAt = new Float64Array(size).fill(NaN);
    this.arrivedAt = new Float64Array(size).fill(NaN);
    this.replyPostedAt = new Float64Array(size).fill(NaN);
    this.replyArrivedAt = new Float64Array(size).fill(NaN);
    this.lastMessage = new Int32Array(count).fill(-1);
    this.lastReply = new Int32Array(count).fill(-1);
    this.customers = Array.from({ length: count }, (_, i) =>
      lime.customer(`55119${String(base + i).padStart(8, '0')}@wa.gw.msging.net`, BOT),
    );
  }

  owns(c: number): boolean {
    return c >= this.base && c < this.base + this.count;
  }

  text(c: number, m: number, prefix: 'c' | 'a'): string {
    const head = prefix === 'c' ? `c${c} m${m} ` : `a${c} r${m} `;
    return head + FILLER.slice(0, Math.max(0, this.textLength - head.length));
  }

  /** Sends message `k` of the run: customers in turn (message 0 of everyone, then message 1, ...). */
  send(lime: LimeServer, k: number): void {
    this.sendMessage(lime, k % this.count, Math.floor(k / this.count));
  }

  /** Sends message `m` of customer `i` (counted from `base`). */
  sendMessage(lime: LimeServer, i: number, m: number): void {
    const c = this.base + i;
    const now = performance.now();
    if (Number.isNaN(this.firstSendAt)) this.firstSendAt = now;
    this.sentAt[i * this.messages + m] = now;
    lime.sendFromCustomer(BOT, this.customers[i]!, 'text/plain', this.text(c, m, 'c'));
    this.sent++;
  }

  /** Each customer's ticket (the probe's, whose agent answers when told), and when their last comment arrived. */
  readonly ticketOf = new Map<number, number>();
  lastCommentAtMono = NaN;
  lastReplyAtMono = NaN;

  /** A customer comment reached the helpdesk: each message in it (several when coalesced). */
  onComment(tokens: Array<[number, number]>, now: number, ticketId?: number): void {
    if (this.manual) {
      this.lastCommentAtMono = monotonicMs();
      if (tokens[0] && ticketId !== undefined) this.ticketOf.set(tokens[0][0], ticketId);
    }
    for (const [c, m] of tokens) {
      const i = c - this.base;
      const index = i * this.messages + m;
      if (m >= this.messages) continue;
      if (!Number.isNaN(this.arrivedAt[index]!)) {
        this.duplicates++;
        continue;
      }
      this.arrivedAt[index] = now;
      if (m < this.lastMessage[i]!) {
        this.outOfOrder++;
        if (this.violations.length < 10)
          this.violations.push(`message ${m} of customer ${c} after ${this.lastMessage[i]}`);
      }
      this.lastMessage[i] = Math.max(this.lastMessage[i]!, m);
      this.arrived++;
    }
    // Messages of this customer that BLiP had delivered (a second ago or more) but that are not in this comment:
    // what a later call has to carry.
    const [c] = tokens[0] ?? [];
    if (c !== undefined) {
      const i = c - this.base;
      this.comments++;
      for (let m = this.lastMessage[i]! + 1; m < this.messages; m++) {
        const sent = this.sentAt[i * this.messages + m]!;
        if (sent < now - 1000 && Number.isNaN(this.arrivedAt[i * this.messages + m]!)) this.leftBehind++;
      }
    }
    this.lastArrivalAt = now;
    this.progressAt = now;
  }

  onReplyPosted(c: number, m: number, now: number): void {
    if (Number.isNaN(this.firstReplyAt)) this.firstReplyAt = now;
    this.replyPostedAt[(c - this.base) * this.messages + m] = now;
    this.repliesSent++;
  }

  onReply(c: number, m: number, now: number): void {
    if (this.manual) this.lastReplyAtMono = monotonicMs();
    const i = c - this.base;
    const index = i * this.messages + m;
    if (!Number.isNaN(this.replyArrivedAt[index]!)) {
      this.repliesDuplicated++;
      return;
    }
    this.replyArrivedAt[index] = now;
    if (m < this.lastReply[i]!) {
      this.repliesOutOfOrder++;
      if (this.violations.length < 10) {
        const at = (t: number): number => round(t - this.firstSendAt, 1);
        this.violations.push(
          `reply ${m} of customer ${c} after reply ${this.lastReply[i]} ` +
            `(posted at ${at(this.replyPostedAt[index]!)} ms, arrived at ${at(now)} ms; ` +
            `reply ${this.lastReply[i]} posted at ${at(this.replyPostedAt[i * this.messages + this.lastReply[i]!]!)} ms)`,
        );
      }
    }
    this.lastReply[i] = Math.max(this.lastReply[i]!, m);
    this.repliesArrived++;
    this.lastReplyArrivalAt = now;
    this.progressAt = now;
  }

  latencies(from: Float64Array, to: Float64Array): Float64Array {
    return to.map((t, i) => t - from[i]!);
  }
}

const CUSTOMER_TOKEN = /\bc(\d+) m(\d+)\b/g;
const AGENT_TOKEN = /\ba(\d+) r(\d+)\b/;

async function drive(
  spec: LoadSpec,
  lime: LimeServer,
  helpdesk: ZendeskEmulator,
  suts: SutProcess[],
): Promise<LoadResult> {
  const sut = suts[0]!;
  const base = spec.customerBase ?? 0;
  const warmup = new Traffic(lime, base + 10_000_000, spec.warmupCustomers, 2, spec.textLength);
  const traffic = new Traffic(lime, base, spec.customers, spec.messages, spec.textLength);
  // The probe's customers: the agent answers them only when the probe says so.
  const probe = new Traffic(lime, base + 20_000_000, spec.probeCustomers ?? 0, 2, spec.textLength, true);
  const batches = [warmup, traffic, probe];
  // Several processes: the agent's webhooks go to each in turn.
  const webhookTargets = suts.map((s) => `${s.url}/webhooks/zendesk`);
  let nextTarget = 0;
  const agentReply = (ticketId: number, text: string) => {
    if (webhookTargets.length > 1)
      helpdesk.setWebhookTarget(webhookTargets[nextTarget++ % webhookTargets.length]!);
    return helpdesk.agentReply(ticketId, text);
  };
  const batchOf = (c: number): Traffic | undefined => batches.find((b) => b.owns(c));
  /** Each customer's agent: their last reply in flight. */
  const agentBusy = new Map<number, Promise<void>>();

  helpdesk.on('comment', (ticket: EmulatedTicket, comment: EmulatedComment) => {
    if (comment.author_id !== ticket.requester_id) return;
    const now = performance.now();
    const tokens: Array<[number, number]> = [];
    for (const match of comment.body.matchAll(CUSTOMER_TOKEN))
      tokens.push([Number(match[1]), Number(match[2])]);
    const batch = tokens[0] ? batchOf(tokens[0][0]) : undefined;
    if (!batch) return;
    batch.onComment(tokens, now, ticket.id);
    if (spec.replies === 'none' || batch.manual) return;
    const answered = spec.replies === 'perMessage' ? tokens : tokens.slice(-1);
    // The agent answers the comment it now sees, one reply at a time per ticket: the next webhook leaves once the
    // last one was answered (concurrent deliveries of one ticket have no order, at Zendesk either).
    const c = tokens[0]![0];
    const previous = agentBusy.get(c) ?? Promise.resolve();
    const next = previous.then(async () => {
      for (const [customer, m] of answered) {
        batch.onReplyPosted(customer, m, performance.now());
        const delivery = await agentReply(ticket.id, batch.text(customer, m, 'a')).catch(() => undefined);
        if (!delivery || delivery.status < 200 || delivery.status >= 300) batch.replyErrors++;
      }
    });
    agentBusy.set(c, next);
    void next.then(() => {
      if (agentBusy.get(c) === next) agentBusy.delete(c);
    });
  });
  lime.on('sent', (sent: SentByBot) => {
    if (sent.envelope.type !== 'text/plain' || typeof sent.envelope.content !== 'string') return;
    const match = AGENT_TOKEN.exec(sent.envelope.content);
    if (!match) return;
    const c = Number(match[1]);
    batchOf(c)?.onReply(c, Number(match[2]), performance.now());
  });

  const startGc = await sut.statsAfterGc();
  const stats = async () => {
    const all = await Promise.all(suts.map((s) => s.stats()));
    return { each: all, failures: all.reduce((n, s) => n + s.failures, 0) };
  };

  // ---- warm-up (not measured) ----
  if (warmup.count > 0) {
    for (let k = 0; k < warmup.count * warmup.messages; k++) warmup.send(lime, k);
    const done = (): boolean =>
      warmup.arrived >= warmup.sent &&
      (spec.replies === 'none' || warmup.repliesArrived >= warmup.repliesSent);
    await waitFor(done, warmup, spec.stallTimeoutMs);
    await sleep(300);
  }

  // ---- the measured run ----
  const callsBefore = helpdesk.requests.length;
  const deliveriesBefore = helpdesk.deliveries.length;
  if (spec.profileFile) await sut.profileStart();
  const commandsBefore = await spec.redis?.commandStats();
  const before = await stats();
  const redisBefore = spec.redis?.cpuSeconds();
  const stealBefore = cpuSteal();
  const mainCpuBefore = process.cpuUsage();
  const mainEluBefore = performance.eventLoopUtilization();
  const startedAt = performance.now();
  const total = spec.customers * spec.messages;
  spec.say(
    `  ${spec.label}: ${total} customer messages from ${spec.customers} customers` +
      (spec.rate ? ` at ${round(spec.rate, 0)}/s` : ' at once'),
  );

  if (spec.rate === undefined) {
    // As fast as the LIME server writes them, a slice per turn of the event loop so arrivals are timed meanwhile.
    for (let k = 0; k < total; k++) {
      traffic.send(lime, k);
      if (k % 250 === 249) await new Promise((resolve) => setImmediate(resolve));
    }
  } else if (spec.gapSeconds !== undefined) {
    const schedule = staggered(spec.customers, spec.messages, spec.rate, spec.gapSeconds);
    for (let k = 0; k < schedule.length;) {
      const elapsedMs = performance.now() - startedAt;
      while (k < schedule.length && schedule[k]!.atMs <= elapsedMs) {
        const { i, m } = schedule[k++]!;
        traffic.sendMessage(lime, i, m);
      }
      await sleep(5);
    }
  } else {
    const rate = spec.rate;
    for (let k = 0; k < total;) {
      const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * rate) + 1);
      while (k < due) traffic.send(lime, k++);
      await sleep(5);
    }
  }

  const expectedReplies = (): number =>
    spec.replies === 'none' ? 0 : spec.replies === 'perMessage' ? total : traffic.repliesSent;
  const complete = (): boolean =>
    traffic.arrived >= total && traffic.repliesArrived >= expectedReplies() && traffic.arrived > 0;
  const incomplete = await waitFor(complete, traffic, spec.stallTimeoutMs);
  const endedAt = performance.now();
  const after = await stats();
  const redisAfter = spec.redis?.cpuSeconds();
  const commandsAfter = await spec.redis?.commandStats();
  const mainCpu = process.cpuUsage(mainCpuBefore);
  const stealAfter = cpuSteal();
  const mainElu = performance.eventLoopUtilization(mainEluBefore);
  if (spec.profileFile) await sut.profileStop(spec.profileFile);
  const endGc = await sut.statsAfterGc();
  const callsEnd = helpdesk.requests.length;
  const deliveriesEnd = helpdesk.deliveries.length;
  const probed =
    spec.redis && probe.count > 0 && !incomplete
      ? await runProbe(spec, lime, probe, sut, agentReply)
      : undefined;

  const carried = traffic.arrived + traffic.repliesArrived;
  const cpuByInstance = suts.map((_, i) => cpuOf(before.each[i]!.stats, after.each[i]!.stats));
  const cpuSeconds = cpuByInstance.reduce((a, b) => a + b, 0);
  const sentCommands = suts.reduce(
    (n, _, i) => n + (after.each[i]!.stats.redisCommands ?? 0) - (before.each[i]!.stats.redisCommands ?? 0),
    0,
  );
  const executed = commandsBefore && commandsAfter ? perMessage(commandsBefore, commandsAfter, 1) : undefined;
  const redisCpuSeconds =
    redisBefore !== undefined && redisAfter !== undefined ? redisAfter - redisBefore : undefined;
  const perSecond = (count: number, from: number, to: number): number =>
    count > 0 && to > from ? round(count / ((to - from) / 1000), 1) : 0;
  const calls = helpdesk.requests.slice(callsBefore, callsEnd);
  const deliveries = helpdesk.deliveries.slice(deliveriesBefore, deliveriesEnd);
  return {
    label: spec.label,
    sut: spec.sut,
    state: spec.sut === 'raw' ? 'none' : spec.redis ? 'redis' : 'memory',
    customers: spec.customers,
    messagesPerCustomer: spec.messages,
    ...(spec.rate !== undefined ? { offeredRate: round(spec.rate, 1) } : {}),
    sent: traffic.sent,
    arrived: traffic.arrived,
    duplicates: traffic.duplicates,
    outOfOrder: traffic.outOfOrder,
    repliesSent: traffic.repliesSent,
    repliesArrived: traffic.repliesArrived,
    repliesDuplicated: traffic.repliesDuplicated,
    repliesOutOfOrder: traffic.repliesOutOfOrder,
    customerMessagesPerSecond: perSecond(traffic.arrived, traffic.firstSendAt, traffic.lastArrivalAt),
    agentRepliesPerSecond: perSecond(
      traffic.repliesArrived,
      traffic.firstReplyAt,
      traffic.lastReplyArrivalAt,
    ),
    messagesPerSecond: perSecond(
      carried,
      traffic.firstSendAt,
      Math.max(
        traffic.lastArrivalAt,
        Number.isNaN(traffic.lastReplyArrivalAt) ? 0 : traffic.lastReplyArrivalAt,
      ),
    ),
    toHelpdesk: percentiles(traffic.latencies(traffic.sentAt, traffic.arrivedAt)),
    toHelpdeskOpening: percentiles(
      traffic.latencies(traffic.sentAt, traffic.arrivedAt).filter((_, i) => i % spec.messages === 0),
    ),
    toHelpdeskLater: percentiles(
      traffic.latencies(traffic.sentAt, traffic.arrivedAt).filter((_, i) => i % spec.messages !== 0),
    ),
    toCustomer: percentiles(traffic.latencies(traffic.replyPostedAt, traffic.replyArrivedAt)),
    toCustomerFirst: percentiles(
      traffic
        .latencies(traffic.replyPostedAt, traffic.replyArrivedAt)
        .filter((_, i) => i % spec.messages === 0),
    ),
    toCustomerLater: percentiles(
      traffic
        .latencies(traffic.replyPostedAt, traffic.replyArrivedAt)
        .filter((_, i) => i % spec.messages !== 0),
    ),
    cpuSeconds: round(cpuSeconds, 2),
    cpuSecondsPer1000: carried > 0 ? round((cpuSeconds / carried) * 1000, 3) : NaN,
    ...(redisCpuSeconds !== undefined
      ? {
          redisCpuSeconds: round(redisCpuSeconds, 2),
          redisCpuSecondsPer1000: carried > 0 ? round((redisCpuSeconds / carried) * 1000, 3) : NaN,
        }
      : {}),
    ...(commandsBefore && commandsAfter
      ? { redisCommands: perMessage(commandsBefore, commandsAfter, carried) }
      : {}),
    ...(executed && traffic.arrived > 0
      ? {
          redisPerCustomerMessage: {
            sent: round(sentCommands / traffic.arrived, 2),
            executed: round(executed.perMessage / traffic.arrived, 2),
          },
        }
      : {}),
    ...(probed ? { probe: probed } : {}),
    ...(suts.length > 1
      ? { instances: suts.length, cpuSecondsByInstance: cpuByInstance.map((c) => round(c, 2)) }
      : {}),
    sandboxCpuSeconds: round((mainCpu.user + mainCpu.system) / 1e6, 2),
    sandboxEventLoopUtilisation: round(mainElu.utilization, 2),
    ...(stealBefore && stealAfter && stealAfter.total > stealBefore.total
      ? {
          stolenShare: round(
            (stealAfter.steal - stealBefore.steal) / (stealAfter.total - stealBefore.total),
            3,
          ),
        }
      : {}),
    // Several processes: the busiest one's.
    sutEventLoopUtilisation: Math.max(
      ...suts.map((_, i) => {
        const [b, a] = [before.each[i]!.stats, after.each[i]!.stats];
        return round(
          (a.eluActiveMs - b.eluActiveMs) / (a.eluActiveMs - b.eluActiveMs + a.eluIdleMs - b.eluIdleMs),
          2,
        );
      }),
    ),
    peakRssBytes: Math.max(...after.each.map((a) => a.stats.maxRssBytes)),
    endRssBytes: Math.max(...after.each.map((a) => a.stats.rssBytes)),
    startRssAfterGcBytes: startGc.rssBytes,
    endRssAfterGcBytes: endGc.rssBytes,
    endHeapAfterGcBytes: endGc.heapUsedBytes,
    vendorCalls: vendorCallFigures(calls, startedAt),
    webhookFailures: deliveries.filter((d) => d.status < 200 || d.status >= 300).length,
    sutFailures: after.failures,
    wallSeconds: round((endedAt - startedAt) / 1000, 1),
    ...(incomplete ? { incomplete } : {}),
    ...(traffic.violations.length ? { violations: traffic.violations } : {}),
    leftBehindPerComment: round(traffic.leftBehind / Math.max(1, traffic.comments), 2),
    ...(spec.profileFile ? { profileFile: spec.profileFile } : {}),
  };
}

/**
 * The probe: each of its customers, alone in the bridge, opens a ticket and gets a reply (traced apart: an opening,
 * and a first reply that saves the conversation once), then sends one more message and gets one more reply, each
 * traced: the figures. Round trips are split at the delivery (the emulator has the comment; BLiP has the reply), on
 * the machine's monotonic clock.
 */
async function runProbe(
  spec: LoadSpec,
  lime: LimeServer,
  probe: Traffic,
  sut: SutProcess,
  agentReply: (ticketId: number, text: string) => Promise<unknown>,
): Promise<ProbeResult> {
  const result: ProbeResult = {
    toHelpdesk: [],
    toCustomer: [],
    openingToHelpdesk: [],
    openingToCustomer: [],
    scans: 0,
  };
  // After a delivery, the bridge finishes its bookkeeping (dedupe mark, acknowledgement) within milliseconds.
  const settle = (): Promise<void> => sleep(150);
  const until = async (done: () => boolean): Promise<boolean> => {
    const deadline = performance.now() + 10_000;
    while (!done()) {
      if (performance.now() > deadline) return false;
      await sleep(1);
    }
    return true;
  };
  const direction = (trips: RedisTrip[], from: number, delivered: number): ProbeDirection => {
    const mine = trips.filter((t) => t.startMs >= from);
    const before = mine.filter((t) => t.startMs < delivered);
    const after = mine.filter((t) => t.startMs >= delivered);
    const show = (list: RedisTrip[]) => list.map((t) => t.commands.join(' + ')).join(' → ');
    return {
      before: before.length,
      after: after.length,
      commands: mine.reduce((n, t) => n + t.commands.length, 0),
      trace: `${show(before)} | ${show(after)}`,
    };
  };
  // Every probe customer opens first; then each sends its traced message in turn, a steady pace of one vendor call
  // every few hundred milliseconds (a process this slow still uses the rate limiter's slots taken ahead, for a second).
  await settle();
  for (let m = 0; m < probe.messages; m++) {
    for (let i = 0; i < probe.count; i++) {
      const c = probe.base + i;
      const traced = m === probe.messages - 1;
      await sut.traceStart();
      const arrived = probe.arrived;
      const sentAt = monotonicMs();
      probe.sendMessage(lime, i, m);
      if (!(await until(() => probe.arrived > arrived))) break;
      const commentAt = probe.lastCommentAtMono;
      await settle();
      {
        const { trips, scans } = await sut.traceStop();
        (traced ? result.toHelpdesk : result.openingToHelpdesk!).push(direction(trips, sentAt, commentAt));
        result.scans += scans;
        await sut.traceStart();
      }
      const replies = probe.repliesArrived;
      const postedAt = monotonicMs();
      probe.onReplyPosted(c, m, performance.now());
      await agentReply(probe.ticketOf.get(c)!, probe.text(c, m, 'a'));
      if (!(await until(() => probe.repliesArrived > replies))) break;
      const replyAt = probe.lastReplyAtMono;
      await settle();
      {
        const { trips, scans } = await sut.traceStop();
        (traced ? result.toCustomer : result.openingToCustomer!).push(direction(trips, postedAt, replyAt));
        result.scans += scans;
      }
    }
  }
  spec.say(
    `    probe: ${result.toHelpdesk.length} messages alone; round trips before | after delivery: to the helpdesk ` +
      `${result.toHelpdesk.map((d) => `${d.before}|${d.after}`).join(' ')}, to the customer ` +
      `${result.toCustomer.map((d) => `${d.before}|${d.after}`).join(' ')}`,
  );
  return result;
}

/** Waits until `done()`, or until nothing arrived for `stallMs`; resolves with the reason when it gave up. */
async function waitFor(done: () => boolean, traffic: Traffic, stallMs: number): Promise<string | undefined> {
  while (!done()) {
    if (performance.now() - traffic.progressAt > stallMs) {
      return (
        `stalled: ${traffic.arrived}/${traffic.sent} customer messages and ` +
        `${traffic.repliesArrived}/${traffic.repliesSent} agent replies arrived, ${traffic.replyErrors} reply errors`
      );
    }
    await sleep(20);
  }
  return undefined;
}

function perMessage(
  before: Record<string, number>,
  after: Record<string, number>,
  messages: number,
): { perMessage: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, calls] of Object.entries(after)) {
    // The benchmark's own INFO (one before, one after) and the connection set-up of its client.
    const made =
      calls - (before[command] ?? 0) - (['info', 'hello', 'client|setinfo'].includes(command) ? 1 : 0);
    if (made <= 0 || messages === 0) continue;
    byCommand[command] = round(made / messages, 2);
    total += made;
  }
  return { perMessage: round(total / Math.max(1, messages), 2), byCommand };
}

function cpuOf(before: SutStats, after: SutStats): number {
  return (after.cpuUserUs - before.cpuUserUs + after.cpuSystemUs - before.cpuSystemUs) / 1e6;
}

function vendorCallFigures(
  calls: Array<{ at: Date; method: string; path: string; status?: number }>,
  startedAtPerf: number,
): VendorCallFigures {
  const startedAtWall = performance.timeOrigin + startedAtPerf;
  const byKind: Record<string, number> = {};
  let rateLimited = 0;
  let failed = 0;
  const timeline: VendorCallFigures['timeline'] = [];
  for (const call of calls) {
    const kind = /^\/api\/v2\/tickets(\?|$)/.test(call.path)
      ? 'POST tickets'
      : /^\/api\/v2\/tickets\/\d+/.test(call.path) && call.method === 'PUT'
        ? 'PUT tickets'
        : call.path.startsWith('/api/v2/users')
          ? 'POST users'
          : `${call.method} other`;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    const status = call.status ?? 0;
    if (status === 429) rateLimited++;
    else if (status < 200 || status >= 300) failed++;
    timeline.push({ atS: round((call.at.getTime() - startedAtWall) / 1000, 3), kind, status });
  }
  return { total: calls.length, byKind, rateLimited, failed, timeline };
}

/** `promise`, or a rejection after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The send times of a run whose conversations start one after another: customer `i` starts at `i × messages / rate`
 * seconds and writes message `m` at `m × gapSeconds` after that. In the steady state `rate` customer messages per
 * second are offered, one in `messages` of them opening a ticket, as when customers arrive over time; customers in
 * turn instead offer every opening first, a burst of the most expensive work at the average rate.
 */
export function staggered(
  customers: number,
  messages: number,
  rate: number,
  gapSeconds: number,
): Array<{ i: number; m: number; atMs: number }> {
  const startEveryMs = (messages / rate) * 1000;
  const schedule: Array<{ i: number; m: number; atMs: number }> = [];
  for (let i = 0; i < customers; i++) {
    for (let m = 0; m < messages; m++)
      schedule.push({ i, m, atMs: i * startEveryMs + m * gapSeconds * 1000 });
  }
  return schedule.sort((a, b) => a.atMs - b.atMs || a.i - b.i);
}

/** The machine's CPU time so far, in clock ticks: all of it and the part stolen by the hypervisor (Linux only). */
function cpuSteal(): { steal: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user already)
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return undefined;
    return { steal: ticks[7]!, total: ticks.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}
