/**
 * Work that fails for good is never swallowed: it lands in the dead-letter list, visible through the admin API,
 * the CLI and the metrics, and an operator replays it once the cause is fixed. Real bridge, real Zendesk emulator,
 * real Redis.
 */
import axios from 'axios';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { runBridgeCli } from '../../src/cli/bridge';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

jest.setTimeout(60_000);

const ADMIN_TOKEN = 'admin-token-for-the-dead-letter-test';

describeWithRedis('dead letters', () => {
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
    sandbox = await startSandbox({
      logger: captureLogs().logger,
      redisUrl: redis.url,
      env: { ADMIN_TOKEN, WORK_MAX_ATTEMPTS: '2', WORK_RETRY_MAX_SECONDS: '1' },
    });
  });
  afterEach(async () => {
    await sandbox.stop();
  });

  const admin = (method: 'get' | 'post' | 'delete', path: string, token = ADMIN_TOKEN) =>
    axios.request({
      method,
      url: `${sandbox.bridge.url}${path}`,
      headers: { authorization: `Bearer ${token}` },
      validateStatus: () => true,
    });

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runBridgeCli(
      argv,
      { REDIS_URL: redis.url },
      (line) => (out += `${line}\n`),
      (line) => (err += `${line}\n`),
    );
    return { code, out, err };
  }

  it('keeps a refused message, shows it to operators, and delivers it on replay', async () => {
    // The helpdesk refuses the ticket (a 422 is permanent): the message becomes a dead letter at once.
    // Two calls: the adapter tries the open once more without the contact details before giving up.
    sandbox.helpdesk.failNext(2, 422);
    const ana = sandbox.customer('5511911110000@wa.gw.msging.net');
    const messageId = sandbox.say(ana, 'my order never arrived');

    const listed = await until(async () => {
      const res = await admin('get', '/admin/dlq');
      return res.data.deadLetters?.length === 1 && res.data.deadLetters;
    }, 'a dead letter');
    expect(listed[0]).toMatchObject({
      kind: 'customer-message',
      subject: `message ${messageId}`,
      code: expect.stringMatching(/422/),
    });
    // The summary is for operators' screens: no message text.
    expect(JSON.stringify(listed)).not.toContain('my order never arrived');
    expect((await admin('get', '/admin/dlq', 'wrong-token')).status).toBe(401);
    expect((await admin('get', '/admin/queue')).data).toMatchObject({ deadLetters: 1 });

    const metrics = await axios.get<string>(`${sandbox.bridge.url}/metrics`);
    expect(metrics.data).toMatch(/bhb_dead_letters_total\{kind="customer-message",code="[^"]*422[^"]*"\} 1/);
    expect(metrics.data).toMatch(/bhb_dead_letters 1/);

    const list = await cli('dlq', 'list');
    expect(list.code).toBe(0);
    expect(list.out).toContain(listed[0].id);
    const show = await cli('dlq', 'show', listed[0].id);
    expect(JSON.parse(show.out)).toMatchObject({
      work: { item: { message: { text: 'my order never arrived' } } },
    });

    // The cause is gone (the next call succeeds): the operator replays it and the ticket opens.
    const replay = await cli('dlq', 'replay', listed[0].id);
    expect(replay).toMatchObject({ code: 0 });
    const tickets = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.ticketsById.size === 1 && [...sandbox.helpdesk.ticketsById.values()],
      10_000,
      'the ticket',
    );
    expect(tickets[0]!.comments.map((c) => c.body)).toEqual(['my order never arrived']);
    expect((await cli('dlq', 'list')).out).toContain('no dead letters');
    expect((await cli('dlq', 'replay', listed[0].id)).code).toBe(1);
  });

  it('dead-letters after the last attempt of a failure that does not go away, then drops it on demand', async () => {
    sandbox.helpdesk.failNext(100, 503);
    const bia = sandbox.customer('5511922220000@wa.gw.msging.net');
    sandbox.say(bia, 'hello?');
    const [letter] = await until(async () => {
      const res = await admin('get', '/admin/dlq');
      return res.data.deadLetters?.length === 1 && res.data.deadLetters;
    }, 'a dead letter after the retries');
    expect(letter).toMatchObject({ attempts: 2, code: expect.stringMatching(/503/) });
    expect((await admin('delete', `/admin/dlq/${letter.id}`)).status).toBe(200);
    expect((await admin('delete', `/admin/dlq/${letter.id}`)).status).toBe(404);
    expect((await cli('queue')).out).toContain('"deadLetters":0');
  });

  it('lists the attendances in progress and shows one (the conversations command)', async () => {
    expect((await cli('conversations')).out).toContain('no conversations in progress');
    const ana = sandbox.customer('5511933330000@wa.gw.msging.net');
    sandbox.say(ana, 'preciso de ajuda');
    const [ticket] = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().length === 1 && sandbox.helpdesk.tickets(),
    );
    const listed = await until(async () => {
      const { out } = await cli('conversations', 'list');
      return out.includes('\topen\t') && out;
    }, 'the open conversation in the list');
    const [customer, vendor, status, number] = listed.trim().split('\t');
    expect([vendor, status]).toEqual(['zendesk', 'open']);
    expect(number).toBe(ticket!.id);
    const shown = await cli('conversations', 'show', customer!);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ customer, vendor: 'zendesk', status: 'open' });
    expect(shown.out).not.toContain('preciso de ajuda'); // no message text
    expect(await cli('conversations', 'show', 'nobody@tunnel.msging.net')).toMatchObject({ code: 1 });
    expect(await cli('conversations', 'list', 'many')).toMatchObject({ code: 2 });
  });
});

describe('the bridge CLI', () => {
  it('the CLI refuses to guess without Redis', async () => {
    let err = '';
    const code = await runBridgeCli(
      ['dlq', 'list'],
      {},
      () => {},
      (line) => (err += line),
    );
    expect(code).toBe(2);
    expect(err).toContain('REDIS_URL');
    expect(err).toContain('/admin/dlq');
  });
});

async function until<T>(check: () => Promise<T | false | undefined>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
