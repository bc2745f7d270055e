/**
 * A customer's messages through the core as production runs it (intake → lane → handler → vendor gateway): the
 * open, the appends, dedupe, coalescing behind the rate limit, and what the lane's failure policy makes of a failed
 * vendor call (no in-call retries: the unit of work is tried again, with the same idempotency key).
 */
import { PermanentError, RetryableError, UnavailableError } from '../../src/core/errors';
import type { RateLimiter } from '../../src/core/rate-limiter';
import { type CoreHarness, type CoreHarnessOptions, startCore } from '../helpers/core-harness';
import { customer, logged, message, NOW, openedTicket, VENDOR } from '../helpers/handoff-fixtures';

const started: CoreHarness[] = [];
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ now: () => NOW, ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

/**
 * A rate limit that makes the first comment after the open wait until the test has queued the messages behind it
 * (then they go as one comment); no wait afterwards.
 */
function heldLimit(): { limiter: RateLimiter; release: () => void } {
  let release!: () => void;
  const queued = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  const limiter: RateLimiter = {
    acquire: async () => 0,
    delay: async () => {
      if (!first) return 0;
      first = false;
      await queued;
      return 1;
    },
  };
  return { limiter, release };
}

describe('customer messages: open and append', () => {
  it('opens a ticket on the first message with idempotency key open:<sessionId>, then appends', async () => {
    const h = core();
    const who = customer();
    await h.write(who, message('m1'));

    const conversation = await h.state.store.get(who.key);
    expect(conversation).toMatchObject({
      status: 'open',
      vendor: VENDOR,
      customer: who,
      tags: ['blip_bridge'],
    });
    expect(conversation?.first).toBeUndefined();
    const sessionId = conversation!.sessionId;
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(1);
    expect(opens[0]?.key).toBe(`open:${sessionId}`);
    expect(opens[0]?.req).toMatchObject({
      customer: who,
      sessionId,
      tags: ['blip_bridge'],
      first: { id: 'm1' },
    });
    expect(h.timeline.of('append')).toHaveLength(0);
    expect(await h.state.store.customerKeyForTicket(VENDOR, conversation!.ticket!.id)).toBe(who.key);

    await h.write(who, message('m2'));
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    const appends = h.timeline.of('append');
    expect(appends).toHaveLength(1);
    expect(appends[0]).toMatchObject({
      ticket: conversation!.ticket,
      message: { id: 'm2' },
      key: `msg:${sessionId}:m2`,
      again: false,
    });
  });

  it('opens exactly one ticket when two first messages of one customer arrive together', async () => {
    const h = core();
    const who = customer();
    await Promise.all([h.accept(who, message('m1')), h.accept(who, message('m2'))]);
    await h.idle();
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(h.timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);
  });

  it('opens one ticket per customer', async () => {
    const h = core();
    await Promise.all([h.accept(customer(1), message('a1')), h.accept(customer(2), message('b1'))]);
    await h.idle();
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(new Set(opens.map((o) => o.key)).size).toBe(2);
    const t1 = (await h.state.store.get(customer(1).key))?.ticket;
    const t2 = (await h.state.store.get(customer(2).key))?.ticket;
    expect(t1?.id).toBeDefined();
    expect(t2?.id).toBeDefined();
    expect(t1?.id).not.toBe(t2?.id);
  });

  it('forwards a redelivered customer message once', async () => {
    const h = core();
    const who = customer();
    await h.write(who, message('m1'));
    await h.write(who, message('m1'));
    await h.write(who, message('m2'));
    await Promise.all([h.accept(who, message('m2')), h.accept(who, message('m2'))]);
    await h.idle();
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(h.timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);
    expect(logged(h, 'customer message already processed')).toHaveLength(3);
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('does not post the opening message again when a failure kept it from being marked done', async () => {
    const h = core();
    const who = customer();
    const store = h.state.store;
    const mark = store.markProcessed.bind(store);
    let failures = 1;
    // The state store goes away right after the ticket is saved as open, before the message is marked done.
    store.markProcessed = async (key, ttlMs) => {
      if (failures-- > 0)
        throw new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');
      return mark(key, ttlMs);
    };
    await h.write(who, message('m1'));
    // The lane tried again: the ticket is open, and m1 is what it was opened with.
    expect(logged(h, 'work failed; the work waits for an unavailable service')).toHaveLength(1);
    expect(h.timeline.of('openTicket')).toHaveLength(1);
    expect(h.timeline.of('append')).toHaveLength(0);
    expect((await store.get(who.key))?.status).toBe('open');
    expect(await h.deadLetters()).toEqual([]);
  });
});

describe('customer messages: coalesced behind the rate limit', () => {
  it('posts a message queued twice (a client re-send) once when both copies wait in one batch', async () => {
    const { limiter, release } = heldLimit();
    const h = core({ limiter: () => limiter, settings: { coalesceMax: 5 } });
    const who = customer();
    await openedTicket(h, who);
    for (const id of ['m2', 'm2', 'm3']) await h.accept(who, message(id));
    release();
    await h.idle();
    const appends = h.timeline.of('append');
    expect(appends).toHaveLength(1);
    expect(appends[0]!.message.text.split('\n\n')).toEqual([message('m2').text, message('m3').text]);
    // The three items were done as one unit: none was handed to the handler again (and found processed).
    expect(logged(h, 'customer message already processed').map((l) => l.messageId)).toEqual(['m2']);
    expect(await h.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('does not post a coalesced batch again when a failure cut the marking of its messages short', async () => {
    const { limiter, release } = heldLimit();
    const h = core({ limiter: () => limiter, settings: { coalesceMax: 5 } });
    const who = customer();
    await openedTicket(h, who);
    const store = h.state.store;
    const mark = store.markProcessed.bind(store);
    let marks = 0;
    let failures = 1;
    // The state store goes away after the comment landed and the first message of the batch was marked.
    store.markProcessed = async (key, ttlMs) => {
      if (++marks > 1 && failures > 0) {
        failures--;
        throw new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');
      }
      return mark(key, ttlMs);
    };
    for (const id of ['m2', 'm3', 'm4']) await h.accept(who, message(id));
    release();
    await h.idle();
    // The lane handed the same messages out again, no longer coalescing: the recorded batch is recognised, found
    // already posted, and done as a whole.
    expect(failures).toBe(0);
    expect(h.timeline.of('append').map((a) => a.message.id)).toEqual(['m2..m4']);

    // Without a recorded batch, a head handed out again goes alone (the messages behind it follow one by one).
    const get = store.get.bind(store);
    let behindQueued!: () => void;
    const queuedBehind = new Promise<void>((resolve) => (behindQueued = resolve));
    let getFailures = 1;
    store.get = async (key) => {
      if (getFailures-- > 0) {
        await queuedBehind;
        throw new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');
      }
      return get(key);
    };
    await h.accept(who, message('m5'));
    await h.accept(who, message('m6'));
    behindQueued();
    await h.idle();
    expect(h.timeline.of('append').map((a) => a.message.id)).toEqual(['m2..m4', 'm5', 'm6']);
    expect(h.helpdesk.commentsOf(who.key)).toHaveLength(4);
  });

  it('retries a batch whose comment failed under the same key, telling the adapter it may have landed', async () => {
    const { limiter, release } = heldLimit();
    const h = core({ limiter: () => limiter, settings: { coalesceMax: 5 } });
    const who = customer();
    await openedTicket(h, who);
    h.helpdesk.failures.append = [new RetryableError('timed out', 'FAKEDESK_UNREACHABLE')];
    for (const id of ['m2', 'm3']) await h.accept(who, message(id));
    release();
    await h.idle();
    const appends = h.timeline.of('append');
    expect(appends.map((a) => [a.message.id, a.key, a.again])).toEqual([
      ['m2..m3', appends[0]!.key, false],
      ['m2..m3', appends[0]!.key, true],
    ]);
  });
});

describe('customer messages: failures are retried by the lane', () => {
  it('retries a RetryableError with the same idempotency key, then succeeds', async () => {
    const h = core();
    h.helpdesk.failures.openTicket = [
      new RetryableError('503', 'FAKEDESK_HTTP_503'),
      new RetryableError('reset', 'X'),
    ];
    await h.write(customer(), message('m1'));
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(3);
    expect(new Set(opens.map((o) => o.key)).size).toBe(1);
    expect((await h.state.store.get(customer().key))?.status).toBe('open');
    expect(logged(h, 'openTicket failed; the lane retries later').map((l) => [l.code, l.attempts])).toEqual([
      ['FAKEDESK_HTTP_503', 1],
      ['X', 2],
    ]);
    expect(await h.deadLetters()).toEqual([]);
  });

  it('tells the adapter a retried write may have landed: again on every retry of the item, not on a first try', async () => {
    const h = core();
    const who = customer();
    await openedTicket(h, who);
    h.helpdesk.failures.append = [
      new RetryableError('rate limited', 'FAKEDESK_RATE_LIMITED', 1),
      new RetryableError('timed out', 'FAKEDESK_UNREACHABLE'),
    ];
    await h.write(who, message('m2'));
    await h.write(who, message('m3'));
    const appends = h.timeline.of('append');
    expect(appends.map((a) => [a.message.id, a.again])).toEqual([
      ['m2', false],
      ['m2', true],
      ['m2', true],
      ['m3', false],
    ]);
    expect(new Set(appends.slice(0, 3).map((a) => a.key)).size).toBe(1);
  });

  it('dead-letters a message after the last attempt, visibly, and goes on with the next one', async () => {
    const h = core();
    const who = customer();
    await openedTicket(h, who);
    h.helpdesk.failures.append = [1, 2, 3, 4, 5].map((i) => new RetryableError(`down ${i}`, 'DOWN'));
    await h.write(who, message('m2'));
    // maxAttempts (4) calls, all under one key; the fifth failure is left for the next message.
    const appends = h.timeline.of('append');
    expect(appends).toHaveLength(4);
    expect(new Set(appends.map((a) => a.key)).size).toBe(1);
    const [letter] = await h.deadLetters();
    expect(letter).toMatchObject({
      code: 'DOWN',
      reason: 'down 4',
      work: { lane: who.key, attempts: 4, item: { kind: 'customer-message', message: { id: 'm2' } } },
    });
    expect(h.emitted.filter((e) => e.name === 'work.dead-lettered' || e.name === 'delivery.failed')).toEqual([
      { name: 'work.dead-lettered', payload: expect.objectContaining({ customerKey: who.key, attempts: 4 }) },
      {
        name: 'delivery.failed',
        payload: expect.objectContaining({ direction: 'to-helpdesk', messageId: 'm2', code: 'DOWN' }),
      },
    ]);
    h.helpdesk.failures.append = [];
    await h.write(who, message('m3'));
    expect(h.helpdesk.commentsOf(who.key)).toEqual([message('m1').text, message('m3').text]);
  });

  it('dead-letters a PermanentError at once without marking the message processed, so a replay posts it', async () => {
    const h = core();
    const who = customer();
    await openedTicket(h, who);
    h.helpdesk.failures.append = [new PermanentError('422', 'FAKEDESK_HTTP_422')];
    await h.write(who, message('m2'));
    expect(h.timeline.of('append')).toHaveLength(1);
    const [letter] = await h.deadLetters();
    expect(letter).toMatchObject({ code: 'FAKEDESK_HTTP_422', work: { attempts: 1 } });
    expect(await h.state.queue.replay(letter!.id)).toBe(true);
    await h.idle();
    expect(h.timeline.of('append')).toHaveLength(2);
    expect(h.helpdesk.commentsOf(who.key)).toEqual([message('m1').text, message('m2').text]);
  });

  it('resumes a failed open with the same session id and first message, then appends the new message', async () => {
    const h = core();
    const who = customer();
    // The helpdesk stays down for every attempt (4): m1 is dead-lettered, its open left for a later resume.
    h.helpdesk.failures.openTicket = [1, 2, 3, 4].map(() => new RetryableError('boom', 'X'));
    await h.write(who, message('m1'));
    expect((await h.state.store.get(who.key))?.status).toBe('opening');
    const [letter] = await h.deadLetters();
    expect(letter?.work.item).toMatchObject({ message: { id: 'm1' } });

    await h.write(who, message('m2'));
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(5); // four failed attempts, then the resume
    expect(opens[4]?.key).toBe(opens[0]?.key);
    expect(opens[4]?.req.first.id).toBe('m1');
    expect(h.timeline.of('append').map((a) => a.message.id)).toEqual(['m2']);

    // Replaying m1 is safe: the resumed open delivered it.
    expect(await h.state.queue.replay(letter!.id)).toBe(true);
    await h.idle();
    expect(h.helpdesk.commentsOf(who.key)).toEqual([message('m1').text, message('m2').text]);
  });

  it('forgets a handoff whose ticket the helpdesk refuses to open, so the next message starts a fresh one', async () => {
    const h = core();
    const who = customer(8);
    h.helpdesk.failures.openTicket = [
      new PermanentError('fakedesk: HTTP 422 RecordInvalid', 'FAKEDESK_HTTP_422'),
    ];
    await h.write(who, message('bad'));
    expect(await h.state.store.get(who.key)).toBeUndefined();
    expect(await h.deadLetters()).toEqual([
      expect.objectContaining({ code: 'FAKEDESK_HTTP_422', work: expect.objectContaining({ attempts: 1 }) }),
    ]);

    await h.write(who, message('m2'));
    const opens = h.timeline.of('openTicket');
    expect(opens).toHaveLength(2);
    expect(opens[1]!.req.first.id).toBe('m2');
    expect(opens[1]!.key).not.toBe(opens[0]!.key);
  });
});
