import type { TimeRange } from './store';

/**
 * Time ranges and days in the reports' time zone. A date-only bound (`2026-11-01`) means that day's midnight in the
 * zone; a date-only `to` includes that whole day. Full timestamps (`2026-11-01T03:00:00Z`) are taken as they are.
 */

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

export class ReportRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportRangeError';
  }
}

export function parseRange(
  input: { from?: string; to?: string },
  timezone: string,
  now: Date,
  defaultDays = 30,
): TimeRange {
  const to = input.to ? parseBound(input.to, timezone, 'to') : now.getTime();
  const from = input.from ? parseBound(input.from, timezone, 'from') : to - defaultDays * DAY_MS;
  if (!(from < to)) throw new ReportRangeError('from must be before to');
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

function parseBound(value: string, timezone: string, which: 'from' | 'to'): number {
  const date = DATE_ONLY.exec(value.trim());
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const check = new Date(Date.UTC(y, m - 1, d));
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d)
      throw new ReportRangeError(`${which} is not a valid date: ${value}`);
    return zonedMidnight(y, m, which === 'to' ? d + 1 : d, timezone);
  }
  // A full timestamp must say its offset: a bare local time would be ambiguous.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim()))
    throw new ReportRangeError(
      `${which} must be a date (YYYY-MM-DD) or an ISO-8601 timestamp with Z or an offset`,
    );
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ReportRangeError(`${which} is not a valid timestamp: ${value}`);
  return ms;
}

/** The UTC instant of midnight at the start of y-m-d in `timezone` (d may overflow into the next month). */
export function zonedMidnight(y: number, m: number, d: number, timezone: string): number {
  const guess = Date.UTC(y, m - 1, d);
  let t = guess - offsetMs(guess, timezone);
  // Once more with the offset at the found instant (a DST change between the guess and the answer).
  t = guess - offsetMs(t, timezone);
  return t;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, f);
  }
  return f;
}

function wallClock(
  ms: number,
  timezone: string,
): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timezone).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    y: parts.year!,
    m: parts.month!,
    d: parts.day!,
    h: parts.hour!,
    mi: parts.minute!,
    s: parts.second!,
  };
}

/** How far the zone's wall clock is ahead of UTC at that instant. */
function offsetMs(ms: number, timezone: string): number {
  const w = wallClock(ms, timezone);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The day (YYYY-MM-DD) of an instant in the zone. */
export function dayOf(iso: string, timezone: string): string {
  const w = wallClock(Date.parse(iso), timezone);
  return `${w.y}-${pad(w.m)}-${pad(w.d)}`;
}

/** `YYYY-MM-DD HH:MM` of an instant in the zone. */
export function localDateTime(iso: string, timezone: string): string {
  const w = wallClock(Date.parse(iso), timezone);
  return `${w.y}-${pad(w.m)}-${pad(w.d)} ${pad(w.h)}:${pad(w.mi)}`;
}

/** Every day from the one containing `from` to the one containing the last instant before `to`. */
export function daysBetween(range: TimeRange, timezone: string, max = 400): string[] {
  const first = dayOf(range.from, timezone);
  const last = dayOf(new Date(Date.parse(range.to) - 1).toISOString(), timezone);
  const days: string[] = [];
  let [y, m, d] = first.split('-').map(Number) as [number, number, number];
  for (let i = 0; i < max; i++) {
    const day = new Date(Date.UTC(y, m - 1, d));
    const key = `${day.getUTCFullYear()}-${pad(day.getUTCMonth() + 1)}-${pad(day.getUTCDate())}`;
    days.push(key);
    if (key >= last) break;
    [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate() + 1];
  }
  return days;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
