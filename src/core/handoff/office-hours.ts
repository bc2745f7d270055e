/**
 * Attendance hours: a weekly schedule in a timezone, with holidays. Parsed from configuration, e.g.
 * `mon-fri 09:00-18:00; sat 09:00-13:00` with `America/Sao_Paulo` and `2026-12-25,2027-01-01`.
 */
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
type Day = (typeof DAYS)[number];

export interface OfficeHours {
  timezone: string;
  /** Per weekday (0 = Sunday), the open intervals in minutes after local midnight, [start, end). */
  week: Array<Array<[number, number]>>;
  /** Local dates (YYYY-MM-DD) with no attendance. */
  holidays: Set<string>;
}

export class OfficeHoursError extends Error {}

/** Parses a schedule; throws OfficeHoursError with a readable reason. */
export function parseOfficeHours(schedule: string, timezone: string, holidays: string[] = []): OfficeHours {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new OfficeHoursError(`unknown timezone "${timezone}" (use an IANA name like America/Sao_Paulo)`);
  }
  const week: OfficeHours['week'] = DAYS.map(() => []);
  for (const rule of schedule
    .split(';')
    .map((r) => r.trim())
    .filter(Boolean)) {
    const match = /^([a-z]+)(?:-([a-z]+))?\s+(.+)$/i.exec(rule);
    if (!match) throw new OfficeHoursError(`"${rule}" is not "<day>[-<day>] HH:MM-HH:MM[, HH:MM-HH:MM]"`);
    const from = dayIndex(match[1]!, rule);
    const to = match[2] ? dayIndex(match[2], rule) : from;
    const intervals = match[3]!.split(',').map((part) => interval(part.trim(), rule));
    for (let d = from; ; d = (d + 1) % 7) {
      week[d]!.push(...intervals);
      if (d === to) break;
    }
  }
  for (const day of holidays) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new OfficeHoursError(`holiday "${day}" is not YYYY-MM-DD`);
  }
  return { timezone, week, holidays: new Set(holidays) };
}

/** True when `at` falls inside the attendance hours (local time in the schedule's timezone). */
export function isOpen(hours: OfficeHours, at: Date): boolean {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: hours.timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  if (hours.holidays.has(`${get('year')}-${get('month')}-${get('day')}`)) return false;
  const day = DAYS.indexOf(get('weekday').slice(0, 3).toLowerCase() as Day);
  const minute = Number(get('hour')) * 60 + Number(get('minute'));
  return (hours.week[day] ?? []).some(([start, end]) => minute >= start && minute < end);
}

function dayIndex(name: string, rule: string): number {
  const i = DAYS.indexOf(name.toLowerCase() as Day);
  if (i < 0)
    throw new OfficeHoursError(`"${name}" in "${rule}" is not a day (sun, mon, tue, wed, thu, fri, sat)`);
  return i;
}

function interval(text: string, rule: string): [number, number] {
  const match = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text);
  if (!match) throw new OfficeHoursError(`"${text}" in "${rule}" is not HH:MM-HH:MM`);
  const start = Number(match[1]) * 60 + Number(match[2]);
  const end = Number(match[3]) * 60 + Number(match[4]);
  if (Number(match[2]) > 59 || Number(match[4]) > 59 || start >= end || end > 24 * 60) {
    throw new OfficeHoursError(`"${text}" in "${rule}" is not a valid interval within one day`);
  }
  return [start, end];
}
