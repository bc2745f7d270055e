/**
 * A new handoff whose open is tried more than once (issue 17 items 15/16): the waiting text goes ONCE per handoff,
 * before the first helpdesk call, and the no-agent timer is armed by whichever attempt completes the open — in one
 * process, and when a second instance on the same Redis resumes the open.
 */
import type { LifecycleOptions } from '../../src/core/handoff/lifecycle';
import { RetryableError, UnavailableError } from '../../src/core/errors';
import type { Attachment, MediaFile } from '../../src/core/model';
import type { MediaFetcher } from '../../src/core/ports';
import {
  type CoreHarness,
  type CoreHarnessOptions,
  FakeHelpdesk,
  startCore,
  Timeline,
  until,
} from '../helpers/core-harness';
import { customer, logged, message } from '../helpers/handoff-fixtures';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

const WAITING = 'Você está na fila. Um atendente já vai falar com você.';
const NO_AGENT = 'Ainda estamos procurando um atendente.';

const lifecycle = (noAgentAfterMs = 60_000): LifecycleOptions => ({
  endKeywords: [],
  waitingText: WAITING,
  noAgent: { afterMs: noAgentAfterMs, action: 'message', text: NO_AGENT },
});

const started: CoreHarness[] = [];
function core(options: CoreHarnessOptions = {}): CoreHarness {
  const h = startCore({ lifecycle: lifecycle(), ...options });
  started.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((h) => h.stop()));
});

/** The timers a core armed (the lifecycle schedules them in the work queue). */
function armed(h: CoreHarness): string[] {
  const keys: string[] = [];
  const schedule = h.state.queue.schedule.bind(h.state.queue);
  h.state.queue.schedule = async (key, ...rest) => {
    await schedule(key, ...rest);
    keys.push(key.split(':')[0]!);
  };
  return keys;
}

/** What the customer read, and when the helpdesk was called, in order. */
function story(timeline: Timeline): string[] {
  return timeline.steps.map((s) => (s.what === 'send' ? `send ${s.text}` : s.what));
}

describe('the waiting text and the no-agent timer of an open tried more than once', () => {
  it('sends the waiting text once, before the first helpdesk call, and arms the timer once the open completes', async () => {
    const h = core({ lifecycle: lifecycle(100) });
    const timers = armed(h);
    h.helpdesk.failures.openTicket = [
      new RetryableError('fakedesk: HTTP 503', 'FAKEDESK_HTTP_503'),
      new RetryableError('fakedesk: HTTP 503', 'FAKEDESK_HTTP_503'),
    ];
    await h.write(customer(), message('m1'));
    expect(story(h.timeline)).toEqual([`send ${WAITING}`, 'openTicket', 'openTicket', 'openTicket']);
    expect(new Set(h.timeline.of('openTicket').map((o) => o.key)).size).toBe(1);
    // Armed by the attempt that completed the open, not by the two that failed.
    expect(timers).toEqual(['no-agent']);
    await until(() => h.timeline.of('send').length === 2, 'the no-agent text');
    expect(h.timeline.of('send').map((s) => s.text)).toEqual([WAITING, NO_AGENT]);
  });

  it('sends the waiting text while the helpdesk is still opening the ticket', async () => {
    const h = core();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    h.helpdesk.gate = () => held;
    await h.accept(customer(), message('m1'));
    await until(() => h.timeline.of('send').length === 1, 'the waiting text');
    expect(h.timeline.of('openTicket')).toEqual([]);
    release();
    await h.idle();
    expect(story(h.timeline)).toEqual([`send ${WAITING}`, 'openTicket']);
  });

  it('sends the waiting text once when a file upload fails before the ticket is opened', async () => {
    const media: MediaFetcher = {
      maxBytes: 10_000,
      fetch: async (a: Attachment): Promise<MediaFile> => ({
        name: 'boleto.jpg',
        mimeType: a.mimeType,
        size: 3,
        data: Buffer.from('abc'),
      }),
    };
    const h = core({
      media,
      helpdesks: (timeline) => [new FakeHelpdesk(timeline, 'fakedesk', { uploads: true })],
    });
    h.helpdesk.failures.upload = [new RetryableError('fakedesk upload: HTTP 503', 'FAKEDESK_HTTP_503')];
    const photo = {
      ...message('m1', 'boleto'),
      attachments: [{ url: 'https://media.example/b.jpg', mimeType: 'image/jpeg' }],
    };
    await h.write(customer(), photo);
    expect(story(h.timeline)).toEqual([`send ${WAITING}`, 'upload', 'upload', 'openTicket']);
    expect(h.timeline.of('openTicket')[0]!.req.first.attachments).toEqual([
      expect.objectContaining({ uploadRef: 'upload-1:boleto.jpg' }),
    ]);
  });

  it('arms the timer when the state store failed right after the open was saved', async () => {
    const h = core({ lifecycle: lifecycle(100) });
    const schedule = h.state.queue.schedule.bind(h.state.queue);
    let failures = 1;
    h.state.queue.schedule = async (...args) => {
      if (failures-- > 0)
        throw new UnavailableError('state store (Redis) unavailable', 'STATE_STORE_UNAVAILABLE');
      return schedule(...args);
    };
    await h.write(customer(), message('m1'));
    expect(logged(h, 'work failed; the work waits for an unavailable service')).toHaveLength(1);
    await until(() => h.timeline.of('send').length === 2, 'the no-agent text', 2_000);
    expect(h.timeline.of('send').map((s) => s.text)).toEqual([WAITING, NO_AGENT]);
    // The retry resumed the open (same key, same ticket) and armed the timer.
    expect(new Set(h.timeline.of('openTicket').map((o) => o.key)).size).toBe(1);
    expect(h.helpdesk.tickets.size).toBe(1);
  });
});

describeWithRedis('an open resumed by a second instance on Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });

  it('does not send the waiting text again, and the instance that completes the open arms the timer', async () => {
    const helpdesk = new FakeHelpdesk(new Timeline());
    const shared = { redisUrl: redis.url, timeline: helpdesk.timeline, helpdesks: () => [helpdesk] };
    const first = core({ ...shared, lifecycle: lifecycle(100), failures: { maxDelayMs: 1_000 } });
    const firstTimers = armed(first);
    // The helpdesk asks for 500 ms: the first instance is gone by then.
    helpdesk.failures.openTicket = [new RetryableError('fakedesk: HTTP 503', 'FAKEDESK_HTTP_503', 500)];
    await first.accept(customer(), message('m1'));
    await until(
      () => logged(first, 'openTicket failed; the lane retries later').length === 1,
      'the failed open',
    );
    await first.core.runner.stop(1_000);
    expect((await first.state.store.get(customer().key))?.status).toBe('opening');

    const second = core({ ...shared, lifecycle: lifecycle(100) });
    const secondTimers = armed(second);
    await until(
      () => helpdesk.timeline.of('send').length === 2,
      'the open resumed and the no-agent text',
      5_000,
    );
    expect(story(helpdesk.timeline)).toEqual([
      `send ${WAITING}`,
      'openTicket',
      'openTicket',
      `send ${NO_AGENT}`,
    ]);
    expect(new Set(helpdesk.timeline.of('openTicket').map((o) => o.key)).size).toBe(1);
    expect(firstTimers).toEqual([]);
    expect(secondTimers).toEqual(['no-agent']);
    expect(helpdesk.tickets.size).toBe(1);
  });
});
