/**
 * The LIME session's edges as a real BLiP shows them: a server that fails or finishes an established session, and
 * frames larger than the WebSocket client takes by default.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(40_000);

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ready(sandbox: Sandbox): Promise<boolean> {
  return (await fetch(`${sandbox.bridge.url}/readyz`)).status === 200;
}

describe('a session the server ends', () => {
  let sandbox: Sandbox;
  let logs: CapturedLogs;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
  });
  afterEach(() => sandbox.stop());

  // The unhandled rejection it used to leave is checked on a real process (process.e2e.test.ts): jest's sandboxed
  // `process` does not see bluebird's.
  it('failed: logs the reason code and description, and reconnects', async () => {
    const { customer: maria, ticket } = await openFirstTicket(
      sandbox,
      '5511987654321@wa.gw.msging.net',
      'before',
    );
    sandbox.lime.failSession(sandbox.bot, {
      code: 11,
      description: 'The session was terminated by the server',
    });

    await until(
      () => logs.lines().some((l) => l.message === 'BLiP session re-established'),
      15_000,
      'reconnect',
    );
    expect(logs.lines().filter((l) => l.code === 'BLIP_SESSION_FAILED')).toEqual([
      expect.objectContaining({
        level: 'error',
        reasonCode: 11,
        reasonDescription: 'The session was terminated by the server',
      }),
    ]);
    await until(() => ready(sandbox), 5_000, 'ready');
    await sandbox.helpdesk.agentReply(ticket.id, 'after the failure');
    expect(
      (await sandbox.lime.waitForSent((s) => s.envelope.content === 'after the failure')).envelope.to,
    ).toBe(maria.address);
    expect(logs.text()).not.toContain('[object Object]');
  });

  it('finished: says so and reconnects', async () => {
    const { ticket } = await openFirstTicket(sandbox, '5511987654321@wa.gw.msging.net', 'before');
    sandbox.lime.finishSession(sandbox.bot);
    await until(
      () => logs.lines().some((l) => l.message === 'BLiP session re-established'),
      15_000,
      'reconnect',
    );
    expect(logs.lines().filter((l) => l.code === 'BLIP_SESSION_FINISHED')).toHaveLength(1);
    await sandbox.helpdesk.agentReply(ticket.id, 'after the finish');
    await sandbox.lime.waitForSent((s) => s.envelope.content === 'after the finish');
  });
});

describe('large frames', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });

  it('takes a text of 1,100,000 characters with the default limit (the client used to close the socket at 1 MiB)', async () => {
    const logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger });
    const customer = sandbox.customer('5511987654321@wa.gw.msging.net');
    const text = 'a'.repeat(1_100_000);
    const id = sandbox.say(customer, text);
    // `received`: recorded (BRIDGE_READ_RECEIPTS=agent; `consumed` waits for an agent).
    expect(await sandbox.lime.waitForNotification(id, 'received', 15_000)).toBe(true);
    const [ticket] = await sandbox.helpdesk.waitFor(
      () => sandbox!.helpdesk.tickets().length === 1 && sandbox!.helpdesk.tickets(),
    );
    expect(ticket!.customerMessages[0]).toHaveLength(1_100_000);
    expect(
      logs.lines().filter((l) => l.code === 'BLIP_DISCONNECTED' || l.code === 'LIME_FRAME_TOO_LARGE'),
    ).toEqual([]);
  });

  it('refuses a message over BLIP_MAX_FRAME_BYTES: logged with its size, counted, the sender told, the session kept', async () => {
    const logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_MAX_FRAME_BYTES: '65536' } });
    const customer = sandbox.customer('5511987654321@wa.gw.msging.net');
    const id = sandbox.say(customer, 'b'.repeat(100_000));

    const failed = await new Promise<Record<string, unknown>>((resolve) =>
      sandbox!.lime.on('notification', (n: Record<string, unknown>) => {
        if (n.id === id && n.event === 'failed') resolve(n);
      }),
    );
    expect(failed).toMatchObject({ to: customer.address, reason: { code: 21 } });
    expect(String((failed.reason as { description: string }).description)).toMatch(/too large .*65536/);
    const [line] = logs.lines().filter((l) => l.code === 'LIME_FRAME_TOO_LARGE');
    expect(line).toMatchObject({ kind: 'message', limit: 65_536, messageId: id });
    expect(line!.bytes).toBeGreaterThan(100_000);
    // Nothing says it was read, and nothing reached the helpdesk.
    expect(await sandbox.lime.waitForNotification(id, 'received', 300)).toBe(false);
    expect(await sandbox.lime.waitForNotification(id, 'consumed', 10)).toBe(false);
    expect(sandbox.helpdesk.tickets()).toEqual([]);

    // The same session goes on.
    expect(logs.lines().some((l) => l.code === 'BLIP_DISCONNECTED')).toBe(false);
    sandbox.say(customer, 'a normal message');
    await sandbox.helpdesk.waitFor(() => sandbox!.helpdesk.tickets().length === 1);
    const metrics = await (await fetch(`${sandbox.bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/^bhb_lime_frames_too_large_total\{action="refused"\} 1$/m);
  });

  it('logs and counts a frame so large the client closes the socket for it, and reconnects', async () => {
    const logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { BLIP_MAX_FRAME_BYTES: '65536' } });
    const customer = sandbox.customer('5511987654321@wa.gw.msging.net');
    sandbox.say(customer, 'c'.repeat(300_000));
    await until(
      () => logs.lines().some((l) => l.message === 'BLiP session re-established'),
      15_000,
      'reconnect',
    );
    const [line] = logs.lines().filter((l) => l.code === 'LIME_FRAME_TOO_LARGE');
    expect(line).toMatchObject({ kind: 'frame', limit: 4 * 65_536 });
    expect(line!.bytes).toBeGreaterThan(300_000);
    const metrics = await (await fetch(`${sandbox.bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/^bhb_lime_frames_too_large_total\{action="socket_closed"\} 1$/m);
    sandbox.say(customer, 'after the reconnect');
    await sandbox.helpdesk.waitFor(() => sandbox!.helpdesk.tickets().length === 1);
  });
});
