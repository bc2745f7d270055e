import { isOpen, OfficeHoursError, parseOfficeHours } from '../../src/core/handoff/office-hours';

describe('office hours', () => {
  const hours = parseOfficeHours('mon-fri 09:00-12:00, 13:00-18:00; sat 09:00-13:00', 'America/Sao_Paulo', [
    '2026-12-25',
  ]);
  // São Paulo is UTC-3 all year (no DST since 2019).
  it.each([
    ['2026-11-25T12:00:00Z', true, 'Wednesday 09:00 local'],
    ['2026-11-25T11:59:00Z', false, 'Wednesday 08:59'],
    ['2026-11-25T15:30:00Z', false, 'lunch 12:30'],
    ['2026-11-25T20:59:00Z', true, '17:59'],
    ['2026-11-25T21:00:00Z', false, '18:00 closes'],
    ['2026-11-28T15:00:00Z', true, 'Saturday 12:00'],
    ['2026-11-28T16:00:00Z', false, 'Saturday 13:00'],
    ['2026-11-29T15:00:00Z', false, 'Sunday'],
    ['2026-12-25T15:00:00Z', false, 'Christmas, a Friday'],
    ['2026-11-26T02:30:00Z', false, 'Wednesday 23:30 local although Thursday in UTC'],
  ])('%s is open: %s (%s)', (at, open) => {
    expect(isOpen(hours, new Date(at))).toBe(open);
  });

  it('wraps day ranges over the weekend', () => {
    const weekend = parseOfficeHours('fri-mon 00:00-24:00', 'UTC');
    expect(isOpen(weekend, new Date('2026-11-29T10:00:00Z'))).toBe(true); // Sunday
    expect(isOpen(weekend, new Date('2026-11-25T10:00:00Z'))).toBe(false); // Wednesday
  });

  it.each([
    ['mon-fri 9-18', 'UTC', /HH:MM-HH:MM/],
    ['funday 09:00-18:00', 'UTC', /not a day/],
    ['mon 18:00-09:00', 'UTC', /valid interval/],
    ['mon 09:00-18:00', 'Mars/Olympus', /unknown timezone/],
  ])('refuses "%s" in %s with a clear reason', (schedule, tz, reason) => {
    expect(() => parseOfficeHours(schedule, tz)).toThrow(OfficeHoursError);
    expect(() => parseOfficeHours(schedule, tz)).toThrow(reason);
  });
});
