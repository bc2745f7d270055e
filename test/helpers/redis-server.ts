import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { REDIS } from './requirements';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  /** FLUSHALL: each test starts from an empty database. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a throw-away `redis-server` (found on the PATH or at REDIS_SERVER_BIN, see ./requirements) on a free port,
 * without persistence.
 */
export async function startRedisServer(): Promise<RedisServer> {
  if (!REDIS.found) throw new Error(`redis-server ${REDIS.missing}; install it: ${REDIS.install}`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    REDIS.found,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'notice',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start on ${port}: ${output}`)),
      10_000,
    );
    const onData = (chunk: Buffer): void => {
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
      reject(new Error(`could not run ${REDIS.found} (${REDIS.install}): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    flush: () =>
      new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('FLUSHALL\r\n'));
        socket.once('data', (reply) => {
          socket.end();
          if (reply.toString().startsWith('+OK')) resolve();
          else reject(new Error(`FLUSHALL answered ${reply.toString()}`));
        });
        socket.once('error', reject);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
