import type { SessionRow } from './schema';
import type { TimeRange } from './store';
import { dayOf, daysBetween } from './time';

/**
 * Aggregates of the sessions created in a range, per day (in the reports' time zone), agent, team, vendor and close
 * reason. Computed in the process from the rows (the same numbers whatever the backend; SQLite has no percentiles).
 */
export const DIMENSIONS = ['day', 'agent', 'team', 'vendor', 'close_reason'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const AGGREGATES_SCHEMA_ID = 'aggregates/v1';

export interface AggregateRow {
  /** The group: a day (YYYY-MM-DD), an agent id, a team, a vendor, a close reason (`closed_by` or `closed_by: reason`). */
  key: string;
  /** For agents: the name, when known. */
  label: string | null;
  sessions: number;
  /** Sessions that ended. */
  closed: number;
  /** Sessions an agent replied to. */
  answered: number;
  /** Over answered sessions: created → first agent reply. */
  avg_wait_seconds: number | null;
  /** 90th percentile (nearest rank) of the same. */
  p90_wait_seconds: number | null;
  /** Over sessions answered and closed: first reply → finish. */
  avg_handle_seconds: number | null;
  expired: number;
  /** expired / closed. */
  expired_share: number | null;
  /** Sessions the customer rated (the bridge's satisfaction survey). */
  rated: number;
  /** Mean rating (1–5) of the rated ones: the CSAT score. */
  avg_rating: number | null;
}

export interface Aggregates {
  schema: string;
  from: string;
  to: string;
  timezone: string;
  totals: AggregateRow;
  groups: Record<Dimension, AggregateRow[]>;
}

export const NO_VALUE: Record<Exclude<Dimension, 'day'>, string> = {
  agent: '(no agent)',
  team: '(no team)',
  vendor: '(unknown)',
  close_reason: '(open)',
};

class Group {
  sessions = 0;
  closed = 0;
  expired = 0;
  waits: number[] = [];
  handles: number[] = [];
  ratings: number[] = [];
  label: string | null = null;

  add(row: SessionRow): void {
    this.sessions += 1;
    if (row.finished_at) this.closed += 1;
    if (row.expired) this.expired += 1;
    if (row.waiting_seconds !== null) this.waits.push(row.waiting_seconds);
    if (row.handle_seconds !== null) this.handles.push(row.handle_seconds);
    if (row.rating !== null && row.rating !== undefined) this.ratings.push(row.rating);
  }

  result(key: string): AggregateRow {
    return {
      key,
      label: this.label,
      sessions: this.sessions,
      closed: this.closed,
      answered: this.waits.length,
      avg_wait_seconds: mean(this.waits),
      p90_wait_seconds: percentile(this.waits, 0.9),
      avg_handle_seconds: mean(this.handles),
      expired: this.expired,
      expired_share: this.closed ? round(this.expired / this.closed, 4) : null,
      rated: this.ratings.length,
      avg_rating: mean(this.ratings),
    };
  }
}

export class AggregateBuilder {
  private readonly totals = new Group();
  private readonly groups = Object.fromEntries(
    DIMENSIONS.map((d) => [d, new Map<string, Group>()]),
  ) as Record<Dimension, Map<string, Group>>;

  constructor(
    private readonly range: TimeRange,
    private readonly timezone: string,
  ) {}

  add(row: SessionRow): void {
    this.totals.add(row);
    for (const dimension of DIMENSIONS) {
      const key = keyOf(row, dimension, this.timezone);
      let group = this.groups[dimension].get(key);
      if (!group) this.groups[dimension].set(key, (group = new Group()));
      if (dimension === 'agent' && row.agent_name && !group.label) group.label = row.agent_name;
      group.add(row);
    }
  }

  result(): Aggregates {
    const groups = {} as Record<Dimension, AggregateRow[]>;
    for (const dimension of DIMENSIONS) {
      const entries = [...this.groups[dimension]].map(([key, g]) => g.result(key));
      if (dimension === 'day') {
        // Every day of the range, the empty ones too, so a chart's axis has no gaps.
        const byDay = new Map(entries.map((e) => [e.key, e]));
        const days = daysBetween(this.range, this.timezone);
        for (const day of days) if (!byDay.has(day)) byDay.set(day, new Group().result(day));
        groups.day = [...byDay.values()].sort((a, b) => a.key.localeCompare(b.key));
      } else {
        groups[dimension] = entries.sort((a, b) => b.sessions - a.sessions || a.key.localeCompare(b.key));
      }
    }
    return {
      schema: AGGREGATES_SCHEMA_ID,
      from: this.range.from,
      to: this.range.to,
      timezone: this.timezone,
      totals: this.totals.result('all'),
      groups,
    };
  }
}

function keyOf(row: SessionRow, dimension: Dimension, timezone: string): string {
  switch (dimension) {
    case 'day':
      return dayOf(row.created_at, timezone);
    case 'agent':
      return row.agent_id ?? NO_VALUE.agent;
    case 'team':
      return row.team ?? NO_VALUE.team;
    case 'vendor':
      return row.vendor ?? NO_VALUE.vendor;
    case 'close_reason':
      if (!row.closed_by) return NO_VALUE.close_reason;
      return row.close_reason ? `${row.closed_by}: ${row.close_reason}` : row.closed_by;
  }
}

function mean(values: number[]): number | null {
  return values.length ? round(values.reduce((a, b) => a + b, 0) / values.length, 3) : null;
}

/** Nearest-rank percentile: the smallest value with at least `p` of the values at or below it. */
export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!, 3);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Flat rows of one dimension, for CSV. */
export const AGGREGATE_COLUMNS: readonly (keyof AggregateRow)[] = [
  'key',
  'label',
  'sessions',
  'closed',
  'answered',
  'avg_wait_seconds',
  'p90_wait_seconds',
  'avg_handle_seconds',
  'expired',
  'expired_share',
  'rated',
  'avg_rating',
];
