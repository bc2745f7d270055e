/**
 * `npm run bench`: what the bridge costs per message, measured against a raw relay on the same machine in the same run
 * (every machine of this project has 2 cores, shared by the sandbox, Redis and the bridge: ratios, not rates).
 *
 *   1. CPU per customer message with its reply, in memory and on Redis, at maximum throughput; the Redis commands
 *      it takes (client-side count) and, in a probe after the run, the sequential round trips of one message alone;
 *   2. the same load through a raw relay (./raw-relay.ts), the least work any bridge can do, for the ratios;
 *   3. the latency tail at half load, bridge and raw relay at the same offered load;
 *      1 to 3 run in rounds (`--rounds`), and the targets are decided on the median of the rounds;
 *   4. idle scale: open conversations in Redis, bytes each, and the bridge's RSS as their number grows; the vendor's
 *      rate limit: 3× the allowed load against an emulator that answers 429 beyond it;
 *   5. scale-out: two bridge processes on one Redis, in each round, against one process's CPU per message.
 *
 * Prints PASS/FAIL per target, writes bench/results/latest.{json,md,svg} and a timestamped copy of each, and
 * with `--readme`, rewrites the figures of README.md's Performance section. Tests never assert on speed; CI does not
 * run this.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runIdle, type IdleResult } from './idle';
import { type LoadResult, type LoadSpec, runLoad } from './load';
import { type BenchOptions, parseOptions } from './options';
import { buildSut } from './build';
import { RedisProcess, SutProcess } from './processes';
import { summariseProfile } from './profile';
import { runRateLimit, type RateLimitResult } from './ratelimit';
import {
  type BenchResults,
  evaluateTargets,
  type HalfLoad,
  halfHeadline,
  headline,
  type Machine,
  renderMarkdown,
  renderSvg,
  updateReadme,
  type ThroughputResults,
} from './report';
import { medianIndex, medianPairIndex, round } from './stats';

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function machine(note: string | undefined): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageStart: os.loadavg().map((l) => round(l, 2)),
    ...(note ? { note } : {}),
  };
}

async function throughput(options: BenchOptions, dir: string): Promise<ThroughputResults> {
  const redis = await RedisProcess.start({ aof: options.aof });
  const profiles: ThroughputResults['profiles'] = [];
  const rounds = options.rounds;
  // Files of round r: `max-raw-r2.log`; a single round keeps the names it always had.
  const base = (label: string, file: string, r: number): Omit<LoadSpec, 'sut'> => {
    const name = rounds > 1 ? `${file}-r${r}` : file;
    return {
      label,
      customers: options.customers,
      messages: options.messages,
      replies: 'perMessage',
      textLength: options.textLength,
      validate: options.validate,
      bridgeRequestsPerMinute: 1_000_000,
      warmupCustomers: options.warmupCustomers,
      stallTimeoutMs: options.stallSeconds * 1000,
      logFile: path.join(dir, `${name}.log`),
      // Round 1 only: the profiles answer where the CPU goes, which more rounds would not change, only lengthen.
      ...(options.profile && r === 1 ? { profileFile: path.join(dir, `${name}.cpuprofile`) } : {}),
      say,
    };
  };
  const run = async (spec: LoadSpec): Promise<LoadResult> => {
    if (spec.redis) await flush(redis);
    const result = await runLoad(spec);
    say(
      `    ${result.customerMessagesPerSecond} customer msg/s, ${result.agentRepliesPerSecond} replies/s; ` +
        `p99 ${result.toHelpdesk.p99Ms} / ${result.toCustomer.p99Ms} ms; ` +
        `${result.cpuSecondsPer1000} CPU s per 1000` +
        (result.incomplete ? `; INCOMPLETE: ${result.incomplete}` : ''),
    );
    if (spec.profileFile) {
      const summary = summariseProfile(spec.profileFile, 12, PROFILED_AREAS);
      profiles.push({ label: spec.label, file: path.basename(spec.profileFile), ...summary });
    }
    // One entry per vendor call is what the rate-limit scenario needs, not these: kept out of the saved results.
    return { ...result, vendorCalls: { ...result.vendorCalls, timeline: [] } };
  };
  const roundLine = (r: number): void => {
    if (rounds > 1) say(`  round ${r} of ${rounds}`);
  };
  try {
    say('scenarios 1-2: maximum throughput (all messages offered at once)');
    const maxRounds: Array<ThroughputResults['max']> = [];
    for (let r = 1; r <= rounds; r++) {
      roundLine(r);
      const raw = await run({ ...base('raw relay, max', 'max-raw', r), sut: 'raw' });
      const memory = await run({ ...base('bridge in memory, max', 'max-memory', r), sut: 'bridge' });
      const onRedis = await run({
        ...base('bridge on Redis, max', 'max-redis', r),
        sut: 'bridge',
        redis,
        probeCustomers: options.probeCustomers ?? 0,
      });
      const n = options.scaleOut ?? 0;
      // No profile: round 1's of one process answers where the CPU goes.
      const { profileFile: _unprofiled, ...scaled } = base(
        `${n} bridges on one Redis, max`,
        'max-scale-out',
        r,
      );
      const scaleOut = n > 1 ? await run({ ...scaled, sut: 'bridge', redis, instances: n }) : undefined;
      maxRounds.push({ raw, memory, redis: onRedis, ...(scaleOut ? { scaleOut } : {}) });
    }
    // Each system's own median round: a noisy round of the raw relay should not drag its bridge runs along.
    const median = (system: 'raw' | 'memory' | 'redis'): LoadResult =>
      maxRounds[medianIndex(maxRounds, (m) => m[system].customerMessagesPerSecond)]![system];
    const redisRound = maxRounds[medianIndex(maxRounds, (m) => m.redis.customerMessagesPerSecond)]!;
    const max = {
      raw: median('raw'),
      memory: median('memory'),
      redis: median('redis'),
      ...(redisRound.scaleOut ? { scaleOut: redisRound.scaleOut } : {}),
    };
    const probes = maxRounds.flatMap((m) => (m.redis.probe ? [m.redis.probe] : []));

    say('scenarios 1-2: latency at half of the bridge’s maximum throughput');
    const half = async (state: 'memory' | 'redis', r: number): Promise<HalfLoad> => {
      const rate = Math.max(1, max[state].customerMessagesPerSecond / 2);
      const bridge = await run({
        ...base(`bridge ${state === 'redis' ? 'on Redis' : 'in memory'}, half load`, `half-${state}`, r),
        sut: 'bridge',
        rate,
        gapSeconds: options.gapSeconds,
        ...(state === 'redis' ? { redis } : {}),
      });
      const rawHalf = await run({
        ...base(`raw relay, same load`, `half-raw-${state}`, r),
        sut: 'raw',
        rate,
        gapSeconds: options.gapSeconds,
      });
      return { rate: round(rate, 1), gapSeconds: options.gapSeconds, bridge, raw: rawHalf };
    };
    const halfRounds: Record<'memory' | 'redis', HalfLoad[]> = { memory: [], redis: [] };
    for (let r = 1; r <= rounds; r++) {
      roundLine(r);
      halfRounds.memory.push(await half('memory', r));
      halfRounds.redis.push(await half('redis', r));
    }
    const halfLoad = {
      memory: halfRounds.memory[medianPairIndex(halfRounds.memory)]!,
      redis: halfRounds.redis[medianPairIndex(halfRounds.redis)]!,
    };
    const pairHeadlines = (pairs: HalfLoad[]) =>
      pairs.map((p) => ({ bridge: halfHeadline(p.bridge), raw: halfHeadline(p.raw) }));
    return {
      max,
      halfLoad,
      profiles,
      probes,
      rounds: {
        max: maxRounds.map((m) => ({
          raw: headline(m.raw),
          memory: headline(m.memory),
          redis: headline(m.redis),
          ...(m.scaleOut ? { scaleOut: headline(m.scaleOut) } : {}),
        })),
        halfLoad: { memory: pairHeadlines(halfRounds.memory), redis: pairHeadlines(halfRounds.redis) },
      },
    };
  } finally {
    await redis.stop();
  }
}

const PROFILED_AREAS = [
  'src/core/work/runner.ts',
  'src/core/work/intake.ts',
  'src/core/handoff/customer-message.ts',
  'src/core/handoff/helpdesk-event.ts',
  'src/core/vendor-gateway.ts',
  'src/state/redis-work-queue.ts',
  'src/state/memory-work-queue.ts',
  'src/state/keyv-conversation-store.ts',
  'src/blip/inbound.ts',
  'src/http/server.ts',
  'src/reports/recorder.ts',
  'npm:@redis/client',
  'npm:keyv',
  'npm:winston',
  'npm:zod',
  'npm:blip-sdk',
  'npm:axios',
  'npm:fastify',
];

async function flush(redis: RedisProcess): Promise<void> {
  const { createClient } = await import('@keyv/redis');
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.flushAll();
  await client.close();
}

async function idle(options: BenchOptions, dir: string): Promise<IdleResult> {
  say(`scenario 3: idle scale (${options.idleSizes.join(', ')} open conversations in Redis)`);
  const redis = await RedisProcess.start({ aof: options.aof });
  try {
    return await runIdle({
      redis,
      sizes: options.idleSizes,
      touchCustomers: options.idleTouchCustomers,
      textLength: options.textLength,
      stallTimeoutMs: options.stallSeconds * 1000,
      logFile: (size) => path.join(dir, `idle-${size}.log`),
      say,
    });
  } finally {
    await redis.stop();
  }
}

async function rateLimit(options: BenchOptions, dir: string): Promise<RateLimitResult> {
  say(
    `scenario 4: ${options.loadFactor}× the vendor limit of ${options.vendorLimit}/min for ${options.rateLimitSeconds} s`,
  );
  const redis = await RedisProcess.start({ aof: options.aof });
  try {
    const result = await runRateLimit({
      redis,
      vendorLimit: options.vendorLimit,
      loadFactor: options.loadFactor,
      seconds: options.rateLimitSeconds,
      warmupSeconds: options.rateLimitWarmupSeconds,
      customers: options.rateLimitCustomers,
      textLength: options.textLength,
      stallTimeoutMs: Math.max(options.stallSeconds, 120) * 1000,
      logFile: path.join(dir, 'ratelimit.log'),
      say,
    });
    say(
      `    ${result.acceptedPerMinute} accepted calls/min, ${result.rateLimited} × 429, ` +
        `${result.messagesPerCall} messages per call, max queueing ${round(result.maxQueueingDelayMs / 1000, 1)} s`,
    );
    return result;
  } finally {
    await redis.stop();
  }
}

/** How the run was started, for the results; a `--note` text is printed apart, not repeated here. */
function commandLine(args: string[]): string {
  const shown: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--note') i++;
    else if (!args[i]!.startsWith('--note=')) shown.push(args[i]!);
  }
  return `npm run bench${shown.length ? ` -- ${shown.join(' ')}` : ''}`;
}

/** `--render FILE`: the outputs again from saved results (after a change to the report's format). */
async function render(file: string, options: BenchOptions): Promise<void> {
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  results.targets = evaluateTargets(results);
  const outDir = path.resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'latest.md'), renderMarkdown(results));
  writeFileSync(path.join(outDir, 'latest.svg'), renderSvg(results));
  if (options.writeReadme) await updateReadme(path.resolve(__dirname, '../README.md'), results);
  say(
    `rendered ${path.relative(process.cwd(), file)} into ${path.relative(process.cwd(), outDir)}/latest.{md,svg}`,
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options.render) return render(options.render, options);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const outDir = path.resolve(options.outDir);
  const runDir = path.join(outDir, 'runs', stamp);
  mkdirSync(runDir, { recursive: true });
  const host = machine(options.note);
  say(
    `bench: ${options.full ? 'full' : 'quick'} run, ${host.cpus} × ${host.cpuModel}, Node ${host.node}, ` +
      `load average ${host.loadAverageStart.join(' ')}; logs in ${path.relative(process.cwd(), runDir)}`,
  );

  say('compiling the bridge and the raw relay (they run as plain JavaScript, as in production)');
  SutProcess.entry = buildSut();

  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    wallSeconds: 0,
    machine: host,
    options,
    command: commandLine(process.argv.slice(2)),
    targets: [],
  };
  if (options.scenarios.includes('throughput')) results.throughput = await throughput(options, runDir);
  if (options.scenarios.includes('idle')) results.idle = await idle(options, runDir);
  if (options.scenarios.includes('ratelimit')) results.rateLimit = await rateLimit(options, runDir);

  const finishedAt = new Date();
  results.finishedAt = finishedAt.toISOString();
  results.wallSeconds = round((finishedAt.getTime() - startedAt.getTime()) / 1000, 0);
  results.machine.loadAverageEnd = os.loadavg().map((l) => round(l, 2));
  results.targets = evaluateTargets(results);

  const json = `${JSON.stringify(results, null, 2)}\n`;
  const markdown = renderMarkdown(results);
  const svg = renderSvg(results);
  for (const [name, body] of [
    ['latest.json', json],
    ['latest.md', markdown],
    ['latest.svg', svg],
  ] as const) {
    writeFileSync(path.join(outDir, name), body);
    copyFileSync(path.join(outDir, name), path.join(outDir, `${stamp}.${name.split('.')[1]}`));
  }
  if (options.writeReadme) await updateReadme(path.resolve(__dirname, '../README.md'), results);

  process.stdout.write(`\n${markdown}\n`);
  const failed = results.targets.filter((t) => t.result === 'FAIL');
  say(
    `${results.targets.length - failed.length}/${results.targets.length} targets met; ` +
      `results in ${path.relative(process.cwd(), outDir)}/latest.{json,md,svg}`,
  );
  // A missed target is a finding, not a crash: exit 0 unless the run itself broke.
}

main().catch((err: unknown) => {
  say(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
