/**
 * `npm run bridge -- setup <vendor>` and `npm run bridge -- check` against the sandbox (issue 6): the Zendesk webhook
 * (and triggers) created and then verified through the API (requests validated against Zendesk's OpenAPI files),
 * Intercom's topics printed and its token and admin checked, ServiceNow's Business Rules printed and its table
 * checked; `check` reports BLiP, the vendor and Redis with a non-zero exit on any failure.
 */
import axios from 'axios';
import { runBridgeCli } from '../../src/cli/bridge';
import { bridgeTriggers, EVENT_SUBSCRIPTIONS } from '../../src/adapters/zendesk/setup';
import { emulatorFactories, SANDBOX_WEBHOOK_SECRET } from '../../sandbox/emulators';
import {
  SANDBOX_ACCESS_KEY,
  SANDBOX_BOT,
  SANDBOX_ROUTER,
  SANDBOX_ROUTER_ACCESS_KEY,
  SANDBOX_ROUTER_HTTP_KEY,
} from '../../sandbox/harness';
import type { IntercomEmulator } from '../../src/adapters/intercom/emulator';
import { LimeServer } from '../../sandbox/lime-server';
import type { ServiceNowEmulator } from '../../src/adapters/servicenow/emulator';
import type { ZendeskEmulator } from '../../src/adapters/zendesk/emulator';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

jest.setTimeout(60_000);

const URL = 'https://bridge.acme.example';

async function cli(argv: string[], env: Record<string, string>) {
  const lines: string[] = [];
  const errors: string[] = [];
  const code = await runBridgeCli(
    argv,
    env,
    (l) => lines.push(l),
    (l) => errors.push(l),
  );
  return { code, out: lines.join('\n'), err: errors.join('\n') };
}

describe('setup zendesk', () => {
  let zendesk: ZendeskEmulator;
  let env: Record<string, string>;
  beforeEach(async () => {
    zendesk = await emulatorFactories.zendesk();
    env = { ...zendesk.bridgeEnv(), BRIDGE_PUBLIC_URL: URL };
  });
  afterEach(() => zendesk.stop());

  it('creates the event webhook with the signing secret, then finds it in order; corrects a changed URL', async () => {
    const first = await cli(['setup', 'zendesk'], env);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/CREATED\s+webhook "blip-helpdesk-bridge"/);
    expect(first.out).toMatch(/OK\s+signing secret\s+matches ZENDESK_WEBHOOK_SECRET/);
    const [webhook, ...others] = [...zendesk.admin.webhooks.values()];
    expect(others).toEqual([]);
    expect(webhook).toMatchObject({
      name: 'blip-helpdesk-bridge',
      endpoint: `${URL}/webhooks/zendesk`,
      http_method: 'POST',
      request_format: 'json',
      status: 'active',
      subscriptions: EVENT_SUBSCRIPTIONS,
      signing_secret: { secret: SANDBOX_WEBHOOK_SECRET },
    });
    // Every call went through the emulator's OpenAPI validation and was accepted.
    expect(zendesk.validating && zendesk.admin.validating).toBe(true);
    expect(zendesk.apiCalls().every((c) => (c.status ?? 0) < 300)).toBe(true);

    const again = await cli(['setup', 'zendesk'], env);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/OK\s+webhook "blip-helpdesk-bridge"/);
    expect(zendesk.admin.webhooks.size).toBe(1);

    const moved = await cli(['setup', 'zendesk', '--url', 'https://new.acme.example/'], env);
    expect(moved.code).toBe(0);
    expect(moved.out).toMatch(/UPDATED\s+webhook "blip-helpdesk-bridge"\s+\S+: endpoint/);
    expect(webhook!.endpoint).toBe('https://new.acme.example/webhooks/zendesk');
  });

  it('installs the trigger path: a conditional webhook and the four triggers of the fixtures', async () => {
    const result = await cli(['setup', 'zendesk', '--triggers'], {
      ...env,
      BRIDGE_TICKET_TAGS: 'acme_chat,vip',
    });
    expect(result.code).toBe(0);
    const webhook = [...zendesk.admin.webhooks.values()][0]!;
    expect(webhook).toMatchObject({
      name: 'blip-helpdesk-bridge (triggers)',
      subscriptions: ['conditional_ticket_events'],
    });
    const triggers = [...zendesk.admin.triggers.values()];
    expect(triggers.map((t) => ({ title: t.title, conditions: t.conditions, actions: t.actions }))).toEqual(
      bridgeTriggers(webhook.id, 'acme_chat').map(({ title, conditions, actions }) => ({
        title,
        conditions,
        actions,
      })),
    );
    const again = await cli(['setup', 'zendesk', '--triggers'], env); // the tag changed back to blip_bridge
    expect(again.out.match(/UPDATED\s+trigger/g)).toHaveLength(4);
    expect(zendesk.admin.triggers.size).toBe(4);
  });

  it('fails clearly on a signing secret that differs, and on bad credentials', async () => {
    await cli(['setup', 'zendesk'], env);
    const other = await cli(['setup', 'zendesk'], { ...env, ZENDESK_WEBHOOK_SECRET: 'another-secret' });
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/FAIL\s+signing secret\s+differs from ZENDESK_WEBHOOK_SECRET/);
    expect(other.out).not.toContain(SANDBOX_WEBHOOK_SECRET);
    const denied = await cli(['setup', 'zendesk'], { ...env, ZENDESK_API_TOKEN: 'wrong' });
    expect(denied.code).toBe(1);
    expect(denied.out).toMatch(/FAIL\s+zendesk api\s+.*HTTP 401/);
  });

  it('needs the public URL and the vendor settings', async () => {
    const { BRIDGE_PUBLIC_URL: _url, ...withoutUrl } = env;
    expect((await cli(['setup', 'zendesk'], withoutUrl)).code).toBe(2);
    const { ZENDESK_WEBHOOK_SECRET: _secret, ...withoutSecret } = env;
    const missing = await cli(['setup', 'zendesk'], withoutSecret);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('ZENDESK_WEBHOOK_SECRET: is required');
    expect((await cli(['setup', 'acmedesk'], env)).code).toBe(2);
  });

  it('the emulator rejects a webhook the Webhooks API file does not allow', async () => {
    const auth = { username: `${env.ZENDESK_EMAIL}/token`, password: env.ZENDESK_API_TOKEN! };
    const bad = await axios.post(
      `${zendesk.url}/api/v2/webhooks`,
      {
        webhook: { name: 'x', endpoint: URL, http_method: 'FETCH', request_format: 'json', status: 'active' },
      },
      { auth, validateStatus: () => true },
    );
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.data)).toContain('http_method');
  });
});

it('setup intercom prints the topics and URL, and checks the token and the admin', async () => {
  const intercom = (await emulatorFactories.intercom()) as IntercomEmulator;
  try {
    const env = { ...intercom.bridgeEnv(), BRIDGE_PUBLIC_URL: URL };
    const result = await cli(['setup', 'intercom'], env);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`Endpoint URL:  ${URL}/webhooks/intercom`);
    expect(result.out).toContain(
      'Topics:        conversation.admin.replied, conversation.admin.assigned, conversation.admin.closed',
    );
    expect(result.out).toMatch(/OK\s+access token\s+token of BLiP Bridge/);
    expect(result.out).toMatch(/OK\s+admin 8823001/);
    const wrong = await cli(['setup', 'intercom'], { ...env, INTERCOM_ADMIN_ID: '999' });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/FAIL\s+admin 999\s+no such teammate/);
  } finally {
    await intercom.stop();
  }
});

it('setup servicenow prints both Business Rules with their settings and the properties, and checks the table', async () => {
  const sn = (await emulatorFactories.servicenow()) as ServiceNowEmulator;
  try {
    const env = { ...sn.bridgeEnv(), BRIDGE_PUBLIC_URL: URL };
    const result = await cli(['setup', 'servicenow'], env);
    expect(result.code).toBe(0);
    expect(result.out).toContain(`blip_bridge.push.endpoint      ${URL}/webhooks/servicenow`);
    expect(result.out).toContain('blip_bridge.integration_user   blip.integration');
    expect(result.out).toContain('Table: incident | When: after | Insert: false | Update: true');
    expect(result.out).toContain('Table: sys_attachment | When: after | Insert: true');
    expect(result.out).toContain("var CONTRACT = 'blip-helpdesk-bridge/servicenow-push/v1';");
    expect(result.out).toMatch(/OK\s+table incident/);
    expect(result.out).not.toContain('sandbox-servicenow-push-secret');
    const denied = await cli(['setup', 'servicenow'], { ...env, SERVICENOW_PASSWORD: 'wrong' });
    expect(denied.code).toBe(1);
    expect(denied.out).toMatch(/FAIL\s+table incident\s+.*HTTP 401/);
  } finally {
    await sn.stop();
  }
});

describeWithRedis('check', () => {
  let redis: RedisServer;
  let lime: LimeServer;
  let zendesk: ZendeskEmulator;
  let env: Record<string, string>;
  beforeAll(async () => {
    redis = await startRedisServer();
    lime = await LimeServer.start({
      accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY, [SANDBOX_ROUTER]: SANDBOX_ROUTER_ACCESS_KEY },
      router: `${SANDBOX_ROUTER}@msging.net`,
    });
    zendesk = await emulatorFactories.zendesk();
    env = {
      BLIP_IDENTIFIER: SANDBOX_BOT,
      BLIP_ACCESS_KEY: SANDBOX_ACCESS_KEY,
      BLIP_SCHEME: 'ws',
      BLIP_HOST: '127.0.0.1',
      BLIP_PORT: String(lime.port),
      REDIS_URL: redis.url,
      ...zendesk.bridgeEnv(),
    };
  });
  afterAll(async () => {
    await Promise.allSettled([lime.stop(), zendesk.stop(), redis.stop()]);
  });

  it('reports every connection as OK and exits 0', async () => {
    const result = await cli(['check'], env);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^OK\s+configuration\s+valid \(vendor zendesk\)$/m);
    expect(result.out).toMatch(
      /^OK\s+blip\s+session established as acmehelpdesk@msging.net at ws:\/\/127.0.0.1:/m,
    );
    expect(result.out).toMatch(/^OK\s+zendesk\s+http:\/\/127.0.0.1:\d+ as bridge@acme.example \(admin\)$/m);
    expect(result.out).toMatch(/^OK\s+redis\s+redis:\/\/.+ reachable$/m);
  });

  it('names what failed (a wrong BLiP key, a wrong vendor token, Redis away) and exits 1', async () => {
    const result = await cli(['check'], {
      ...env,
      BLIP_ACCESS_KEY: Buffer.from('wrong').toString('base64'),
      ZENDESK_API_TOKEN: 'wrong',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /^FAIL\s+blip\s+BLiP refused the session at ws:\/\/127.0.0.1:\d+ as acmehelpdesk@msging.net: 1 The session authentication failed \(check BLIP_IDENTIFIER and BLIP_ACCESS_KEY\)$/m,
    );
    expect(result.out).toMatch(/^FAIL\s+zendesk\s+.*HTTP 401/m);
    expect(result.out).toMatch(/^FAIL\s+redis\s+redis:\/\/127.0.0.1:1/m);
    expect(result.out).toContain('3 check(s) failed.');
  });

  it('checks BLIP_HISTORY_KEY when it is set: the router’s key reads threads, a wrong one is named', async () => {
    const history = { BLIP_HISTORY_URL: lime.commandsUrl };
    const ok = await cli(['check'], { ...env, ...history, BLIP_HISTORY_KEY: SANDBOX_ROUTER_HTTP_KEY });
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^OK\s+blip history\s+http:\/\/127.0.0.1:\d+\/commands: BLIP_HISTORY_KEY reads/m);
    const wrongKey = Buffer.from('acmerouter:wrong').toString('base64');
    const wrong = await cli(['check'], { ...env, ...history, BLIP_HISTORY_KEY: wrongKey });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/^FAIL\s+blip history\s+BLiP refused BLIP_HISTORY_KEY \(HTTP 401\)/m);
    expect(wrong.out + wrong.err).not.toContain(wrongKey);
  });

  it('exits 2 on an invalid configuration, naming the keys', async () => {
    const { BLIP_IDENTIFIER: _id, ...rest } = env;
    const result = await cli(['check'], rest);
    expect(result.code).toBe(2);
    expect(result.err).toContain('BLIP_IDENTIFIER: is required');
  });
});
