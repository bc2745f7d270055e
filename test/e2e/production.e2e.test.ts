/**
 * The bridge installed and started the way an operator does it, from compiled JavaScript only:
 *  - the package: `npm pack` (its prepack builds dist/), the tarball installed into an empty folder with
 *    `--omit=dev`, then `blip-helpdesk-bridge start` from there against the local BLiP (LIME server) and the Zendesk
 *    emulator, on the port a container platform gives (PORT): /readyz 200, a customer's message opens a ticket, an
 *    agent's reply reaches the customer, SIGTERM exits 0;
 *  - the container: the Dockerfile's steps replayed in an empty folder (test/helpers/dockerfile-replay.ts says what
 *    is run as written and what is not), the bridge started with the image's CMD as the image's unprivileged user
 *    (or nobody), with compose.yaml's settings for the bridge and a redis-server started with compose's own
 *    arguments: /healthz and /readyz 200, the image's HEALTHCHECK command exits 0, the SQLite reports land on the
 *    data volume, SIGTERM exits 0.
 * Both installs use `--ignore-scripts --prefer-offline` and the repository's compiled better-sqlite3, so nothing
 * is compiled for minutes (test/helpers/production-install.ts).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { SANDBOX_ACCESS_KEY, SANDBOX_BOT } from '../../sandbox/harness';
import { emulatorFactories } from '../../sandbox/emulators';
import { LimeServer } from '../../sandbox/lime-server';
import type { ZendeskEmulator } from '../../src/adapters/zendesk/emulator';
import { replayDockerfile } from '../helpers/dockerfile-replay';
import {
  npm,
  reuseNativeAddons,
  ROOT,
  startProcess,
  unprivilegedUser,
  type BridgeProcess,
} from '../helpers/production-install';
import { freePort, type RedisServer } from '../helpers/redis-server';
import { itWithRedis, REDIS } from '../helpers/requirements';

jest.setTimeout(600_000);

const BOT = `${SANDBOX_BOT}@msging.net`;

describe('production install', () => {
  let work: string;
  let lime: LimeServer;
  let zendesk: ZendeskEmulator;
  const processes: BridgeProcess[] = [];
  let redis: RedisServer | undefined;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'bhb-production-'));
    chmodSync(work, 0o755); // the unprivileged user reads the replayed image from here
    lime = await LimeServer.start({ accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    zendesk = await emulatorFactories.zendesk();
  });
  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await Promise.allSettled([lime?.stop(), zendesk?.stop(), redis?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** BLiP and the helpdesk: what an operator's .env holds. */
  const operatorEnv = (): Record<string, string> => ({
    BLIP_IDENTIFIER: SANDBOX_BOT,
    BLIP_ACCESS_KEY: SANDBOX_ACCESS_KEY,
    BLIP_SCHEME: 'ws',
    BLIP_HOST: '127.0.0.1',
    BLIP_PORT: String(lime.port),
    ...zendesk.bridgeEnv(),
  });

  /** A customer writes; the ticket opens; the agent answers; the customer gets it. */
  async function handoff(port: number, originator: string): Promise<void> {
    zendesk.setWebhookTarget(`http://127.0.0.1:${port}/webhooks/zendesk`);
    const customer = lime.customer(originator, BOT);
    lime.sendFromCustomer(BOT, customer, 'text/plain', `oi, sou ${originator}`);
    const ticket = await zendesk.waitFor(
      () => zendesk.tickets().find((t) => t.customerMessages.some((m) => m.includes(originator))),
      30_000,
      `a ticket for ${originator}`,
    );
    await zendesk.agentReply(ticket.id, `Olá ${originator}!`);
    await lime.waitForSent((s) => s.envelope.to === customer.address, 30_000, 'the agent reply');
  }

  it('packs, installs into an empty folder with --omit=dev, and starts from there (PORT)', async () => {
    const packed = npm(['pack', '--pack-destination', work, '--json'], ROOT);
    const [{ filename, files }] = JSON.parse(packed.slice(packed.indexOf('['))) as [
      { filename: string; files: Array<{ path: string }> },
    ];
    const shipped = files.map((f) => f.path);
    expect(shipped).toEqual(expect.arrayContaining(['dist/main.js', 'bin/blip-helpdesk-bridge.js']));
    expect(shipped).toContain('npm-shrinkwrap.json'); // the lockfile's versions, installed as tested
    expect(shipped.filter((f) => f.startsWith('src/') && f.endsWith('.ts'))).toEqual([]);
    expect(shipped.some((f) => f.startsWith('test/') || f.startsWith('sandbox/'))).toBe(false);

    const install = path.join(work, 'install');
    execFileSync('mkdir', ['-p', install]);
    npm(['init', '-y'], install);
    npm(
      [
        'install',
        '--omit=dev',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-audit',
        path.join(work, filename),
      ],
      install,
    );
    process.stdout.write(
      `${reuseNativeAddons(path.join(install, 'node_modules', 'blip-helpdesk-bridge'), install)}\n`,
    );
    expect(existsSync(path.join(install, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(path.join(install, 'node_modules', 'tsx'))).toBe(false);

    const bin = path.join(install, 'node_modules', '.bin', 'blip-helpdesk-bridge');
    const port = await freePort();
    const bridge = startProcess(process.execPath, [bin, 'start'], {
      cwd: install,
      env: { PATH: process.env.PATH ?? '', ...operatorEnv(), PORT: String(port), LOG_FORMAT: 'json' },
    });
    processes.push(bridge);
    await bridge.waitFor(`http://127.0.0.1:${port}/readyz`);
    await handoff(port, '5511900000101@wa.gw.msging.net');
    bridge.child.kill('SIGTERM');
    expect(await bridge.exited).toBe(0);
    expect(bridge.output()).toContain('bridge stopped');
  });

  itWithRedis(
    "the Dockerfile's steps replayed as its unprivileged user, with compose.yaml's settings: healthy and ready",
    async () => {
      const runAs = unprivilegedUser('node');
      const image = replayDockerfile(path.join(ROOT, 'Dockerfile'), path.join(work, 'docker'), runAs);
      process.stdout.write(`Dockerfile replay:\n  ${image.log.join('\n  ')}\n`);
      expect(image.user).not.toBe('root');
      expect(image.cmd).toEqual(['node', 'dist/main.js']);
      expect(existsSync(path.join(image.app, 'node_modules', 'typescript'))).toBe(false);

      const compose = yaml.load(readFileSync(path.join(ROOT, 'compose.yaml'), 'utf8')) as {
        services: Record<string, { environment?: Record<string, string>; command?: string[] }>;
      };
      const bridgeEnv = compose.services.bridge?.environment ?? {};
      const redisCommand = compose.services.redis?.command ?? [];
      expect(redisCommand.join(' ')).toContain('--appendonly yes');
      redis = await startComposeRedis(redisCommand, path.join(work, 'redis'));

      const port = await freePort();
      const metricsPort = await freePort();
      expect(bridgeEnv.METRICS_PORT).toBeDefined();
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        ...image.env,
        ...Object.fromEntries(
          Object.entries(bridgeEnv).map(([k, v]) => [k, v.startsWith('/data') ? image.data + v.slice(5) : v]),
        ),
        ...operatorEnv(),
        // What Docker's networking does: the service name "redis" and the published port.
        REDIS_URL: redis.url,
        HTTP_PORT: String(port),
        METRICS_PORT: String(metricsPort),
      };
      expect(bridgeEnv.REDIS_URL).toBe('redis://redis:6379');
      const [node, ...args] = image.cmd;
      expect(node).toBe('node');
      const bridge = startProcess(process.execPath, args, { cwd: image.app, env, user: runAs });
      processes.push(bridge);
      await bridge.waitFor(`http://127.0.0.1:${port}/healthz`);
      await bridge.waitFor(`http://127.0.0.1:${port}/readyz`);
      await bridge.waitFor(`http://127.0.0.1:${metricsPort}/metrics`);
      await bridge.waitFor(`http://127.0.0.1:${port}/metrics`, 404); // not next to the webhooks

      const [hcNode, ...hcArgs] = image.healthcheck;
      expect(hcNode).toBe('node');
      execFileSync(process.execPath, hcArgs, { env, stdio: 'pipe', timeout: 10_000 }); // throws unless exit 0

      await handoff(port, '5511900000102@wa.gw.msging.net');
      const reportsFile = env.REPORTS_SQLITE_PATH!;
      expect(reportsFile.startsWith(image.data)).toBe(true);
      expect(existsSync(reportsFile)).toBe(true);
      if (runAs) expect(statSync(reportsFile).uid).toBe(runAs.uid);
      bridge.child.kill('SIGTERM');
      expect(await bridge.exited).toBe(0);
    },
  );
});

/** redis-server with compose.yaml's arguments for the redis service, on a free loopback port. */
async function startComposeRedis(command: string[], dir: string): Promise<RedisServer> {
  const [program, ...composeArgs] = command;
  expect(program).toBe('redis-server');
  execFileSync('mkdir', ['-p', dir]);
  const port = await freePort();
  const redis = startProcess(
    REDIS.found!,
    [...composeArgs, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
    { cwd: dir, env: { PATH: process.env.PATH ?? '' } },
  );
  const deadline = Date.now() + 10_000;
  while (!/ready to accept connections/i.test(redis.output())) {
    if (Date.now() > deadline) throw new Error(`redis-server did not start: ${redis.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    flush: () => Promise.resolve(),
    stop: async () => {
      redis.child.kill('SIGTERM');
      await redis.exited;
    },
  };
}
