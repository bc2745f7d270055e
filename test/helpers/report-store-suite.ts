/**
 * One test suite for every session report backend (as Keyv's adapter tests do): each backend provides a harness
 * that opens a fresh store, and must pass every case unchanged.
 */
import { applyEvent, talkEntryFor, type ReportEvent } from '../../src/reports/record';
import { SESSION_COLUMN_NAMES, sessionColumnsAt, type SessionRecord } from '../../src/reports/schema';
import { allSessions, type ReportStore, type ReportUpdate } from '../../src/reports/store';
import { at, scriptedEvents } from './report-events';

export interface OpenedStore {
  store: ReportStore;
  /** Another store (a second connection / pool) on the same database, migrated. */
  another(): Promise<ReportStore>;
  /** The columns of the report_sessions_v1 view, in order. */
  viewColumns(): Promise<string[]>;
  /** Runs SQL on the database directly (a row as an older bridge wrote it). */
  exec(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

export interface StoreHarness {
  name: string;
  open(): Promise<OpenedStore>;
}

const builder = { teamTagPrefix: 'team_' };

async function record(store: ReportStore, events: ReportEvent[]): Promise<boolean[]> {
  const results: boolean[] = [];
  for (const event of events) {
    results.push(
      await store.update(event.payload.sessionId!, talkEntryFor(event), (current) =>
        applyEvent(current, event, builder),
      ),
    );
  }
  return results;
}

function itemFor(event: ReportEvent): ReportUpdate {
  return {
    sessionId: event.payload.sessionId!,
    entry: talkEntryFor(event),
    change: (current) => applyEvent(current, event, builder),
  };
}

/** The same events, of another session. */
function relabel(events: ReportEvent[], sessionId: string): ReportEvent[] {
  return events.map((e) => ({ ...e, payload: { ...e.payload, sessionId } }) as ReportEvent);
}

function withoutId<T extends { session_id: string }>(value: T): Omit<T, 'session_id'> {
  const { session_id: _, ...rest } = value;
  return rest;
}

function expected(events: ReportEvent[]): SessionRecord {
  let r: SessionRecord | undefined;
  for (const e of events) r = applyEvent(r, e, builder);
  return r!;
}

export function reportStoreSuite(harness: StoreHarness): void {
  describe(`report store: ${harness.name}`, () => {
    let opened: OpenedStore;
    let store: ReportStore;
    const extra: ReportStore[] = [];

    beforeEach(async () => {
      opened = await harness.open();
      store = opened.store;
      await store.migrate();
    });
    afterEach(async () => {
      await Promise.all(extra.splice(0).map((s) => s.close()));
      await opened.cleanup();
    });
    const another = async () => {
      const s = await opened.another();
      extra.push(s);
      return s;
    };

    it('migrates once, to the latest version, also when two instances start at once', async () => {
      expect(await store.migrate()).toBe(3);
      const [a, b] = await Promise.all([another(), another()]);
      expect(await Promise.all([a.migrate(), b.migrate()])).toEqual([3, 3]);
    });

    it('migrates a first-version database: its sessions kept, the new columns empty, then recorded', async () => {
      const old = await harness.open();
      const START = '2026-11-03T14:00:00.000Z';
      try {
        const oldStore = old.store as ReportStore & { migrate(upTo?: number): Promise<number> };
        await oldStore.migrate(1);
        expect(await old.viewColumns()).toEqual(sessionColumnsAt(1));
        // A session as the first version wrote it (its own columns only).
        await old.exec(
          `INSERT INTO report_sessions (session_id, status, created_at, agent_messages, last_event_at, updated_at)
           VALUES ('before', 'closed', '${START}', 1, '${START}', '${START}')`,
        );
        await oldStore.migrate();
        expect(await old.viewColumns()).toEqual([...SESSION_COLUMN_NAMES]);
        expect(await oldStore.get('before')).toEqual(
          expect.objectContaining({
            first_assigned_at: null,
            transfers: 0,
            agent_messages: 1,
            locale: null,
            rating: null,
            survey: null,
          }),
        );
        const later = scriptedEvents({
          sessionId: 'after',
          start: START,
          agent: { id: 'a1', name: 'Ana' },
          assignedAt: 10,
          transferAt: [20],
          locale: 'es',
          closeAt: 60,
          survey: { rating: 4 },
        });
        await record(oldStore, later);
        expect(await oldStore.get('after')).toEqual(expected(later));
        expect(await oldStore.get('after')).toMatchObject({
          first_assigned_at: at(START, 10),
          transfers: 1,
          locale: 'es',
          rating: 4,
          survey: 'answered',
        });
      } finally {
        await old.cleanup();
      }
    });

    it('keeps every field of a record exactly (nulls, booleans, fractions of seconds, lists, accents)', async () => {
      const events = scriptedEvents({
        sessionId: 'rt-1',
        start: '2026-11-03T14:00:00.123Z',
        name: 'Maria José "Zezé" Ñúñez; <b>',
        tags: ['blip_bridge', 'team_billing'],
        ticketNumber: 'INC0010234',
        customerAt: [0, 5.5],
        customerFiles: 2,
        agent: { id: '30764510028417', name: 'Ana Lima' },
        assignedAt: 30,
        agentAt: [42.25, 90],
        closeAt: 600.5,
        reason: 'solved',
      });
      await record(store, events);
      const got = await store.get('rt-1');
      expect(got).toEqual(expected(events));
      expect(got).toMatchObject({
        protocol: 'INC0010234',
        team: 'billing',
        waiting_seconds: 42.25,
        handle_seconds: 558.25,
        total_seconds: 600.5,
        expired: false,
        agents: [{ id: '30764510028417', name: 'Ana Lima' }],
      });
      expect(await store.get('no-such-session')).toBeUndefined();
    });

    it('records a repeated message once (its talk log entry id) and never calls the change for it', async () => {
      const events = scriptedEvents({
        sessionId: 'dup-1',
        start: '2026-11-03T14:00:00Z',
        customerAt: [0, 10],
      });
      const message = events.find((e) => e.name === 'customer.message')!;
      expect(await record(store, events)).toEqual(events.map(() => true));
      const change = jest.fn((r: SessionRecord | undefined) => r!);
      expect(await store.update('dup-1', talkEntryFor(message), change)).toBe(false);
      expect(change).not.toHaveBeenCalled();
      expect((await store.get('dup-1'))?.customer_messages).toBe(2);
      expect(await store.talkLog('dup-1')).toHaveLength(2);
    });

    it('loses no update when two instances record the same session at once', async () => {
      const other = await another();
      const start = '2026-11-03T14:00:00Z';
      const messages: ReportEvent[] = Array.from({ length: 30 }, (_, i) => ({
        name: 'customer.message',
        payload: {
          sessionId: 'race-1',
          customerKey: 'k',
          ticket: { vendor: 'zendesk', id: '1' },
          messageId: `m${i}`,
          text: '',
          attachments: [{ url: '', mimeType: 'image/png' }],
          receivedAt: at(start, i),
          at: at(start, i),
        },
      }));
      await Promise.all(
        messages.map((event, i) =>
          (i % 2 ? other : store).update('race-1', talkEntryFor(event), (current) =>
            applyEvent(current, event, builder),
          ),
        ),
      );
      const got = await store.get('race-1');
      expect(got?.customer_messages).toBe(30);
      expect(got?.attachments).toBe(30);
      expect(got?.created_at).toBe(start.replace('Z', '.000Z'));
      expect(got?.last_event_at).toBe(at(start, 29));
    });

    it('writes a batch exactly as one update after another: same records, talk log and results', async () => {
      expect(store.updateMany).toBeDefined();
      const a = scriptedEvents({
        sessionId: 'x',
        start: '2026-11-03T14:00:00Z',
        customerAt: [0, 10, 20],
        customerFiles: 1,
        agent: { id: '7', name: 'Bruno' },
        agentAt: [15],
        closeAt: 300,
      });
      const b = scriptedEvents({ sessionId: 'x', start: '2026-11-03T15:00:00Z', customerAt: [0, 3] });
      // Recorded before the batch: A's start and first message.
      const before = a.slice(0, 2);
      // The batch: the rest of A interleaved with all of B (a new session), A's first message again (recorded
      // before) and B's first message twice (the repeat comes after it in the same batch).
      const batch = (aId: string, bId: string): ReportEvent[] => {
        const [ra, rb] = [relabel(a, aId), relabel(b, bId)];
        return [ra[2]!, rb[0]!, rb[1]!, ra[3]!, ra[1]!, rb[1]!, ra[4]!, rb[2]!, ...ra.slice(5)];
      };
      await record(store, relabel(before, 'one-a'));
      await record(store, relabel(before, 'many-a'));
      const oneByOne = await record(store, batch('one-a', 'one-b'));
      const batched = await store.updateMany!(batch('many-a', 'many-b').map(itemFor));

      expect(batched).toEqual(oneByOne);
      expect(batched.filter((written) => !written)).toHaveLength(2);
      expect(batched[4]).toBe(false);
      expect(batched[5]).toBe(false);
      for (const [one, many] of [
        ['one-a', 'many-a'],
        ['one-b', 'many-b'],
      ] as const) {
        const [r1, r2] = [await store.get(one), await store.get(many)];
        expect(withoutId(r2!)).toEqual(withoutId(r1!));
        expect((await store.talkLog(many)).map(withoutId)).toEqual((await store.talkLog(one)).map(withoutId));
      }
      expect(withoutId((await store.get('many-a'))!)).toEqual(withoutId(expected(a)));
      expect(withoutId((await store.get('many-b'))!)).toEqual(withoutId(expected(b)));
      expect(await store.talkLog('many-b')).toHaveLength(2);
      expect(await store.updateMany!([])).toEqual([]);
    });

    it('keeps nothing of a batch that throws midway, and rejects', async () => {
      const kept = scriptedEvents({ sessionId: 'kept', start: '2026-11-03T14:00:00Z', customerAt: [0] });
      await record(store, kept);
      const before = await store.get('kept');
      const fresh = scriptedEvents({ sessionId: 'fresh', start: '2026-11-03T16:00:00Z', customerAt: [0, 5] });
      const more = scriptedEvents({
        sessionId: 'kept',
        start: '2026-11-03T14:00:00Z',
        customerAt: [0, 30],
      })[2]!;
      const items = [itemFor(fresh[1]!), itemFor(more), itemFor(fresh[0]!), itemFor(fresh[2]!)];
      const broken = [
        items[0]!,
        {
          ...items[1]!,
          change: () => {
            throw new Error('bad event');
          },
        },
        ...items.slice(2),
      ];
      await expect(store.updateMany!(broken)).rejects.toThrow('bad event');
      expect(await store.get('fresh')).toBeUndefined();
      expect(await store.talkLog('fresh')).toEqual([]);
      expect(await store.get('kept')).toEqual(before);
      expect(await store.talkLog('kept')).toHaveLength(1);
      // Nothing of it was left behind: the same batch, without the fault, records every event.
      expect(await store.updateMany!(items)).toEqual([true, true, true, true]);
      expect(withoutId((await store.get('fresh'))!)).toEqual(withoutId(expected(fresh)));
      expect((await store.get('kept'))?.customer_messages).toBe(2);
    });

    it('loses no update when two instances write batches of the same sessions at once, in opposite orders', async () => {
      const other = await another();
      const start = '2026-11-03T14:00:00Z';
      const message = (sessionId: string, i: number): ReportEvent => ({
        name: 'customer.message',
        payload: {
          sessionId,
          customerKey: 'k',
          ticket: { vendor: 'zendesk', id: '1' },
          messageId: `m${i}`,
          text: '',
          attachments: [],
          receivedAt: at(start, i),
          at: at(start, i),
        },
      });
      const sessions = ['pair-a', 'pair-b', 'pair-c'];
      await record(
        store,
        sessions.map((id) => message(id, 0)),
      );
      const rounds = 10;
      await Promise.all(
        Array.from({ length: rounds }, (_, r) => {
          const ids = r % 2 ? [...sessions].reverse() : sessions;
          return (r % 2 ? other : store).updateMany!(ids.map((id) => itemFor(message(id, r + 1))));
        }),
      );
      for (const id of sessions) expect((await store.get(id))?.customer_messages).toBe(rounds + 1);
    });

    it('keeps an in-progress session across a restart, and completes it afterwards', async () => {
      const events = scriptedEvents({
        sessionId: 'restart-1',
        start: '2026-11-03T14:00:00Z',
        agent: { id: '7', name: 'Bruno' },
        agentAt: [60],
        closeAt: 300,
      });
      const split = events.findIndex((e) => e.name === 'agent.message');
      await record(store, events.slice(0, split));
      await store.close();
      const restarted = await another();
      expect(await restarted.get('restart-1')).toMatchObject({ status: 'open', customer_messages: 1 });
      await record(restarted, events.slice(split));
      expect(await restarted.get('restart-1')).toEqual(expected(events));
    });

    it('lists sessions created in [from, to), in both orders, page by page', async () => {
      const starts = Array.from({ length: 7 }, (_, i) => at('2026-11-01T00:00:00Z', i * 3600));
      // Two sessions created at the same instant: the id breaks the tie, and pagination must not skip either.
      starts.push(starts[3]!);
      for (const [i, start] of starts.entries()) {
        await record(store, scriptedEvents({ sessionId: `list-${i}`, start, closeAt: 100 }).slice(0, 1));
      }
      const range = { from: starts[1]!, to: starts[6]! };
      const ids = (rows: SessionRecord[]) => rows.map((r) => r.session_id);
      const asc = await store.list({ ...range, limit: 100 });
      expect(ids(asc)).toEqual(['list-1', 'list-2', 'list-3', 'list-7', 'list-4', 'list-5']);
      const desc = await store.list({ ...range, limit: 100, order: 'desc' });
      expect(ids(desc)).toEqual([...ids(asc)].reverse());
      const paged: string[] = [];
      for await (const r of allSessions(store, range, 'asc', 2)) paged.push(r.session_id);
      expect(paged).toEqual(ids(asc));
      const pagedDesc: string[] = [];
      for await (const r of allSessions(store, range, 'desc', 2)) pagedDesc.push(r.session_id);
      expect(pagedDesc).toEqual(ids(desc));
    });

    it('keeps the talk log in time order with what it needs, and no text when text storage is off', async () => {
      const events = scriptedEvents({
        sessionId: 'talk-1',
        start: '2026-11-03T14:00:00Z',
        customerAt: [0, 20],
        customerFiles: 1,
        agent: { id: '7' },
        agentAt: [10],
        closeAt: 30,
      });
      await record(store, events);
      const log = await store.talkLog('talk-1');
      expect(log.map((e) => [e.origin, e.at, e.attachments])).toEqual([
        ['customer', '2026-11-03T14:00:00.000Z', 1],
        ['agent', '2026-11-03T14:00:10.000Z', 0],
        ['customer', '2026-11-03T14:00:20.000Z', 0],
        ['automatic', '2026-11-03T14:00:30.000Z', 0],
      ]);
      expect(log.every((e) => e.text_enc === null && e.media_enc === null)).toBe(true);
      expect(log[1]).toMatchObject({ detail: '7', type: 'text/plain', entry_id: 'agent:a0' });
    });

    it('purges only the sessions whose last event is older than the cut-off, with their talk log', async () => {
      const cutoff = '2026-06-01T00:00:00.000Z';
      // old: ended long before; edge: last event exactly at the cut-off (kept); late: created before, active after.
      await record(store, scriptedEvents({ sessionId: 'old-1', start: '2026-01-10T10:00:00Z', closeAt: 60 }));
      await record(store, scriptedEvents({ sessionId: 'old-2', start: '2026-02-10T10:00:00Z', closeAt: 60 }));
      await record(
        store,
        scriptedEvents({ sessionId: 'edge', start: at(cutoff, -60), closeAt: 59.5, closingText: false }),
      );
      await record(
        store,
        scriptedEvents({
          sessionId: 'late',
          start: '2026-05-31T23:00:00Z',
          agent: { id: '1' },
          agentAt: [7200],
        }),
      );
      await record(store, scriptedEvents({ sessionId: 'new', start: '2026-07-01T10:00:00Z', closeAt: 60 }));
      expect((await store.get('edge'))?.last_event_at).toBe(cutoff);

      const result = await store.purge(cutoff, 1); // batch of 1: the loop is exercised too
      expect(result).toEqual({ sessions: 2, entries: 4 });
      for (const id of ['old-1', 'old-2']) {
        expect(await store.get(id)).toBeUndefined();
        expect(await store.talkLog(id)).toEqual([]);
      }
      for (const id of ['edge', 'late', 'new']) {
        expect(await store.get(id)).toBeDefined();
        expect((await store.talkLog(id)).length).toBeGreaterThan(0);
      }
      expect(await store.purge(cutoff)).toEqual({ sessions: 0, entries: 0 });
    });

    it('exposes exactly the exported columns, in order, in the report_sessions_v1 view', async () => {
      expect(await opened.viewColumns()).toEqual([...SESSION_COLUMN_NAMES]);
    });
  });
}
