/**
 * Client-side Redis counters for the system under test (./sut.ts), in the bridge's own process: every command the
 * bridge sends through node-redis is counted where it is queued (`RedisCommandsQueue.addCommand`, the one place all
 * commands, pipelines and MULTIs of node-redis v5 pass), so a Lua script is one command, as on the wire.
 *
 * While tracing (the benchmark's probe, one message in flight at a time), it also records the round trips: a round
 * trip starts when a command is queued while no other command of the bridge waits for its reply, and ends when the
 * last reply it waited for arrives. Commands queued while others wait (in the same tick: one write, or overlapping)
 * share the round trip; a command queued after the replies came back (`await` in sequence) starts the next one. So
 * with one message alone in the bridge, the round trips recorded are the sequential ones its path waits for. The
 * runner's periodic scan (due lanes, timers: every 250 ms whatever the traffic) is left out of the trips and counted
 * apart. Times are CLOCK_MONOTONIC (`process.hrtime`), the same clock in every process of the machine.
 */
import { createRequire } from 'node:module';
import * as queueScripts from '../src/state/redis-work-queue-scripts';

export interface RedisTrip {
  /** Monotonic ms (process.hrtime) when the first command was queued, and when the last reply came. */
  startMs: number;
  endMs: number;
  /** The commands it carried, named: `GET conv:…` is `GET conv`, a script by its name (`EVAL ACK_TAKE`). */
  commands: string[];
}

export interface RedisCounters {
  /** Commands sent so far (since the process started). */
  commands: number;
}

type AddCommand = (this: unknown, args: ReadonlyArray<unknown>, options?: unknown) => Promise<unknown>;

/** Monotonic milliseconds, comparable across the processes of one machine. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const scriptNames = new Map<string, string>();
for (const [name, script] of Object.entries(queueScripts)) {
  const source = (script as unknown as { source?: unknown }).source;
  if (typeof source === 'string') scriptNames.set(source, name);
}

/** A command's short name: the command and the kind of its first key (`GET conv`), a script by its name. */
export function commandName(args: ReadonlyArray<unknown>): string {
  const command = String(args[0] ?? '').toUpperCase();
  if (command === 'EVAL' || command === 'EVALSHA') {
    const source = String(args[1] ?? '');
    const known = scriptNames.get(source);
    if (known) return `EVAL ${known}`;
    if (source.includes("redis.call('TIME')")) return 'EVAL GCRA';
    return `EVAL ${keyKind(args[3])}`;
  }
  return args.length > 1 ? `${command} ${keyKind(args[1])}` : command;
}

/** `bhb:conv:abc` → `conv`, `bhb:q:lane:x` → `q:lane`, `bhb:done:in:…` → `done`. */
function keyKind(key: unknown): string {
  // Keyv's keys are `bhb::conv:…` (namespace, then its own separator).
  const parts = String(key ?? '')
    .split(':')
    .filter((p) => p !== '');
  const rest = parts[0] === 'bhb' ? parts.slice(1) : parts;
  return rest[0] === 'q' || rest[0] === 'lock' ? rest.slice(0, 2).join(':') : (rest[0] ?? '');
}

/** The runner's scan: `dueLanes` (ZRANGEBYSCORE q:due) and `promoteTimers`, on a timer whatever the traffic. */
function isScan(name: string): boolean {
  return name === 'ZRANGEBYSCORE q:due' || name === 'EVAL PROMOTE_TIMERS';
}

export class RedisProbe {
  private commands = 0;
  private tracing = false;
  private pending = 0;
  private current?: RedisTrip;
  private trips: RedisTrip[] = [];
  private scans = 0;

  /** Counts every command from now on (node-redis must not have sent any yet for the counts to be whole). */
  install(): void {
    const require = createRequire(__filename);
    // node-redis v5 has no `exports` map: its command queue is reachable, and there is one copy in node_modules.
    const Queue = (
      require('@redis/client/dist/lib/client/commands-queue') as {
        default: { prototype: { addCommand: AddCommand } };
      }
    ).default;
    const original = Queue.prototype.addCommand;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patched method needs both `this`es
    const probe = this;
    Queue.prototype.addCommand = function (this: unknown, args, options) {
      probe.commands++;
      const promise = original.call(this, args, options);
      if (probe.tracing) probe.trace(args, promise);
      return promise;
    };
  }

  counters(): RedisCounters {
    return { commands: this.commands };
  }

  startTrace(): void {
    this.tracing = true;
    this.trips = [];
    this.scans = 0;
  }

  /** The round trips recorded since `startTrace` (a trip still waiting has endMs NaN), and the scans left out. */
  stopTrace(): { trips: RedisTrip[]; scans: number } {
    this.tracing = false;
    const result = { trips: this.trips, scans: this.scans };
    this.trips = [];
    return result;
  }

  private trace(args: ReadonlyArray<unknown>, promise: Promise<unknown>): void {
    const name = commandName(args);
    if (isScan(name)) {
      this.scans++;
      return;
    }
    if (this.pending === 0 || !this.current) {
      this.current = { startMs: monotonicMs(), endMs: NaN, commands: [] };
      this.trips.push(this.current);
    }
    this.pending++;
    const trip = this.current;
    trip.commands.push(name);
    const done = (): void => {
      this.pending--;
      if (this.pending === 0) trip.endMs = monotonicMs();
    };
    promise.then(done, done);
  }
}
