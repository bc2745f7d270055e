import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DomainEvents, type DomainEventMap } from '../../src/core/events';
import type { ReportsConfig } from '../../src/reports/config';
import { Reports } from '../../src/reports/index';
import { readTalkLog } from '../../src/reports/queries';
import { TextCipher, talkAad } from '../../src/reports/crypto';
import { applyEvent, talkEntryFor, type ReportEvent } from '../../src/reports/record';
import { SessionRecorder } from '../../src/reports/recorder';
import type { SessionRecord, TalkEntry } from '../../src/reports/schema';
import { SqliteReportStore } from '../../src/reports/sqlite-store';
import type { ReportStore, ReportUpdate } from '../../src/reports/store';
import { captureLogs } from '../helpers/log-capture';
import { scriptedEvents } from '../helpers/report-events';

const builder = { teamTagPrefix: 'team_' };
type Change = ReportUpdate['change'];

function emit(events: DomainEvents, list: ReportEvent[]): void {
  for (const e of list) events.emit(e.name, e.payload as DomainEventMap[typeof e.name] as never);
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const script = scriptedEvents({
  sessionId: 'rec-1',
  start: '2026-11-03T14:00:00Z',
  customerAt: [0, 15],
  customerFiles: 1,
  agent: { id: '5', name: 'Ana' },
  agentAt: [40],
  closeAt: 400,
  text: (origin, i) => `SECRET-${origin}-${i}`,
});
const expected = script.reduce<SessionRecord | undefined>((r, e) => applyEvent(r, e, builder), undefined);

/**
 * A store in memory that notes every call: which method, with which items. `updateMany` is all or nothing like the
 * real ones; `failBatches` makes that many of the next batches reject.
 */
class CallCountingStore implements ReportStore {
  readonly kind = 'sqlite';
  readonly records = new Map<string, SessionRecord>();
  readonly entries = new Set<string>();
  readonly calls: Array<{ method: 'update' | 'updateMany'; items: ReportUpdate[] }> = [];
  failBatches = 0;
  updateMany?: (items: readonly ReportUpdate[]) => Promise<boolean[]>;

  constructor(batches = true) {
    if (batches) this.updateMany = (items) => this.batch(items);
  }

  async migrate(): Promise<number> {
    return 1;
  }
  async update(sessionId: string, entry: TalkEntry | undefined, change: Change): Promise<boolean> {
    this.calls.push({ method: 'update', items: [{ sessionId, entry, change }] });
    return this.apply([{ sessionId, entry, change }])[0]!;
  }
  private async batch(items: readonly ReportUpdate[]): Promise<boolean[]> {
    this.calls.push({ method: 'updateMany', items: [...items] });
    if (this.failBatches > 0) {
      this.failBatches -= 1;
      throw new Error('connection reset');
    }
    return this.apply(items);
  }
  private apply(items: readonly ReportUpdate[]): boolean[] {
    const records = new Map(this.records);
    const entries = new Set(this.entries);
    const results = items.map(({ sessionId, entry, change }) => {
      const key = entry && `${entry.session_id}/${entry.entry_id}`;
      if (key && entries.has(key)) return false;
      if (key) entries.add(key);
      records.set(sessionId, change(records.get(sessionId)));
      return true;
    });
    for (const [id, r] of records) this.records.set(id, r);
    for (const key of entries) this.entries.add(key);
    return results;
  }
  async get(sessionId: string): Promise<SessionRecord | undefined> {
    return this.records.get(sessionId);
  }
  async talkLog(): Promise<TalkEntry[]> {
    return [];
  }
  async list(): Promise<SessionRecord[]> {
    return [];
  }
  async purge(): Promise<{ sessions: number; entries: number }> {
    return { sessions: 0, entries: 0 };
  }
  async close(): Promise<void> {}
}

describe('SessionRecorder', () => {
  it('never holds up the bus: events are only queued while the store is not there', () => {
    const logs = captureLogs();
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(new Promise<ReportStore>(() => {}), logs.logger, { builder });
    recorder.subscribe(bus);
    const after = jest.fn();
    bus.on('customer.message', after);
    emit(bus, script);
    expect(after).toHaveBeenCalledTimes(2);
    expect(recorder.stats().queued).toBe(script.length);
  });

  it('drops what does not fit in the queue, with one log line carrying a code', () => {
    const logs = captureLogs();
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(new Promise<ReportStore>(() => {}), logs.logger, {
      builder,
      maxQueue: 3,
    });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(recorder.stats()).toMatchObject({ queued: 3, dropped: script.length - 3 });
    expect(logs.lines().filter((l) => l.code === 'REPORTS_QUEUE_FULL')).toHaveLength(1);
  });

  it('retries a failed write, then logs it with a code and goes on with the next events', async () => {
    const logs = captureLogs();
    const store = new SqliteReportStore(':memory:');
    await store.migrate();
    const real = store.update.bind(store);
    const realMany = store.updateMany.bind(store);
    let failures = 0;
    jest.spyOn(store, 'update').mockImplementation((id, entry, change) => {
      // The agent's reply fails for good (3 tries); everything else goes through.
      if (entry?.entry_id === 'agent:a0') {
        failures += 1;
        return Promise.reject(new Error('disk I/O error'));
      }
      return real(id, entry, change);
    });
    // So does a batch holding it: the recorder then writes that batch's events one by one.
    const many = jest
      .spyOn(store, 'updateMany')
      .mockImplementation((items) =>
        items.some((i) => i.entry?.entry_id === 'agent:a0')
          ? Promise.reject(new Error('disk I/O error'))
          : realMany(items),
      );
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), logs.logger, {
      builder,
      retryDelaysMs: [1, 1],
    });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
    expect(many).toHaveBeenCalledTimes(1);
    expect(failures).toBe(3);
    const failed = logs.lines().filter((l) => l.code === 'REPORTS_WRITE_FAILED');
    expect(failed).toEqual([
      expect.objectContaining({ level: 'error', event: 'agent.message', session: 'rec-1', attempts: 3 }),
    ]);
    expect(logs.text()).not.toContain('SECRET');
    expect(recorder.stats()).toMatchObject({ failed: 1, recorded: script.length - 1 });
    expect(await store.get('rec-1')).toMatchObject({
      customer_messages: 2,
      agent_messages: 0,
      status: 'closed',
    });
    await store.close();
  });

  it('writes the events of one tick with one updateMany call, in order; a later tick makes another', async () => {
    const store = new CallCountingStore();
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), captureLogs().logger, { builder });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
    expect(store.calls.map((c) => [c.method, c.items.length])).toEqual([['updateMany', script.length]]);
    expect(store.calls[0]!.items.map((i) => i.entry?.entry_id ?? null)).toEqual(
      script.map((e) => talkEntryFor(e)?.entry_id ?? null),
    );
    expect(store.records.get('rec-1')).toEqual(expected);

    // The same events again, in another tick: one more batch, and the messages count as duplicates.
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
    expect(store.calls.map((c) => [c.method, c.items.length])).toEqual([
      ['updateMany', script.length],
      ['updateMany', script.length],
    ]);
    const messages = script.filter((e) => talkEntryFor(e)).length;
    expect(recorder.stats()).toEqual({
      queued: 0,
      recorded: 2 * script.length - messages,
      duplicates: messages,
      failed: 0,
      dropped: 0,
    });
  });

  it('lets events of several ticks gather for lingerMs into one transaction, and writes at once without it', async () => {
    const store = new CallCountingStore();
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), captureLogs().logger, {
      builder,
      lingerMs: 300,
    });
    recorder.subscribe(bus);
    for (const event of script) {
      emit(bus, [event]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await recorder.flush()).toBe(true);
    expect(store.calls.map((c) => [c.method, c.items.length])).toEqual([['updateMany', script.length]]);
    expect(store.records.get('rec-1')).toEqual(expected);

    const eager = new CallCountingStore();
    const now = new SessionRecorder(Promise.resolve(eager), captureLogs().logger, { builder, lingerMs: 0 });
    now.subscribe(bus);
    for (const event of script) {
      emit(bus, [event]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await now.flush()).toBe(true);
    expect(eager.calls.length).toBeGreaterThan(1);
    await recorder.close();
    await now.close();
  });

  it('takes at most batchSize events per transaction, keeping their order', async () => {
    const store = new CallCountingStore();
    const recorder = new SessionRecorder(Promise.resolve(store), captureLogs().logger, { builder });
    const events = Array.from({ length: 70 }, (_, i) =>
      scriptedEvents({ sessionId: `s-${i}`, start: '2026-11-03T14:00:00Z', customerAt: [0, 5], closeAt: 60 }),
    ).flat();
    expect(events.length).toBeGreaterThan(400);
    for (const e of events) recorder.enqueue(e);
    expect(await recorder.flush()).toBe(true);
    expect(store.calls.map((c) => [c.method, c.items.length])).toEqual([
      ['updateMany', 200],
      ['updateMany', 200],
      ['updateMany', events.length - 400],
    ]);
    const written = store.calls.flatMap((c) => c.items.map((i) => i.sessionId));
    expect(written).toEqual(events.map((e) => e.payload.sessionId));
    expect(recorder.stats()).toMatchObject({ queued: 0, recorded: events.length });
  });

  it('writes one update per event to a store without updateMany', async () => {
    const store = new CallCountingStore(false);
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), captureLogs().logger, { builder });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
    expect(store.calls.map((c) => c.method)).toEqual(script.map(() => 'update'));
    expect(store.records.get('rec-1')).toEqual(expected);
  });

  it('writes a failed batch again one event at a time, encrypting each attempt afresh', async () => {
    const logs = captureLogs();
    const store = new CallCountingStore();
    store.failBatches = 1;
    const cipher = new TextCipher(randomBytes(32));
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), logs.logger, { builder, cipher });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
    expect(store.calls.map((c) => c.method)).toEqual(['updateMany', ...script.map(() => 'update')]);
    expect(store.records.get('rec-1')).toEqual(expected);
    expect(recorder.stats()).toMatchObject({ recorded: script.length, duplicates: 0, failed: 0 });
    expect(logs.lines().filter((l) => l.code === 'REPORTS_BATCH_FAILED')).toEqual([
      expect.objectContaining({ level: 'debug', events: script.length }),
    ]);
    expect(logs.lines().filter((l) => l.code === 'REPORTS_WRITE_FAILED')).toEqual([]);
    // The customer's first message, as the batch had it and as its own write had it: same text, a new IV.
    const inBatch = store.calls[0]!.items[1]!.entry!;
    const alone = store.calls[2]!.items[0]!.entry!;
    expect(alone.entry_id).toBe(inBatch.entry_id);
    expect(alone.text_enc).not.toBe(inBatch.text_enc);
    const aad = talkAad('rec-1', inBatch.entry_id, 'text');
    expect(cipher.decrypt(alone.text_enc!, aad)).toBe(cipher.decrypt(inBatch.text_enc!, aad));
  });

  it('SQLite: an event that throws fails its whole batch, which keeps nothing; the rest is then written one by one', async () => {
    const logs = captureLogs();
    const store = new SqliteReportStore(':memory:');
    await store.migrate();
    const many = jest.spyOn(store, 'updateMany');
    const update = jest.spyOn(store, 'update');
    const failure: ReportEvent = {
      name: 'delivery.failed',
      payload: {
        sessionId: 'rec-1',
        customerKey: 'rec-1@tunnel.msging.net',
        direction: 'to-customer',
        code: 'BLIP_FAILED',
        reason: 'not delivered',
        at: '2026-11-03T14:00:20Z',
      },
    };
    // A malformed event (no customer) makes the record builder throw: 3rd in the batch, after a message and a
    // delivery failure (no talk log entry: a batch that kept anything would count it twice).
    const poison = {
      ...script[0]!,
      payload: { ...script[0]!.payload, customer: undefined },
    } as unknown as ReportEvent;
    const good = [script[0]!, script[1]!, failure, ...script.slice(2)];
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), logs.logger, {
      builder,
      retryDelaysMs: [1, 1],
    });
    recorder.subscribe(bus);
    emit(bus, [...good.slice(0, 3), poison, ...good.slice(3)]);
    expect(await recorder.flush()).toBe(true);
    expect(many).toHaveBeenCalledTimes(1);
    await expect(many.mock.results[0]!.value).rejects.toThrow(TypeError);
    expect(update).toHaveBeenCalledTimes(good.length + 3);
    expect(recorder.stats()).toMatchObject({ recorded: good.length, duplicates: 0, failed: 1 });
    expect(logs.lines().filter((l) => l.code === 'REPORTS_WRITE_FAILED')).toEqual([
      expect.objectContaining({ event: 'handoff.started', session: 'rec-1', attempts: 3 }),
    ]);
    const record = await store.get('rec-1');
    expect(record).toEqual(
      good.reduce<SessionRecord | undefined>((r, e) => applyEvent(r, e, builder), undefined),
    );
    expect(record).toMatchObject({ delivery_failures: 1, customer_messages: 2 });
    expect(await store.talkLog('rec-1')).toHaveLength(4);
    await store.close();
  });

  it('with text storage off, neither the store nor the queue ever sees message text or links', async () => {
    const store = new SqliteReportStore(':memory:');
    await store.migrate();
    const seen: string[] = [];
    const observed =
      (entry: TalkEntry | undefined, change: Change): Change =>
      (current) => {
        const next = change(current);
        seen.push(JSON.stringify([entry, next]));
        return next;
      };
    const real = store.update.bind(store);
    const realMany = store.updateMany.bind(store);
    jest
      .spyOn(store, 'update')
      .mockImplementation((id, entry, change) => real(id, entry, observed(entry, change)));
    jest
      .spyOn(store, 'updateMany')
      .mockImplementation((items) =>
        realMany(items.map((i) => ({ ...i, change: observed(i.entry, i.change) }))),
      );
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), captureLogs().logger, { builder });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
    expect(seen).toHaveLength(script.length);
    expect(seen.join('\n')).not.toMatch(/SECRET|media\.example/);
    expect(await store.get('rec-1')).toEqual(expected);
    await store.close();
  });
});

describe('Reports', () => {
  let dir: string;
  const config = (over: Partial<ReportsConfig> = {}): ReportsConfig => ({
    enabled: true,
    sqlitePath: path.join(dir, 'reports.sqlite'),
    retentionDays: 30,
    storeText: false,
    timezone: 'UTC',
    teamTagPrefix: 'team_',
    ...over,
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bhb-reports-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps an in-progress session across a restart: the partial record is written as events arrive', async () => {
    const split = script.findIndex((e) => e.name === 'agent.message');
    const first = new Reports(config(), captureLogs().logger);
    const bus1 = new DomainEvents();
    first.subscribe(bus1);
    emit(bus1, script.slice(0, split));
    await first.recorder.flush();
    expect(await (await first.whenReady()).get('rec-1')).toMatchObject({
      status: 'open',
      customer_messages: 2,
    });
    await first.close();

    const second = new Reports(config(), captureLogs().logger);
    const bus2 = new DomainEvents();
    second.subscribe(bus2);
    emit(bus2, script.slice(split));
    await second.recorder.flush();
    expect(await (await second.whenReady()).get('rec-1')).toEqual(expected);
    await second.close();
  });

  it('with text storage on, stores the talk log encrypted and reads it back with the key', async () => {
    const key = randomBytes(32);
    const reports = new Reports(config({ storeText: true, textKey: key }), captureLogs().logger);
    const bus = new DomainEvents();
    reports.subscribe(bus);
    emit(bus, script);
    await reports.recorder.flush();
    const store = await reports.whenReady();
    const raw = await store.talkLog('rec-1');
    expect(JSON.stringify(raw)).not.toMatch(/SECRET|media\.example/);
    const lines = await readTalkLog(store, 'rec-1', reports.cipher);
    expect(lines.map((l) => [l.origin, l.text])).toEqual([
      ['customer', 'SECRET-customer-0'],
      ['customer', 'SECRET-customer-1'],
      ['agent', 'SECRET-agent-0'],
      ['automatic', 'Bye!'],
    ]);
    expect(lines[0]!.media).toEqual([{ url: 'https://media.example/0.jpg', mimeType: 'image/jpeg' }]);
    expect((await readTalkLog(store, 'rec-1', undefined))[0]).toMatchObject({
      text: null,
      unreadable: expect.any(String),
    });
    await reports.close();
  });

  it('an unreachable database never stops the bridge: it is retried in the background, and close() is prompt', async () => {
    const logs = captureLogs();
    const reports = new Reports(config({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' }), logs.logger, {
      openRetryMs: [20],
    });
    const bus = new DomainEvents();
    reports.subscribe(bus);
    emit(bus, script);
    await until(
      () => logs.lines().filter((l) => l.code === 'REPORTS_STORE_UNAVAILABLE').length >= 2,
      'two failed opens',
    );
    expect(reports.store()).toBeUndefined();
    await reports.close();
    expect(logs.text()).not.toContain('SECRET');
  });

  it('purges what is older than the retention, and only that', async () => {
    const now = new Date('2026-11-20T00:00:00Z');
    const reports = new Reports(config({ retentionDays: 30 }), captureLogs().logger, { now: () => now });
    const bus = new DomainEvents();
    reports.subscribe(bus);
    emit(bus, scriptedEvents({ sessionId: 'old', start: '2026-10-01T00:00:00Z', closeAt: 60 }));
    emit(bus, scriptedEvents({ sessionId: 'recent', start: '2026-10-25T00:00:00Z', closeAt: 60 }));
    await reports.recorder.flush();
    expect(await reports.purge()).toMatchObject({ sessions: 1, before: '2026-10-21T00:00:00.000Z' });
    const store = await reports.whenReady();
    expect(await store.get('old')).toBeUndefined();
    expect(await store.get('recent')).toBeDefined();
    await reports.close();
  });
});
