import type { HelpdeskAdapter } from '../../src/adapters/adapter';
import { Dispatcher, type DispatcherOptions } from '../../src/core/dispatcher';
import { PermanentError, RetryableError, UnavailableError } from '../../src/core/errors';
import { DomainEvents, type DomainEventMap } from '../../src/core/events';
import { HandoffService } from '../../src/core/handoff';
import type {
  ChatMessage,
  ClosedBy,
  CustomerRef,
  Handback,
  OpenTicketRequest,
  TicketRef,
} from '../../src/core/model';
import type { CustomerChannel, CustomerLock } from '../../src/core/ports';
import type { RateLimiter } from '../../src/core/rate-limiter';
import { createState, type State } from '../../src/state/create-store';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

const VENDOR = 'fakedesk';

/** A helpdesk in memory shared by every "instance": one ticket per idempotency key, comments in arrival order. */
class FakeHelpdesk implements HelpdeskAdapter {
  readonly name = VENDOR;
  readonly limits = { requestsPerMinute: 100_000 };
  readonly tickets = new Map<string, { customer: string; comments: string[] }>();
  readonly calls: string[] = [];
  /** Errors thrown by the next calls, in order. */
  readonly failures: Error[] = [];
  /** Resolves before each call when set (to hold one customer). */
  gate?: (customerOrTicket: string) => Promise<void>;
  private readonly byKey = new Map<string, TicketRef>();
  private next = 1;

  async openTicket(req: OpenTicketRequest, key: string): Promise<TicketRef> {
    await this.gate?.(req.customer.key);
    this.calls.push(`open ${req.first.id}`);
    const err = this.failures.shift();
    if (err) throw err;
    let ticket = this.byKey.get(key);
    if (!ticket) {
      ticket = { vendor: VENDOR, id: String(this.next++) };
      this.byKey.set(key, ticket);
      this.tickets.set(ticket.id, { customer: req.customer.key, comments: [req.first.text] });
    }
    return ticket;
  }

  async appendCustomerMessage(ticket: TicketRef, message: ChatMessage): Promise<void> {
    await this.gate?.(this.tickets.get(ticket.id)!.customer);
    this.calls.push(`append ${message.id}`);
    const err = this.failures.shift();
    if (err) throw err;
    this.tickets.get(ticket.id)!.comments.push(message.text);
  }

  async closeTicket(_ticket: TicketRef, _closedBy: ClosedBy): Promise<void> {}

  commentsOf(customer: string): string[] {
    return [...this.tickets.values()].filter((t) => t.customer === customer).flatMap((t) => t.comments);
  }
}

class FakeChannel implements CustomerChannel {
  readonly sent: Array<{ to: string; text: string }> = [];
  down = false;
  async send(customer: CustomerRef, message: Pick<ChatMessage, 'text'>): Promise<void> {
    if (this.down) throw new UnavailableError('BLiP session not established', 'BLIP_NOT_CONNECTED');
    this.sent.push({ to: customer.key, text: message.text });
  }
  readonly handedBack: Handback[] = [];
  async handBack(handback: Handback): Promise<{ address?: string }> {
    this.handedBack.push(handback);
    return {};
  }
}

const fast: Partial<DispatcherOptions> = {
  scanIntervalMs: 20,
  maxAttempts: 3,
  backoff: { attempts: 3, baseDelayMs: 10, maxDelayMs: 40 },
  unavailableRetryMs: 20,
};

function customer(n: number): CustomerRef {
  return { key: `c${n}@tunnel.msging.net`, address: `c${n}@tunnel.msging.net/r` };
}

function msg(id: string, text = id): ChatMessage {
  return { id, text, at: '2026-11-25T12:00:00.000Z' };
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Instance {
  state: State;
  service: HandoffService;
  dispatcher: Dispatcher;
  events: DomainEvents;
  emitted: Array<{ name: string; payload: unknown }>;
  stop(): Promise<void>;
}

function instance(
  helpdesk: HelpdeskAdapter,
  channel: CustomerChannel,
  redisUrl: string | undefined,
  options: Partial<DispatcherOptions> = {},
  /** Keys the handoff took the per-customer lock for (`lock.run`), when given. */
  lockRuns?: string[],
): Instance {
  const { logger } = captureLogs();
  const state = createState(redisUrl, logger);
  const lock: CustomerLock = lockRuns
    ? {
        run: (key, work) => {
          lockRuns.push(key);
          return state.lock.run(key, work);
        },
        tryRun: (key, work) => state.lock.tryRun(key, work),
      }
    : state.lock;
  const events = new DomainEvents();
  const emitted: Instance['emitted'] = [];
  for (const name of ['work.dead-lettered', 'delivery.failed'] as const) {
    events.on(name, (payload: DomainEventMap[typeof name]) => void emitted.push({ name, payload }));
  }
  const service = new HandoffService(state.store, helpdesk, channel, events, logger, {
    tags: [],
    dedupeTtlMs: 60_000,
    lock,
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  });
  const dispatcher = new Dispatcher(state.queue, service, events, logger, {
    ...fast,
    ...options,
  });
  dispatcher.start();
  return {
    state,
    service,
    dispatcher,
    events,
    emitted,
    stop: async () => {
      await dispatcher.stop(2_000);
      await state.store.close();
    },
  };
}

describe.each(['memory', 'redis'] as const)('Dispatcher (%s)', (backend) => {
  let redis: RedisServer | undefined;
  let helpdesk: FakeHelpdesk;
  let channel: FakeChannel;
  let bridge: Instance;

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
    helpdesk = new FakeHelpdesk();
    channel = new FakeChannel();
    bridge = instance(helpdesk, channel, redis?.url);
  });
  afterEach(async () => {
    await bridge.stop();
  });

  it('answers before the work is done, then keeps each customer in order while another proceeds', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    helpdesk.gate = (who) => (who === customer(1).key ? held : Promise.resolve());
    for (const id of ['a1', 'a2', 'a3']) await bridge.dispatcher.acceptCustomerMessage(customer(1), msg(id));
    for (const id of ['b1', 'b2']) await bridge.dispatcher.acceptCustomerMessage(customer(2), msg(id));
    // Customer 1 is stuck in its helpdesk call; customer 2 is not held up by it.
    await until(() => helpdesk.commentsOf(customer(2).key).length === 2, 'customer 2 done');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual([]);
    release();
    await until(() => helpdesk.commentsOf(customer(1).key).length === 3, 'customer 1 done');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['a1', 'a2', 'a3']);
    expect(helpdesk.commentsOf(customer(2).key)).toEqual(['b1', 'b2']);
    await bridge.dispatcher.idle();
    expect(await bridge.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it("works a customer's lane without taking the customer lock, and moves a ticket lane's event to it", async () => {
    await bridge.stop();
    const runs: string[] = [];
    bridge = instance(helpdesk, channel, redis?.url, {}, runs);
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m1'));
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m2'));
    await until(() => helpdesk.commentsOf(customer(1).key).length === 2, 'both messages');
    const reply = { kind: 'agent.message' as const, ticket: { vendor: VENDOR, id: '1' }, eventId: 'r1' };
    expect(await bridge.dispatcher.acceptHelpdeskEvents([{ ...reply, message: msg('r1', 'hi') }])).toBe(1);
    await until(() => channel.sent.length === 1, 'the reply');
    expect(runs).toEqual([]);
    // An event of a ticket the bridge did not know at intake waits in the ticket's lane until its customer is
    // found, then goes to the customer's lane, behind that lane's work: no customer lock, nothing run alongside.
    await bridge.state.queue.enqueue('ticket:fakedesk:1', {
      kind: 'helpdesk-event',
      event: { ...reply, eventId: 'r2', message: msg('r2', 'again') },
    });
    await until(() => channel.sent.length === 2, 'the second reply');
    expect(runs).toEqual([]);
    await bridge.dispatcher.idle();
    expect(await bridge.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('retries a failure with backoff, the messages behind it waiting their turn', async () => {
    helpdesk.failures.push(
      new RetryableError('503', 'FAKEDESK_503'),
      new RetryableError('503', 'FAKEDESK_503'),
    );
    for (const id of ['m1', 'm2', 'm3']) await bridge.dispatcher.acceptCustomerMessage(customer(1), msg(id));
    await until(() => helpdesk.commentsOf(customer(1).key).length === 3, 'all three');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2', 'm3']);
    expect(helpdesk.calls.slice(0, 3)).toEqual(['open m1', 'open m1', 'open m1']);
    expect(bridge.emitted).toEqual([]);
  });

  it('dead-letters after the last attempt, says so, moves on, and replays the letter on demand', async () => {
    helpdesk.failures.push(...[1, 2, 3].map(() => new RetryableError('503', 'FAKEDESK_503')));
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m1'));
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m2'));
    // m1 left the ticket half-opened; m2 resumes that open (same idempotency key), so m1 still arrives first.
    await until(() => helpdesk.commentsOf(customer(1).key).length === 2, 'm2 resumed the open');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2']);
    const [letter] = await bridge.state.queue.deadLetters();
    expect(letter).toMatchObject({ code: 'FAKEDESK_503', work: { attempts: 3, lane: customer(1).key } });
    expect(bridge.emitted.map((e) => e.name)).toEqual(['work.dead-lettered', 'delivery.failed']);
    expect(bridge.emitted[0]!.payload).toMatchObject({
      kind: 'customer-message',
      customerKey: customer(1).key,
      deadLetterId: letter!.id,
      attempts: 3,
    });

    // Replaying it is safe: it was delivered by the resumed open, so it is not posted twice.
    expect(await bridge.state.queue.replay(letter!.id)).toBe(true);
    await bridge.dispatcher.idle();
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2']);
    expect(await bridge.state.queue.deadLetters()).toEqual([]);

    // A letter for an open ticket is posted on replay.
    helpdesk.failures.push(...[1, 2, 3].map(() => new RetryableError('503', 'FAKEDESK_503')));
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m3'));
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m4'));
    await until(() => helpdesk.commentsOf(customer(1).key).length === 3, 'm4');
    const [second] = await bridge.state.queue.deadLetters();
    expect(await bridge.state.queue.replay(second!.id)).toBe(true);
    await until(() => helpdesk.commentsOf(customer(1).key).length === 4, 'the replayed m3');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2', 'm4', 'm3']);
  });

  it('dead-letters a permanent refusal at once', async () => {
    helpdesk.failures.push(new PermanentError('422 bad requester', 'FAKEDESK_422'));
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m1'));
    await until(async () => (await bridge.state.queue.depth()).deadLetters === 1, 'a dead letter');
    expect(helpdesk.calls).toEqual(['open m1']);
  });

  it('queues a webhook for a ticket it opened without reading the store first, and ignores one for a closed ticket', async () => {
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m1'));
    await until(() => helpdesk.tickets.size === 1, 'ticket');
    await bridge.dispatcher.idle();
    const ticket = { vendor: VENDOR, id: '1' };
    const reply = (id: string) => ({
      kind: 'agent.message' as const,
      ticket,
      eventId: id,
      message: msg(id, `reply ${id}`),
    });
    // Counted by hand: jest.spyOn cannot see through the Redis state's error-mapping proxy.
    const store = bridge.state.store;
    const calls = { lookups: 0, dedupe: 0 };
    const lookup = store.customerKeyForTicket.bind(store);
    const isProcessed = store.isProcessed.bind(store);
    store.customerKeyForTicket = (...args) => (calls.lookups++, lookup(...args));
    store.isProcessed = (...args) => (calls.dedupe++, isProcessed(...args));
    expect(await bridge.dispatcher.acceptHelpdeskEvents([reply('r1')])).toBe(1);
    await until(() => channel.sent.length === 1, 'reply');
    // The worker checks for a redelivery once; the intake read nothing.
    expect(calls).toEqual({ lookups: 0, dedupe: 1 });
    // Closed since: the worker finds no open ticket of the customer and drops the event.
    await bridge.dispatcher.acceptHelpdeskEvents([{ kind: 'ticket.closed' as const, ticket, eventId: 'c1' }]);
    await until(() => channel.handedBack.length === 1, 'hand back');
    await bridge.dispatcher.acceptHelpdeskEvents([reply('r2')]);
    await bridge.dispatcher.idle();
    expect(channel.sent.map((s) => s.text)).toEqual(['reply r1']);
  });

  it('holds agent replies while the customer channel is down, without using up attempts, then sends them in order', async () => {
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m1'));
    await until(() => helpdesk.tickets.size === 1, 'ticket');
    channel.down = true;
    const ticket = { vendor: VENDOR, id: '1' };
    const replies = ['r1', 'r2', 'r3'].map((id) => ({
      kind: 'agent.message' as const,
      ticket,
      eventId: id,
      message: msg(id, `reply ${id}`),
    }));
    expect(await bridge.dispatcher.acceptHelpdeskEvents(replies)).toBe(3);
    // Well past maxAttempts × backoff: still waiting, nothing dead-lettered.
    await new Promise((r) => setTimeout(r, 400));
    expect(channel.sent).toEqual([]);
    expect(await bridge.state.queue.depth()).toMatchObject({ queued: 3, deadLetters: 0 });
    channel.down = false;
    await until(() => channel.sent.length === 3, 'three replies');
    expect(channel.sent.map((s) => s.text)).toEqual(['reply r1', 'reply r2', 'reply r3']);
    // A redelivered webhook is not sent again. This process opened the ticket, so the webhook goes to the customer's
    // lane without a read, and the worker finds the event handled.
    expect(await bridge.dispatcher.acceptHelpdeskEvents(replies.slice(0, 1))).toBe(1);
    await bridge.dispatcher.idle();
    expect(channel.sent.map((s) => s.text)).toEqual(['reply r1', 'reply r2', 'reply r3']);
  });

  it('coalesces the messages that waited behind the rate limit into one comment, in order', async () => {
    await bridge.stop();
    let waits = 0;
    const limiter: RateLimiter = {
      acquire: async () => 0,
      // The limit bites once the ticket is open: the next messages have to wait 50 ms.
      delay: async () => (helpdesk.tickets.size > 0 && waits++ === 0 ? 50 : 0),
    };
    bridge = instance(helpdesk, channel, redis?.url, { limiter, coalesceMax: 3 });
    await bridge.dispatcher.acceptCustomerMessage(customer(1), msg('m1'));
    await until(() => helpdesk.tickets.size === 1, 'ticket');
    for (const id of ['m2', 'm3', 'm4', 'm5']) {
      await bridge.dispatcher.acceptCustomerMessage(customer(1), msg(id));
    }
    await until(() => helpdesk.commentsOf(customer(1).key).length === 3, 'comments');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2\n\nm3\n\nm4', 'm5']);
    expect(helpdesk.calls).toEqual(['open m1', 'append m2..m4', 'append m5']);
  });
});

describe('Dispatcher: two instances on one Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.flush();
  });

  it('share the work: one ticket per customer, every message once, in order', async () => {
    const helpdesk = new FakeHelpdesk();
    const channel = new FakeChannel();
    const a = instance(helpdesk, channel, redis.url);
    const b = instance(helpdesk, channel, redis.url);
    try {
      const customers = Array.from({ length: 20 }, (_, i) => customer(i));
      for (let n = 1; n <= 5; n++) {
        // Customers in parallel; each customer's messages in order, entering through either instance.
        await Promise.all(
          customers.map((who, i) =>
            ((i + n) % 2 === 0 ? a : b).dispatcher.acceptCustomerMessage(who, msg(`${who.key}#${n}`, `${n}`)),
          ),
        );
      }
      await until(
        () => customers.every((c) => helpdesk.commentsOf(c.key).length === 5),
        'every message',
        20_000,
      );
      for (const who of customers) {
        expect(helpdesk.commentsOf(who.key)).toEqual(['1', '2', '3', '4', '5']);
      }
      expect(helpdesk.tickets.size).toBe(20);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('takes up the work an instance left behind', async () => {
    const helpdesk = new FakeHelpdesk();
    const channel = new FakeChannel();
    const crashed = instance(helpdesk, channel, redis.url);
    await crashed.dispatcher.stop(0); // it stops working, as if killed, after recording
    await crashed.dispatcher.acceptCustomerMessage(customer(1), msg('left-1'));
    await crashed.dispatcher.acceptCustomerMessage(customer(1), msg('left-2'));
    expect(helpdesk.calls).toEqual([]);
    const survivor = instance(helpdesk, channel, redis.url);
    try {
      await until(() => helpdesk.commentsOf(customer(1).key).length === 2, 'the left-behind work');
      expect(helpdesk.commentsOf(customer(1).key)).toEqual(['left-1', 'left-2']);
    } finally {
      await survivor.stop();
      await crashed.state.store.close();
    }
  });
});
