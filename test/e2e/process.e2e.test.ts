/**
 * The bridge as an operator runs it: `src/main.ts` in its own process (through tsx, as `npm start` runs the build).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { LimeServer } from '../../sandbox/lime-server';
import { SANDBOX_ACCESS_KEY, SANDBOX_BOT } from '../../sandbox/harness';
import { freePort } from '../helpers/redis-server';

jest.setTimeout(30_000);

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
