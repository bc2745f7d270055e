import type { RedisTrip } from './redis-probe';

/** Messages between the benchmark and its system-under-test process (./sut.ts). */

export type SutRequest =
  | { type: 'stats' }
  | { type: 'gc' }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }
  | { type: 'redis-trace-start' }
  | { type: 'redis-trace-stop' }
  | { type: 'stop' };

export interface SutStats {
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Peak RSS of the process so far (getrusage maxrss). */
  maxRssBytes: number;
  /** Event-loop utilisation counters since the process started (ms). */
  eluActiveMs: number;
  eluIdleMs: number;
  /** Wall clock (ms since the epoch, sub-millisecond). */
  atMs: number;
  /** Redis commands the process has sent so far (client-side count, ./redis-probe.ts); absent without Redis. */
  redisCommands?: number;
}

export type SutReply =
  | { type: 'ready'; url: string }
  | { type: 'failed'; error: string }
  | { type: 'stats'; stats: SutStats; failures: number }
  | { type: 'profiling' }
  | { type: 'profile'; file?: string }
  | { type: 'tracing' }
  | { type: 'trace'; trips: RedisTrip[]; scans: number }
  | { type: 'stopped' }
  | { type: 'error'; error: string };
