/**
 * Two instances of the bridge on one Redis, each the assembled core (intake → LaneRunner → handlers): the work
 * shared, one worker per lane across instances (the lease), a dead instance's lane taken up once its lease runs out,
 * work left behind taken up, and an entry no instance can read dead-lettered. One instance: lane-runner.test.ts.
 */
import type { ChatMessage, CustomerRef } from '../../src/core/model';
import {
  type CoreHarness,
  type CoreHarnessOptions,
  FakeHelpdesk,
  startCore,
  Timeline,
  until,
} from '../helpers/core-harness';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

function customer(n: number): CustomerRef {
  return { key: `c${n}@tunnel.msging.net`, address: `c${n}@tunnel.msging.net/r` };
}

function msg(id: string, text = id): ChatMessage {
  return { id, text, at: '2026-11-25T12:00:00.000Z' };
}

describeWithRedis('lanes: two instances on one Redis', () => {
  let redis: RedisServer;
  const started: CoreHarness[] = [];

  /** An instance of the bridge on the shared Redis, with the shared helpdesk and timeline. */
  function instance(helpdesk: FakeHelpdesk, options: CoreHarnessOptions = {}): CoreHarness {
    const h = startCore({
      redisUrl: redis.url,
      timeline: helpdesk.timeline,
      helpdesks: () => [helpdesk],
      ...options,
    });
    started.push(h);
    return h;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    await redis.flush();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((h) => h.stop()));
  });

  it('share the work: one ticket per customer, every message once, in order', async () => {
    const helpdesk = new FakeHelpdesk(new Timeline());
    const a = instance(helpdesk);
    const b = instance(helpdesk);
    const customers = Array.from({ length: 20 }, (_, i) => customer(i));
    for (let n = 1; n <= 5; n++) {
      // Customers in parallel; each customer's messages in order, entering through either instance.
      await Promise.all(
        customers.map((who, i) => ((i + n) % 2 === 0 ? a : b).accept(who, msg(`${who.key}#${n}`, `${n}`))),
      );
    }
    await until(
      () => customers.every((c) => helpdesk.commentsOf(c.key).length === 5),
      'every message',
      20_000,
    );
    for (const who of customers) expect(helpdesk.commentsOf(who.key)).toEqual(['1', '2', '3', '4', '5']);
    expect(helpdesk.tickets.size).toBe(20);
    await a.idle();
    expect(await a.state.queue.depth()).toEqual({ queued: 0, lanes: 0, deadLetters: 0 });
  });

  it('works a lane on one instance at a time: a lane held by one waits for it on the other', async () => {
    const helpdesk = new FakeHelpdesk(new Timeline());
    const a = instance(helpdesk);
    const b = instance(helpdesk);
    await a.write(customer(1), msg('m1'));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inFlight = 0;
    let most = 0;
    helpdesk.gate = async () => {
      most = Math.max(most, ++inFlight);
      await held;
      inFlight--;
    };
    await a.accept(customer(1), msg('m2'));
    await until(() => inFlight === 1, 'the first instance in the helpdesk call');
    // The second instance tries the lane (on intake, then on every scan) and finds it held.
    const take = b.state.queue.take.bind(b.state.queue);
    let refused = 0;
    b.state.queue.take = async (...args) => {
      const taken = await take(...args);
      if (taken === 'held' && args[0] === customer(1).key) refused++;
      return taken;
    };
    for (const id of ['m3', 'm4']) await b.accept(customer(1), msg(id));
    await until(() => refused >= 3, 'the second instance refused the lane three times');
    expect(most).toBe(1);
    release();
    await a.idle();
    await b.idle();
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(most).toBe(1);
  });

  it("takes up a dead instance's lane once its lease runs out, the head redelivered (again) to the adapter", async () => {
    const helpdesk = new FakeHelpdesk(new Timeline());
    const dying = instance(helpdesk, { lanes: { leaseMs: 150 } });
    await dying.write(customer(1), msg('m1'));
    // The process dies inside the helpdesk call: its lease is no longer renewed, its call never returns.
    dying.state.queue.renew = async () => false;
    let die!: (err: Error) => void;
    const dead = new Promise<void>((_, reject) => (die = reject));
    let holds = 1;
    helpdesk.gate = async () => {
      if (holds-- > 0) await dead;
    };
    await dying.accept(customer(1), msg('m2'));
    await until(() => holds === 0, 'the dying instance in the helpdesk call');
    const survivor = instance(helpdesk);
    await until(() => helpdesk.commentsOf(customer(1).key).length === 2, 'the survivor posting m2', 5_000);
    expect(helpdesk.timeline.of('append').map((s) => [s.message.id, s.again])).toEqual([['m2', true]]);
    die(new Error('process died'));
    await survivor.idle();
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1', 'm2']);
  });

  it('dead-letters an entry it cannot read (UNREADABLE_WORK) and goes on with the lane', async () => {
    const helpdesk = new FakeHelpdesk(new Timeline());
    const h = instance(helpdesk);
    const client = await h.state.redis!();
    await client.rPush(`bhb:q:lane:${customer(1).key}`, 'written by an incompatible version');
    await h.write(customer(1), msg('m1'));
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['m1']);
    const letters = await h.deadLetters();
    expect(letters).toEqual([
      expect.objectContaining({
        code: 'UNREADABLE_WORK',
        work: expect.objectContaining({ lane: customer(1).key }),
      }),
    ]);
    expect(h.emitted.filter((e) => e.name === 'work.dead-lettered').map((e) => e.payload)).toEqual([
      expect.objectContaining({ kind: 'unreadable', code: 'UNREADABLE_WORK', customerKey: undefined }),
    ]);
  });

  it('takes up the work an instance left behind', async () => {
    const helpdesk = new FakeHelpdesk(new Timeline());
    const crashed = instance(helpdesk);
    await crashed.core.runner.stop(0); // it stops working, as if killed, after recording
    await crashed.accept(customer(1), msg('left-1'));
    await crashed.accept(customer(1), msg('left-2'));
    expect(helpdesk.timeline.steps).toEqual([]);
    const survivor = instance(helpdesk);
    await until(() => helpdesk.commentsOf(customer(1).key).length === 2, 'the left-behind work');
    expect(helpdesk.commentsOf(customer(1).key)).toEqual(['left-1', 'left-2']);
    await survivor.idle();
  });
});
