/**
 * The lanes as production runs them (intake → LaneRunner → handlers → failure policy), in memory and on a real
 * Redis: order per customer, customers apart, retries and dead letters owned by the failure policy, BLiP down
 * waiting without using attempts, coalescing behind the rate limit. Two instances on one Redis (one worker per lane
 * across them): lane-runner-instances.test.ts.
 */
import { PermanentError, RetryableError, UnavailableError } from '../../src/core/errors';
import type { ChatMessage, CustomerRef, HelpdeskEvent } from '../../src/core/model';
import type { RateLimiter } from '../../src/core/rate-limiter';
import { type CoreHarness, type CoreHarnessOptions, startCore, until } from '../helpers/core-harness';
import { logged } from '../helpers/handoff-fixtures';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeEachState } from '../helpers/requirements';

const VENDOR = 'fakedesk';

function customer(n: number): CustomerRef {
  return { key: `c${n}@tunnel.msging.net`, address: `c${n}@tunnel.msging.net/r` };
}

function msg(id: string, text = id): ChatMessage {
  return { id, text, at: '2026-11-25T12:00:00.000Z' };
}

function reply(ticketId: string, id: string, text = `reply ${id}`): HelpdeskEvent {
  return {
    kind: 'agent.message',
    ticket: { vendor: VENDOR, id: ticketId },
    eventId: id,
    message: msg(id, text),
  };
}

/** The names of the failure events a core emitted (dead letters, failed deliveries). */
function failureEvents(h: CoreHarness): string[] {
  return h.emitted
    .filter((e) => e.name === 'work.dead-lettered' || e.name === 'delivery.failed')
    .map((e) => e.name);
}

describeEachState(['memory', 'redis'] as const)('lanes (%s)', (backend) => {
  let redis: RedisServer | undefined;
  const started: CoreHarness[] = [];

  function core(options: CoreHarnessOptions = {}): CoreHarness {
    const h = startCore({ ...(redis ? { redisUrl: redis.url } : {}), ...options });
    started.push(h);
    return h;
  }

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    await redis?.flush();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((h) => h.stop()));
  });

  it('answers before the work is done, then keeps each customer in order while another proceeds', async () => {
    const h = core();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    h.helpdesk.gate = (who) => (who === customer(1).key ? held : Promise.resolve());
    for (const id of ['a1', 'a2', 'a3']) await h.accept(customer(1), msg(id));
    for (const id of ['b1', 'b2']) await h.accept(customer(2), msg(id));
    // Customer 1 is stuck in its helpdesk call; customer 2 is not held up by it.
    await until(() => h.helpdesk.commentsOf(customer(2).key).length === 2, 'customer 2 done');
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual([]);
    release();
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['a1', 'a2', 'a3']);
    expect(h.helpdesk.commentsOf(customer(2).key)).toEqual(['b1', 'b2']);
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('drains a lane once when work is recorded behind the item in progress: no second take of an emptied lane', async () => {
    const h = core();
    const enqueues = jest.spyOn(h.state.queue, 'enqueue');
    const takes = jest.spyOn(h.state.queue, 'take');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    h.helpdesk.gate = () => held;
    // The first message starts the drain (its enqueue takes the lane); the others are recorded behind it.
    for (const id of ['a1', 'a2', 'a3']) await h.accept(customer(1), msg(id));
    release();
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['a1', 'a2', 'a3']);
    // One drain, under the lease the first enqueue took: each next head came with the acknowledgement of the one
    // before (ackAndTake; in memory it takes under the same lease); no drain took the emptied lane again.
    const lease = enqueues.mock.calls[0]![2]!;
    expect(takes.mock.calls.map(([, , l]) => l.token)).toEqual(takes.mock.calls.map(() => lease.token));
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it("moves a ticket lane's event to the customer's lane, behind that lane's work", async () => {
    const h = core();
    await h.write(customer(1), msg('m1'));
    const ticketId = [...h.helpdesk.tickets.keys()][0]!;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    h.helpdesk.gate = () => held;
    await h.accept(customer(1), msg('m2'));
    // An event of a ticket no index knew at intake waits in the ticket's lane until its customer is found, then goes
    // to the tail of the customer's lane: never run beside that lane's work.
    await h.state.queue.enqueue(`ticket:${VENDOR}:${ticketId}`, {
      kind: 'helpdesk-event',
      event: reply(ticketId, 'r1'),
    });
    await until(
      async () => (await h.state.queue.depth()).lanes === 1,
      'the event placed in the customer lane',
    );
    expect(h.timeline.of('send')).toEqual([]);
    release();
    await h.idle();
    const order = h.timeline.steps.filter((s) => s.what === 'append' || s.what === 'send').map((s) => s.what);
    expect(order).toEqual(['append', 'send']);
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('retries a failure with backoff, the messages behind it waiting their turn', async () => {
    const h = core();
    h.helpdesk.failures.openTicket = [
      new RetryableError('503', 'FAKEDESK_503'),
      new RetryableError('503', 'FAKEDESK_503'),
    ];
    for (const id of ['m1', 'm2', 'm3']) await h.accept(customer(1), msg(id));
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2', 'm3']);
    expect(h.timeline.steps.map((s) => s.what)).toEqual([
      'openTicket',
      'openTicket',
      'openTicket',
      'append',
      'append',
    ]);
    expect(logged(h, 'openTicket failed; the lane retries later').map((l) => l.attempts)).toEqual([1, 2]);
    expect(failureEvents(h)).toEqual([]);
  });

  it('tells the adapter when the item carrying a write was handed out before (again), on either backend', async () => {
    const h = core();
    await h.write(customer(1), msg('m1'));
    h.helpdesk.failures.append = [new RetryableError('timed out', 'FAKEDESK_UNREACHABLE')];
    await h.write(customer(1), msg('m2'));
    expect(h.timeline.of('append').map((a) => [a.message.id, a.again])).toEqual([
      ['m2', false],
      ['m2', true],
    ]);
  });

  it('does not take a lane handed back at once for a redelivery (no worker was free when its enqueue took it)', async () => {
    const h = core({ lanes: { concurrency: 1 } });
    await h.write(customer(1), msg('a1'));
    await h.write(customer(2), msg('b1'));
    // Both enqueues take their idle lane; one worker: the second lane is given back and worked after the first.
    await Promise.all([h.accept(customer(1), msg('a2')), h.accept(customer(2), msg('b2'))]);
    await h.idle();
    expect(h.timeline.of('append').map((a) => [a.message.id, a.again])).toEqual([
      ['a2', false],
      ['b2', false],
    ]);
  });

  it('dead-letters after the last attempt, says so, moves on, and replays the letter on demand', async () => {
    const h = core();
    const down = () => [1, 2, 3, 4].map(() => new RetryableError('503', 'FAKEDESK_503'));
    h.helpdesk.failures.openTicket = down();
    await h.accept(customer(1), msg('m1'));
    await h.accept(customer(1), msg('m2'));
    await h.idle();
    // m1 left the ticket half-opened; m2 resumed that open (same idempotency key), so m1 still arrived first.
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2']);
    const [letter] = await h.deadLetters();
    expect(letter).toMatchObject({ code: 'FAKEDESK_503', work: { attempts: 4, lane: customer(1).key } });
    expect(failureEvents(h)).toEqual(['work.dead-lettered', 'delivery.failed']);
    expect(h.emitted[0]!.payload).toMatchObject({
      kind: 'customer-message',
      customerKey: customer(1).key,
      deadLetterId: letter!.id,
      attempts: 4,
    });

    // Replaying it is safe: it was delivered by the resumed open, so it is not posted twice.
    expect(await h.state.queue.replay(letter!.id)).toBe(true);
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2']);
    expect(await h.deadLetters()).toEqual([]);

    // A letter for an open ticket is posted on replay.
    h.helpdesk.failures.append = down();
    await h.accept(customer(1), msg('m3'));
    await h.accept(customer(1), msg('m4'));
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2', 'm4']);
    const [second] = await h.deadLetters();
    expect(await h.state.queue.replay(second!.id)).toBe(true);
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2', 'm4', 'm3']);
  });

  it('dead-letters a permanent refusal at once', async () => {
    const h = core();
    h.helpdesk.failures.openTicket = [new PermanentError('422 bad requester', 'FAKEDESK_422')];
    await h.write(customer(1), msg('m1'));
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(await h.deadLetters()).toEqual([
      expect.objectContaining({ code: 'FAKEDESK_422', work: expect.objectContaining({ attempts: 1 }) }),
    ]);
  });

  it('queues a webhook for a ticket it opened without reading the store first, and ignores one for a closed ticket', async () => {
    const h = core();
    await h.write(customer(1), msg('m1'));
    const ticketId = [...h.helpdesk.tickets.keys()][0]!;
    // No Proxy in the way on either backend: spies see the store's calls.
    const lookups = jest.spyOn(h.state.store, 'customerKeyForTicket');
    const dedupe = jest.spyOn(h.state.store, 'isProcessed');
    await h.helpdeskSends(reply(ticketId, 'r1'));
    expect(h.timeline.of('send').map((s) => s.text)).toEqual(['reply r1']);
    // The worker checks for a redelivery once; the intake read nothing.
    expect(lookups).not.toHaveBeenCalled();
    expect(dedupe).toHaveBeenCalledTimes(1);
    // Closed since: the event finds no customer any more and is dropped.
    await h.helpdeskSends({ kind: 'ticket.closed', ticket: { vendor: VENDOR, id: ticketId }, eventId: 'c1' });
    expect(h.timeline.of('handBack')).toHaveLength(1);
    await h.helpdeskSends(reply(ticketId, 'r2'));
    expect(h.timeline.of('send').map((s) => s.text)).toEqual([
      'reply r1',
      'Atendimento encerrado. Obrigado!',
    ]);
    expect(logged(h, 'helpdesk event for a ticket the bridge does not track; ignored')).toHaveLength(1);
  });

  it('holds agent replies while the customer channel is down, without using up attempts, then sends them in order', async () => {
    const h = core();
    await h.write(customer(1), msg('m1'));
    const ticketId = [...h.helpdesk.tickets.keys()][0]!;
    h.channel.down = true;
    const replies = ['r1', 'r2', 'r3'].map((id) => reply(ticketId, id));
    expect(await h.core.intake.acceptHelpdeskEvents(replies)).toBe(3);
    // Far more tries than maxAttempts (4): still waiting, nothing dead-lettered, no attempt counted.
    await until(
      () => logged(h, 'send to customer failed; the work waits for an unavailable service').length >= 12,
      'a dozen tries',
    );
    expect(h.timeline.of('send')).toEqual([]);
    expect(await h.state.queue.depth()).toMatchObject({ queued: 3, deadLetters: 0 });
    expect(h.logs.lines().filter((l) => l.message.endsWith('; the lane retries later'))).toEqual([]);
    h.channel.down = false;
    await h.idle();
    expect(h.timeline.of('send').map((s) => s.text)).toEqual(['reply r1', 'reply r2', 'reply r3']);
    // A redelivered webhook is not sent again.
    await h.helpdeskSends(replies[0]!);
    expect(h.timeline.of('send')).toHaveLength(3);
  });

  it('coalesces the messages that waited behind the rate limit into one comment, in order', async () => {
    let release!: () => void;
    const queued = new Promise<void>((resolve) => (release = resolve));
    let waits = 0;
    const limiter: RateLimiter = {
      acquire: async () => 0,
      // The limit bites once the ticket is open: the next message waits until the test queued those behind it.
      delay: async () => {
        if (waits++ > 0) return 0;
        await queued;
        return 5;
      },
    };
    const h = core({ limiter: () => limiter, settings: { coalesceMax: 3 } });
    await h.write(customer(1), msg('m1'));
    for (const id of ['m2', 'm3', 'm4', 'm5']) await h.accept(customer(1), msg(id));
    release();
    await h.idle();
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2\n\nm3\n\nm4', 'm5']);
    expect(h.timeline.steps.map((s) => (s.what === 'append' ? `append ${s.message.id}` : s.what))).toEqual([
      'openTicket',
      'append m2..m4',
      'append m5',
    ]);
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('holds a customer message at intake while the queue cannot record it, then records it', async () => {
    const h = core({ failures: { recordForMs: 5_000 } });
    const enqueue = h.state.queue.enqueue.bind(h.state.queue);
    let failures = 1;
    h.state.queue.enqueue = async (...args) => {
      if (failures-- > 0)
        throw new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');
      return enqueue(...args);
    };
    await h.write(customer(1), msg('m1'));
    expect(h.helpdesk.commentsOf(customer(1).key)).toEqual(['m1']);
    expect(logged(h, 'could not record incoming work; retrying')).toHaveLength(1);
    // A webhook is not held: the vendor delivers it again when it gets a 503.
    failures = 1;
    await expect(h.core.intake.acceptHelpdeskEvents([reply('1001', 'r1')])).rejects.toBeInstanceOf(
      UnavailableError,
    );
  });
});
