/**
 * The real processes of a chaos run: a persistent `redis-server` that can crash and come back, and bridge
 * processes (`node --import tsx src/main.ts`) that can be killed with SIGKILL and started again. Their output goes
 * to log files; a line `--- <event> <time>` marks each start, kill and stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { REDIS } from '../helpers/requirements';

const ROOT = path.resolve(__dirname, '../..');

function mark(log: WriteStream, event: string): void {
  log.write(`--- ${event} ${new Date().toISOString()}\n`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `redis-server` with an append-only file fsynced on every write (`appendonly yes`, `appendfsync always`) in its
 * own directory, so what it acknowledged survives a `kill -9`. Restarts on the same port and directory.
 */
export class AofRedis {
  private child?: ChildProcess;
  private readonly log: WriteStream;

  constructor(
    readonly port: number,
    readonly dir: string,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mark(this.log, 'start');
    const child = spawn(
      REDIS.found ?? 'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--loglevel',
        'notice',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start on ${this.port}: ${output.slice(-500)}`)),
        30_000,
      );
      const onData = (chunk: Buffer): void => {
        this.log.write(chunk);
        output += chunk.toString();
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not run redis-server (${REDIS.install}): ${err.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${output.slice(-500)}`));
      });
    });
  }

  /** A crash: SIGKILL, no shutdown save (only the AOF, fsynced per write, keeps the data). */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    mark(this.log, 'kill -9');
    child.kill('SIGKILL');
    await exited(child);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    mark(this.log, 'stop');
    child.kill('SIGTERM');
    if (
      !(await withDeadline(
        exited(child).then(() => true),
        10_000,
      ))
    )
      child.kill('SIGKILL');
    await exited(child);
    this.log.end();
  }
}

/** One bridge process; started again after a kill with the same port and environment. */
export class BridgeProcess {
  private child?: ChildProcess;
  private readonly log: WriteStream;
  /** Starts so far (1 after the first). */
  starts = 0;
  /** False from a kill until the restarted process answers /readyz. */
  ready = false;

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the process and resolves once /readyz answers 200 (BLiP session up, Redis reachable). */
  async start(readyTimeoutMs = 60_000): Promise<void> {
    this.starts++;
    this.ready = false;
    mark(this.log, `start #${this.starts}`);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HTTP_PORT: String(this.port), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`bridge ${this.index} exited during start-up (see ${this.logFile})`);
      const ok = await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok && child === this.child) {
        this.ready = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`bridge ${this.index} not ready within ${readyTimeoutMs} ms (see ${this.logFile})`);
  }

  /** `kill -9`: no shutdown, no drain; in-flight work is whatever Redis holds. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.ready = false;
    mark(this.log, 'kill -9');
    child.kill('SIGKILL');
    await exited(child);
  }

  /** SIGTERM (graceful drain), SIGKILL after `graceMs`. Resolves with the exit code (null when killed). */
  async stop(graceMs = 15_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.alive) return child?.exitCode ?? null;
    this.ready = false;
    mark(this.log, 'stop (SIGTERM)');
    child.kill('SIGTERM');
    if (
      !(await withDeadline(
        exited(child).then(() => true),
        graceMs,
      ))
    ) {
      mark(this.log, 'still running: SIGKILL');
      child.kill('SIGKILL');
    }
    await exited(child);
    return child.exitCode;
  }

  closeLog(): Promise<void> {
    return new Promise((resolve) => this.log.end(() => resolve()));
  }
}
