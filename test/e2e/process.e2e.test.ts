/**
 * The bridge as an operator runs it: `src/main.ts` in its own process (through tsx, as `npm start` runs the build).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { LimeServer } from '../../sandbox/lime-server';
import { SANDBOX_ACCESS_KEY, SANDBOX_BOT } from '../../sandbox/harness';
import { freePort } from '../helpers/redis-server';

jest.setTimeout(45_000);

const root = path.resolve(__dirname, '../..');

function runMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

type LogLine = { message: string; level: string; code?: string; timestamp: string };

function jsonLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The settings of a bridge that would start, but for what a test changes. */
function bridgeEnv(limePort: number, httpPort: number): Record<string, string> {
  return {
    BLIP_IDENTIFIER: SANDBOX_BOT,
    BLIP_ACCESS_KEY: SANDBOX_ACCESS_KEY,
    BLIP_SCHEME: 'ws',
    BLIP_HOST: '127.0.0.1',
    BLIP_PORT: String(limePort),
    ZENDESK_BASE_URL: 'http://127.0.0.1:9',
    ZENDESK_EMAIL: 'bridge@acme.example',
    ZENDESK_API_TOKEN: 'token',
    ZENDESK_WEBHOOK_SECRET: 'secret',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    REPORTS_SQLITE_PATH: ':memory:',
    LOG_FORMAT: 'json',
  };
}

async function untilReady(port: number): Promise<boolean> {
  for (let i = 0; i < 150; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('the bridge process', () => {
  it('refuses to start without configuration, naming every missing key in one message', async () => {
    const run = runMain({ ZENDESK_API_TOKEN: 'a-secret-token-value', BLIP_PORT: 'not-a-port' });
    expect(await run.exited).toBe(2);
    const { stderr } = run.output();
    for (const key of [
      'BLIP_IDENTIFIER',
      'BLIP_ACCESS_KEY',
      'BLIP_PORT',
      'ZENDESK_WEBHOOK_SECRET',
      'ZENDESK_SUBDOMAIN',
      'ZENDESK_EMAIL',
    ]) {
      expect(stderr).toContain(key);
    }
    expect(stderr).toContain('.env.example');
    expect(stderr).not.toContain('a-secret-token-value');
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
  });

  it('exits 2 on an access key that is not base64, naming BLIP_ACCESS_KEY (BLiP would drop the session silently)', async () => {
    const run = runMain({ ...bridgeEnv(9, await freePort()), BLIP_ACCESS_KEY: 'my key!' });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toContain('BLIP_ACCESS_KEY: must be base64');
    expect(run.output().stderr).not.toContain('my key!');
  });

  it('exits 1 when BLiP cannot be reached, after BLIP_STARTUP_RETRY_SECONDS, with one line saying why', async () => {
    const closedPort = await freePort();
    const run = runMain({
      ...bridgeEnv(closedPort, await freePort()),
      BLIP_STARTUP_RETRY_SECONDS: '2',
      BLIP_HANDSHAKE_TIMEOUT_MS: '1000',
    });
    expect(await run.exited).toBe(1);
    const lines = jsonLines(run.output().stderr);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'STARTUP_FAILED' });
    expect(errors[0]!.message).toBe(
      `bridge failed to start: could not open a BLiP session at ws://127.0.0.1:${closedPort} as acmehelpdesk@msging.net: connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    );
    // Tried again meanwhile, and gave up within the documented time: the retry window plus one handshake.
    const retries = lines.filter((l) => l.code === 'BLIP_CONNECT_RETRY');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    const waited = Date.parse(errors[0]!.timestamp) - Date.parse(retries[0]!.timestamp);
    expect(waited).toBeLessThanOrEqual(2_000 + 1_000 + 1_000);
    expect(run.output().stdout + run.output().stderr).not.toContain('[object Object]');
  });

  it("exits 1 at once when BLiP refuses the key, with the server's reason", async () => {
    const lime = await LimeServer.start({ accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    try {
      const run = runMain({
        ...bridgeEnv(lime.port, await freePort()),
        BLIP_ACCESS_KEY: Buffer.from('a wrong key').toString('base64'),
      });
      expect(await run.exited).toBe(1);
      const errors = jsonLines(run.output().stderr).filter((l) => l.level === 'error');
      expect(errors.map((l) => l.message)).toEqual([
        `bridge failed to start: BLiP refused the session at ws://127.0.0.1:${lime.port} as acmehelpdesk@msging.net: 1 The session authentication failed (check BLIP_IDENTIFIER and BLIP_ACCESS_KEY)`,
      ]);
      // A refusal is not retried.
      expect(run.output().stderr).not.toContain('BLIP_CONNECT_RETRY');
    } finally {
      await lime.stop();
    }
  });

  it('exits 1 when BLiP accepts the socket but never answers the session, within BLIP_HANDSHAKE_TIMEOUT_MS', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'lime' });
    await new Promise((resolve) => silent.once('listening', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const run = runMain({
        ...bridgeEnv(port, await freePort()),
        BLIP_STARTUP_RETRY_SECONDS: '0',
        BLIP_HANDSHAKE_TIMEOUT_MS: '1500',
      });
      expect(await run.exited).toBe(1);
      const errors = jsonLines(run.output().stderr).filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toContain(
        `no LIME session from BLiP at ws://127.0.0.1:${port} as acmehelpdesk@msging.net within 1500 ms (BLIP_HANDSHAKE_TIMEOUT_MS)`,
      );
    } finally {
      for (const client of silent.clients) client.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('exits 1 when Redis cannot be reached at start-up', async () => {
    const lime = await LimeServer.start({ accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    try {
      const redisPort = await freePort();
      const run = runMain({
        ...bridgeEnv(lime.port, await freePort()),
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      });
      expect(await run.exited).toBe(1);
      // The Redis client's own reconnect errors (STATE_STORE_ERROR) come before it; one line says the outcome.
      const failed = jsonLines(run.output().stderr).filter((l) => l.code === 'STARTUP_FAILED');
      expect(failed.map((l) => l.message)).toEqual([
        'bridge failed to start: State store unreachable (Redis): no answer within 10 s',
      ]);
    } finally {
      await lime.stop();
    }
  });

  it('on SIGTERM with HTTP_DRAIN_DELAY_MS, answers /readyz 503 while still serving, then stops and exits 0', async () => {
    const lime = await LimeServer.start({ accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    const port = await freePort();
    const run = runMain({ ...bridgeEnv(lime.port, port), HTTP_DRAIN_DELAY_MS: '1500' });
    try {
      expect(await untilReady(port)).toBe(true);
      run.child.kill('SIGTERM');
      let draining: { status: number; body: unknown } | undefined;
      for (let i = 0; i < 50 && !draining; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (r.status === 503) draining = { status: r.status, body: await r.json() };
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(draining?.body).toMatchObject({ ready: false, checks: { shutdown: 'draining' } });
      // Still taking requests during the delay (a load balancer may send a few more).
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(await run.exited).toBe(0);
      const messages = jsonLines(run.output().stdout).map((l) => l.message);
      expect(messages).toEqual(expect.arrayContaining(['shutting down', 'bridge stopped']));
      expect(messages.some((m) => m.startsWith('draining'))).toBe(true);
    } finally {
      run.child.kill('SIGKILL');
      await lime.stop();
    }
  });

  it('when BLiP fails the established session: logs its reason, no unhandled rejection, and reconnects', async () => {
    const lime = await LimeServer.start({ accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    const port = await freePort();
    const run = runMain(bridgeEnv(lime.port, port));
    try {
      expect(await untilReady(port)).toBe(true);
      lime.failSession(`${SANDBOX_BOT}@msging.net`, {
        code: 11,
        description: 'The session was terminated by the server',
      });
      const reconnected = (): boolean => run.output().stdout.includes('BLiP session re-established');
      for (let i = 0; i < 100 && !reconnected(); i++) await new Promise((r) => setTimeout(r, 100));
      expect(reconnected()).toBe(true);
      await new Promise((r) => setTimeout(r, 300)); // a late rejection gets its turn
      const lines = jsonLines(run.output().stdout + run.output().stderr);
      expect(lines.filter((l) => l.code === 'UNHANDLED_REJECTION')).toEqual([]);
      expect(lines.filter((l) => l.code === 'BLIP_SESSION_FAILED')).toEqual([
        expect.objectContaining({
          reasonCode: 11,
          reasonDescription: 'The session was terminated by the server',
        }),
      ]);
      expect(await untilReady(port)).toBe(true);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
      await lime.stop();
    }
  });

  it('starts, becomes ready, and exits 0 on SIGTERM', async () => {
    const lime = await LimeServer.start({ accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    const port = await freePort();
    const run = runMain({
      BLIP_IDENTIFIER: SANDBOX_BOT,
      BLIP_ACCESS_KEY: SANDBOX_ACCESS_KEY,
      BLIP_SCHEME: 'ws',
      BLIP_HOST: '127.0.0.1',
      BLIP_PORT: String(lime.port),
      ZENDESK_BASE_URL: 'http://127.0.0.1:9',
      ZENDESK_EMAIL: 'bridge@acme.example',
      ZENDESK_API_TOKEN: 'token',
      ZENDESK_WEBHOOK_SECRET: 'secret',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_FORMAT: 'json',
    });
    try {
      let ready = false;
      for (let i = 0; i < 100 && !ready; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await fetch(`http://127.0.0.1:${port}/readyz`)
          .then((r) => r.status === 200)
          .catch(() => false);
      }
      expect(ready).toBe(true);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      const lines = run
        .output()
        .stdout.split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { message: string });
      expect(lines.map((l) => l.message)).toEqual(
        expect.arrayContaining(['bridge started', 'shutting down', 'bridge stopped']),
      );
      expect(run.output().stdout).not.toContain(SANDBOX_ACCESS_KEY);
    } finally {
      run.child.kill('SIGKILL');
      await lime.stop();
    }
  });
});
