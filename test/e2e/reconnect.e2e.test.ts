/**
 * The BLiP connection is ours to keep: when the LIME server goes away the bridge reports not-ready, keeps
 * reconnecting (blip-sdk's own loop would give up after 10 tries with an uncaught exception), and carries on
 * when the server is back.
 */
import { startSandbox, SANDBOX_ACCESS_KEY, SANDBOX_BOT, type Sandbox } from '../../sandbox/harness';
import { LimeServer } from '../../sandbox/lime-server';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(40_000);

async function readiness(sandbox: Sandbox): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${sandbox.bridge.url}/readyz`);
  return { status: response.status, body: await response.json() };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('BLiP reconnection', () => {
  let sandbox: Sandbox;
  let logs: CapturedLogs;
  let replacement: LimeServer | undefined;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
  });
  afterEach(async () => {
    await sandbox.stop();
    await replacement?.stop();
  });

  it('is not ready while the LIME server is down, reconnects when it is back, and the loop goes on', async () => {
    const port = sandbox.lime.port;
    const maria = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(maria, 'before the outage');
    const [ticket] = await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets().length > 0 && sandbox.helpdesk.tickets(),
    );

    await sandbox.lime.stop();
    await until(async () => (await readiness(sandbox)).status === 503, 5_000, 'not ready');
    expect((await readiness(sandbox)).body).toMatchObject({
      ready: false,
      checks: { blip: 'not connected' },
    });

    // Down long enough for several failed attempts.
    await until(
      async () => logs.lines().filter((l) => l.code === 'BLIP_RECONNECT_FAILED').length >= 3,
      15_000,
      'failed reconnect attempts',
    );

    replacement = await LimeServer.start({ port, accounts: { [SANDBOX_BOT]: SANDBOX_ACCESS_KEY } });
    await until(async () => (await readiness(sandbox)).status === 200, 20_000, 'ready again');
    expect(logs.lines().some((l) => l.message === 'BLiP session re-established')).toBe(true);

    // Customer -> helpdesk and agent -> customer both work over the new session.
    replacement.sendFromCustomer(sandbox.bot, maria, 'text/plain', 'after the outage');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets()[0]!.customerMessages.length === 2);
    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual([
      'before the outage',
      'after the outage',
    ]);
    await sandbox.helpdesk.agentReply(ticket!.id, 'welcome back');
    const sent = await replacement.waitForSent((s) => s.envelope.content === 'welcome back');
    expect(sent.envelope.to).toBe(maria.address);
  });
});
