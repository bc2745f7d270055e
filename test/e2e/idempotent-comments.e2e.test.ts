/**
 * Zendesk takes no idempotency key on comments: a comment it applied but answered too late for the bridge must not
 * be posted again by the retry. The bridge writes its key into the update's audit metadata and, before a retry,
 * looks for it in the ticket's audits.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(40_000);

const ORIGINATOR = '5511987654321@wa.gw.msging.net';

describe('customer comments at Zendesk are posted once', () => {
  let sandbox: Sandbox;
  let logs: CapturedLogs;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({ logger: logs.logger, env: { ZENDESK_TIMEOUT_MS: '400' } });
  });
  afterEach(() => sandbox.stop());

  it('does not post again a comment Zendesk applied but answered after the timeout', async () => {
    const { customer: ana, ticket } = await openFirstTicket(sandbox, ORIGINATOR, 'first');

    // Applied at once, answered after 1.5 s: the bridge gives up waiting at 400 ms and tries again.
    sandbox.helpdesk.slowNext(1, 1_500, 'late');
    sandbox.say(ana, 'second');
    sandbox.say(ana, 'third');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets()[0]!.customerMessages.length >= 3);
    await sandbox.bridge.runner.idle();

    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['first', 'second', 'third']);
    const lines = logs.lines();
    expect(lines.some((l) => l.code === 'ZENDESK_UNREACHABLE')).toBe(true);
    expect(lines.some((l) => l.code === 'ZENDESK_COMMENT_ALREADY_APPLIED')).toBe(true);
    // Each comment's audit carries its key.
    const audits = sandbox.helpdesk.audits.get(Number(ticket.id)) ?? [];
    const keys = audits.map((a) => a.metadata.custom.blip_bridge_key).filter(Boolean);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
  });

  it('posts the comment on a retry when the earlier try never reached Zendesk', async () => {
    const { customer: ana } = await openFirstTicket(sandbox, ORIGINATOR, 'first');

    // Dropped on the way: not applied, the retry finds no audit with the key and posts it.
    sandbox.helpdesk.slowNext(1, 600, 'hang');
    sandbox.say(ana, 'second');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets()[0]!.customerMessages.length >= 2);
    await sandbox.bridge.runner.idle();

    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['first', 'second']);
    expect(logs.lines().some((l) => l.code === 'ZENDESK_COMMENT_ALREADY_APPLIED')).toBe(false);
  });

  it('finds the key on any page of a long ticket, and posts a comment whose key is not there', async () => {
    const { customer: ana, ticket: emulated } = await openFirstTicket(sandbox, ORIGINATOR, 'first', {
      idle: true,
    });
    const conversation = await sandbox.bridge.store.get(ana.address.split('/')[0]!.toLowerCase());
    const ticket = conversation!.ticket!;
    const adapter = sandbox.bridge.adapter;
    const text = (n: number) => ({ id: `x${n}`, text: `comment ${n}`, at: new Date().toISOString() });
    for (let n = 0; n < 130; n++) await adapter.appendCustomerMessage(ticket, text(n), `key-${n}`);
    const before = sandbox.helpdesk.tickets()[0]!.customerMessages.length;

    // Keys on the first and on the second page of audits (100 a page): not posted again.
    await adapter.appendCustomerMessage(ticket, text(3), 'key-3', { again: true });
    await adapter.appendCustomerMessage(ticket, text(125), 'key-125', { again: true });
    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toHaveLength(before);
    // A key no audit has: posted.
    await adapter.appendCustomerMessage(ticket, text(200), 'key-200', { again: true });
    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toHaveLength(before + 1);
    expect(emulated.id).toBe(ticket.id);
  });
});
