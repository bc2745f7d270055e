import type { LoadResult } from '../../bench/load';
import type { BenchOptions } from '../../bench/options';
import {
  type BenchResults,
  evaluateTargets,
  halfHeadline,
  headline,
  renderMarkdown,
  type ThroughputResults,
} from '../../bench/report';
import { medianIndex, medianPairIndex, type P99Pair, p99Ratio } from '../../bench/stats';

// The report imports Prettier for the README, whose CommonJS entry loads its ES module at once: jest cannot without
// --experimental-vm-modules, and nothing here formats.
jest.mock('prettier', () => ({}));

describe('bench: the median round (medianIndex)', () => {
  const byValue = (values: number[]) => medianIndex(values, (v) => v);

  it('picks the middle of an odd count, wherever it ran', () => {
    expect(byValue([300, 100, 200])).toBe(2);
    expect(byValue([100, 500, 200, 400, 300])).toBe(4);
  });

  it('picks the lower middle of an even count (a round that ran, not a mean of two)', () => {
    expect(byValue([400, 100])).toBe(1);
    expect(byValue([300, 100, 400, 200])).toBe(3);
  });

  it('picks the only round when there is one', () => {
    expect(byValue([123])).toBe(0);
  });

  it('picks the earliest of the rounds tied at the median', () => {
    expect(byValue([200, 200, 200])).toBe(0);
    expect(byValue([300, 200, 100, 200])).toBe(1);
    expect(byValue([100, 300, 300])).toBe(1);
  });

  it('sorts a figure never measured (NaN) above every number', () => {
    expect(byValue([NaN, 100, 200])).toBe(2);
    expect(byValue([NaN, NaN, 100])).toBe(0);
  });

  it('refuses no rounds', () => {
    expect(() => byValue([])).toThrow();
  });
});

describe('bench: the median half-load pair (p99Ratio, medianPairIndex)', () => {
  const pair = (bridge: [number, number], raw: [number, number]): P99Pair => ({
    bridge: { toHelpdesk: { p99Ms: bridge[0] }, toCustomer: { p99Ms: bridge[1] } },
    raw: { toHelpdesk: { p99Ms: raw[0] }, toCustomer: { p99Ms: raw[1] } },
  });

  it('takes the worse direction of bridge / raw relay', () => {
    expect(p99Ratio(pair([30, 10], [10, 10]))).toBe(3);
    expect(p99Ratio(pair([10, 40], [10, 10]))).toBe(4);
  });

  it('picks the pair with the median ratio, not the median p99', () => {
    // Ratios 5, 2, 3: the median is the third pair, though its bridge p99 is the highest.
    const pairs = [pair([50, 10], [10, 10]), pair([20, 10], [10, 10]), pair([90, 30], [30, 30])];
    expect(medianPairIndex(pairs)).toBe(2);
  });

  it('picks the lower middle of an even count, the earliest of ties, the only one of one', () => {
    const ratios = (...rs: number[]) => rs.map((r) => pair([r, 1], [1, 1]));
    expect(medianPairIndex(ratios(4, 1, 3, 2))).toBe(3);
    expect(medianPairIndex(ratios(2, 2, 2, 2))).toBe(0);
    expect(medianPairIndex(ratios(7))).toBe(0);
  });
});

/** A sound run with the given figures (everything else plausible and irrelevant here). */
function load(
  label: string,
  customerMessagesPerSecond: number,
  agentRepliesPerSecond: number,
  p99Ms = 10,
  toCustomerP99Ms = p99Ms,
): LoadResult {
  const latency = (p99: number) => ({
    samples: 100,
    p50Ms: 1,
    p95Ms: p99 / 2,
    p99Ms: p99,
    maxMs: p99,
    meanMs: 2,
  });
  return {
    label,
    sut: label.startsWith('raw') ? 'raw' : 'bridge',
    state: 'memory',
    customers: 10,
    messagesPerCustomer: 10,
    sent: 100,
    arrived: 100,
    duplicates: 0,
    outOfOrder: 0,
    repliesSent: 100,
    repliesArrived: 100,
    repliesDuplicated: 0,
    repliesOutOfOrder: 0,
    customerMessagesPerSecond,
    agentRepliesPerSecond,
    messagesPerSecond: customerMessagesPerSecond + agentRepliesPerSecond,
    toHelpdesk: latency(p99Ms),
    toCustomer: latency(toCustomerP99Ms),
    toHelpdeskOpening: latency(p99Ms),
    toHelpdeskLater: latency(p99Ms),
    cpuSeconds: 1,
    cpuSecondsPer1000: 1,
    sandboxCpuSeconds: 1,
    sandboxEventLoopUtilisation: 0.5,
    sutEventLoopUtilisation: 0.5,
    peakRssBytes: 1e8,
    endRssBytes: 1e8,
    startRssAfterGcBytes: 1e8,
    endRssAfterGcBytes: 1e8,
    endHeapAfterGcBytes: 1e7,
    vendorCalls: { total: 100, byKind: {}, rateLimited: 0, failed: 0, timeline: [] },
    webhookFailures: 0,
    sutFailures: 0,
    wallSeconds: 1,
    leftBehindPerComment: 0,
  };
}

function results(throughput: ThroughputResults): BenchResults {
  return {
    startedAt: '2026-12-03T10:00:00.000Z',
    finishedAt: '2026-12-03T10:01:00.000Z',
    wallSeconds: 60,
    machine: { cpus: 2, cpuModel: 'test', memoryGb: 1, node: 'v20', platform: 'test', loadAverageStart: [0] },
    options: { customers: 10, messages: 10, textLength: 80, validate: false, aof: true } as BenchOptions,
    command: 'npm run bench',
    throughput,
    targets: [],
  };
}

describe('bench: rounds in the report', () => {
  // Three rounds of max throughput: raw relay 1000, 900, 1100; memory 600, 700, 500; Redis 550, 450, 500. CPU s per
  // 1,000 messages: raw relay 0.5 each round; memory 0.8, 0.7, 0.9 (1.6×, 1.4×, 1.8×); Redis 0.85, 0.8, 0.9 (1.7×,
  // 1.6×, 1.8×).
  const cpu = (run: LoadResult, cpuSecondsPer1000: number): LoadResult => ({ ...run, cpuSecondsPer1000 });
  const max = [
    {
      raw: cpu(load('raw relay, max', 1000, 1000), 0.5),
      memory: cpu(load('memory', 600, 700), 0.8),
      redis: cpu(load('redis', 550, 600), 0.85),
    },
    {
      raw: cpu(load('raw relay, max', 900, 900), 0.5),
      memory: cpu(load('memory', 700, 700), 0.7),
      redis: cpu(load('redis', 450, 600), 0.8),
    },
    {
      raw: cpu(load('raw relay, max', 1100, 1000), 0.5),
      memory: cpu(load('memory', 500, 700), 0.9),
      redis: cpu(load('redis', 500, 600), 0.9),
    },
  ];
  // Half load, bridge p99 over a raw p99 of 10 ms: ratios 3×, 1.5×, 2× (memory); 4×, 5×, 6× (Redis).
  const half = (p99s: number[]) =>
    p99s.map((p99) => ({
      rate: 250,
      gapSeconds: 2,
      bridge: load('bridge', 250, 250, p99, 10),
      raw: load('raw', 250, 250),
    }));
  const halves = { memory: half([30, 15, 20]), redis: half([40, 50, 60]) };
  const representatives: ThroughputResults = {
    max: { raw: max[0]!.raw, memory: max[0]!.memory, redis: max[2]!.redis },
    halfLoad: { memory: halves.memory[2]!, redis: halves.redis[1]! },
    profiles: [],
  };
  const withRounds: ThroughputResults = {
    ...representatives,
    rounds: {
      max: max.map((m) => ({ raw: headline(m.raw), memory: headline(m.memory), redis: headline(m.redis) })),
      halfLoad: {
        memory: halves.memory.map((p) => ({ bridge: halfHeadline(p.bridge), raw: halfHeadline(p.raw) })),
        redis: halves.redis.map((p) => ({ bridge: halfHeadline(p.bridge), raw: halfHeadline(p.raw) })),
      },
    },
  };
  const measured = (r: BenchResults, id: string) => evaluateTargets(r).find((t) => t.id === id)!.measured;

  it('decides each target on the median of the rounds and lists every round’s figure', () => {
    const r = results(withRounds);
    const target = (id: string) => evaluateTargets(r).find((t) => t.id === id)!;
    // CPU per customer message with its reply: twice the CPU s per 1,000 messages (both directions count), in ms.
    expect(target('cpu-memory')).toMatchObject({
      measured: '1.6× (median of 3 rounds): 1.6 ms vs 1 ms; rounds 1.6×, 1.4×, 1.8×',
      result: 'FAIL',
    });
    expect(target('cpu-redis')).toMatchObject({
      measured: '1.7× (median of 3 rounds): 1.7 ms vs 1 ms; rounds 1.7×, 1.6×, 1.8×',
      result: 'PASS',
    });
    expect(target('p99-half-load-redis')).toMatchObject({
      measured: expect.stringMatching(/^5× \(median of 3 rounds\); .*; rounds 4×, 5×, 6×$/),
      result: 'FAIL',
    });
    expect(target('p99-half-load-memory')).toMatchObject({
      measured: expect.stringMatching(/^2× \(median of 3 rounds\); .*; rounds 3×, 1\.5×, 2×$/),
      result: 'PASS',
    });
    // Throughput is reported, not a target any more.
    expect(evaluateTargets(r).map((t) => t.id)).not.toContain('throughput-memory');
    expect(evaluateTargets(r).map((t) => t.id)).not.toContain('redis-1000-per-second');
  });

  it('says under each table which round each row is, with every round’s ratios', () => {
    const md = renderMarkdown({ ...results(withRounds), targets: evaluateTargets(results(withRounds)) });
    expect(md).toContain('Median of 3 rounds (each round runs the raw relay and the bridge back to back)');
    expect(md).toContain('round 1 memory 60% / 70%, Redis 55% / 60%');
    expect(md).toContain('(raw relay: round 1, memory: round 1, Redis: round 3)');
    expect(md).toContain('memory 3× / 1×, 1.5× / 1×, 2× / 1×; Redis 4× / 1×, 5× / 1×, 6× / 1×');
    expect(md).toContain('(memory: round 3, Redis: round 2)');
    expect(md).not.toContain('Not everything arrived');
  });

  it('names the rounds that lost or reordered messages', () => {
    const lossy = structuredClone(withRounds);
    lossy.rounds!.max[1]!.redis.sound = false;
    expect(renderMarkdown(results(lossy))).toContain(
      'Not everything arrived once and in order in round 2 (Redis).',
    );
    // The integrity target fails for a loss in any round, not only in the median runs.
    const integrity = evaluateTargets(results(lossy)).find((t) => t.id === 'throughput-integrity')!;
    expect(integrity).toMatchObject({ result: 'FAIL', measured: expect.stringContaining('not in round 2') });
    expect(evaluateTargets(results(withRounds)).find((t) => t.id === 'throughput-integrity')!.result).toBe(
      'PASS',
    );
  });

  it('renders results written before rounds (and one round) as before', () => {
    for (const t of [
      representatives,
      { ...withRounds, rounds: { max: [withRounds.rounds!.max[0]!], halfLoad: { memory: [], redis: [] } } },
    ]) {
      const r = results(t);
      expect(measured(r, 'cpu-memory')).toBe('1.6× (one round): 1.6 ms vs 1 ms');
      expect(renderMarkdown({ ...r, targets: evaluateTargets(r) })).not.toContain('Median of');
    }
  });
});

describe('bench: Redis work, round trips and scale-out in the report', () => {
  const probe = (before: number[], after: number) => ({
    toHelpdesk: before.map((b) => ({ before: b, after, commands: b + after, trace: '' })),
    toCustomer: before.map(() => ({ before: 2, after, commands: 2 + after, trace: '' })),
    scans: 0,
  });
  const withRedis = (sent: number): LoadResult => ({
    ...load('redis', 500, 500),
    cpuSecondsPer1000: 1,
    redisPerCustomerMessage: { sent, executed: sent * 3 },
  });
  const t = (
    sent: number,
    before: number[],
    scaleOutCpu: number,
    scaleOutSound = true,
  ): ThroughputResults => {
    const scaleOut = {
      ...load('2 bridges', 600, 600),
      cpuSecondsPer1000: scaleOutCpu,
      instances: 2,
      cpuSecondsByInstance: [0.6, 0.5],
      ...(scaleOutSound ? {} : { duplicates: 1 }),
    };
    return {
      max: { raw: load('raw', 900, 900), memory: load('memory', 600, 600), redis: withRedis(sent), scaleOut },
      halfLoad: {
        memory: { rate: 250, bridge: load('bridge', 250, 250), raw: load('raw', 250, 250) },
        redis: { rate: 250, bridge: load('bridge', 250, 250), raw: load('raw', 250, 250) },
      },
      profiles: [],
      probes: [probe(before, 2)],
    };
  };
  const target = (tr: ThroughputResults, id: string) =>
    evaluateTargets(results(tr)).find((x) => x.id === id)!;

  it('judges commands sent per customer message with its reply, and prints what Redis executed', () => {
    expect(target(t(11.5, [2], 1), 'redis-commands')).toMatchObject({
      result: 'PASS',
      measured: expect.stringMatching(/^11\.5 sent by the bridge .* 34\.5 executed by Redis/),
    });
    expect(target(t(12.5, [2], 1), 'redis-commands').result).toBe('FAIL');
  });

  it('judges the median round trips before the delivery, each direction, and tallies them', () => {
    expect(target(t(10, [2, 2, 3], 1), 'redis-round-trips')).toMatchObject({
      result: 'PASS',
      measured: expect.stringContaining('to the helpdesk 2 (2 (×2), 3; then 2 (×3) after the delivery)'),
    });
    expect(target(t(10, [3, 3, 2], 1), 'redis-round-trips').result).toBe('FAIL');
  });

  it('judges scale-out on its CPU per message against one process and on every message arriving once', () => {
    expect(target(t(10, [2], 1.08), 'scale-out')).toMatchObject({
      result: 'PASS',
      measured: expect.stringContaining('1.08× one process'),
    });
    expect(target(t(10, [2], 1.2), 'scale-out').result).toBe('FAIL');
    expect(target(t(10, [2], 1, false), 'scale-out').result).toBe('FAIL');
  });
});
