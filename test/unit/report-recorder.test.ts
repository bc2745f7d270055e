import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DomainEvents, type DomainEventMap } from '../../src/core/events';
import type { ReportsConfig } from '../../src/reports/config';
import { Reports } from '../../src/reports/index';
import { readTalkLog } from '../../src/reports/queries';
import { applyEvent, type ReportEvent } from '../../src/reports/record';
import { SessionRecorder } from '../../src/reports/recorder';
import type { SessionRecord } from '../../src/reports/schema';
import { SqliteReportStore } from '../../src/reports/sqlite-store';
import type { ReportStore } from '../../src/reports/store';
import { captureLogs } from '../helpers/log-capture';
import { scriptedEvents } from '../helpers/report-events';

const builder = { teamTagPrefix: 'team_' };

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
    let failures = 0;
    jest.spyOn(store, 'update').mockImplementation((id, entry, change) => {
      // The agent's reply fails for good (3 tries); everything else goes through.
      if (entry?.entry_id === 'agent:a0') {
        failures += 1;
        return Promise.reject(new Error('disk I/O error'));
      }
      return real(id, entry, change);
    });
    const bus = new DomainEvents();
    const recorder = new SessionRecorder(Promise.resolve(store), logs.logger, {
      builder,
      retryDelaysMs: [1, 1],
    });
    recorder.subscribe(bus);
    emit(bus, script);
    expect(await recorder.flush()).toBe(true);
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

  it('with text storage off, neither the store nor the queue ever sees message text or links', async () => {
    const store = new SqliteReportStore(':memory:');
    await store.migrate();
    const seen: string[] = [];
    const real = store.update.bind(store);
    jest.spyOn(store, 'update').mockImplementation((id, entry, change) =>
      real(id, entry, (current) => {
        const next = change(current);
        seen.push(JSON.stringify([entry, next]));
        return next;
      }),
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
