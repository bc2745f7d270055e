/**
 * The system under test, in a process of its own (forked by the benchmark with an IPC channel): the real bridge
 * (`startBridge`, configured from the environment like src/main.ts) or the raw relay (./raw-relay.ts). A fresh
 * process per run, so its CPU time and peak RSS are its own, not the sandbox's or the load generator's.
 *
 * IPC: the child says `{ type: 'ready', url }` (or `{ type: 'failed', error }`); the parent asks `stats` (CPU,
 * memory, event-loop use), `gc` (then stats), `profile-start` / `profile-stop` (a V8 CPU profile written to a
 * file), `redis-trace-start` / `redis-trace-stop` (the Redis round trips in between, ./redis-probe.ts), and `stop`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { startBridge } from '../src/app';
import { loadConfig } from '../src/config';
import { errorMessage } from '../src/core/errors';
import { createLogger } from '../src/telemetry/logger';
import { startRawRelay } from './raw-relay';
import { RedisProbe } from './redis-probe';
import type { SutRequest, SutStats } from './sut-protocol';

const mode = process.argv[2] === 'raw' ? 'raw' : 'bridge';
/** Client-side Redis counters (the bridge on Redis only), installed before the bridge connects. */
const probe = mode === 'bridge' && process.env.REDIS_URL ? new RedisProbe() : undefined;
probe?.install();

function send(message: unknown): void {
  process.send?.(message);
}

function stats(): SutStats {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const elu = performance.eventLoopUtilization();
  return {
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    eluActiveMs: elu.active,
    eluIdleMs: elu.idle,
    atMs: performance.timeOrigin + performance.now(),
    ...(probe ? { redisCommands: probe.counters().commands } : {}),
  };
}

async function main(): Promise<void> {
  let stop: () => Promise<void>;
  let url: string;
  let failures: () => number = () => 0;
  if (mode === 'raw') {
    const env = process.env;
    const relay = await startRawRelay({
      blip: {
        identifier: env.BLIP_IDENTIFIER ?? '',
        accessKey: env.BLIP_ACCESS_KEY ?? '',
        domain: 'msging.net',
        host: env.BLIP_HOST ?? '127.0.0.1',
        port: Number(env.BLIP_PORT),
      },
      zendesk: {
        baseUrl: env.ZENDESK_BASE_URL ?? '',
        email: env.ZENDESK_EMAIL ?? '',
        apiToken: env.ZENDESK_API_TOKEN ?? '',
      },
    });
    url = relay.url;
    stop = relay.stop;
    failures = relay.failures;
  } else {
    const config = loadConfig(process.env);
    const logger = createLogger({
      level: config.log.level,
      format: 'json',
      defaultMeta: { service: 'blip-helpdesk-bridge' },
    });
    const bridge = await startBridge(config, logger);
    url = bridge.url;
    stop = () => bridge.stop();
  }

  let session: Session | undefined;
  process.on('message', (raw: unknown) => {
    const request = raw as SutRequest;
    void (async () => {
      switch (request.type) {
        case 'stats':
          return send({ type: 'stats', stats: stats(), failures: failures() });
        case 'gc': {
          // --expose-gc is passed by the parent; without it this is a no-op and RSS is read as it is. Twice, with
          // a turn of the event loop between, so what the first collection freed is released.
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          await new Promise((resolve) => setTimeout(resolve, 50));
          gc?.();
          return send({ type: 'stats', stats: stats(), failures: failures() });
        }
        case 'profile-start':
          session = new Session();
          session.connect();
          await post(session, 'Profiler.enable');
          await post(session, 'Profiler.setSamplingInterval', { interval: 500 });
          await post(session, 'Profiler.start');
          return send({ type: 'profiling' });
        case 'profile-stop': {
          if (!session) return send({ type: 'profile', file: undefined });
          const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
          writeFileSync(request.file, JSON.stringify(profile));
          session.disconnect();
          session = undefined;
          return send({ type: 'profile', file: request.file });
        }
        case 'redis-trace-start':
          probe?.startTrace();
          return send({ type: 'tracing' });
        case 'redis-trace-stop':
          return send({ type: 'trace', ...(probe?.stopTrace() ?? { trips: [], scans: 0 }) });
        case 'stop':
          await stop().catch(() => {});
          send({ type: 'stopped' });
          setTimeout(() => process.exit(0), 50);
          return;
      }
    })().catch((err: unknown) => send({ type: 'error', error: errorMessage(err) }));
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url });
}

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))),
  );
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: errorMessage(err) });
  setTimeout(() => process.exit(1), 100);
});
