/**
 * The processes a benchmark run starts: the system under test (./sut.ts, forked with IPC) and `redis-server`.
 * Both report their CPU time, so the figures can say what the bridge costs and what Redis costs on its behalf.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/redis-server';
import type { RedisTrip } from './redis-probe';
import type { SutReply, SutRequest, SutStats } from './sut-protocol';

const ROOT = path.resolve(__dirname, '..');

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a process so far, from /proc (Linux); undefined elsewhere. */
export function procCpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export type SutMode = 'bridge' | 'raw';

export class SutProcess {
  /** The compiled entry point (./build.ts), when the benchmark built one. */
  static entry?: string;
  private readonly pending: Array<{ type: string; resolve: (reply: SutReply) => void }> = [];
  private exited = false;

  private constructor(
    readonly mode: SutMode,
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Forks the process and resolves once it answers `ready`. Its stdout/stderr go to `logFile`. It runs the
   * compiled entry point (./build.ts) with plain node when there is one, else bench/sut.ts through tsx.
   */
  static async start(mode: SutMode, env: Record<string, string>, logFile: string): Promise<SutProcess> {
    const fd = openSync(logFile, 'a');
    const entry = SutProcess.entry ?? path.join(__dirname, 'sut.ts');
    const child = fork(entry, [mode], {
      cwd: ROOT,
      execArgv: entry.endsWith('.ts') ? ['--import', 'tsx', '--expose-gc'] : ['--expose-gc'],
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    closeSync(fd);
    const first = await new Promise<SutReply>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${mode} did not start in 60 s (see ${logFile})`)),
        60_000,
      );
      child.once('message', (reply) => {
        clearTimeout(timer);
        resolve(reply as SutReply);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${mode} exited with ${code} during start-up (see ${logFile})`));
      });
    });
    if (first.type !== 'ready') {
      child.kill('SIGKILL');
      throw new Error(`${mode} failed to start: ${first.type === 'failed' ? first.error : first.type}`);
    }
    const sut = new SutProcess(mode, child, first.url);
    child.on('message', (reply: SutReply) => sut.onReply(reply));
    child.once('exit', () => {
      sut.exited = true;
      for (const p of sut.pending.splice(0)) p.resolve({ type: 'error', error: 'process exited' });
    });
    return sut;
  }

  async stats(): Promise<{ stats: SutStats; failures: number }> {
    const reply = await this.request({ type: 'stats' }, 'stats');
    if (reply.type !== 'stats') throw new Error(`stats: ${JSON.stringify(reply)}`);
    return { stats: reply.stats, failures: reply.failures };
  }

  /** A full garbage collection, then the stats (RSS after GC is what the process really holds). */
  async statsAfterGc(): Promise<SutStats> {
    const reply = await this.request({ type: 'gc' }, 'stats');
    if (reply.type !== 'stats') throw new Error(`gc: ${JSON.stringify(reply)}`);
    return reply.stats;
  }

  async profileStart(): Promise<void> {
    await this.request({ type: 'profile-start' }, 'profiling');
  }

  async profileStop(file: string): Promise<void> {
    await this.request({ type: 'profile-stop', file }, 'profile');
  }

  /** Records the bridge's Redis round trips from now on (./redis-probe.ts). */
  async traceStart(): Promise<void> {
    await this.request({ type: 'redis-trace-start' }, 'tracing');
  }

  /** The round trips since `traceStart`, and how many scan commands were left out. */
  async traceStop(): Promise<{ trips: RedisTrip[]; scans: number }> {
    const reply = await this.request({ type: 'redis-trace-stop' }, 'trace');
    if (reply.type !== 'trace') throw new Error(`trace: ${JSON.stringify(reply)}`);
    return { trips: reply.trips, scans: reply.scans };
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies SutRequest);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }

  private request(request: SutRequest, answer: SutReply['type']): Promise<SutReply> {
    if (this.exited) return Promise.reject(new Error(`${this.mode} process has exited`));
    return new Promise((resolve) => {
      this.pending.push({ type: answer, resolve });
      this.child.send(request);
    });
  }

  private onReply(reply: SutReply): void {
    const index = this.pending.findIndex((p) => p.type === reply.type || reply.type === 'error');
    if (index >= 0) this.pending.splice(index, 1)[0]!.resolve(reply);
  }
}

/**
 * `redis-server` for a run, on a free port, with an append-only file fsynced every second (`appendonly yes`,
 * `appendfsync everysec`: what a production bridge runs on for durability) in a temporary directory, or no
 * persistence at all.
 */
export class RedisProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  cpuSeconds(): number | undefined {
    return procCpuSeconds(this.child.pid);
  }

  static async start(options: { aof: boolean }): Promise<RedisProcess> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bhb-bench-redis-'));
    const persistence = options.aof
      ? ['--appendonly', 'yes', '--appendfsync', 'everysec']
      : ['--appendonly', 'no'];
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 15_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.stderr?.off('data', onData);
          child.stdout?.resume();
          child.stderr?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not run redis-server (apt-get install -y redis-server): ${err.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output}`));
      });
    });
    return new RedisProcess(child, port, dir);
  }

  /** Calls per command since the server started (INFO commandstats), e.g. `{ evalsha: 1200, get: 3400 }`. */
  async commandStats(): Promise<Record<string, number>> {
    const { createClient } = await import('@keyv/redis');
    const client = createClient({ url: this.url });
    await client.connect();
    try {
      const info = await client.info('commandstats');
      const stats: Record<string, number> = {};
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        stats[match[1]!] = Number(match[2]);
      return stats;
    } finally {
      await client.close();
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
