/**
 * What a benchmark run reports: the targets (PASS/FAIL, decided on the median of the rounds), a markdown table, a
 * hand-written SVG chart
 * (throughput and latency percentiles, bridge vs raw relay) and the README's Performance figures.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as prettier from 'prettier';
import type { IdleResult } from './idle';
import type { LoadResult, ProbeDirection, ProbeResult } from './load';
import type { BenchOptions } from './options';
import type { ProfileSummary } from './profile';
import type { RateLimitResult } from './ratelimit';
import { mb, medianIndex, medianPairIndex, p99Ratio, round } from './stats';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  loadAverageStart: number[];
  loadAverageEnd?: number[];
  note?: string;
}

export interface HalfLoad {
  /** Customer messages per second offered to both: half the bridge's maximum. */
  rate: number;
  /**
   * Seconds between a customer's messages; conversations start one after another (`staggered` in ./load.ts).
   * Absent in results written before it: customers in turn, every ticket opened first.
   */
  gapSeconds?: number;
  bridge: LoadResult;
  raw: LoadResult;
}

export interface ThroughputResults {
  /** Each system's median round (by customer msg/s), whole; the scale-out run of the Redis run's round. */
  max: { raw: LoadResult; memory: LoadResult; redis: LoadResult; scaleOut?: LoadResult };
  /** The Redis round trips of each round's probe (absent in results written before it). */
  probes?: ProbeResult[];
  /** Each state's median round (by the pair's p99 ratio), whole. */
  halfLoad: { memory: HalfLoad; redis: HalfLoad };
  /** Of round 1 only. */
  profiles: Array<{ label: string; file: string } & ProfileSummary>;
  /** Every round's figures, in the order they ran. Absent in results written before rounds (one round). */
  rounds?: Rounds;
}

/** What decides the throughput targets, of one maximum-throughput run. */
export interface Headline {
  customerMessagesPerSecond: number;
  agentRepliesPerSecond: number;
  cpuSecondsPer1000: number;
  redisPerCustomerMessage?: { sent: number; executed: number };
  instances?: number;
  cpuSecondsByInstance?: number[];
  /** Everything sent arrived, once and in order. */
  sound: boolean;
}

/** What decides the latency target, of one half-load run. */
export interface HalfHeadline {
  toHelpdesk: { p50Ms: number; p99Ms: number };
  toCustomer: { p50Ms: number; p99Ms: number };
  sound: boolean;
}

export interface Rounds {
  max: Array<{ raw: Headline; memory: Headline; redis: Headline; scaleOut?: Headline }>;
  halfLoad: {
    memory: Array<{ bridge: HalfHeadline; raw: HalfHeadline }>;
    redis: Array<{ bridge: HalfHeadline; raw: HalfHeadline }>;
  };
}

export interface Target {
  id: string;
  scenario: string;
  target: string;
  measured: string;
  result: 'PASS' | 'FAIL';
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  machine: Machine;
  options: BenchOptions;
  command: string;
  throughput?: ThroughputResults;
  idle?: IdleResult;
  rateLimit?: RateLimitResult;
  targets: Target[];
}

const pct = (ratio: number, digits = 0): string => `${round(ratio * 100, digits)}%`;
const ms = (value: number): string =>
  !Number.isFinite(value) ? '–' : value >= 1000 ? `${round(value / 1000, 2)} s` : `${round(value, 1)} ms`;
const num = (value: number): string => (Number.isFinite(value) ? value.toLocaleString('en-US') : '–');

/** A run is sound when everything sent arrived, once and in order. */
function sound(run: LoadResult): boolean {
  return (
    !run.incomplete &&
    run.arrived === run.sent &&
    run.repliesArrived === run.repliesSent &&
    run.duplicates + run.outOfOrder + run.repliesDuplicated + run.repliesOutOfOrder === 0
  );
}

export function headline(run: LoadResult): Headline {
  return {
    customerMessagesPerSecond: run.customerMessagesPerSecond,
    agentRepliesPerSecond: run.agentRepliesPerSecond,
    cpuSecondsPer1000: run.cpuSecondsPer1000,
    ...(run.redisPerCustomerMessage ? { redisPerCustomerMessage: run.redisPerCustomerMessage } : {}),
    ...(run.instances
      ? { instances: run.instances, cpuSecondsByInstance: run.cpuSecondsByInstance ?? [] }
      : {}),
    sound: sound(run),
  };
}

export function halfHeadline(run: LoadResult): HalfHeadline {
  const p = (l: LoadResult['toHelpdesk']) => ({ p50Ms: l.p50Ms, p99Ms: l.p99Ms });
  return { toHelpdesk: p(run.toHelpdesk), toCustomer: p(run.toCustomer), sound: sound(run) };
}

type Rates = Pick<Headline, 'customerMessagesPerSecond' | 'agentRepliesPerSecond'>;

/** Bridge / raw relay throughput, each direction. */
function throughputRatio(bridge: Rates, raw: Rates): { toHelpdesk: number; toCustomer: number } {
  return {
    toHelpdesk: bridge.customerMessagesPerSecond / raw.customerMessagesPerSecond,
    toCustomer: bridge.agentRepliesPerSecond / raw.agentRepliesPerSecond,
  };
}

const times = (ratio: number): string => (Number.isFinite(ratio) ? `${round(ratio, 1)}×` : '–');

/** The rounds when there are several (with one, the representatives are all there is to say). */
function severalRounds(t: ThroughputResults): Rounds | undefined {
  return t.rounds && t.rounds.max.length > 1 ? t.rounds : undefined;
}

/** The median of some figures (the lower middle with an even count: a figure that was measured). */
function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : NaN;
}

/** Every round's headline figures (results written before rounds: the representatives, one round). */
function allRounds(t: ThroughputResults): Rounds {
  const half = (state: 'memory' | 'redis') => [
    { bridge: halfHeadline(t.halfLoad[state].bridge), raw: halfHeadline(t.halfLoad[state].raw) },
  ];
  if (t.rounds) {
    // Results of one round may list no half-load rounds: the representatives are that round.
    return {
      max: t.rounds.max,
      halfLoad: {
        memory: t.rounds.halfLoad.memory.length ? t.rounds.halfLoad.memory : half('memory'),
        redis: t.rounds.halfLoad.redis.length ? t.rounds.halfLoad.redis : half('redis'),
      },
    };
  }
  return {
    max: [
      {
        raw: headline(t.max.raw),
        memory: headline(t.max.memory),
        redis: headline(t.max.redis),
        ...(t.max.scaleOut ? { scaleOut: headline(t.max.scaleOut) } : {}),
      },
    ],
    halfLoad: {
      memory: [{ bridge: halfHeadline(t.halfLoad.memory.bridge), raw: halfHeadline(t.halfLoad.memory.raw) }],
      redis: [{ bridge: halfHeadline(t.halfLoad.redis.bridge), raw: halfHeadline(t.halfLoad.redis.raw) }],
    },
  };
}

/** CPU per customer message with its reply, in ms, from CPU seconds per 1,000 messages carried (both ways). */
export const msPerPair = (cpuSecondsPer1000: number): number => round(2 * cpuSecondsPer1000, 2);

/** What decides each target, round by round: the figures the targets and the README print. */
export interface TargetFigures {
  cpuRatio: { memory: number[]; redis: number[] };
  p99Ratio: { memory: number[]; redis: number[] };
  commandsSent: number[];
  commandsExecuted: number[];
  /** Probe round trips before the delivery, every probed message of every round, per direction. */
  tripsBefore: { toHelpdesk: number[]; toCustomer: number[] };
  tripsAfter: { toHelpdesk: number[]; toCustomer: number[] };
  /** Scale-out: summed CPU per message / one process's on Redis, same round. */
  scaleOutCpuRatio: number[];
}

export function targetFigures(t: ThroughputResults): TargetFigures {
  const rounds = allRounds(t);
  const cpu = (state: 'memory' | 'redis') =>
    rounds.max.map((m) => m[state].cpuSecondsPer1000 / m.raw.cpuSecondsPer1000);
  const probes = t.probes ?? (t.max.redis.probe ? [t.max.redis.probe] : []);
  const trips = (key: 'before' | 'after', dir: 'toHelpdesk' | 'toCustomer') =>
    probes.flatMap((p) => p[dir].map((d) => d[key]));
  return {
    cpuRatio: { memory: cpu('memory'), redis: cpu('redis') },
    p99Ratio: { memory: rounds.halfLoad.memory.map(p99Ratio), redis: rounds.halfLoad.redis.map(p99Ratio) },
    commandsSent: rounds.max.map((m) => m.redis.redisPerCustomerMessage?.sent ?? NaN),
    commandsExecuted: rounds.max.map((m) => m.redis.redisPerCustomerMessage?.executed ?? NaN),
    tripsBefore: { toHelpdesk: trips('before', 'toHelpdesk'), toCustomer: trips('before', 'toCustomer') },
    tripsAfter: { toHelpdesk: trips('after', 'toHelpdesk'), toCustomer: trips('after', 'toCustomer') },
    scaleOutCpuRatio: rounds.max.flatMap((m) =>
      m.scaleOut ? [m.scaleOut.cpuSecondsPer1000 / m.redis.cpuSecondsPer1000] : [],
    ),
  };
}

/** How often each value occurs, e.g. "2 (×18), 3 (×2)". */
function tally(values: number[]): string {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([v, n]) => (n > 1 ? `${v} (×${n})` : String(v)))
    .join(', ');
}

export function evaluateTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const add = (t: Omit<Target, 'result'>, pass: boolean): void => {
    targets.push({ ...t, result: pass ? 'PASS' : 'FAIL' });
  };
  const t = results.throughput;
  if (t) {
    const rounds = allRounds(t);
    const f = targetFigures(t);
    const list = (values: number[], digits = 2): string =>
      values.map((v) => `${round(v, digits)}×`).join(', ');
    const n = rounds.max.length;
    const ofRounds = n > 1 ? `median of ${n} rounds` : 'one round';
    // 1. CPU per customer message with its reply, bridge / raw relay in the same round.
    for (const [state, limit] of [
      ['memory', 1.5],
      ['redis', 1.75],
    ] as const) {
      const ratio = median(f.cpuRatio[state]);
      const at = f.cpuRatio[state].indexOf(ratio);
      const m = rounds.max[at] ?? rounds.max[0]!;
      add(
        {
          id: `cpu-${state}`,
          scenario: '1',
          target: `CPU per customer message with its reply ≤ ${limit}× the raw relay's (${state === 'redis' ? 'Redis' : 'memory'})`,
          measured:
            `${round(ratio, 2)}× (${ofRounds}): ${msPerPair(m[state].cpuSecondsPer1000)} ms vs ` +
            `${msPerPair(m.raw.cpuSecondsPer1000)} ms` +
            (n > 1 ? `; rounds ${list(f.cpuRatio[state])}` : ''),
        },
        ratio <= limit,
      );
    }
    // 2. Redis work per customer message with its reply.
    const sent = median(f.commandsSent);
    add(
      {
        id: 'redis-commands',
        scenario: '2',
        target: '≤ 12 Redis commands per customer message with its reply',
        measured:
          `${round(sent, 1)} sent by the bridge (${ofRounds}; a script is one), ` +
          `${round(median(f.commandsExecuted), 1)} executed by Redis (commands inside scripts counted)` +
          (n > 1 ? `; rounds ${f.commandsSent.map((v) => round(v, 1)).join(', ')}` : ''),
      },
      sent <= 12,
    );
    const trips = (dir: 'toHelpdesk' | 'toCustomer') =>
      `${median(f.tripsBefore[dir])} (${tally(f.tripsBefore[dir])}; then ${tally(f.tripsAfter[dir])} after the delivery)`;
    const probed = f.tripsBefore.toHelpdesk.length + f.tripsBefore.toCustomer.length > 0;
    add(
      {
        id: 'redis-round-trips',
        scenario: '2',
        target: '≤ 2 sequential Redis round trips on the hot path in each direction',
        measured: probed
          ? `to the helpdesk ${trips('toHelpdesk')}, to the customer ${trips('toCustomer')}: median of ` +
            `${f.tripsBefore.toHelpdesk.length} messages and replies each alone in the bridge`
          : 'not measured (no probe)',
      },
      probed && Math.max(median(f.tripsBefore.toHelpdesk), median(f.tripsBefore.toCustomer)) <= 2,
    );
    // 3. The latency tail at half load, bridge / raw relay at the same offered load.
    for (const [state, limit] of [
      ['memory', 2],
      ['redis', 3],
    ] as const) {
      const ratios = f.p99Ratio[state];
      const ratio = median(ratios);
      const half = t.halfLoad[state];
      add(
        {
          id: `p99-half-load-${state}`,
          scenario: '3',
          target: `p99 at half load ≤ ${limit}× the raw relay's (${state === 'redis' ? 'Redis' : 'memory'}; the worse direction)`,
          measured:
            `${round(ratio, 2)}× (${ofRounds}); median round: ${ms(half.bridge.toHelpdesk.p99Ms)} vs ` +
            `${ms(half.raw.toHelpdesk.p99Ms)} to the helpdesk, ${ms(half.bridge.toCustomer.p99Ms)} vs ` +
            `${ms(half.raw.toCustomer.p99Ms)} to the customer at ${half.rate}/s` +
            (ratios.length > 1 ? `; rounds ${list(ratios, 1)}` : ''),
        },
        sound(half.bridge) && ratio <= limit,
      );
    }
    // 4. Every message of every bridge run arrives once, in order.
    const runs = [t.max.memory, t.max.redis, t.halfLoad.memory.bridge, t.halfLoad.redis.bridge];
    const unsoundRounds = rounds.max
      .map((m, i) => {
        const half = [rounds.halfLoad.memory[i]?.bridge, rounds.halfLoad.redis[i]?.bridge];
        return [m.memory, m.redis, m.scaleOut, ...half].every((h) => !h || h.sound) ? 0 : i + 1;
      })
      .filter((r) => r > 0);
    add(
      {
        id: 'throughput-integrity',
        scenario: '1',
        target: 'every message of the bridge runs arrives, once, in order (both directions)',
        measured:
          runs.map((r) => `${r.arrived}/${r.sent} + ${r.repliesArrived}/${r.repliesSent}`).join(', ') +
          (unsoundRounds.length ? `; not in round ${unsoundRounds.join(', ')}` : ''),
      },
      runs.every(sound) && unsoundRounds.length === 0,
    );
    // 5. Scale-out: two processes on one Redis.
    const scaled = rounds.max.filter((m) => m.scaleOut);
    if (scaled.length > 0) {
      const ratio = median(f.scaleOutCpuRatio);
      const at = f.scaleOutCpuRatio.indexOf(ratio);
      const m = scaled[at] ?? scaled[0]!;
      const lost = scaled.filter((x) => !x.scaleOut!.sound).length;
      add(
        {
          id: 'scale-out',
          scenario: '5',
          target: `${m.scaleOut!.instances ?? 2} bridge processes on one Redis: 0 lost, duplicated or reordered; summed CPU per message within 10% of one process's`,
          measured:
            `${lost === 0 ? 'all arrived once, in order' : `not all arrived once and in order in ${lost} of ${scaled.length} rounds`}; ` +
            `${round(ratio, 2)}× one process's CPU per message (${msPerPair(m.scaleOut!.cpuSecondsPer1000)} vs ` +
            `${msPerPair(m.redis.cpuSecondsPer1000)} ms; CPU split ${(m.scaleOut!.cpuSecondsByInstance ?? []).join(' / ')} s)` +
            (scaled.length > 1 ? `; rounds ${list(f.scaleOutCpuRatio)}` : ''),
        },
        lost === 0 && ratio <= 1.1,
      );
    }
  }
  const idle = results.idle;
  if (idle) {
    add(
      {
        id: 'idle-bytes',
        scenario: '3',
        target: '≤ 1 KB of Redis memory per idle open conversation',
        measured:
          `${idle.bytesPerConversation} B (MEMORY USAGE of its keys); ` +
          `${idle.usedMemoryPerConversation} B by used_memory`,
      },
      idle.bytesPerConversation <= 1024,
    );
    const first = idle.sizes[0];
    const last = idle.sizes.at(-1);
    if (first && last) {
      const growth = Math.max(
        last.bridgeRssStartBytes - first.bridgeRssStartBytes,
        last.bridgeRssEndBytes - first.bridgeRssEndBytes,
      );
      const allowed = Math.max(0.1 * first.bridgeRssStartBytes, 16 * 1_048_576);
      add(
        {
          id: 'idle-rss-flat',
          scenario: '3',
          target:
            "the bridge's RSS does not grow with the number of open conversations (≤ 10%, 16 MB at least)",
          measured:
            idle.sizes
              .map(
                (s) =>
                  `${num(s.conversations)}: ${mb(s.bridgeRssStartBytes)} → ${mb(s.bridgeRssEndBytes)} MB`,
              )
              .join('; ') +
            ` (heap after traffic ${idle.sizes.map((s) => mb(s.bridgeHeapEndBytes)).join(' / ')} MB)`,
        },
        growth <= allowed && idle.sizes.every((s) => !s.touch.incomplete),
      );
    }
  }
  const rl = results.rateLimit;
  if (rl) {
    add(
      {
        id: 'ratelimit-429',
        scenario: '4',
        target: `≤ 1% of vendor calls answered 429 after the first ${rl.warmupSeconds} s`,
        measured: `${rl.rateLimitedAfterWarmup} of ${rl.callsAfterWarmup} (${rl.rateLimitedShareAfterWarmup}%); ${rl.rateLimited} in all`,
      },
      rl.rateLimitedShareAfterWarmup <= 1,
    );
    add(
      {
        id: 'ratelimit-lossless',
        scenario: '4',
        target: 'under the rate limit, zero customer messages lost or reordered',
        measured: `${rl.run.arrived}/${rl.messages} arrived, ${rl.duplicates} duplicated, ${rl.outOfOrder} out of order`,
      },
      rl.lost === 0 && rl.duplicates === 0 && rl.outOfOrder === 0 && !rl.run.incomplete,
    );
    add(
      {
        id: 'ratelimit-coalescing',
        scenario: '4',
        target: 'fewer vendor calls than messages',
        measured: `${rl.vendorCalls} calls for ${rl.messages} messages (${rl.messagesPerCall} messages per comment)`,
      },
      rl.vendorCalls < rl.messages,
    );
  }
  return targets;
}

// ---- markdown ----------------------------------------------------------------------------------------------

function machineLine(m: Machine): string {
  const load = `load average ${m.loadAverageStart.join(' / ')} at the start${m.loadAverageEnd ? `, ${m.loadAverageEnd.join(' / ')} at the end` : ''}`;
  return `${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, ${m.platform}, Node ${m.node}; ${load}${m.note ? `. ${m.note}` : ''}`;
}

function runRow(run: LoadResult): string {
  const redisCpu = run.redisCpuSecondsPer1000 !== undefined ? String(run.redisCpuSecondsPer1000) : '–';
  return (
    `| ${run.label} | ${num(run.customerMessagesPerSecond)} | ${num(run.agentRepliesPerSecond)} | ` +
    `${run.cpuSecondsPer1000} | ${num(ceiling(run))} | ${redisCpu} | ${run.redisCommands?.perMessage ?? '–'} | ` +
    `${mb(run.peakRssBytes)} MB | ${pct(run.sutEventLoopUtilisation)} | ${pct(run.sandboxEventLoopUtilisation)} | ` +
    `${sound(run) ? 'yes' : `**no**${run.incomplete ? ` (${run.incomplete})` : ''}`} |`
  );
}

/**
 * Customer messages per second (each with its agent reply) the process could carry with a whole core to itself,
 * from its CPU cost: what the machine's other load and the sandbox leave out of the measured throughput.
 */
export function ceiling(run: LoadResult): number {
  return run.cpuSecondsPer1000 > 0 ? round(1000 / (2 * run.cpuSecondsPer1000), 0) : NaN;
}

function latencyRow(run: LoadResult): string {
  const p = (l: LoadResult['toHelpdesk']) => `${ms(l.p50Ms)} / ${ms(l.p95Ms)} / ${ms(l.p99Ms)}`;
  const split = `${ms(run.toHelpdeskOpening.p50Ms)}, ${ms(run.toHelpdeskOpening.p99Ms)} / ${ms(run.toHelpdeskLater.p50Ms)}, ${ms(run.toHelpdeskLater.p99Ms)}`;
  return `| ${run.label} | ${run.offeredRate ?? '–'} | ${p(run.toHelpdesk)} | ${split} | ${p(run.toCustomer)} | ${run.cpuSecondsPer1000} |`;
}

/** Rounds whose runs did not all arrive once and in order, e.g. "round 2 (memory)" (the raw relay's included). */
function unsoundRounds(rounds: Array<Record<string, { sound: boolean }>>): string {
  const bad = rounds.flatMap((runs, i) =>
    Object.entries(runs)
      .filter(([, run]) => !run.sound)
      .map(([name]) => `round ${i + 1} (${name})`),
  );
  return bad.length ? ` Not everything arrived once and in order in ${bad.join(', ')}.` : '';
}

/** Under the maximum-throughput table: each round's ratios, and which round each row is. */
function maxRoundsLine(rounds: Rounds): string {
  const ratios = (bridge: Headline, raw: Headline): string => {
    const r = throughputRatio(bridge, raw);
    return `${pct(r.toHelpdesk)} / ${pct(r.toCustomer)}`;
  };
  const picked = (system: 'raw' | 'memory' | 'redis'): number =>
    medianIndex(rounds.max, (m) => m[system].customerMessagesPerSecond) + 1;
  return (
    `Median of ${rounds.max.length} rounds (each round runs the raw relay and the bridge back to back); all rounds, ` +
    'bridge / raw relay in customer msg/s / replies/s: ' +
    rounds.max
      .map((m, i) => `round ${i + 1} memory ${ratios(m.memory, m.raw)}, Redis ${ratios(m.redis, m.raw)}`)
      .join('; ') +
    `. Each row is that system's median round by customer msg/s (raw relay: round ${picked('raw')}, ` +
    `memory: round ${picked('memory')}, Redis: round ${picked('redis')}), and the targets' ratios are of these ` +
    `rows.${unsoundRounds(rounds.max.map((m) => ({ 'raw relay': m.raw, memory: m.memory, Redis: m.redis })))}`
  );
}

/** Under the half-load table: each round's p99 ratios, and which round each pair of rows is. */
function halfLoadRoundsLine(rounds: Rounds): string {
  const n = rounds.halfLoad.memory.length;
  const state = (name: string, pairs: Rounds['halfLoad']['memory']): string =>
    `${name} ` +
    pairs
      .map(
        (p) =>
          `${times(p.bridge.toHelpdesk.p99Ms / p.raw.toHelpdesk.p99Ms)} / ` +
          `${times(p.bridge.toCustomer.p99Ms / p.raw.toCustomer.p99Ms)}`,
      )
      .join(', ');
  const unsound = [...rounds.halfLoad.memory.keys()].map((i) => ({
    memory: rounds.halfLoad.memory[i]!.bridge,
    Redis: rounds.halfLoad.redis[i]!.bridge,
  }));
  return (
    `Median of ${n} rounds (each round runs the bridge and the raw relay back to back, at the rate from the median ` +
    'maximum); all rounds, p99 bridge / raw relay to the helpdesk / to the customer: ' +
    `${state('memory', rounds.halfLoad.memory)}; ${state('Redis', rounds.halfLoad.redis)}. Each pair of rows is ` +
    `the round whose higher ratio is the median (memory: round ${medianPairIndex(rounds.halfLoad.memory) + 1}, ` +
    `Redis: round ${medianPairIndex(rounds.halfLoad.redis) + 1}).${unsoundRounds(unsound)}`
  );
}

export function renderMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`# Benchmark results (${r.startedAt.slice(0, 16).replace('T', ' ')} UTC)`, '');
  lines.push(`\`${r.command}\` — ${o.full ? 'full' : 'quick'} run, ${r.wallSeconds} s.`, '');
  lines.push(`Machine: ${machineLine(r.machine)}.`, '');
  lines.push('| target | measured | result |', '| --- | --- | --- |');
  for (const t of r.targets) lines.push(`| ${t.target} | ${t.measured} | **${t.result}** |`);
  lines.push('');

  const t = r.throughput;
  if (t) {
    lines.push('## Throughput and latency: bridge vs raw relay (scenarios 1 and 2)', '');
    lines.push(
      `${num(o.customers)} customers × ${o.messages} messages of ${o.textLength} characters through the sandbox ` +
        '(local LIME server, Zendesk emulator without artificial latency' +
        `${o.validate ? ', OpenAPI validation on' : ', OpenAPI validation off'}), ` +
        'each message answered by the agent through a signed webhook; the emulator also echoes every customer comment ' +
        `as a webhook, as Zendesk does. Redis ${o.aof ? 'with AOF (appendfsync everysec)' : 'without persistence'}. ` +
        'Each system under test runs alone in a fresh process, warmed up first.',
      '',
    );
    lines.push(
      '**Maximum throughput** (all messages offered at once; messages/s from the first send to the last arrival):',
      '',
    );
    lines.push(
      '| run | customer msg/s | agent replies/s | CPU s / 1000 msgs | one-core ceiling, customer msg/s | Redis CPU s / 1000 | Redis commands / msg | peak RSS | its event loop busy | sandbox event loop busy | all arrived, in order |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const run of [t.max.raw, t.max.memory, t.max.redis, ...(t.max.scaleOut ? [t.max.scaleOut] : [])])
      lines.push(runRow(run));
    lines.push('');
    const rounds = severalRounds(t);
    if (rounds) lines.push(maxRoundsLine(rounds), '');
    lines.push(...probeLines(t), ...cpuRoundsLines(t));
    lines.push(
      "**Added latency at half of the bridge's maximum** (the same offered load for the bridge and the raw relay; " +
        'p50 / p95 / p99; to the helpdesk: BLiP writes the message to the socket → the helpdesk has it; to the ' +
        'customer: the helpdesk posts the webhook → BLiP has the message)' +
        (t.halfLoad.redis.gapSeconds !== undefined
          ? `. Conversations start one after another, a new one every ${t.max.redis.messagesPerCustomer} ÷ rate ` +
            `seconds, and each customer writes every ${t.halfLoad.redis.gapSeconds} s, so the offered load is ` +
            'steady: one message in ' +
            `${t.max.redis.messagesPerCustomer} opens a ticket. (Customers in turn would offer every opening, the ` +
            'costliest work, first.)'
          : ':'),
      '',
    );
    lines.push(
      '| run | offered customer msg/s | to the helpdesk | p50, p99: first message (opens the ticket) / later ones | to the customer | CPU s / 1000 msgs |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const half of [t.halfLoad.memory, t.halfLoad.redis]) {
      lines.push(latencyRow(half.raw), latencyRow(half.bridge));
    }
    lines.push('');
    if (rounds) lines.push(halfLoadRoundsLine(rounds), '');
    const cpuRatio = (bridge: LoadResult) => round(bridge.cpuSecondsPer1000 / t.max.raw.cpuSecondsPer1000, 1);
    lines.push(
      `CPU per message, bridge / raw relay: ${cpuRatio(t.max.memory)}× in memory, ${cpuRatio(t.max.redis)}× on Redis ` +
        `(plus Redis' own ${t.max.redis.redisCpuSecondsPer1000 ?? '–'} CPU s per 1000 messages). "Messages" counts ` +
        'both directions; the one-core ceiling is 1000 / (2 × CPU s per 1000): customer messages per second, each ' +
        'with its reply, if the process had a core to itself.',
      '',
    );
    const shown = [t.max.raw, t.max.memory, t.max.redis, t.halfLoad.memory.bridge, t.halfLoad.memory.raw];
    shown.push(t.halfLoad.redis.bridge, t.halfLoad.redis.raw);
    const stolen = shown.filter((r) => r.stolenShare !== undefined);
    if (stolen.length > 0) {
      lines.push(
        `CPU time the hypervisor gave to other tenants during the runs above (steal): ` +
          `${stolen.map((r) => `${r.label}: ${pct(r.stolenShare!, 1)}`).join('; ')}.`,
        '',
      );
    }
    const commands = t.max.redis.redisCommands;
    if (commands) {
      lines.push(
        `Redis commands executed per message carried on Redis (each direction counts one; commands inside Lua ` +
          `scripts included): ` +
          Object.entries(commands.byCommand)
            .sort((a, b) => b[1] - a[1])
            .map(([command, calls]) => `${command} ${calls}`)
            .join(', ') +
          '.',
        '',
      );
    }
    if (t.profiles.length > 0) {
      lines.push('**Where the CPU goes** (self time by area, CPU profile of the measured part):', '');
      for (const p of t.profiles) {
        lines.push(
          `- ${p.label}: ${p.byArea
            .slice(0, 8)
            .map((a) => `${a.area} ${a.share}%`)
            .join(', ')}; on the stack: ${p.inclusive
            .slice(0, 8)
            .map((a) => `${a.area} ${a.share}%`)
            .join(', ')}`,
        );
      }
      lines.push('');
    }
  }

  const idle = r.idle;
  if (idle) {
    lines.push('## Idle scale (scenario 3)', '');
    lines.push(
      `Open conversations written into Redis with the bridge's own store (KeyvConversationStore: \`conv:\`, ` +
        `\`ticket:\` and \`session:\` keys, as a handoff leaves them). Per conversation: **${idle.bytesPerConversation} B** ` +
        `by \`MEMORY USAGE\` (conv ${idle.bytesPerKey.conv} + ticket ${idle.bytesPerKey.ticket} + session ` +
        `${idle.bytesPerKey.session}; ${num(idle.sampled)} sampled), ${idle.usedMemoryPerConversation} B by the growth of ` +
        `\`used_memory\`. A fresh bridge at each size, then ${o.idleTouchCustomers} customers × 3 messages with replies:`,
      '',
    );
    lines.push(
      '| open conversations | Redis keys | Redis used_memory | bridge RSS after start (GC) | after traffic (GC) | peak RSS | heap after traffic |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const s of idle.sizes) {
      lines.push(
        `| ${num(s.conversations)} | ${num(s.keys)} | ${mb(s.usedMemoryBytes)} MB | ${mb(s.bridgeRssStartBytes)} MB | ` +
          `${mb(s.bridgeRssEndBytes)} MB | ${mb(s.bridgePeakRssBytes)} MB | ${mb(s.bridgeHeapEndBytes)} MB |`,
      );
    }
    lines.push('');
  }

  const rl = r.rateLimit;
  if (rl) {
    lines.push('## Under the vendor rate limit (scenario 4)', '');
    lines.push(
      `The emulator allows ${rl.vendorLimit} requests per minute (sliding window; 429 + Retry-After beyond); the bridge ` +
        `has ZENDESK_REQUESTS_PER_MINUTE=${rl.vendorLimit} (GCRA on Redis). ${rl.customers} customers offer ` +
        `${rl.offeredPerMinute} messages/min (${o.loadFactor}×) for ${rl.offeredSeconds} s; the agent answers each comment.`,
      '',
    );
    lines.push('| figure | value |', '| --- | --- |');
    lines.push(
      `| accepted vendor calls per minute while loaded (max in any 60 s) | ${rl.acceptedPerMinute} (${rl.maxAcceptedIn60s}) |`,
      `| vendor calls per minute of the run (calls / 429s) | ${rl.perMinute.map((m) => `${m.calls} / ${m.rateLimited}`).join(', ')} |`,
      `| 429s after the first ${rl.warmupSeconds} s / in all | ${rl.rateLimitedAfterWarmup} of ${rl.callsAfterWarmup} / ${rl.rateLimited} of ${rl.vendorCalls} |`,
      `| customer messages per comment (coalescing) | ${rl.messagesPerCall} |`,
      `| the customer's messages already waiting ≥ 1 s that a comment did not carry (mean) | ${rl.leftBehindPerComment} |`,
      `| vendor calls / customer messages | ${rl.vendorCalls} / ${rl.messages} |`,
      `| queueing delay to the helpdesk p50 / p99 / max | ${ms(rl.toHelpdesk.p50Ms)} / ${ms(rl.toHelpdesk.p99Ms)} / ${ms(rl.maxQueueingDelayMs)} |`,
      `| agent replies to the customer p50 / p99 / max | ${ms(rl.toCustomer.p50Ms)} / ${ms(rl.toCustomer.p99Ms)} / ${ms(rl.toCustomer.maxMs)} |`,
      `| lost / duplicated / out of order | ${rl.lost} / ${rl.duplicates} / ${rl.outOfOrder} (agent replies lost: ${rl.repliesLost}) |`,
    );
    lines.push('');
  }
  return lines.join('\n');
}

/** CPU per customer message with its reply, round by round, and the scale-out runs. */
function cpuRoundsLines(t: ThroughputResults): string[] {
  const rounds = allRounds(t).max;
  const f = targetFigures(t);
  const row = (m: Rounds['max'][number], i: number): string =>
    `| ${i + 1} | ${msPerPair(m.raw.cpuSecondsPer1000)} | ${msPerPair(m.memory.cpuSecondsPer1000)} (${round(f.cpuRatio.memory[i]!, 2)}×) | ` +
    `${msPerPair(m.redis.cpuSecondsPer1000)} (${round(f.cpuRatio.redis[i]!, 2)}×) | ` +
    `${m.redis.redisPerCustomerMessage ? `${m.redis.redisPerCustomerMessage.sent} / ${m.redis.redisPerCustomerMessage.executed}` : '–'} | ` +
    (m.scaleOut
      ? `${msPerPair(m.scaleOut.cpuSecondsPer1000)} (${round(m.scaleOut.cpuSecondsPer1000 / m.redis.cpuSecondsPer1000, 2)}×; ` +
        `${(m.scaleOut.cpuSecondsByInstance ?? []).join(' / ')} s; ${num(m.scaleOut.customerMessagesPerSecond)} msg/s; ` +
        `${m.scaleOut.sound ? 'all arrived' : '**not all arrived once, in order**'})`
      : '–') +
    ' |';
  return [
    "**CPU per customer message with its reply** (ms of the process's user + system CPU, each round; bridge / raw " +
      'relay of the same round in brackets), the Redis commands it took (sent by the bridge, a script one / executed ' +
      "by Redis, commands inside scripts included), and the scale-out run (the processes' summed CPU per message, " +
      "its ratio to one process on Redis in the same round, each process's CPU seconds, throughput):",
    '',
    '| round | raw relay | bridge, memory | bridge, Redis | Redis commands | scale-out on one Redis |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rounds.map(row),
    '',
  ];
}

/** The probe's round trips: what one message alone waits for on Redis, in each direction. */
function probeLines(t: ThroughputResults): string[] {
  const probes = t.probes ?? [];
  const all = (key: keyof ProbeResult) =>
    probes.flatMap((p) => (Array.isArray(p[key]) ? (p[key] as ProbeDirection[]) : []));
  const sample = (key: keyof ProbeResult): string => {
    const list = all(key);
    if (list.length === 0) return '–';
    const traces = new Map<string, number>();
    for (const d of list) traces.set(d.trace, (traces.get(d.trace) ?? 0) + 1);
    const [trace] = [...traces.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const d = list.find((x) => x.trace === trace)!;
    return `${d.before} | ${d.after} | ${d.commands} | \`${trace.replace(/\|/g, '‖')}\``;
  };
  if (probes.length === 0) return [];
  return [
    '**Redis round trips of one message alone** (after each run on Redis, each probe customer sends a message and ' +
      'gets a reply with nothing else in the bridge; a round trip starts when the bridge sends a command while no ' +
      "other awaits its reply, so commands sent together or overlapping share one; the runner's 250 ms scan is " +
      'left out; ‖ marks the delivery: the helpdesk has the comment, BLiP has the reply). The most frequent trace:',
    '',
    '| message | round trips before the delivery | after it | commands | trace |',
    '| --- | --- | --- | --- | --- |',
    `| a customer message to an open ticket | ${sample('toHelpdesk')} |`,
    `| an agent reply | ${sample('toCustomer')} |`,
    `| the customer's first message (opens the ticket) | ${sample('openingToHelpdesk')} |`,
    `| the first agent reply | ${sample('openingToCustomer')} |`,
    '',
  ];
}

// ---- SVG ---------------------------------------------------------------------------------------------------

const COLORS = {
  toHelpdesk: '#2b6cb0',
  toCustomer: '#dd6b20',
  grid: '#e2e8f0',
  text: '#1a202c',
  muted: '#718096',
};

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Throughput bars (left) and latency percentiles on a log scale (right), bridge vs raw relay. */
export function renderSvg(r: BenchResults): string {
  const width = 1000;
  const height = 540;
  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = ''): void => {
    out.push(`<text x="${round(x, 1)}" y="${round(y, 1)}" ${attrs}>${esc(s)}</text>`);
  };
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12" fill="${COLORS.text}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  );
  text(20, 28, 'blip-helpdesk-bridge: bridge vs raw relay', 'font-size="18" font-weight="bold"');
  const t = r.throughput;
  if (!t) {
    text(20, 60, 'No throughput scenario in this run.');
  } else {
    // -- left: throughput --
    const left = { x: 150, y: 80, w: 300 };
    text(20, 62, 'Maximum throughput (messages/s)', 'font-size="14" font-weight="bold"');
    const groups: Array<[string, LoadResult]> = [
      ['raw relay', t.max.raw],
      ['bridge, memory', t.max.memory],
      ['bridge, Redis', t.max.redis],
    ];
    const maxRate = Math.max(
      ...groups.flatMap(([, g]) => [g.customerMessagesPerSecond, g.agentRepliesPerSecond]),
      1,
    );
    const scale = niceMax(maxRate);
    for (let i = 0; i <= 4; i++) {
      const x = left.x + (left.w * i) / 4;
      out.push(
        `<line x1="${x}" y1="${left.y - 6}" x2="${x}" y2="${left.y + 3 * 70}" stroke="${COLORS.grid}"/>`,
      );
      text(
        x,
        left.y + 3 * 70 + 14,
        num(round((scale * i) / 4, 0)),
        `text-anchor="middle" fill="${COLORS.muted}"`,
      );
    }
    groups.forEach(([name, run], g) => {
      const y = left.y + g * 70;
      text(left.x - 10, y + 24, name, 'text-anchor="end" font-weight="bold"');
      const bars: Array<[number, string]> = [
        [run.customerMessagesPerSecond, COLORS.toHelpdesk],
        [run.agentRepliesPerSecond, COLORS.toCustomer],
      ];
      bars.forEach(([value, color], b) => {
        const w = Math.max(1, (left.w * value) / scale);
        out.push(
          `<rect x="${left.x}" y="${y + b * 24}" width="${round(w, 1)}" height="20" fill="${color}"/>`,
        );
        text(left.x + w + 5, y + b * 24 + 14, num(value));
      });
    });
    // legend
    const ly = left.y + 3 * 70 + 36;
    out.push(`<rect x="${left.x}" y="${ly - 10}" width="12" height="12" fill="${COLORS.toHelpdesk}"/>`);
    text(left.x + 18, ly, 'customer → helpdesk');
    out.push(`<rect x="${left.x + 150}" y="${ly - 10}" width="12" height="12" fill="${COLORS.toCustomer}"/>`);
    text(left.x + 168, ly, 'agent → customer');

    // -- left, below: CPU per 1,000 messages (the process's own, Redis' apart) --
    const cpu = { x: 150, y: ly + 52, w: 200 };
    text(20, cpu.y - 14, 'CPU seconds per 1,000 messages', 'font-size="14" font-weight="bold"');
    const cpuMax = niceMax(
      Math.max(...groups.map(([, run]) => run.cpuSecondsPer1000 + (run.redisCpuSecondsPer1000 ?? 0)), 0.1),
    );
    groups.forEach(([name, run], g) => {
      const y = cpu.y + g * 24;
      text(cpu.x - 10, y + 13, name, 'text-anchor="end"');
      const own = (cpu.w * run.cpuSecondsPer1000) / cpuMax;
      const redis = (cpu.w * (run.redisCpuSecondsPer1000 ?? 0)) / cpuMax;
      out.push(`<rect x="${cpu.x}" y="${y}" width="${round(own, 1)}" height="18" fill="#4a5568"/>`);
      if (redis > 0) {
        out.push(
          `<rect x="${round(cpu.x + own, 1)}" y="${y}" width="${round(redis, 1)}" height="18" fill="#c53030"/>`,
        );
      }
      const label = `${run.cpuSecondsPer1000}${run.redisCpuSecondsPer1000 ? ` + ${run.redisCpuSecondsPer1000} Redis` : ''}`;
      text(cpu.x + own + redis + 5, y + 13, label);
    });

    // -- right: latency percentiles, log scale --
    const right = { x: 660, y: 80, w: 270 };
    text(
      500,
      62,
      'Added latency at half load: p50 ● p95 ◆ p99 | (ms, log)',
      'font-size="14" font-weight="bold"',
    );
    const rows: Array<[string, LoadResult]> = [
      [`raw relay @ ${t.halfLoad.memory.rate}/s`, t.halfLoad.memory.raw],
      ['bridge, memory', t.halfLoad.memory.bridge],
      [`raw relay @ ${t.halfLoad.redis.rate}/s`, t.halfLoad.redis.raw],
      ['bridge, Redis', t.halfLoad.redis.bridge],
    ];
    const all = rows
      .flatMap(([, run]) => [run.toHelpdesk, run.toCustomer])
      .flatMap((p) => [p.p50Ms, p.p99Ms]);
    const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.1, Math.min(...all.filter((v) => v > 0))))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(lo * 10, ...all))));
    const xOf = (v: number): number =>
      right.x +
      (right.w * (Math.log10(Math.max(lo, v)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
    const rowH = 22;
    const directions: Array<['toHelpdesk' | 'toCustomer', string]> = [
      ['toHelpdesk', 'customer → helpdesk'],
      ['toCustomer', 'agent → customer'],
    ];
    const bottom = right.y + directions.length * (rows.length * rowH + 26);
    for (let v = lo; v <= hi * 1.0001; v *= 10) {
      const x = xOf(v);
      out.push(
        `<line x1="${round(x, 1)}" y1="${right.y - 6}" x2="${round(x, 1)}" y2="${bottom}" stroke="${COLORS.grid}"/>`,
      );
      text(
        x,
        bottom + 14,
        v >= 1000 ? `${v / 1000} s` : `${v}`,
        `text-anchor="middle" fill="${COLORS.muted}"`,
      );
    }
    directions.forEach(([key, title], d) => {
      const top = right.y + d * (rows.length * rowH + 26);
      text(500, top + 8, title, `font-weight="bold" fill="${COLORS[key]}"`);
      rows.forEach(([name, run], i) => {
        const y = top + 22 + i * rowH;
        const p = run[key];
        text(right.x - 10, y + 4, name, 'text-anchor="end"');
        if (!Number.isFinite(p.p50Ms)) return;
        const [x50, x95, x99] = [xOf(p.p50Ms), xOf(p.p95Ms), xOf(p.p99Ms)];
        const color = COLORS[key];
        out.push(
          `<line x1="${round(x50, 1)}" y1="${y}" x2="${round(x99, 1)}" y2="${y}" stroke="${color}" stroke-width="2"/>`,
        );
        out.push(`<circle cx="${round(x50, 1)}" cy="${y}" r="4" fill="${color}"/>`);
        out.push(
          `<path d="M ${round(x95, 1)} ${y - 5} L ${round(x95 + 5, 1)} ${y} L ${round(x95, 1)} ${y + 5} L ${round(x95 - 5, 1)} ${y} Z" fill="${color}" opacity="0.7"/>`,
        );
        out.push(
          `<line x1="${round(x99, 1)}" y1="${y - 7}" x2="${round(x99, 1)}" y2="${y + 7}" stroke="${color}" stroke-width="3"/>`,
        );
        text(x99 + 6, y + 4, ms(p.p99Ms), `fill="${COLORS.muted}" font-size="11"`);
      });
    });
  }
  const m = r.machine;
  const rl = r.rateLimit;
  const idle = r.idle;
  if (rl && rl.perMinute.length > 0) {
    // -- right, below: vendor calls per minute against the limit --
    const box = { x: 660, y: 382, w: 310, h: 76 };
    text(
      500,
      box.y - 14,
      `Vendor calls per minute, limit ${rl.vendorLimit} (${r.options.loadFactor}× offered)`,
      'font-size="14" font-weight="bold"',
    );
    const top = Math.max(rl.vendorLimit * 1.25, ...rl.perMinute.map((b) => b.calls));
    const yOf = (v: number): number => box.y + box.h - (box.h * v) / top;
    const barW = Math.min(60, box.w / rl.perMinute.length - 10);
    rl.perMinute.forEach((bucket, i) => {
      const x = box.x + i * (barW + 10);
      out.push(
        `<rect x="${round(x, 1)}" y="${round(yOf(bucket.accepted), 1)}" width="${round(barW, 1)}" height="${round(box.y + box.h - yOf(bucket.accepted), 1)}" fill="${COLORS.toHelpdesk}"/>`,
      );
      if (bucket.rateLimited > 0) {
        out.push(
          `<rect x="${round(x, 1)}" y="${round(yOf(bucket.calls), 1)}" width="${round(barW, 1)}" height="${round(yOf(bucket.accepted) - yOf(bucket.calls), 1)}" fill="#c53030"/>`,
        );
      }
      text(
        x + barW / 2,
        box.y + box.h + 14,
        `min ${bucket.minute}`,
        `text-anchor="middle" fill="${COLORS.muted}" font-size="11"`,
      );
      text(x + barW / 2, yOf(bucket.calls) - 4, String(bucket.calls), 'text-anchor="middle" font-size="11"');
    });
    const limitY = round(yOf(rl.vendorLimit), 1);
    out.push(
      `<line x1="${box.x - 4}" y1="${limitY}" x2="${box.x + box.w}" y2="${limitY}" stroke="#c53030" stroke-dasharray="4 3"/>`,
    );
    text(500, box.y + 24, `${rl.messages} messages in`);
    text(500, box.y + 40, `${rl.vendorCalls} calls, ${rl.rateLimited} × 429`);
    text(500, box.y + 56, `${rl.messagesPerCall} per comment, ${rl.lost} lost`);
    text(500, box.y + 72, `longest wait ${ms(rl.maxQueueingDelayMs)}`);
  }
  const facts = [
    idle
      ? `idle scale: ${idle.bytesPerConversation} B of Redis per open conversation; bridge RSS ` +
        idle.sizes.map((s) => `${mb(s.bridgeRssEndBytes)} MB with ${num(s.conversations)}`).join(', ')
      : '',
  ].filter(Boolean);
  if (facts.length) text(20, height - 46, facts.join('   ·   '));
  text(
    20,
    height - 28,
    `${r.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${r.options.full ? 'full' : 'quick'} run · ${r.options.customers} customers × ${r.options.messages} messages · ` +
      `${m.cpus} × ${m.cpuModel} · Node ${m.node} · load avg ${m.loadAverageStart[0]}`,
    `fill="${COLORS.muted}" font-size="11"`,
  );
  if (m.note) text(20, height - 12, m.note, `fill="${COLORS.muted}" font-size="11"`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceMax(value: number): number {
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10])
    if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

// ---- README ------------------------------------------------------------------------------------------------

const START = '<!-- bench:start (written by npm run bench) -->';
const END = '<!-- bench:end -->';

/**
 * Rewrites the generated part of README.md's Performance section (between the markers), when all scenarios ran,
 * formatted by Prettier with the project's settings (the lint checks the README).
 */
export async function updateReadme(file: string, r: BenchResults): Promise<boolean> {
  if (!r.throughput || !r.idle || !r.rateLimit) return false;
  const readme = readFileSync(file, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return false;
  const t = r.throughput;
  const rl = r.rateLimit;
  const idle = r.idle;
  const o = r.options;
  const lines = [
    START,
    '',
    `Latest run: ${r.startedAt.slice(0, 10)}, \`${r.command}\` (${o.full ? 'full' : 'quick'}: ${num(o.customers)} customers × ${o.messages} messages), on ${machineLine(r.machine)}.`,
    '',
    '| | raw relay | bridge, memory | bridge, Redis |',
    '| --- | --- | --- | --- |',
    `| customer messages/s (max; reported, not a target) | ${num(t.max.raw.customerMessagesPerSecond)} | ${num(t.max.memory.customerMessagesPerSecond)} | ${num(t.max.redis.customerMessagesPerSecond)} |`,
    `| agent replies/s (max) | ${num(t.max.raw.agentRepliesPerSecond)} | ${num(t.max.memory.agentRepliesPerSecond)} | ${num(t.max.redis.agentRepliesPerSecond)} |`,
    `| CPU ms per customer message with its reply (median round) | ${msPerPair(t.max.raw.cpuSecondsPer1000)} | ${msPerPair(t.max.memory.cpuSecondsPer1000)} | ${msPerPair(t.max.redis.cpuSecondsPer1000)} (+ Redis ${t.max.redis.redisCpuSecondsPer1000 !== undefined ? msPerPair(t.max.redis.redisCpuSecondsPer1000) : '–'}) |`,
    `| Redis commands per customer message with its reply: sent / executed | – | – | ${t.max.redis.redisPerCustomerMessage ? `${t.max.redis.redisPerCustomerMessage.sent} / ${t.max.redis.redisPerCustomerMessage.executed}` : '–'} |`,
    `| peak RSS (all messages offered at once) | ${mb(t.max.raw.peakRssBytes)} MB | ${mb(t.max.memory.peakRssBytes)} MB | ${mb(t.max.redis.peakRssBytes)} MB |`,
    `| p99 to the helpdesk at half load (raw: at the memory / Redis load) | ${ms(t.halfLoad.memory.raw.toHelpdesk.p99Ms)} / ${ms(t.halfLoad.redis.raw.toHelpdesk.p99Ms)} | ${ms(t.halfLoad.memory.bridge.toHelpdesk.p99Ms)} | ${ms(t.halfLoad.redis.bridge.toHelpdesk.p99Ms)} |`,
    `| p99 to the customer at half load (raw: at the memory / Redis load) | ${ms(t.halfLoad.memory.raw.toCustomer.p99Ms)} / ${ms(t.halfLoad.redis.raw.toCustomer.p99Ms)} | ${ms(t.halfLoad.memory.bridge.toCustomer.p99Ms)} | ${ms(t.halfLoad.redis.bridge.toCustomer.p99Ms)} |`,
    '',
    `Idle: ${idle.bytesPerConversation} B of Redis per open conversation; bridge RSS ` +
      idle.sizes.map((s) => `${mb(s.bridgeRssEndBytes)} MB with ${num(s.conversations)}`).join(', ') +
      ' open conversations. ' +
      `Rate limit (${rl.vendorLimit}/min, ${o.loadFactor}× offered): ${rl.acceptedPerMinute} calls/min, ` +
      `${rl.rateLimited} × 429, ${rl.messagesPerCall} messages per comment, longest wait ${ms(rl.maxQueueingDelayMs)}, ` +
      `${rl.lost} lost, ${rl.outOfOrder} out of order.` +
      (t.max.scaleOut
        ? ` Scale-out (${t.max.scaleOut.instances ?? 2} processes on one Redis, the Redis run's round): ` +
          `${num(t.max.scaleOut.customerMessagesPerSecond)} customer messages/s, ` +
          `${num(t.max.scaleOut.agentRepliesPerSecond)} replies/s, CPU ${(t.max.scaleOut.cpuSecondsByInstance ?? []).join(' / ')} s.`
        : ''),
    '',
    '| target | measured | |',
    '| --- | --- | --- |',
    ...r.targets.map((target) => `| ${target.target} | ${target.measured} | ${target.result} |`),
    '',
    '![bridge vs raw relay](bench/results/latest.svg)',
    '',
    END,
  ];
  const text = readme.slice(0, start) + lines.join('\n') + readme.slice(end + END.length);
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(text, { ...options, filepath: file }));
  return true;
}
