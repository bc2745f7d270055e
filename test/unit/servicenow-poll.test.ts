import type { Page, Row, TableReader } from '../../src/adapters/servicenow/api';
import { formatCursor, parseCursor, ServiceNowPoll } from '../../src/adapters/servicenow/poll';
import { ServiceNowWebhook } from '../../src/adapters/servicenow/webhook';
import type { RawRequest } from '../../src/adapters/adapter';
import type { HelpdeskEvent } from '../../src/core/model';
import { captureLogs } from '../helpers/log-capture';
import { readFixture, readJsonFixture } from '../helpers/fixtures';

const INCIDENT = '9f2c4e7a1b3d45f68a0c2e4b6d8f1a3c';
const journalFixture = readJsonFixture<{ result: Row[] }>(
  'fixtures/vendors/servicenow-table-sys_journal_field-response.json',
).result;
const bridgeIncident: Row = {
  sys_id: INCIDENT,
  number: 'INC0010234',
  correlation_id: 'blip-7f3c9e2a5b1d4c8e9a602d4e1f0b7c31',
  correlation_display: 'blip-helpdesk-bridge',
  state: '2',
  sys_mod_count: '5',
  sys_updated_on: '2026-11-03 14:31:19',
  sys_updated_by: 'blip.integration',
};
const NOW = new Date('2026-11-03T14:40:30Z');

interface Call {
  table: string;
  query: string;
  fields: string[];
  limit: number;
  offset: number;
}

/**
 * A stand-in for the Table API that applies the parts of the encoded query the poll's cursor relies on
 * (`<stamp>>=`, `stateIN` with its `^ORassigned_toISNOTEMPTY`, `sys_idIN`, `correlation_display=`) and, on purpose, NOT `sys_created_by!=` or
 * `element=`: the poll must drop those rows itself too (an instance ignores a query term it cannot apply).
 */
class FakeTableApi implements TableReader {
  readonly calls: Call[] = [];
  constructor(
    public journal: Row[],
    public records: Row[],
  ) {}

  async list(table: string, query: string, fields: string[], limit: number, offset = 0): Promise<Page> {
    this.calls.push({ table, query, fields, limit, offset });
    const terms = query.split('^');
    const term = (re: RegExp) => terms.map((t) => re.exec(t)).find(Boolean)?.[1];
    let rows = table === 'sys_journal_field' ? this.journal : this.records;
    const stamp = table === 'sys_journal_field' ? 'sys_created_on' : 'sys_updated_on';
    const since = term(new RegExp(`^${stamp}>=(.*)$`));
    if (since) rows = rows.filter((r) => (r[stamp] ?? '') >= since);
    const states = term(/^stateIN(.*)$/);
    // `^ORassigned_toISNOTEMPTY` right after it: closed, or with an agent assigned.
    const orAssigned = terms.includes('ORassigned_toISNOTEMPTY');
    if (states)
      rows = rows.filter((r) => states.split(',').includes(r.state ?? '') || (orAssigned && !!r.assigned_to));
    const ids = term(/^sys_idIN(.*)$/);
    if (ids) rows = rows.filter((r) => ids.split(',').includes(r.sys_id ?? ''));
    const display = term(/^correlation_display=(.*)$/);
    if (display) rows = rows.filter((r) => r.correlation_display === display);
    rows = [...rows].sort((a, b) => ((a[stamp] ?? '') < (b[stamp] ?? '') ? -1 : 1));
    const page = rows.slice(offset, offset + limit);
    return { rows: page, full: page.length >= limit };
  }

  journalQueries(): Call[] {
    return this.calls.filter((c) => c.table === 'sys_journal_field');
  }
}

function setup(journal: Row[] = journalFixture, records: Row[] = [bridgeIncident], pageSize?: number) {
  const api = new FakeTableApi(journal, records);
  const logs = captureLogs();
  const poll = new ServiceNowPoll(
    api,
    {
      table: 'incident',
      closedStates: ['6', '7', '8'],
      integrationUser: 'blip.integration',
      ...(pageSize ? { pageSize, maxPages: 2 } : {}),
    },
    logs.logger,
    () => NOW,
  );
  return { api, poll, logs };
}

function comment(sysId: string, at: string, by = 'ana.souza', elementId = INCIDENT): Row {
  return {
    sys_id: sysId,
    element: 'comments',
    element_id: elementId,
    name: 'incident',
    value: `reply ${sysId}`,
    sys_created_on: at,
    sys_created_by: by,
  };
}

const ids = (events: HelpdeskEvent[]) => events.map((e) => e.eventId);

describe('ServiceNowPoll: the mapping of sys_journal_field rows', () => {
  it("turns the agent's comment into an agent.message and skips the integration user's rows", async () => {
    const { poll } = setup();
    const { events } = await poll.poll('2026-11-03 13:58:41');
    expect(events).toEqual([
      {
        kind: 'agent.message',
        ticket: { vendor: 'servicenow', id: INCIDENT, number: 'INC0010234' },
        eventId: 'journal:d41f8b2c6e0a4c7f9b3e5a1d7c2f8e60',
        agent: { id: 'ana.souza' },
        message: {
          id: 'd41f8b2c6e0a4c7f9b3e5a1d7c2f8e60',
          text: 'Olá Maria! Localizei seu pedido 88231: ele saiu para entrega hoje às 9h e deve chegar até as 18h.',
          at: '2026-11-03T14:22:05Z',
        },
        sessionId: '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31',
      },
    ]);
  });

  it('asks once for every comment since the cursor (batched, not per incident), then which records are ours', async () => {
    const { api, poll } = setup();
    await poll.poll('2026-11-03 13:58:41');
    expect(api.calls).toEqual([
      {
        table: 'sys_journal_field',
        query:
          'name=incident^element=comments^sys_created_on>=2026-11-03 13:58:41^sys_created_by!=blip.integration^ORDERBYsys_created_on',
        fields: ['sys_id', 'element', 'element_id', 'name', 'value', 'sys_created_on', 'sys_created_by'],
        limit: 100,
        offset: 0,
      },
      {
        table: 'incident',
        query:
          'correlation_display=blip-helpdesk-bridge^stateIN6,7,8^ORassigned_toISNOTEMPTY^sys_updated_on>=2026-11-03 13:58:41^ORDERBYsys_updated_on',
        fields: [
          'sys_id',
          'number',
          'correlation_id',
          'state',
          'sys_mod_count',
          'sys_updated_on',
          'sys_updated_by',
          'assigned_to',
        ],
        limit: 100,
        offset: 0,
      },
      {
        table: 'incident',
        query: `sys_idIN${INCIDENT}^correlation_display=blip-helpdesk-bridge`,
        fields: ['sys_id', 'number', 'correlation_id'],
        limit: 1,
        offset: 0,
      },
    ]);
  });

  it('turns an open record with an agent assigned into ticket.assigned (same id as the push), in the same request', async () => {
    const assigned = {
      ...bridgeIncident,
      assigned_to: '46d44a5ea9fe198100bfd4cbd3e6a2f0',
      sys_updated_on: '2026-11-03 14:40:05',
      sys_updated_by: 'bruno.tavares',
    };
    const { api, poll } = setup([], [assigned]);
    const first = await poll.poll('2026-11-03 14:40:00');
    expect(first.events).toEqual([
      {
        kind: 'ticket.assigned',
        ticket: { vendor: 'servicenow', id: INCIDENT, number: 'INC0010234' },
        eventId: `assigned:${INCIDENT}:46d44a5ea9fe198100bfd4cbd3e6a2f0`,
        agent: { id: '46d44a5ea9fe198100bfd4cbd3e6a2f0' },
        sessionId: '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31',
      },
    ]);
    expect(api.calls).toHaveLength(2);
    // The next poll from its cursor does not hand the same row over again.
    expect((await poll.poll(first.cursor)).events).toEqual([]);
    // Once the record is resolved, the close only: no assignment for a ticket being handed back.
    api.records = [{ ...assigned, state: '6', sys_mod_count: '6', sys_updated_on: '2026-11-03 14:41:00' }];
    expect((await poll.poll(first.cursor)).events.map((e) => e.kind)).toEqual(['ticket.closed']);
  });

  it('makes two requests when nothing happened (no membership query)', async () => {
    const { api, poll } = setup([], [bridgeIncident]);
    const { events, cursor } = await poll.poll('2026-11-03 14:40:00');
    expect(events).toEqual([]);
    expect(cursor).toBe('2026-11-03 14:40:00');
    expect(api.calls).toHaveLength(2);
  });

  it("drops comments on records the bridge did not open (the rest of the instance's incidents)", async () => {
    const other = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const { poll } = setup([comment('c1', '2026-11-03 14:40:01', 'joe.agent', other)], [bridgeIncident]);
    const { events, cursor } = await poll.poll('2026-11-03 14:40:00');
    expect(events).toEqual([]);
    expect(cursor).toBe('2026-11-03 14:40:01|journal:c1');
  });

  it('reports a record of the bridge in a closed state as ticket.closed, with the id the push gives it', async () => {
    const resolved = {
      ...bridgeIncident,
      state: '6',
      sys_mod_count: '7',
      sys_updated_on: '2026-11-03 14:40:02',
      sys_updated_by: 'ana.souza',
    };
    const { poll } = setup([], [resolved]);
    const { events, cursor } = await poll.poll('2026-11-03 14:31:19');
    expect(events).toEqual([
      {
        kind: 'ticket.closed',
        ticket: { vendor: 'servicenow', id: INCIDENT, number: 'INC0010234' },
        eventId: `state:${INCIDENT}:7`,
        reason: 'resolved',
        agent: { id: 'ana.souza' },
        sessionId: '7f3c9e2a-5b1d-4c8e-9a60-2d4e1f0b7c31',
      },
    ]);
    expect(cursor).toBe(`2026-11-03 14:40:02|state:${INCIDENT}:7`);
  });

  it('gives a comment and a resolve the same event ids as the push fixtures', async () => {
    const push = new ServiceNowWebhook('test-servicenow-push-secret', {
      closedStates: ['6', '7', '8'],
      integrationUser: 'blip.integration',
    });
    const raw = (rel: string): RawRequest => ({
      method: 'POST',
      path: '/webhooks/servicenow',
      headers: {},
      body: readFixture(rel),
      receivedAt: NOW,
    });
    const pushed = [
      ...push.parse(raw('fixtures/vendors/servicenow-push-comment-added.json')),
      ...push.parse(raw('fixtures/vendors/servicenow-push-state-resolved.json')),
    ];
    const resolved = {
      ...bridgeIncident,
      state: '6',
      sys_mod_count: '7',
      sys_updated_on: '2026-11-03 14:40:02',
    };
    const { poll } = setup(journalFixture, [resolved]);
    const polled = (await poll.poll('2026-11-03 13:58:41')).events;
    expect(ids(polled)).toEqual(ids(pushed));
    expect(polled.map((e) => e.kind)).toEqual(['agent.message', 'ticket.closed']);
  });

  it('orders oldest first; a reply and a resolve in the same second: the reply first', async () => {
    const resolved = {
      ...bridgeIncident,
      state: '6',
      sys_mod_count: '9',
      sys_updated_on: '2026-11-03 14:40:05',
    };
    const { poll } = setup(
      [comment('c2', '2026-11-03 14:40:05'), comment('c1', '2026-11-03 14:40:01')],
      [resolved],
    );
    const { events } = await poll.poll('2026-11-03 14:40:00');
    expect(ids(events)).toEqual(['journal:c1', 'journal:c2', `state:${INCIDENT}:9`]);
  });
});

describe('ServiceNowPoll: the cursor', () => {
  it('starts one minute before now on the first poll, in UTC (YYYY-MM-DD HH:mm:ss)', async () => {
    const { api, poll } = setup([], []);
    const { cursor } = await poll.poll(undefined);
    expect(cursor).toBe('2026-11-03 14:39:30');
    expect(api.calls[0]?.query).toContain('sys_created_on>=2026-11-03 14:39:30');
  });

  it('moves to the newest row read and asks again with >= (rows share seconds)', async () => {
    const { api, poll } = setup([comment('c1', '2026-11-03 14:40:01'), comment('c2', '2026-11-03 14:40:03')]);
    const first = await poll.poll('2026-11-03 14:40:00');
    expect(ids(first.events)).toEqual(['journal:c1', 'journal:c2']);
    expect(first.cursor).toBe('2026-11-03 14:40:03|journal:c2');

    // Another comment lands in the same second: the next poll delivers it, and only it.
    api.journal.push(comment('c3', '2026-11-03 14:40:03'));
    const second = await poll.poll(first.cursor);
    expect(api.journalQueries().at(-1)?.query).toContain('sys_created_on>=2026-11-03 14:40:03');
    expect(ids(second.events)).toEqual(['journal:c3']);
    expect(second.cursor).toBe('2026-11-03 14:40:03|journal:c2,journal:c3');

    // Nothing new: nothing delivered, the cursor unchanged (the poller then does not even save it).
    const third = await poll.poll(second.cursor);
    expect(third.events).toEqual([]);
    expect(third.cursor).toBe(second.cursor);

    // A later row: the second's ids are dropped from the cursor.
    api.journal.push(comment('c4', '2026-11-03 14:41:00'));
    const fourth = await poll.poll(third.cursor);
    expect(ids(fourth.events)).toEqual(['journal:c4']);
    expect(fourth.cursor).toBe('2026-11-03 14:41:00|journal:c4');
  });

  it('does not hand a closed record back every poll once it was reported', async () => {
    const resolved = {
      ...bridgeIncident,
      state: '6',
      sys_mod_count: '7',
      sys_updated_on: '2026-11-03 14:40:02',
    };
    const { poll } = setup([], [resolved]);
    const first = await poll.poll('2026-11-03 14:40:00');
    expect(first.events).toHaveLength(1);
    expect((await poll.poll(first.cursor)).events).toEqual([]);
  });

  it('stops at the last row read when a stream did not fit in its pages, and goes on from there', async () => {
    const rows = ['01', '02', '03', '04', '05'].map((s) => comment(`c${s}`, `2026-11-03 14:40:${s}`));
    const { api, poll } = setup(rows, [bridgeIncident], 2); // 2 rows a page, 2 pages a poll
    const first = await poll.poll('2026-11-03 14:40:00');
    expect(api.journalQueries().map((c) => c.offset)).toEqual([0, 2]);
    expect(ids(first.events)).toEqual(['journal:c01', 'journal:c02', 'journal:c03', 'journal:c04']);
    expect(first.cursor).toBe('2026-11-03 14:40:04|journal:c04');
    const second = await poll.poll(first.cursor);
    expect(ids(second.events)).toEqual(['journal:c05']);
  });

  it('does not deliver rows of the other stream past a truncated one (they come with the next poll)', async () => {
    const rows = ['01', '02', '03', '04', '05'].map((s) => comment(`c${s}`, `2026-11-03 14:40:${s}`));
    const resolved = {
      ...bridgeIncident,
      state: '6',
      sys_mod_count: '9',
      sys_updated_on: '2026-11-03 14:40:05',
    };
    const { poll } = setup(rows, [resolved], 2);
    const first = await poll.poll('2026-11-03 14:40:00');
    expect(ids(first.events)).not.toContain(`state:${INCIDENT}:9`);
    const second = await poll.poll(first.cursor);
    expect(ids(second.events)).toEqual(['journal:c05', `state:${INCIDENT}:9`]);
  });

  it('starts over from now, with a warning, when the stored cursor is unreadable', async () => {
    const { poll, logs } = setup([], []);
    const { cursor } = await poll.poll('yesterday');
    expect(cursor).toBe('2026-11-03 14:39:30');
    expect(logs.lines().some((l) => l.code === 'SERVICENOW_BAD_CURSOR' && l.level === 'warn')).toBe(true);
  });

  it('reads a bare datetime and a datetime with ids, and writes them back the same', () => {
    expect(parseCursor('2026-11-03 14:22:05')).toEqual({ since: '2026-11-03 14:22:05', seen: new Set() });
    const withIds = '2026-11-03 14:22:05|journal:a,state:b:7';
    expect(parseCursor(withIds)?.seen).toEqual(new Set(['journal:a', 'state:b:7']));
    expect(formatCursor(parseCursor(withIds)!)).toBe(withIds);
    expect(parseCursor('2026-11-03T14:22:05Z')).toBeUndefined();
  });

  it('never logs the text of a comment', async () => {
    const { poll, logs } = setup();
    await poll.poll('2026-11-03 13:58:41');
    expect(logs.text()).not.toContain('Localizei');
  });
});
