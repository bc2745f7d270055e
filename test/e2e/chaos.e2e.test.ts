/**
 * The fault-injection suite, short form (`npm run test:chaos` runs the long one; docs/reliability.md): real Redis
 * with AOF, two real bridge processes behind a webhook load balancer, the local BLiP and the Zendesk emulator,
 * while bridges are killed with SIGKILL, the vendor storms, rate-limits and times out, Redis crashes and BLiP
 * drops the bot's connections. Then, per customer: every message on one ticket exactly once and in order, every
 * agent reply to the customer exactly once and in order, one closing text and one Redirect after them.
 */
import { runChaos } from '../chaos/driver';
import { defaultChaosOptions } from '../chaos/options';
import { formatTable } from '../chaos/report';
import { compareSequence, type Observed, type ScriptedCustomer, verify } from '../chaos/verify';
import { describeWithRedis } from '../helpers/requirements';

jest.setTimeout(240_000);

describe('the chaos checker', () => {
  const customer: ScriptedCustomer = {
    originator: '5511900000001@wa.gw.msging.net',
    address: 'a1@tunnel.msging.net',
    messages: ['c1 m1', 'c1 m2', 'c1 m3'],
    replies: ['c1 r1', 'c1 r2'],
  };
  const redirect = (id: string, ticket: number) => ({
    id,
    to: customer.address,
    type: 'application/vnd.lime.redirect+json',
    content: { context: { type: 'application/vnd.iris.ticket+json', value: { sequentialId: ticket } } },
  });
  const text = (id: string, content: string) => ({ id, to: customer.address, type: 'text/plain', content });
  const clean: Observed = {
    tickets: [
      {
        id: '7',
        customerExternalId: customer.originator,
        customerMessages: ['c1 m1', 'c1 m2\n\nc1 m3'],
        closed: true,
      },
    ],
    sent: [
      text('x1', 'c1 r1'),
      text('x2', 'c1 r2'),
      text('x2', 'c1 r2'),
      text('x3', 'bye'),
      redirect('x4', 7),
    ],
    closingText: 'bye',
    deadLetters: [],
    queued: 0,
  };

  it('passes a clean run: a coalesced comment is split, a re-send under the same LIME id is not a duplicate', () => {
    const verdict = verify([customer], clean);
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.toHelpdesk).toMatchObject({ delivered: 3, coalescedComments: 1, coalescedMessages: 2 });
    expect(verdict.toCustomer).toMatchObject({ delivered: 2, sameIdResends: 1 });
    expect(verify([customer], clean, { strictIds: true }).toCustomer.duplicated).toBe(1);
  });

  it('counts lost, duplicated, reordered and unexpected items', () => {
    expect(compareSequence(['a', 'b', 'c', 'd'], ['b', 'a', 'b', 'd', 'x'])).toEqual({
      expected: 4,
      delivered: 3,
      lost: 1,
      duplicated: 1,
      reordered: 1,
      foreign: 1,
    });
  });

  it('fails a run with a lost message, a reply twice, a second ticket, a reply after the Redirect, a dead letter', () => {
    const verdict = verify([customer], {
      ...clean,
      tickets: [
        { id: '7', customerExternalId: customer.originator, customerMessages: ['c1 m1'], closed: true },
        { id: '8', customerExternalId: customer.originator, customerMessages: ['c1 m3'], closed: false },
      ],
      sent: [
        text('x1', 'c1 r1'),
        text('x9', 'c1 r1'),
        text('x3', 'bye'),
        redirect('x4', 7),
        text('x2', 'c1 r2'),
      ],
      deadLetters: [{ id: 'd1', code: 'ZENDESK_HTTP_503', reason: 'storm', kind: 'customer-message' }],
    });
    expect(verdict.ok).toBe(false);
    expect(verdict.toHelpdesk.lost).toBe(1);
    expect(verdict.toCustomer.duplicated).toBe(1);
    expect(verdict.tickets).toMatchObject({ customersWithExtraTickets: 1, notClosed: 1 });
    expect(verdict.redirects.afterRedirect).toBe(1);
    expect(verdict.problems.join('\n')).toMatch(/dead letter d1/);
  });

  it('fails a run whose Redirect is missing or names another ticket', () => {
    const missing = verify([customer], { ...clean, sent: clean.sent.slice(0, 4) });
    expect(missing.redirects.missing).toBe(1);
    const wrong = verify([customer], { ...clean, sent: [...clean.sent.slice(0, 4), redirect('x4', 99)] });
    expect(wrong.redirects.wrongTicket).toBe(1);
    expect(wrong.ok).toBe(false);
  });
});

describeWithRedis('the bridge under faults (short form)', () => {
  it('loses, doubles, reorders and misroutes nothing', async () => {
    const report = await runChaos({
      ...defaultChaosOptions,
      customers: 30,
      messages: 6,
      replies: 3,
      processes: 2,
      kills: 2,
      storms: 1,
      stormMs: 3_000,
      bursts: 1,
      burstMs: 2_000,
      timeouts: 1,
      timeoutCalls: 4,
      redisRestarts: 1,
      wsDrops: 1,
      durationSeconds: 20,
      settleSeconds: 100,
      // Low enough that lanes wait for the shared limit at the peaks, so coalescing is exercised too.
      requestsPerMinute: 600,
      outputDir: 'test-output/chaos-ci',
      validate: true,
      writeDoc: false,
      verbose: false,
    });
    const { verdict } = report;
    console.log(formatTable(report));

    expect(report.driverProblems).toEqual([]);
    expect(Object.values(report.faults).every((n) => n > 0)).toBe(true);
    expect(verdict.toHelpdesk).toMatchObject({ delivered: 180, lost: 0, reordered: 0, foreign: 0 });
    expect(verdict.toCustomer).toMatchObject({
      delivered: 90,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      foreign: 0,
    });
    expect(verdict.tickets).toMatchObject({
      opened: 30,
      customersWithoutTicket: 0,
      customersWithExtraTickets: 0,
      notClosed: 0,
    });
    expect(verdict.redirects).toMatchObject({
      sent: 30,
      missing: 0,
      duplicated: 0,
      wrongTicket: 0,
      afterRedirect: 0,
    });
    expect(verdict.closingTexts).toEqual({ missing: 0, duplicated: 0 });
    expect(verdict.deadLetters).toEqual([]);
    expect(verdict.queued).toBe(0);
    expect(report.exitCodes).toEqual([0, 0]);

    // A comment the vendor applied unbeknown to the bridge (a late answer, a process killed around the call, Redis
    // down right after it) is found in the ticket's audits by the retry, not posted again.
    expect(report.duplicates).toEqual([]);
    expect(verdict.toHelpdesk.duplicated).toBe(0);
  });
});
