/**
 * The fault-injection ("chaos") run: real Redis with AOF, the local BLiP (LIME server), the Zendesk emulator, and
 * several real bridge processes behind a round-robin proxy for the webhooks. Customers and agents talk while
 * processes are killed, the vendor storms, times out and rate-limits, Redis crashes and BLiP drops the bot's
 * connections. At the end, what the helpdesk and BLiP recorded is checked (./verify.ts).
 *
 * The customers and agents behave like the real ones, and no better:
 * - a customer sends one message at a time and waits for the bot's `received` (BRIDGE_READ_RECEIPTS=agent, the
 *   default: sent once the message is recorded; `consumed` waits for an agent); without it (the process
 *   that got the message died before recording it: BLiP's at-most-once, not ours) they send the same envelope id
 *   again after `consumedTimeoutMs`. Those resends are counted.
 * - an agent replies through signed webhooks; a delivery not answered 2xx is delivered again, as Zendesk does.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { LimeServer, type SandboxCustomer, type SentByBot } from '../../sandbox/lime-server';
import type { WebhookDelivery } from '../../sandbox/vendor-emulator';
import {
  type EmulatedComment,
  type EmulatedTicket,
  ZendeskEmulator,
} from '../../src/adapters/zendesk/emulator';
import { silentLogger } from '../../src/core/logger';
import { createState, type State } from '../../src/state/create-store';
import { freePort } from '../helpers/redis-server';
import type { ChaosOptions } from './options';
import { AofRedis, BridgeProcess } from './processes';
import {
  attributeDuplicates,
  type Duplicate,
  type DuplicateCause,
  duplicateCauses as knownCauses,
  type Incidents,
} from './attribute';
import { ApiTap, type ProxyStats, RoundRobinProxy, type TappedCall } from './proxy';
import { type ObservedDeadLetter, type ScriptedCustomer, type Verdict, verify } from './verify';

// The sandbox's bot and keys (sandbox/harness.ts, sandbox/emulators.ts), repeated so the driver does not load the
// bridge itself: the bridges are the child processes.
const BOT_ID = 'acmehelpdesk';
const BOT = `${BOT_ID}@msging.net`;
const ACCESS_KEY = Buffer.from('sandbox-access-key').toString('base64');
const WEBHOOK_SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';
/** The bridge's own texts: known here, so they are told apart from the agents' replies. */
const AUTOMATIC = '[auto] ';
const CLOSING_TEXT = `${AUTOMATIC}closed`;

export type FaultKind =
  'kill -9 bridge' | '5xx storm' | '429 burst' | 'timeouts' | 'Redis restart' | 'WS drop';

export interface LatencyFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ChaosReport {
  options: ChaosOptions;
  verdict: Verdict;
  /** Faults injected, by kind. */
  faults: Record<FaultKind, number>;
  /** Vendor API calls the emulator answered with a fault, by kind (`503`, `429`, `late`, `hang`). */
  faultedCalls: Record<string, number>;
  apiCalls: number;
  /** Customer messages sent again because the bot's `received` did not come in time. */
  resends: number;
  /** Customer messages that waited because no bot session was up (all bridges down or reconnecting). */
  heldWithoutSession: number;
  /** Webhook deliveries repeated because the first was not answered 2xx. */
  webhookRedeliveries: number;
  proxy: ProxyStats;
  latency: { toHelpdesk: LatencyFigures; toCustomer: LatencyFigures };
  /** Bridge exit codes on the final SIGTERM (0: drained and exited in time). */
  exitCodes: Array<number | null>;
  /** Each extra copy of a customer message on a ticket, with the reason the bridge posted it again. */
  duplicates: Duplicate[];
  duplicateCauses: Record<DuplicateCause, number>;
  /** Warning and error lines in the bridges' logs, by level and code. */
  logCodes: Array<{ key: string; count: number }>;
  /** The driver's own failures (a customer or agent that gave up). */
  driverProblems: string[];
  startedAt: string;
  loadSeconds: number;
  settleSeconds: number;
  wallSeconds: number;
  logDir: string;
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    platform: string;
    /** 1-minute load average when the run started and when it ended (other work on the machine shows here). */
    load: [number, number];
    /** This process's event-loop delay: beyond a second or so, the traced calls' timings are blurred. */
    driverLagMs: { p99: number; max: number };
  };
}

/** A small seeded generator (mulberry32), so a seed gives the same pacing and fault order. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function latency(samples: number[]): LatencyFigures {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { samples: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0 };
}

interface CustomerRun extends ScriptedCustomer {
  n: number;
  lime: SandboxCustomer;
  ticketId?: string;
  sentAt: Map<string, number>;
  repliedAt: Map<string, number>;
  arrived: Set<string>;
  received: Set<string>;
  redirected: boolean;
  random: () => number;
}

export async function runChaos(
  options: ChaosOptions,
  say: (line: string) => void = () => {},
): Promise<ChaosReport> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  // This process plays BLiP, Zendesk and every customer: when it lags, calls reach the emulator late.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  const startedAt = new Date(started).toISOString();
  const logDir = path.resolve(options.outputDir, startedAt.replace(/[:.]/g, '-'));
  await mkdir(logDir, { recursive: true });
  const redisDir = await mkdtemp(path.join(os.tmpdir(), 'bhb-chaos-redis-'));
  const random = seededRandom(options.seed);
  const duration = options.durationSeconds * 1000;
  const driverProblems: string[] = [];
  const faults: Record<FaultKind, number> = {
    'kill -9 bridge': 0,
    '5xx storm': 0,
    '429 burst': 0,
    timeouts: 0,
    'Redis restart': 0,
    'WS drop': 0,
  };
  const counters = { resends: 0, heldWithoutSession: 0, webhookRedeliveries: 0 };
  const toHelpdeskMs: number[] = [];
  /** Every customer send (and resend), for the forensics file. */
  const sends: Array<{ id: string; at: number; consumed?: number }> = [];
  const toCustomerMs: number[] = [];

  const redis = new AofRedis(await freePort(), redisDir, path.join(logDir, 'redis.log'));
  let lime: LimeServer | undefined;
  let helpdesk: ZendeskEmulator | undefined;
  let proxy: RoundRobinProxy | undefined;
  let state: State | undefined;
  const bridges: BridgeProcess[] = [];
  const taps: ApiTap[] = [];
  const calls = new Map<string, TappedCall>();
  const incidents: Incidents = {
    kills: new Map(),
    redisDown: [],
    vendorTimeoutMs: options.vendorTimeoutMs,
    lagMs: 0,
  };
  try {
    await redis.start();
    lime = await LimeServer.start({ accounts: { [BOT_ID]: ACCESS_KEY }, router: 'acmerouter@msging.net' });
    helpdesk = await ZendeskEmulator.start({
      email: 'bridge@acme.example',
      apiToken: 'sandbox-token',
      webhookSecret: WEBHOOK_SECRET,
      validateRequests: options.validate,
    });
    // The request validator compiles each operation's schema on its first call, holding this process for a while
    // (seconds on a loaded machine): do it now, with requests it refuses, not amid the bridges' first calls.
    if (helpdesk.validating) {
      const authorization = `Basic ${Buffer.from('bridge@acme.example/token:sandbox-token').toString('base64')}`;
      for (const [method, url] of [
        ['POST', '/api/v2/users/create_or_update'],
        ['POST', '/api/v2/tickets'],
        ['PUT', '/api/v2/tickets/1'],
        ['GET', '/api/v2/tickets/1'],
        ['GET', '/api/v2/tickets/1/comments'],
      ] as const) {
        await fetch(`${helpdesk.url}${url}`, {
          method,
          headers: { authorization, 'content-type': 'application/json' },
          ...(method === 'GET' ? {} : { body: '{}' }),
        }).catch(() => undefined);
      }
    }
    proxy = await RoundRobinProxy.start(() => bridges.map((b) => b.port));
    helpdesk.setWebhookTarget(`${proxy.url}/webhooks/zendesk`);
    state = createState(redis.url, silentLogger);

    for (let i = 0; i < options.processes; i++) {
      // Each process reaches the vendor through its own tap, which tells which process made each call.
      const tap = await ApiTap.start(i + 1, helpdesk.url, calls);
      taps.push(tap);
      const env = {
        BLIP_IDENTIFIER: BOT_ID,
        BLIP_ACCESS_KEY: ACCESS_KEY,
        BLIP_SCHEME: 'ws',
        BLIP_HOST: '127.0.0.1',
        BLIP_PORT: String(lime.port),
        BLIP_INSTANCE: `chaos-${i + 1}`,
        ...helpdesk.bridgeEnv(),
        ZENDESK_BASE_URL: tap.url,
        ZENDESK_REQUESTS_PER_MINUTE: String(options.requestsPerMinute),
        ZENDESK_TIMEOUT_MS: String(options.vendorTimeoutMs),
        HTTP_HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        LOG_LEVEL: options.logLevel,
        LOG_FORMAT: 'json',
        WORK_RETRY_MAX_SECONDS: String(options.retryMaxSeconds),
        WORK_MAX_ATTEMPTS: String(options.maxAttempts),
        BRIDGE_CLOSING_MESSAGE: CLOSING_TEXT,
        BRIDGE_WAITING_MESSAGE: `${AUTOMATIC}waiting`,
        BRIDGE_ASSIGNED_MESSAGE: `${AUTOMATIC}{agent} joined`,
      };
      bridges.push(new BridgeProcess(i + 1, await freePort(), env, path.join(logDir, `bridge-${i + 1}.log`)));
    }
    say(`starting ${bridges.length} bridge processes (logs in ${logDir})`);
    await Promise.all(bridges.map((b) => b.start(120_000)));

    // ---- the cast ----
    const customers: CustomerRun[] = Array.from({ length: options.customers }, (_, n) => {
      const originator = `5511${String(900_000_000 + n)}@wa.gw.msging.net`;
      const address = lime!.customer(originator, BOT);
      return {
        n,
        originator,
        address: address.address,
        lime: address,
        messages: Array.from({ length: options.messages }, (_, j) => `c${n} m${j + 1}`),
        replies: Array.from({ length: options.replies }, (_, k) => `c${n} r${k + 1}`),
        sentAt: new Map(),
        repliedAt: new Map(),
        arrived: new Set(),
        received: new Set(),
        redirected: false,
        random: seededRandom(options.seed * 100_003 + n),
      };
    });
    const byOriginator = new Map(customers.map((c) => [c.originator, c]));
    const byAddress = new Map(customers.map((c) => [c.address, c]));

    // What reaches the helpdesk and the customer, as it happens (for the delays and the progress line).
    helpdesk.on('comment', (ticket: EmulatedTicket, comment: EmulatedComment) => {
      if (comment.author_id !== ticket.requester_id) return;
      const c = byOriginator.get(helpdesk!.users.get(ticket.requester_id)?.external_id ?? '');
      if (!c) return;
      c.ticketId ??= String(ticket.id);
      for (const piece of comment.body.split('\n\n')) {
        const sentAt = c.sentAt.get(piece);
        if (sentAt !== undefined && !c.arrived.has(piece)) toHelpdeskMs.push(Date.now() - sentAt);
        c.arrived.add(piece);
      }
    });
    lime.on('sent', (s: SentByBot) => {
      const c = byAddress.get(s.envelope.to);
      if (!c) return;
      if (s.envelope.type === 'application/vnd.lime.redirect+json') c.redirected = true;
      if (s.envelope.type !== 'text/plain') return;
      const text = String(s.envelope.content);
      const repliedAt = c.repliedAt.get(text);
      if (repliedAt !== undefined && !c.received.has(text)) toCustomerMs.push(Date.now() - repliedAt);
      c.received.add(text);
    });

    const loadStart = Date.now();
    lag.enable();
    const hardDeadline = loadStart + duration * 3 + options.settleSeconds * 1000;

    // ---- webhooks, delivered again until answered 2xx ----
    const untilAccepted = async (first: Promise<WebhookDelivery>, what: string): Promise<boolean> => {
      let delivery = await first;
      for (let attempt = 1; delivery.status < 200 || delivery.status >= 300; attempt++) {
        if (Date.now() > hardDeadline) {
          driverProblems.push(`${what}: never answered 2xx (last ${delivery.status})`);
          return false;
        }
        counters.webhookRedeliveries++;
        await sleep(Math.min(200 * 2 ** attempt, 3_000));
        delivery = await helpdesk!.deliverRaw(delivery.body, helpdesk!.signedHeaders(delivery.body));
      }
      return true;
    };

    // ---- a customer: one message at a time, resent when not consumed ----
    const send = async (c: CustomerRun, index: number): Promise<void> => {
      const text = c.messages[index]!;
      const id = `chaos-c${c.n}-m${index + 1}`;
      c.sentAt.set(text, Date.now());
      let held = false;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > hardDeadline) {
          driverProblems.push(`${c.originator}: gave up sending "${text}"`);
          return;
        }
        try {
          lime!.sendFromCustomer(BOT, c.lime, 'text/plain', text, { id });
        } catch {
          // No bot session at all right now (every process down or reconnecting): the router holds it.
          if (!held) counters.heldWithoutSession++;
          held = true;
          attempt--;
          await sleep(250);
          continue;
        }
        if (attempt > 0) counters.resends++;
        const sent: (typeof sends)[number] = { id, at: Date.now() };
        sends.push(sent);
        // `received`: recorded (BRIDGE_READ_RECEIPTS=agent; `consumed` comes once an agent saw it).
        if (await lime!.waitForNotification(id, 'received', options.consumedTimeoutMs)) {
          sent.consumed = Date.now();
          return;
        }
      }
    };

    const agent = async (c: CustomerRun, gap: number): Promise<void> => {
      while (!c.ticketId && Date.now() < hardDeadline) await sleep(100);
      const ticketId = c.ticketId;
      if (!ticketId) {
        driverProblems.push(`${c.originator}: the agent never saw a ticket`);
        return;
      }
      for (const text of c.replies) {
        await sleep(c.random() * 2 * gap);
        c.repliedAt.set(text, Date.now());
        await untilAccepted(helpdesk!.agentReply(ticketId, text), `${c.originator} reply "${text}"`);
      }
    };

    const customer = async (c: CustomerRun): Promise<void> => {
      await sleep(c.random() * duration * 0.25);
      const gap = (duration * 0.6) / options.messages;
      const agentDone = agent(c, (duration * 0.6) / Math.max(1, options.replies));
      for (let j = 0; j < c.messages.length; j++) {
        await send(c, j);
        // People often write in bursts ("oi" / "tudo bem?" / "preciso de ajuda"): then the next one at once.
        await sleep(c.random() < 0.4 ? c.random() * 150 : (c.random() * 2 * gap) / 0.6);
      }
      await agentDone;
      if (c.ticketId) await untilAccepted(helpdesk!.closeTicket(c.ticketId), `${c.originator} close`);
    };

    // ---- the faults, spread over the load ----
    const pendingRestarts = new Set<Promise<void>>();
    let nextVictim = 0;
    const inject = async (kind: FaultKind): Promise<void> => {
      faults[kind]++;
      switch (kind) {
        case 'kill -9 bridge': {
          // Keep at least one process up when there are several: a kill is one instance dying, not an outage.
          const waitUntil = Date.now() + 60_000;
          while (bridges.length > 1 && bridges.filter((b) => b.ready).length < bridges.length) {
            if (Date.now() > waitUntil) break;
            await sleep(100);
          }
          const victim = bridges[nextVictim++ % bridges.length]!;
          say(`fault: kill -9 bridge ${victim.index} (pid ${victim.pid})`);
          await victim.kill9();
          incidents.kills.set(victim.index, [...(incidents.kills.get(victim.index) ?? []), Date.now()]);
          const restart = sleep(options.restartAfterMs)
            .then(() => victim.start(120_000))
            .catch((err: unknown) => {
              driverProblems.push(`bridge ${victim.index} did not come back: ${String(err)}`);
            });
          pendingRestarts.add(restart);
          void restart.finally(() => pendingRestarts.delete(restart));
          return;
        }
        case '5xx storm':
          say(`fault: vendor 5xx storm for ${options.stormMs} ms`);
          return helpdesk!.stormFor(options.stormMs, 503);
        case '429 burst':
          say(`fault: vendor 429 burst for ${options.burstMs} ms`);
          return helpdesk!.rateLimitFor(options.burstMs, 1);
        case 'timeouts': {
          const { timeoutCalls: calls, timeoutMode: mode } = options;
          const late = mode === 'late' ? calls : mode === 'hang' ? 0 : Math.ceil(calls / 2);
          say(`fault: ${calls} vendor calls time out (${late} done but answered late)`);
          helpdesk!.slowNext(late, options.vendorTimeoutMs + 1_000, 'late');
          helpdesk!.slowNext(calls - late, options.vendorTimeoutMs + 1_000, 'hang');
          return;
        }
        case 'Redis restart': {
          say(`fault: Redis kill -9, back after ${options.redisDownMs} ms`);
          const down = Date.now();
          await redis.kill9();
          await sleep(options.redisDownMs);
          await redis.start();
          incidents.redisDown.push([down, Date.now()]);
          return;
        }
        case 'WS drop':
          say('fault: BLiP drops every bot connection');
          lime!.dropConnections();
          return;
      }
    };
    const plan: FaultKind[] = [
      ...Array<FaultKind>(options.kills).fill('kill -9 bridge'),
      ...Array<FaultKind>(options.storms).fill('5xx storm'),
      ...Array<FaultKind>(options.bursts).fill('429 burst'),
      ...Array<FaultKind>(options.timeouts).fill('timeouts'),
      ...Array<FaultKind>(options.redisRestarts).fill('Redis restart'),
      ...Array<FaultKind>(options.wsDrops).fill('WS drop'),
    ];
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    const faultsDone = (async () => {
      for (const [i, kind] of plan.entries()) {
        await sleep(loadStart + duration * (0.1 + (0.75 * (i + 0.5)) / plan.length) - Date.now());
        await inject(kind).catch((err: unknown) =>
          driverProblems.push(`fault ${kind} failed: ${String(err)}`),
        );
      }
    })();

    const progress = setInterval(() => {
      const arrived = customers.reduce((n, c) => n + c.arrived.size, 0);
      const received = customers.reduce((n, c) => n + c.replies.filter((r) => c.received.has(r)).length, 0);
      const redirected = customers.filter((c) => c.redirected).length;
      say(
        `t=${Math.round((Date.now() - loadStart) / 1000)}s messages ${arrived}/${options.customers * options.messages}` +
          ` replies ${received}/${options.customers * options.replies}` +
          ` redirects ${redirected}/${options.customers} resends ${counters.resends}` +
          ` redeliveries ${counters.webhookRedeliveries}`,
      );
    }, 5_000);
    progress.unref();

    say(
      `load: ${options.customers} customers x ${options.messages} messages, ${options.replies} replies each`,
    );
    await Promise.all(customers.map((c) => customer(c)));
    await faultsDone;
    await Promise.all([...pendingRestarts]);
    const loadSeconds = (Date.now() - loadStart) / 1000;

    // ---- settle: everything arrives, the queue drains ----
    const settleStart = Date.now();
    const settleDeadline = settleStart + options.settleSeconds * 1000;
    const complete = (): boolean =>
      customers.every(
        (c) =>
          c.redirected &&
          c.messages.every((m) => c.arrived.has(m)) &&
          c.replies.every((r) => c.received.has(r)),
      );
    const queued = async (): Promise<number> => {
      const depth = await state!.queue.depth().catch(() => undefined);
      return depth ? depth.queued : Number.POSITIVE_INFINITY;
    };
    while (Date.now() < settleDeadline && !(complete() && (await queued()) === 0)) await sleep(500);
    // Late duplicates (a retry in backoff) would show up now.
    await sleep(2_000);
    clearInterval(progress);
    const settleSeconds = (Date.now() - settleStart) / 1000;
    // Measured over the run only (what follows is bookkeeping).
    const driverLagMs = { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
    lag.disable();
    incidents.lagMs = driverLagMs.max;

    const exitCodes = await Promise.all(bridges.map((b) => b.stop()));
    const depth = await state.queue.depth().catch(() => ({ queued: -1 }));
    const deadLetters: ObservedDeadLetter[] = (await state.queue.deadLetters()).map((l) => ({
      id: l.id,
      code: l.code,
      reason: l.reason,
      kind: l.work.item.kind,
    }));

    // Forensics: every vendor API call and every LIME message the bot sent, one JSON line each.
    await writeFile(
      path.join(logDir, 'api-calls.jsonl'),
      helpdesk.requests
        .map((r) => {
          const call = String(r.headers['x-chaos-call'] ?? '');
          const { at, method, path: url, status, fault, body } = r;
          return JSON.stringify({ at, call, tap: calls.get(call), method, path: url, status, fault, body });
        })
        .join('\n'),
    );
    await writeFile(
      path.join(logDir, 'customer-sends.jsonl'),
      sends.map((x) => JSON.stringify(x)).join('\n'),
    );
    await writeFile(
      path.join(logDir, 'lime-sent.jsonl'),
      lime.sent.map((s) => JSON.stringify({ at: s.at, ...s.envelope })).join('\n'),
    );

    const verdict = verify(
      customers,
      {
        tickets: helpdesk.tickets(),
        sent: lime.sent.map((s) => ({
          id: s.envelope.id,
          to: s.envelope.to,
          type: s.envelope.type,
          content: s.envelope.content,
        })),
        closingText: CLOSING_TEXT,
        automaticPrefix: AUTOMATIC,
        deadLetters,
        queued: depth.queued,
      },
      { strictIds: options.strictIds },
    );

    const tickets = helpdesk.tickets();
    const copies = new Map<string, number>();
    for (const t of tickets) {
      for (const piece of t.customerMessages.flatMap((m) => m.split('\n\n'))) {
        copies.set(piece, (copies.get(piece) ?? 0) + 1);
      }
    }
    const duplicates = attributeDuplicates(
      helpdesk.requests,
      calls,
      incidents,
      new Set([...copies].filter(([, n]) => n > 1).map(([text]) => text)),
    );
    await writeFile(
      path.join(logDir, 'duplicates.jsonl'),
      duplicates
        .map((d) => JSON.stringify({ ...d, tapped: d.call ? calls.get(d.call) : undefined }))
        .join('\n'),
    );
    const causes = Object.fromEntries(knownCauses.map((c) => [c, 0])) as Record<DuplicateCause, number>;
    for (const d of duplicates) causes[d.cause]++;

    return {
      options,
      verdict,
      duplicates,
      duplicateCauses: causes,
      faults,
      faultedCalls: helpdesk.faultCounts(),
      apiCalls: helpdesk.requests.length,
      resends: counters.resends,
      heldWithoutSession: counters.heldWithoutSession,
      webhookRedeliveries: counters.webhookRedeliveries,
      proxy: { ...proxy.stats },
      latency: { toHelpdesk: latency(toHelpdeskMs), toCustomer: latency(toCustomerMs) },
      exitCodes,
      logCodes: await logCodes(bridges.map((b) => b.logFile)),
      driverProblems,
      startedAt,
      loadSeconds,
      settleSeconds,
      wallSeconds: (Date.now() - started) / 1000,
      logDir,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        load: [loadAtStart, os.loadavg()[0]!],
        driverLagMs,
      },
    };
  } finally {
    lag.disable();
    await Promise.allSettled(bridges.map((b) => b.stop(5_000)));
    await Promise.allSettled(bridges.map((b) => b.closeLog()));
    await state?.store.close().catch(() => {});
    await Promise.allSettled([
      redis.stop(),
      lime?.stop(),
      helpdesk?.stop(),
      proxy?.stop(),
      ...taps.map((t) => t.stop()),
    ]);
    await rm(redisDir, { recursive: true, force: true });
  }
}

/** Warning and error lines of the bridges' JSON logs, counted by level and code (or message). */
async function logCodes(files: string[]): Promise<Array<{ key: string; count: number }>> {
  const counts = new Map<string, number>();
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: string; code?: string; message?: string };
        const key = `${entry.level ?? '?'} ${entry.code ?? entry.message ?? '?'}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } catch {
        // a line cut by kill -9
      }
    }
  }
  return [...counts.entries()].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count);
}
