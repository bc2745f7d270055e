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
  // Three rounds of max throughput: raw relay 1000, 900, 1100; memory 600, 700, 500; Redis 550, 450, 500.
  const max = [
    {
      raw: load('raw relay, max', 1000, 1000),
      memory: load('memory', 600, 700),
      redis: load('redis', 550, 600),
    },
    {
      raw: load('raw relay, max', 900, 900),
      memory: load('memory', 700, 700),
      redis: load('redis', 450, 600),
    },
    {
      raw: load('raw relay, max', 1100, 1000),
      memory: load('memory', 500, 700),
      redis: load('redis', 500, 600),
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

  it('judges the representatives and lists each round’s deciding figure', () => {
    const r = results(withRounds);
    expect(measured(r, 'throughput-memory')).toBe(
      "60% to the helpdesk, 70% to the customer (each round's lower: 60%, 78%, 45%)",
    );
    expect(measured(r, 'p99-half-load-redis')).toMatch(/\(5×\).*\(each round's higher: 4×, 5×, 6×\)$/);
    expect(measured(r, 'redis-1000-per-second')).toBe('500 customer messages/s (rounds: 550, 450, 500)');
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
      expect(measured(r, 'throughput-memory')).toBe('60% to the helpdesk, 70% to the customer');
      expect(renderMarkdown({ ...r, targets: evaluateTargets(r) })).not.toContain('Median of');
    }
  });
});
