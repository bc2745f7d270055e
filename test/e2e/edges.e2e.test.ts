/**
 * What operators meet at the edges: oversized webhooks, a state store that goes away, a Redis that is not there
 * at start-up.
 */
import { startBridge } from '../../src/app';
import { loadConfig } from '../../src/config';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { captureLogs } from '../helpers/log-capture';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis-server';
import { itWithRedis } from '../helpers/requirements';

jest.setTimeout(30_000);

describe('edges', () => {
  let redis: RedisServer | undefined;
  let sandbox: Sandbox | undefined;

  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
    await redis?.stop();
    redis = undefined;
  });

  it('answers 413 to a webhook larger than HTTP_BODY_LIMIT_BYTES, and keeps working', async () => {
    sandbox = await startSandbox({ logger: captureLogs().logger, env: { HTTP_BODY_LIMIT_BYTES: '2048' } });
    const huge = JSON.stringify({ padding: 'x'.repeat(10_000) });
    const rejected = await sandbox.helpdesk.deliverRaw(huge, sandbox.helpdesk.signedHeaders(huge));
    expect(rejected.status).toBe(413);
    const c = sandbox.customer('5511900000010@wa.gw.msging.net');
    sandbox.say(c, 'still here');
    await sandbox.helpdesk.waitFor(() => sandbox!.helpdesk.tickets().length === 1);
  });

  itWithRedis(
    'reports not ready when Redis goes away, and a webhook then gets 503 so the vendor retries',
    async () => {
      redis = await startRedisServer();
      const logs = captureLogs();
      sandbox = await startSandbox({ logger: logs.logger, redisUrl: redis.url });
      const c = sandbox.customer('5511900000011@wa.gw.msging.net');
      sandbox.say(c, 'hello');
      const [ticket] = await sandbox.helpdesk.waitFor(
        () => sandbox!.helpdesk.tickets().length === 1 && sandbox!.helpdesk.tickets(),
      );

      await redis.stop();
      const ready = await fetch(`${sandbox.bridge.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { state: string } }).checks.state).not.toBe('ok');

      const delivery = await sandbox.helpdesk.agentReply(ticket!.id, 'while redis is down');
      expect(delivery.status).toBe(503);
      expect(sandbox.lime.sent).toHaveLength(0);
    },
  );

  it('refuses to start, with a clear error, when Redis is unreachable', async () => {
    const port = await freePort();
    const config = loadConfig({
      BLIP_IDENTIFIER: 'bot',
      BLIP_ACCESS_KEY: 'a2V5',
      ZENDESK_SUBDOMAIN: 'acme',
      ZENDESK_EMAIL: 'a@acme.example',
      ZENDESK_API_TOKEN: 't',
      ZENDESK_WEBHOOK_SECRET: 's',
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    await expect(startBridge(config, captureLogs().logger)).rejects.toThrow(
      /State store unreachable \(Redis\)/,
    );
  });
});
