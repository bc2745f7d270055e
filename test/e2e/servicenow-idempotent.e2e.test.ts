/**
 * ServiceNow takes no idempotency key: a customer comment it applied but answered too late for the bridge must not
 * be posted again by the retry. Before a repeated try the adapter looks in the record's journal for the same text by
 * the integration user, written since the message arrived.
 */
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(40_000);

const JOURNAL_READ = /^\/api\/now\/table\/sys_journal_field\?/;
const ORIGINATOR = '5511987654321@wa.gw.msging.net';

describe('customer comments at ServiceNow are posted once', () => {
  let sandbox: Sandbox<'servicenow'>;
  let logs: CapturedLogs;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({
      vendor: 'servicenow',
      logger: logs.logger,
      env: { SERVICENOW_TIMEOUT_MS: '400' },
    });
  });
  afterEach(() => sandbox.stop());

  const messages = () => sandbox.helpdesk.tickets()[0]?.customerMessages ?? [];

  it('does not post again a comment ServiceNow applied but answered after the timeout', async () => {
    const { customer: ana } = await openFirstTicket(sandbox, ORIGINATOR, 'first', { idle: true });

    // Applied at once, answered after 1.5 s: the bridge gives up waiting at 400 ms and tries again.
    sandbox.helpdesk.slowNext(1, 1_500, 'late');
    sandbox.say(ana, 'second');
    sandbox.say(ana, 'third');
    await sandbox.helpdesk.waitFor(() => messages().length >= 3);
    await sandbox.bridge.runner.idle();

    expect(messages()).toEqual(['first', 'second', 'third']);
    expect(sandbox.helpdesk.faultCounts().late).toBe(1);
    const lines = logs.lines();
    expect(lines.some((l) => l.code === 'SERVICENOW_UNREACHABLE')).toBe(true);
    const skipped = lines.filter((l) => l.code === 'SERVICENOW_COMMENT_ALREADY_APPLIED');
    expect(skipped).toHaveLength(1);
    // Never the text in the log line.
    expect(JSON.stringify(skipped)).not.toContain('second');
  });

  it('posts the comment on a retry when the earlier try never reached ServiceNow', async () => {
    const { customer: ana } = await openFirstTicket(sandbox, ORIGINATOR, 'first', { idle: true });

    // Dropped on the way: not applied, the retry finds no such entry in the journal and posts it.
    sandbox.helpdesk.slowNext(1, 600, 'hang');
    sandbox.say(ana, 'second');
    await sandbox.helpdesk.waitFor(() => messages().length >= 2);
    await sandbox.bridge.runner.idle();

    expect(messages()).toEqual(['first', 'second']);
    expect(sandbox.helpdesk.faultCounts().hang).toBe(1);
    // The retry did look before posting.
    expect(sandbox.helpdesk.apiCallsTo('GET', JOURNAL_READ).length).toBeGreaterThanOrEqual(1);
    expect(logs.lines().some((l) => l.code === 'SERVICENOW_COMMENT_ALREADY_APPLIED')).toBe(false);
  });

  it('posts both when the customer legitimately sends the same text twice', async () => {
    const { customer: ana } = await openFirstTicket(sandbox, ORIGINATOR, 'first', { idle: true });

    sandbox.say(ana, 'ok');
    await sandbox.helpdesk.waitFor(() => messages().length >= 2);
    await sandbox.bridge.runner.idle();
    sandbox.say(ana, 'ok');
    await sandbox.helpdesk.waitFor(() => messages().length >= 3);
    await sandbox.bridge.runner.idle();

    expect(messages()).toEqual(['first', 'ok', 'ok']);
    // A first try looks nothing up: only a repeated one does.
    expect(sandbox.helpdesk.apiCallsTo('GET', JOURNAL_READ)).toHaveLength(0);
    expect(logs.lines().some((l) => l.code === 'SERVICENOW_COMMENT_ALREADY_APPLIED')).toBe(false);
  });

  it('on a repeated try, skips only an identical text written since the message arrived', async () => {
    const { customer: ana } = await openFirstTicket(sandbox, ORIGINATOR, 'first', { idle: true });
    const conversation = await sandbox.bridge.store.get(ana.address.split('/')[0]!.toLowerCase());
    const ticket = conversation!.ticket!;
    const adapter = sandbox.bridge.adapter;
    const received = new Date().toISOString();
    await adapter.appendCustomerMessage(ticket, { id: 'a', text: 'ok', at: received }, 'key-a');
    expect(messages()).toEqual(['first', 'ok']);

    // The same message tried again: its entry is there, nothing is posted.
    await adapter.appendCustomerMessage(ticket, { id: 'a', text: 'ok', at: received }, 'key-a', {
      again: true,
    });
    expect(messages()).toEqual(['first', 'ok']);
    // A later message with the same text (received two seconds after that entry): the old entry is not it.
    const later = new Date(Date.now() + 2_000).toISOString();
    await adapter.appendCustomerMessage(ticket, { id: 'b', text: 'ok', at: later }, 'key-b', {
      again: true,
    });
    // Another text since the message: not it either.
    await adapter.appendCustomerMessage(ticket, { id: 'c', text: 'okay', at: received }, 'key-c', {
      again: true,
    });
    expect(messages()).toEqual(['first', 'ok', 'ok', 'okay']);
    // An agent's identical comment is not the customer's.
    sandbox.helpdesk.agentReplySilently(ticket.id, 'thanks');
    await adapter.appendCustomerMessage(ticket, { id: 'd', text: 'thanks', at: received }, 'key-d', {
      again: true,
    });
    expect(messages()).toEqual(['first', 'ok', 'ok', 'okay', 'thanks']);
    expect(logs.lines().filter((l) => l.code === 'SERVICENOW_COMMENT_ALREADY_APPLIED')).toHaveLength(1);
  });
});
