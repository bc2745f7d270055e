/**
 * Intercom takes no idempotency key and its conversation parts carry nothing of ours: a customer reply Intercom
 * applied but answered too late for the bridge must not be posted again by the retry. Before a retry the adapter
 * reads the conversation and skips the reply when the contact's latest part is this message's text, dated after
 * the message (src/adapters/intercom/README.md, "Retried replies").
 */
import { IntercomAdapter } from '../../src/adapters/intercom';
import { intercomConfigSchema } from '../../src/adapters/intercom/config';
import type { ChatMessage, CustomerRef, TicketRef } from '../../src/core/model';
import { startSandbox, type Sandbox } from '../../sandbox/harness';
import { IntercomEmulator } from '../../src/adapters/intercom/emulator';
import { openFirstTicket } from '../helpers/first-ticket';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture';

jest.setTimeout(60_000);

/** How long a message whose first try timed out may take to arrive (the retry, after the lane's backoff). */
const RETRIED_MS = 30_000;

const ALREADY = 'INTERCOM_REPLY_ALREADY_APPLIED';
const conversationReads = (calls: Array<{ method: string; path: string }>) =>
  calls.filter((c) => c.method === 'GET' && /^\/conversations\/\d+/.test(c.path));

describe('customer replies at Intercom are posted once (through the bridge)', () => {
  let sandbox: Sandbox<'intercom'>;
  let logs: CapturedLogs;

  beforeEach(async () => {
    logs = captureLogs();
    sandbox = await startSandbox({
      vendor: 'intercom',
      logger: logs.logger,
      env: { INTERCOM_TIMEOUT_MS: '400' },
    });
  });
  afterEach(() => sandbox.stop());

  /** Opens the conversation with `first` and waits until the bridge has nothing left to do. */
  async function opened(text = 'first') {
    // idle: the open's own calls (title, team) are done, so the next API call is the reply.
    const { customer } = await openFirstTicket(sandbox, '5511987654321@wa.gw.msging.net', text, {
      idle: true,
    });
    return customer;
  }

  it('does not post again a reply Intercom applied but answered after the timeout', async () => {
    const ana = await opened();

    // Applied at once, answered after 1.5 s: the bridge gives up waiting at 400 ms and tries again.
    sandbox.helpdesk.slowNext(1, 1_500, 'late');
    sandbox.say(ana, 'second');
    sandbox.say(ana, 'third');
    // A retry waits out the 400 ms timeout and the lane's backoff: on a loaded CI machine, several seconds.
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets()[0]!.customerMessages.length >= 3,
      RETRIED_MS,
    );
    await sandbox.bridge.runner.idle();

    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['first', 'second', 'third']);
    expect(sandbox.helpdesk.faultCounts()).toEqual({ late: 1 });
    const lines = logs.lines();
    expect(lines.some((l) => l.code === 'INTERCOM_UNREACHABLE')).toBe(true);
    const skipped = lines.filter((l) => l.code === ALREADY);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.level).toBe('info');
    // Never the customer's text in the line.
    expect(JSON.stringify(skipped[0])).not.toContain('second');
  });

  it('posts the reply on a retry when the earlier try never reached Intercom', async () => {
    const ana = await opened();

    // Dropped on the way: not applied; the retry reads the conversation, finds no such part and posts it.
    sandbox.helpdesk.slowNext(1, 600, 'hang');
    sandbox.say(ana, 'second');
    await sandbox.helpdesk.waitFor(
      () => sandbox.helpdesk.tickets()[0]!.customerMessages.length >= 2,
      RETRIED_MS,
    );
    await sandbox.bridge.runner.idle();

    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['first', 'second']);
    expect(sandbox.helpdesk.faultCounts()).toEqual({ hang: 1 });
    expect(conversationReads(sandbox.helpdesk.apiCalls())).toHaveLength(1);
    expect(logs.lines().some((l) => l.code === ALREADY)).toBe(false);
  });

  it('posts both when the customer sends the same text twice and nothing failed', async () => {
    const ana = await opened();

    sandbox.say(ana, 'ok');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets()[0]!.customerMessages.length >= 2);
    sandbox.say(ana, 'ok');
    await sandbox.helpdesk.waitFor(() => sandbox.helpdesk.tickets()[0]!.customerMessages.length >= 3);
    await sandbox.bridge.runner.idle();

    expect(sandbox.helpdesk.tickets()[0]!.customerMessages).toEqual(['first', 'ok', 'ok']);
    // Without a failure nothing is looked up (and so nothing can be skipped).
    expect(conversationReads(sandbox.helpdesk.apiCalls())).toHaveLength(0);
    expect(logs.lines().some((l) => l.code === ALREADY)).toBe(false);
  });
});

describe('what the retried reply is matched against (adapter against the emulator)', () => {
  let emulator: IntercomEmulator;
  let adapter: IntercomAdapter;
  let logs: CapturedLogs;
  let ticket: TicketRef;
  const maria: CustomerRef = {
    key: 'a1b2c3@tunnel.msging.net',
    address: 'a1b2c3@tunnel.msging.net/instance',
    originator: '5511987654321@wa.gw.msging.net',
  };
  let n = 0;
  const message = (text: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({
    id: `m${++n}`,
    text,
    at: new Date().toISOString(),
    ...extra,
  });
  const customerParts = () => emulator.tickets()[0]!.customerMessages.slice(1);

  beforeEach(async () => {
    emulator = await IntercomEmulator.start({ accessToken: 'token', clientSecret: 'secret' });
    logs = captureLogs();
    adapter = new IntercomAdapter(intercomConfigSchema.parse(emulator.bridgeEnv()), logs.logger);
    ticket = await adapter.openTicket(
      { customer: maria, sessionId: 's-1', subject: 'BLiP chat', tags: [], first: message('hello') },
      'open:s-1',
    );
  });
  afterEach(() => emulator.stop());

  it('skips the reply the contact just posted, text compared whitespace-insensitively', async () => {
    await adapter.appendCustomerMessage(ticket, message('line one\nline two'), 'k1');
    const retried = message('line one\r\n  line two', { at: new Date(Date.now() - 1_000).toISOString() });
    await adapter.appendCustomerMessage(ticket, retried, 'k2', { again: true });
    expect(customerParts()).toEqual(['line one\nline two']);
    expect(logs.lines().filter((l) => l.code === ALREADY)).toHaveLength(1);
  });

  it('posts a text the contact sent before the message was received', async () => {
    await adapter.appendCustomerMessage(ticket, message('same'), 'k1');
    // The same text, received well after that part was created (here: dated ahead of the emulator's clock).
    const later = message('same', { at: new Date(Date.now() + 10_000).toISOString() });
    await adapter.appendCustomerMessage(ticket, later, 'k2', { again: true });
    expect(customerParts()).toEqual(['same', 'same']);
  });

  it('posts a text that is not the contact latest part, and a different text', async () => {
    const at = new Date(Date.now() - 5_000).toISOString();
    await adapter.appendCustomerMessage(ticket, message('a'), 'k1');
    await adapter.appendCustomerMessage(ticket, message('b'), 'k2');
    // An agent's part after the contact's does not hide the contact's latest part.
    emulator.agentReplySilently(ticket.id, 'a');
    await adapter.appendCustomerMessage(ticket, message('a', { at }), 'k3', { again: true });
    await adapter.appendCustomerMessage(ticket, message('c', { at }), 'k4', { again: true });
    expect(customerParts()).toEqual(['a', 'b', 'a', 'c']);
    expect(logs.lines().some((l) => l.code === ALREADY)).toBe(false);
  });

  it("looks at the text reply, not the message's own file part posted just before it", async () => {
    const data = Buffer.from('%PDF-1.4 x');
    const file = { name: 'invoice.pdf', mimeType: 'application/pdf', data, size: data.length };
    const ref = await adapter.uploadAttachment(file, ticket);
    expect(ref).toMatch(/^part:\d+$/);
    // The text is the file's name, as the file part's body is: still posted, after the file.
    const withFile = message('invoice.pdf', {
      attachments: [
        { url: 'https://media.example/invoice.pdf', mimeType: 'application/pdf', uploadRef: ref },
      ],
    });
    await adapter.appendCustomerMessage(ticket, withFile, 'k1', { again: true });
    expect(customerParts()).toEqual(['invoice.pdf', 'invoice.pdf']);
    // Retried once more: now the text reply is there, and nothing is posted.
    await adapter.appendCustomerMessage(ticket, withFile, 'k1', { again: true });
    expect(customerParts()).toEqual(['invoice.pdf', 'invoice.pdf']);
    expect(emulator.tickets()[0]!.customerFiles.map((f) => f.name)).toEqual(['invoice.pdf']);
  });

  it('a retried reopen whose reply is there neither opens nor replies again', async () => {
    await adapter.closeTicket(ticket, 'customer');
    const back = message('I am back');
    await adapter.reopenTicket(ticket, back, 'reopen:s-2');
    const opens = () =>
      emulator.apiCalls().filter((c) => c.path.endsWith('/parts') && /"open"/.test(JSON.stringify(c.body)));
    expect(opens()).toHaveLength(1);
    await adapter.reopenTicket(ticket, back, 'reopen:s-2', { again: true });
    expect(opens()).toHaveLength(1);
    expect(customerParts()).toEqual(['I am back']);
    expect(emulator.tickets()[0]!.closed).toBe(false);
  });
});
