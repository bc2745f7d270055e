/**
 * Two bridge instances behind one bot, sharing one Redis: the LIME server deals the customer's messages to both
 * sessions in turn, so the first messages of one customer race each other across processes' worth of state.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

jest.setTimeout(40_000);

describeWithRedis('two instances on one Redis', () => {
  let redis: RedisServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.flush();
    sandbox = await startSandbox({ logger: captureLogs('warn').logger, redisUrl: redis.url });
    const second = await sandbox.startAnotherBridge();
    expect(second.url).not.toBe(sandbox.bridge.url);
    expect(sandbox.lime.connectedBots).toHaveLength(2);
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  it('opens exactly one ticket per customer when their first messages land on different instances', async () => {
    const customers = Array.from({ length: 10 }, (_, i) =>
      sandbox.customer(`55119770000${String(i).padStart(2, '0')}@wa.gw.msging.net`),
    );
    for (const c of customers) {
      sandbox.say(c, `${c.originator} first`); // to instance A
      sandbox.say(c, `${c.originator} second`); // to instance B, at the same time
    }
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().reduce((n, t) => n + t.customerMessages.length, 0) === 20,
      20_000,
      'twenty customer messages',
    );
    const tickets = sandbox.helpdesk.tickets();
    expect(tickets).toHaveLength(10);
    for (const c of customers) {
      const mine = tickets.filter((t) => t.customerExternalId === c.originator);
      expect(mine).toHaveLength(1);
      expect([...mine[0]!.customerMessages].sort()).toEqual([
        `${c.originator} first`,
        `${c.originator} second`,
      ]);
    }
  });

  it('delivers an agent reply whatever instance receives the webhook', async () => {
    const c = sandbox.customer('5511977000099@wa.gw.msging.net');
    sandbox.say(c, 'hello');
    const [ticket] = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().length === 1 && sandbox.helpdesk.tickets(),
    );
    // Webhooks go to the first instance; point them at the second one.
    const second = await sandbox.startAnotherBridge();
    sandbox.helpdesk.setWebhookTarget(`${second.url}/webhooks/zendesk`);
    await sandbox.helpdesk.agentReply(ticket!.id, 'from the other instance');
    const sent = await sandbox.lime.waitForSent((s) => s.envelope.content === 'from the other instance');
    expect(sent.envelope.to).toBe(c.address);
  });
});
