import { AggregateBuilder, percentile } from '../../src/reports/aggregates';
import { applyEvent } from '../../src/reports/record';
import { toRow, type SessionRecord } from '../../src/reports/schema';
import { dayOf, daysBetween, parseRange, ReportRangeError } from '../../src/reports/time';
import { scriptedEvents, type ScriptedSession } from '../helpers/report-events';

function row(s: ScriptedSession) {
  const r = scriptedEvents(s).reduce<SessionRecord | undefined>(
    (acc, e) => applyEvent(acc, e, { teamTagPrefix: 'team_' }),
    undefined,
  )!;
  return toRow(r);
}

describe('aggregates', () => {
  const ana = { id: '1', name: 'Ana' };
  const bia = { id: '2', name: 'Bia' };
  // Times in São Paulo (UTC-3): the first session starts 23:30 on Nov 2 local, which is Nov 3 in UTC.
  const rows = [
    row({
      sessionId: 'a',
      start: '2026-11-03T02:30:00Z',
      agent: ana,
      agentAt: [60],
      closeAt: 360,
      tags: ['team_x'],
      survey: { rating: 5 },
    }),
    row({
      sessionId: 'b',
      start: '2026-11-03T13:00:00Z',
      agent: ana,
      agentAt: [120],
      closeAt: 720,
      tags: ['team_x'],
      survey: { rating: 2 },
    }),
    row({
      sessionId: 'c',
      start: '2026-11-03T15:00:00Z',
      agent: bia,
      agentAt: [600],
      closeAt: 900,
      survey: { outcome: 'unanswered' },
    }),
    row({
      sessionId: 'd',
      start: '2026-11-04T12:00:00Z',
      closeAt: 1800,
      closedBy: 'expired',
      closingText: false,
    }),
    row({ sessionId: 'e', start: '2026-11-04T12:30:00Z', agent: bia, agentAt: [30] }), // still open
  ];
  const range = { from: '2026-11-02T03:00:00.000Z', to: '2026-11-06T03:00:00.000Z' }; // Nov 2-5, São Paulo
  const builder = new AggregateBuilder(range, 'America/Sao_Paulo');
  rows.forEach((r) => builder.add(r));
  const result = builder.result();

  it('totals: sessions, answered, average and p90 wait, average handle time, expired share', () => {
    expect(result.totals).toEqual({
      key: 'all',
      label: null,
      sessions: 5,
      closed: 4,
      answered: 4,
      avg_wait_seconds: (60 + 120 + 600 + 30) / 4,
      p90_wait_seconds: 600,
      avg_handle_seconds: (300 + 600 + 300) / 3,
      expired: 1,
      expired_share: 0.25,
      rated: 2,
      avg_rating: 3.5,
    });
  });

  it('the CSAT per agent: how many rated, and their mean rating', () => {
    expect(result.groups.agent.map((g) => [g.key, g.rated, g.avg_rating])).toEqual([
      ['1', 2, 3.5],
      ['2', 0, null],
      ['(no agent)', 0, null],
    ]);
  });

  it('per day in the time zone, every day of the range, empty days too', () => {
    expect(result.groups.day.map((d) => [d.key, d.sessions, d.avg_wait_seconds])).toEqual([
      ['2026-11-02', 1, 60],
      ['2026-11-03', 2, 360],
      ['2026-11-04', 2, 30],
      ['2026-11-05', 0, null],
    ]);
  });

  it('per agent (with names), team, vendor and close reason; most sessions first', () => {
    expect(result.groups.agent.map((g) => [g.key, g.label, g.sessions, g.avg_handle_seconds])).toEqual([
      ['1', 'Ana', 2, 450],
      ['2', 'Bia', 2, 300],
      ['(no agent)', null, 1, null],
    ]);
    expect(result.groups.team.map((g) => [g.key, g.sessions])).toEqual([
      ['(no team)', 3],
      ['x', 2],
    ]);
    expect(result.groups.vendor.map((g) => [g.key, g.sessions])).toEqual([['zendesk', 5]]);
    expect(result.groups.close_reason.map((g) => [g.key, g.sessions, g.expired_share])).toEqual([
      ['agent', 3, 0],
      ['(open)', 1, null],
      ['expired', 1, 1],
    ]);
  });

  it('p90 is the nearest-rank percentile', () => {
    expect(percentile([], 0.9)).toBeNull();
    expect(percentile([5], 0.9)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(percentile([10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11], 0.9)).toBe(10);
  });
});

describe('report ranges and days', () => {
  const now = new Date('2026-11-20T12:00:00Z');

  it('reads date-only bounds as midnight in the zone, a date-only `to` including its day', () => {
    expect(parseRange({ from: '2026-11-01', to: '2026-11-30' }, 'America/Sao_Paulo', now)).toEqual({
      from: '2026-11-01T03:00:00.000Z',
      to: '2026-12-01T03:00:00.000Z',
    });
    expect(parseRange({ from: '2026-11-01', to: '2026-11-01' }, 'UTC', now)).toEqual({
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-11-02T00:00:00.000Z',
    });
  });

  it('follows daylight saving changes', () => {
    // New York: EDT (UTC-4) until Nov 1 2026, then EST (UTC-5).
    expect(parseRange({ from: '2026-10-31', to: '2026-11-01' }, 'America/New_York', now)).toEqual({
      from: '2026-10-31T04:00:00.000Z',
      to: '2026-11-02T05:00:00.000Z',
    });
    expect(dayOf('2026-11-02T04:30:00.000Z', 'America/New_York')).toBe('2026-11-01');
  });

  it('takes timestamps with an offset as they are, and defaults to the last 30 days', () => {
    expect(parseRange({ from: '2026-11-01T10:00:00-03:00', to: '2026-11-01T14:00:00Z' }, 'UTC', now)).toEqual(
      {
        from: '2026-11-01T13:00:00.000Z',
        to: '2026-11-01T14:00:00.000Z',
      },
    );
    expect(parseRange({}, 'UTC', now)).toEqual({ from: '2026-10-21T12:00:00.000Z', to: now.toISOString() });
  });

  it('refuses bad bounds with a clear message', () => {
    expect(() => parseRange({ from: '2026-02-30' }, 'UTC', now)).toThrow(ReportRangeError);
    expect(() => parseRange({ from: '2026-11-01T10:00:00' }, 'UTC', now)).toThrow(/offset/);
    expect(() => parseRange({ from: '2026-11-02', to: '2026-11-01' }, 'UTC', now)).toThrow(/before/);
    expect(() => parseRange({ to: 'yesterday' }, 'UTC', now)).toThrow(ReportRangeError);
  });

  it('lists the days of a range', () => {
    expect(daysBetween({ from: '2026-12-30T00:00:00Z', to: '2027-01-02T00:00:00Z' }, 'UTC')).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
    ]);
  });
});
