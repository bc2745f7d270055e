import { randomUUID } from 'node:crypto';
import type { DeadLetter, LaneLease, QueuedWork, WorkItem, WorkQueue } from '../core/work/queue';
import { storeCall } from './store-errors';
import type { ScriptRedisClient } from './redis-scripts';
import { decodeDeadLetter, decodeEntry, encodeEntry, type Decoded } from './work-codec';

/** The Redis commands the queue uses besides its scripts (node-redis v5). */
export interface QueueRedisClient extends ScriptRedisClient {
  zRangeByScore(
    key: string,
    min: number | string,
    max: number | string,
    options?: { LIMIT: { offset: number; count: number } },
  ): Promise<string[]>;
  lRange(key: string, start: number, stop: number): Promise<string[]>;
  hGet(key: string, field: string): Promise<string | null | undefined>;
  zRange(key: string, start: number, stop: number): Promise<string[]>;
  hmGet(key: string, fields: string[]): Promise<Array<string | null>>;
  zCard(key: string): Promise<number>;
  hLen(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
}
import {
  ENQUEUE,
  PEEK,
  TAKE,
  ACK,
  ACK_TAKE,
  LEASE,
  RELEASE_UNCLAIMED,
  RETRY,
  DEAD_LETTER,
  REPLAY,
  DROP,
  SCHEDULE,
  CANCEL,
  PROMOTE_TIMERS,
} from './redis-work-queue-scripts';

/**
 * The work queue on Redis, shared by every instance: one list per lane (`<prefix>q:lane:<lane>`), a sorted set
 * of lanes by the time they are due (`q:due`: now, or later while the lane's head waits for a retry), a counter,
 * and the dead-letter hash with its order (`dlq`, `dlq:order`). Each change is one Lua script, so it is atomic:
 * an item is never both acknowledged and dead-lettered, and a lane never leaves `q:due` while it has items.
 * Durability is Redis's: with AOF (`appendonly yes`) an acknowledged enqueue survives a Redis restart.
 */
export class RedisWorkQueue implements WorkQueue {
  private readonly dueKey: string;
  private readonly countKey: string;
  private readonly dlqKey: string;
  private readonly dlqOrderKey: string;
  private readonly timersKey: string;
  private readonly timerItemsKey: string;
  private readonly claimsKey: string;

  constructor(
    private readonly client: () => Promise<QueueRedisClient>,
    private readonly prefix: string,
  ) {
    this.dueKey = `${prefix}q:due`;
    this.countKey = `${prefix}q:count`;
    this.dlqKey = `${prefix}dlq`;
    this.dlqOrderKey = `${prefix}dlq:order`;
    this.timersKey = `${prefix}timers`;
    this.timerItemsKey = `${prefix}timers:items`;
    this.claimsKey = `${prefix}q:claims`;
  }

  async enqueue(
    lane: string,
    item: WorkItem,
    lease?: LaneLease,
  ): Promise<{ work: QueuedWork; dueAtMs: number; taken?: QueuedWork[]; behind?: boolean }> {
    const work: QueuedWork = {
      id: randomUUID(),
      lane,
      item,
      attempts: 0,
      enqueuedAt: new Date().toISOString(),
    };
    const now = Date.now();
    const [due, taken, length] = (await ENQUEUE.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.claimsKey, this.leaseKey(lane)],
      [encodeEntry(work), lane, now, lease?.token ?? '', lease?.ttlMs ?? 0, work.id],
    )) as [string | null, number, number | undefined];
    const dueAtMs = Number(due ?? now);
    if (Number(taken) === 1) return { work, dueAtMs, taken: [work] };
    return length === undefined ? { work, dueAtMs } : { work, dueAtMs, behind: Number(length) > 1 };
  }

  async dueLanes(nowMs: number, limit: number): Promise<string[]> {
    const redis = await this.client();
    return storeCall(() =>
      redis.zRangeByScore(this.dueKey, '-inf', nowMs, { LIMIT: { offset: 0, count: limit } }),
    );
  }

  async peek(lane: string, max: number): Promise<Decoded[]> {
    const reply = (await PEEK.run(
      await this.client(),
      [this.laneKey(lane), this.claimsKey],
      [lane, max],
    )) as [number, ...string[]];
    return peeked(reply);
  }

  async take(lane: string, max: number, lease: LaneLease): Promise<Decoded[] | 'held'> {
    const reply = (await TAKE.run(
      await this.client(),
      [this.laneKey(lane), this.claimsKey, this.leaseKey(lane)],
      [lane, max, lease.token, lease.ttlMs],
    )) as [number, ...string[]];
    return Number(reply[0]) === -1 ? 'held' : peeked(reply);
  }

  async renew(lane: string, lease: LaneLease): Promise<boolean> {
    const mine = await LEASE.run(await this.client(), [this.leaseKey(lane)], [lease.token, lease.ttlMs]);
    return Number(mine) === 1;
  }

  async release(lane: string, lease: LaneLease, unclaim?: string): Promise<void> {
    if (unclaim === undefined) {
      await LEASE.run(await this.client(), [this.leaseKey(lane)], [lease.token, 0]);
      return;
    }
    await RELEASE_UNCLAIMED.run(
      await this.client(),
      [this.leaseKey(lane), this.claimsKey],
      [lease.token, lane, unclaim],
    );
  }

  async ackAndTake(
    lane: string,
    ids: string[],
    lease: LaneLease,
    max: number,
  ): Promise<{ left: number; next?: Decoded[] | 'held' }> {
    const [left, ...rest] = (await ACK_TAKE.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.claimsKey, this.leaseKey(lane)],
      [lane, lease.token, max, lease.ttlMs, ...ids],
    )) as [number, ...Array<number | string>];
    if (Number(left) === 0) return { left: 0 };
    if (Number(rest[0]) === -1) return { left: Number(left), next: 'held' };
    return { left: Number(left), next: peeked(rest as [number, ...string[]]) };
  }

  async ack(lane: string, ids: string[], lease?: LaneLease): Promise<number> {
    const left = await ACK.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.claimsKey, this.leaseKey(lane)],
      [lane, lease?.token ?? '', ...ids],
    );
    return Number(left);
  }

  async retryLater(lane: string, head: QueuedWork, retryAtMs: number): Promise<void> {
    await RETRY.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey],
      [head.id, encodeEntry(head), lane, retryAtMs],
    );
  }

  async deadLetter(lane: string, headId: string, letter: DeadLetter): Promise<void> {
    await DEAD_LETTER.run(
      await this.client(),
      [this.laneKey(lane), this.dueKey, this.countKey, this.dlqKey, this.dlqOrderKey, this.claimsKey],
      [headId, letter.id, JSON.stringify(letter), Date.parse(letter.at) || Date.now(), lane, Date.now()],
    );
  }

  async deadLetters(limit = 1000): Promise<DeadLetter[]> {
    const redis = await this.client();
    const ids = await storeCall(() => redis.zRange(this.dlqOrderKey, 0, limit - 1));
    if (ids.length === 0) return [];
    const values = await storeCall(() => redis.hmGet(this.dlqKey, ids));
    return values.flatMap((json, i) => {
      if (!json) return [];
      return [
        decodeDeadLetter(json) ?? {
          // Kept visible (and droppable) even when it cannot be read back.
          id: ids[i]!,
          work: { id: ids[i]!, lane: '?', item: unreadableItem(), attempts: 0, enqueuedAt: '' },
          code: 'UNREADABLE_DEAD_LETTER',
          reason: 'the stored dead letter could not be read',
          at: '',
        },
      ];
    });
  }

  async replay(deadLetterId: string): Promise<boolean> {
    const redis = await this.client();
    const json = await storeCall(() => redis.hGet(this.dlqKey, deadLetterId));
    const letter = json ? decodeDeadLetter(json) : undefined;
    if (!letter) return false;
    const work: QueuedWork = {
      id: randomUUID(),
      lane: letter.work.lane,
      item: letter.work.item,
      attempts: 0,
      enqueuedAt: new Date().toISOString(),
    };
    const done = await REPLAY.run(
      redis,
      [this.dlqKey, this.dlqOrderKey, this.laneKey(work.lane), this.dueKey, this.countKey],
      [deadLetterId, encodeEntry(work), work.lane, Date.now()],
    );
    return Number(done) === 1;
  }

  async drop(deadLetterId: string): Promise<boolean> {
    const done = await DROP.run(await this.client(), [this.dlqKey, this.dlqOrderKey], [deadLetterId]);
    return Number(done) === 1;
  }

  async schedule(key: string, lane: string, item: WorkItem, atMs: number): Promise<void> {
    const work: QueuedWork = {
      id: randomUUID(),
      lane,
      item,
      attempts: 0,
      enqueuedAt: new Date(atMs).toISOString(),
    };
    await SCHEDULE.run(
      await this.client(),
      [this.timersKey, this.timerItemsKey],
      [key, `${lane}\n${encodeEntry(work)}`, Math.round(atMs)],
    );
  }

  async cancel(key: string): Promise<void> {
    await CANCEL.run(await this.client(), [this.timersKey, this.timerItemsKey], [key]);
  }

  async promoteTimers(nowMs: number, limit: number): Promise<string[]> {
    return (await PROMOTE_TIMERS.run(
      await this.client(),
      [this.timersKey, this.timerItemsKey, this.dueKey, this.countKey],
      [Math.round(nowMs), limit, this.laneKey('')],
    )) as string[];
  }

  async depth(): Promise<{ queued: number; lanes: number; deadLetters: number }> {
    const redis = await this.client();
    const [count, lanes, deadLetters] = await storeCall(() =>
      Promise.all([redis.get(this.countKey), redis.zCard(this.dueKey), redis.hLen(this.dlqKey)]),
    );
    return { queued: Math.max(0, Number(count ?? 0)), lanes, deadLetters };
  }

  private laneKey(lane: string): string {
    return `${this.prefix}q:lane:${lane}`;
  }

  private leaseKey(lane: string): string {
    return `${this.prefix}lock:lane:${lane}`;
  }
}

/** A PEEK/TAKE reply (`{again, entries...}`) as items, the head marked when it was handed out before. */
function peeked([again, ...entries]: [number, ...string[]]): Decoded[] {
  const items = entries.map(decodeEntry);
  const head = items[0];
  if (head && !('unreadable' in head) && Number(again) === 1) head.redelivered = true;
  return items;
}

function unreadableItem(): WorkItem {
  return { kind: 'delivery-failure', customerKey: '?', messageId: '?', code: '?', reason: 'unreadable' };
}
