/**
 * Who reaches the helpdesk: behind a router, only the router's tunnels. A sender writing to the bot's own address
 * is refused at the edge, the way a LIME peer refuses a message: one `failed` notification, nothing else.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import type { Envelope } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(30_000);

function failedFor(sandbox: Sandbox, id: string): Promise<Envelope> {
  const found = sandbox.lime.notifications.find((n) => n.id === id && n.event === 'failed');
  if (found) return Promise.resolve(found);
  return new Promise((resolve) =>
    sandbox.lime.on('notification', (n: Envelope) => {
      if (n.id === id && n.event === 'failed') resolve(n);
    }),
  );
}

async function metric(sandbox: Sandbox, pattern: RegExp): Promise<string | undefined> {
  const text = await (await fetch(`${sandbox.bridge.url}/metrics`)).text();
  return pattern.exec(text)?.[1];
}

describe('senders that are not router tunnels', () => {
  let sandbox: Sandbox;
  let logs: CapturedLogs;
  afterEach(() => sandbox.stop());

  it('are refused by default: a failed notification (32), no ticket, one log line, counted', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
    const id = String(
      sandbox.lime.sendDirect(sandbox.bot, 'someone@msging.net/web', 'text/plain', 'let me in').id,
    );

    const failed = await failedFor(sandbox, id);
    expect(failed).toMatchObject({ to: 'someone@msging.net/web', reason: { code: 32 } });
    expect(await sandbox.lime.waitForNotification(id, 'received', 300)).toBe(false);
    expect(await sandbox.lime.waitForNotification(id, 'consumed', 10)).toBe(false);
    expect(logs.lines().filter((l) => l.code === 'LIME_SENDER_REFUSED')).toEqual([
      expect.objectContaining({ level: 'warn', reason: 'direct', senderDomain: 'msging.net', messageId: id }),
    ]);
    expect(logs.text()).not.toContain('someone@msging.net');

    // The router's customers are served as before.
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(maria, 'hello');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets().length === 1);
    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['hello']);
    expect(await metric(sandbox, /^bhb_requests_refused_total\{route="lime",reason="direct"\} (\d+)$/m)).toBe(
      '1',
    );
  });

  it('cannot flood the log: a thousand refusals write one line, and the counter sees them all', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
    const ids: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      ids.push(
        String(sandbox.lime.sendDirect(sandbox.bot, `bot${i % 7}@msging.net`, 'text/plain', `m${i}`).id),
      );
    }
    await failedFor(sandbox, ids.at(-1)!);
    expect(logs.lines().filter((l) => l.code === 'LIME_SENDER_REFUSED')).toHaveLength(1);
    expect(await metric(sandbox, /^bhb_requests_refused_total\{route="lime",reason="direct"\} (\d+)$/m)).toBe(
      '1000',
    );
    expect(sandbox.helpdesk.tickets()).toEqual([]);
  });

  it('are taken with BLIP_ACCEPT_DIRECT=true', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_ACCEPT_DIRECT: 'true' } });
    const id = String(
      sandbox.lime.sendDirect(sandbox.bot, 'someone@msging.net/web', 'text/plain', 'direct hello').id,
    );
    expect(await sandbox.lime.waitForNotification(id, 'received')).toBe(true);
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets().length === 1);
    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['direct hello']);
  });

  it('with BLIP_ROUTERS, only the tunnels of those routers are taken', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_ROUTERS: 'otherrouter@msging.net' } });
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    const id = sandbox.say(maria, 'routed by acmerouter');
    expect(await failedFor(sandbox, id)).toMatchObject({ to: maria.address, reason: { code: 32 } });
    expect(logs.lines().filter((l) => l.code === 'LIME_SENDER_REFUSED')).toEqual([
      expect.objectContaining({ reason: 'unknown-router', owner: 'acmerouter@msging.net' }),
    ]);
    expect(sandbox.helpdesk.tickets()).toEqual([]);
  });

  it('with BLIP_ROUTERS naming the router, its tunnels are served', async () => {
    logs = captureLogs();
    sandbox = await startSandbox({
      logger: logs.logger,
      env: { BLIP_ROUTERS: 'otherrouter@msging.net,AcmeRouter@msging.net' },
    });
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(maria, 'routed by acmerouter');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets().length === 1);
    expect(logs.lines().filter((l) => l.code === 'LIME_SENDER_REFUSED')).toEqual([]);
  });
});
