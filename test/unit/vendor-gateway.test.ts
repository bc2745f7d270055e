/**
 * The VendorGateway: the one explicit path of every adapter call — its slots of the vendor's rate limit (per
 * method, `callsPerMethod`), its priority (ticket opens before comments), the metrics observer (wait, outcome), and
 * what the adapter is told about earlier tries (`again` = the unit of work was handed out before). It never retries.
 */
import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { PermanentError, RetryableError } from '../../src/core/errors';
import type { ChatMessage, MediaFile, TicketRef } from '../../src/core/model';
import { type CallPriority, MemoryRateLimiter, type RateLimiter } from '../../src/core/rate-limiter';
import { type GatewayObserver, VendorGateway, VendorGateways } from '../../src/core/vendor-gateway';

const ticket: TicketRef = { vendor: 'fakedesk', id: '42' };
const message: ChatMessage = { id: 'm1', text: 'oi', at: '2026-11-25T12:00:00.000Z' };
const file: MediaFile = { name: 'a.pdf', mimeType: 'application/pdf', size: 1, data: Buffer.from('a') };
const customer = { key: 'c1@tunnel.msging.net', address: 'c1@tunnel.msging.net' };

/** Takes every slot at once (or after `waits`), recording what each call asked for. */
class RecordingLimiter implements RateLimiter {
  readonly taken: Array<[number, CallPriority]> = [];
  readonly asked: CallPriority[] = [];
  waits = 0;
  async acquire(slots = 1, priority: CallPriority = 'high'): Promise<number> {
    this.taken.push([slots, priority]);
    return this.waits;
  }
  async delay(priority: CallPriority = 'high'): Promise<number> {
    this.asked.push(priority);
    return 7;
  }
}

class RecordingObserver implements GatewayObserver {
  readonly waits: Array<[string, number]> = [];
  readonly calls: Array<[string, string, string]> = [];
  readonly seconds: number[] = [];
  onRateLimitWait(vendor: string, ms: number): void {
    this.waits.push([vendor, ms]);
  }
  onCall(vendor: string, method: string, outcome: string, seconds: number): void {
    this.calls.push([vendor, method, outcome]);
    this.seconds.push(seconds);
  }
}

/** An adapter with every ability; each call is recorded with the options it got. */
function fullAdapter(callsPerMethod?: Partial<Record<string, number>>) {
  const calls: Array<[string, unknown?]> = [];
  const adapter: HelpdeskAdapter = {
    name: 'fakedesk',
    limits: { requestsPerMinute: 600, ...(callsPerMethod ? { callsPerMethod } : {}) },
    openTicket: async () => (calls.push(['openTicket']), ticket),
    appendCustomerMessage: async (_t, _m, _k, options) => void calls.push(['appendCustomerMessage', options]),
    reopenTicket: async (_t, _m, _k, options) => void calls.push(['reopenTicket', options]),
    addInternalNote: async () => void calls.push(['addInternalNote']),
    uploadAttachment: async () => (calls.push(['uploadAttachment']), 'ref-1'),
    downloadAttachment: async () => (calls.push(['downloadAttachment']), file),
    closeTicket: async () => void calls.push(['closeTicket']),
    recentAgentMessages: async () => (calls.push(['recentAgentMessages']), []),
    poll: async () => (calls.push(['poll']), { events: [], cursor: 'c2' }),
  };
  return { adapter, calls };
}

/** Every method of the gateway, once, in this order. */
async function callEverything(gateway: VendorGateway): Promise<void> {
  await gateway.openTicket({ customer, sessionId: 's1', subject: 's', tags: [], first: message }, 'open:s1');
  await gateway.reopenTicket(ticket, message, 'reopen:s1', { redelivered: false });
  await gateway.appendCustomerMessage(ticket, message, 'msg:s1:m1');
  await gateway.addInternalNote(ticket, 'note');
  await gateway.uploadAttachment(file, ticket);
  await gateway.downloadAttachment({ url: 'https://desk.example/f', mimeType: 'application/pdf' }, 1_000);
  await gateway.closeTicket(ticket, 'customer');
  await gateway.recentAgentMessages(ticket);
  await gateway.poll(undefined);
}

const METHODS = [
  'openTicket',
  'reopenTicket',
  'appendCustomerMessage',
  'addInternalNote',
  'uploadAttachment',
  'downloadAttachment',
  'closeTicket',
  'recentAgentMessages',
  'poll',
];

describe('VendorGateway', () => {
  it('takes the rate limit per call: high priority for opens and reopens, normal for the rest', async () => {
    const { adapter, calls } = fullAdapter();
    const limiter = new RecordingLimiter();
    await callEverything(new VendorGateway(adapter, limiter));
    expect(calls.map(([method]) => method)).toEqual(METHODS);
    expect(limiter.taken).toEqual([
      [1, 'high'],
      [1, 'high'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
    ]);
  });

  it('takes as many slots as the adapter says a method makes API calls (callsPerMethod), in one step', async () => {
    const { adapter } = fullAdapter({ reopenTicket: 2, appendCustomerMessage: 3, closeTicket: 0 });
    const limiter = new RecordingLimiter();
    await callEverything(new VendorGateway(adapter, limiter));
    expect(limiter.taken).toEqual([
      [1, 'high'],
      [2, 'high'],
      [3, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'],
      [1, 'normal'], // 0 is taken as 1: every call costs a slot
      [1, 'normal'],
      [1, 'normal'],
    ]);
  });

  it('reports each wait for the limit and each outcome to the observer (metrics)', async () => {
    const { adapter } = fullAdapter();
    const limiter = new RecordingLimiter();
    const observer = new RecordingObserver();
    const gateway = new VendorGateway(adapter, limiter, observer);
    await gateway.closeTicket(ticket, 'agent');
    limiter.waits = 25;
    await gateway.addInternalNote(ticket, 'x');
    expect(observer.waits).toEqual([['fakedesk', 25]]);
    expect(observer.calls).toEqual([
      ['fakedesk', 'closeTicket', 'ok'],
      ['fakedesk', 'addInternalNote', 'ok'],
    ]);
    for (const s of observer.seconds) expect(s).toBeGreaterThanOrEqual(0);
  });

  it('makes one call and throws its failure unchanged, reporting its code (no retries here)', async () => {
    const refused = new PermanentError('422', 'FAKEDESK_HTTP_422');
    const down = new RetryableError('503', 'FAKEDESK_HTTP_503', 1_000);
    const bug = new TypeError('x is undefined');
    const failures: unknown[] = [refused, down, bug];
    let calls = 0;
    const adapter: HelpdeskAdapter = {
      name: 'fakedesk',
      limits: { requestsPerMinute: 600 },
      openTicket: async () => ticket,
      appendCustomerMessage: async () => {
        calls++;
        throw failures.shift();
      },
      closeTicket: async () => {},
    };
    const observer = new RecordingObserver();
    const gateway = new VendorGateway(adapter, new RecordingLimiter(), observer);
    await expect(gateway.appendCustomerMessage(ticket, message, 'k')).rejects.toBe(refused);
    await expect(gateway.appendCustomerMessage(ticket, message, 'k')).rejects.toBe(down);
    await expect(gateway.appendCustomerMessage(ticket, message, 'k')).rejects.toBe(bug);
    expect(calls).toBe(3);
    expect(observer.calls.map(([, , outcome]) => outcome)).toEqual([
      'FAKEDESK_HTTP_422',
      'FAKEDESK_HTTP_503',
      'UNEXPECTED',
    ]);
  });

  it('tells the adapter an earlier try may have landed when the unit of work was handed out before (again)', async () => {
    const { adapter, calls } = fullAdapter();
    const gateway = new VendorGateway(adapter, new RecordingLimiter());
    await gateway.appendCustomerMessage(ticket, message, 'k');
    await gateway.appendCustomerMessage(ticket, message, 'k', { redelivered: false });
    await gateway.appendCustomerMessage(ticket, message, 'k', { redelivered: true });
    await gateway.reopenTicket(ticket, message, 'r', { redelivered: false });
    await gateway.reopenTicket(ticket, message, 'r', { redelivered: true });
    expect(calls).toEqual([
      ['appendCustomerMessage', { again: false }],
      ['appendCustomerMessage', { again: false }],
      ['appendCustomerMessage', { again: true }],
      ['reopenTicket', { again: false }],
      ['reopenTicket', { again: true }],
    ]);
  });

  it('refuses what the adapter cannot do (VENDOR_UNSUPPORTED) and answers what it can skip, without a slot', async () => {
    const adapter: HelpdeskAdapter = {
      name: 'plaindesk',
      limits: { requestsPerMinute: 600 },
      openTicket: async () => ticket,
      appendCustomerMessage: async () => {},
      closeTicket: async () => {},
    };
    const limiter = new RecordingLimiter();
    const gateway = new VendorGateway(adapter, limiter);
    expect([
      gateway.takesFiles,
      gateway.uploadNeedsTicket,
      gateway.takesNotes,
      gateway.reopens,
      gateway.polls,
    ]).toEqual([false, false, false, false, false]);
    expect(gateway.webhook).toBeUndefined();
    const unsupported = { name: 'PermanentError', code: 'VENDOR_UNSUPPORTED' };
    await expect(gateway.reopenTicket(ticket, message, 'r', { redelivered: false })).rejects.toMatchObject(
      unsupported,
    );
    await expect(gateway.addInternalNote(ticket, 'x')).rejects.toMatchObject(unsupported);
    await expect(gateway.uploadAttachment(file)).rejects.toMatchObject(unsupported);
    await expect(gateway.poll(undefined)).rejects.toMatchObject(unsupported);
    expect(
      await gateway.downloadAttachment({ url: 'https://x/y', mimeType: 'image/png' }, 10),
    ).toBeUndefined();
    expect(await gateway.recentAgentMessages(ticket)).toEqual([]);
    expect(limiter.taken).toEqual([]);
  });

  it('asks the limiter how long a call of a priority would wait (coalescing decides on it)', async () => {
    const { adapter } = fullAdapter();
    const limiter = new RecordingLimiter();
    const gateway = new VendorGateway(adapter, limiter);
    expect(await gateway.rateLimitDelay('normal')).toBe(7);
    expect(await gateway.rateLimitDelay()).toBe(7);
    expect(limiter.asked).toEqual(['normal', 'normal']);
  });

  it('lets a ticket open through a limit saturated by comments (a quarter of the burst is kept for opens)', async () => {
    const { adapter, calls } = fullAdapter();
    // 80 per minute: a burst of 4, of which comments may take 3. The clock stands still.
    const now = Date.parse('2026-11-25T12:00:00.000Z');
    const observer = new RecordingObserver();
    const gateway = new VendorGateway(adapter, new MemoryRateLimiter(80, () => now), observer);
    for (const id of ['m1', 'm2', 'm3']) await gateway.appendCustomerMessage(ticket, { ...message, id }, id);
    expect(await gateway.rateLimitDelay('normal')).toBeGreaterThan(0);
    expect(await gateway.rateLimitDelay('high')).toBe(0);
    await gateway.openTicket(
      { customer, sessionId: 's2', subject: 's', tags: [], first: message },
      'open:s2',
    );
    expect(calls.map(([method]) => method)).toEqual([
      'appendCustomerMessage',
      'appendCustomerMessage',
      'appendCustomerMessage',
      'openTicket',
    ]);
    expect(observer.waits).toEqual([]);
    expect(await gateway.rateLimitDelay('high')).toBeGreaterThan(0);
  });
});

describe('VendorGateways', () => {
  it('finds an enabled helpdesk by name and refuses one this deployment does not enable', () => {
    const a = new VendorGateway(fullAdapter().adapter, new RecordingLimiter());
    const gateways = new VendorGateways([a]);
    expect(gateways.get('fakedesk')).toBe(a);
    expect(gateways.has('fakedesk')).toBe(true);
    expect(gateways.has('zendesk')).toBe(false);
    expect(gateways.all()).toEqual([a]);
    expect(() => gateways.get('zendesk')).toThrow(
      expect.objectContaining({ name: 'PermanentError', code: 'VENDOR_NOT_ENABLED' }),
    );
    expect(() => new VendorGateways([])).toThrow('at least one helpdesk must be enabled');
  });
});
