import { staggered } from '../../bench/load';

describe('bench: the half-load schedule (staggered conversations)', () => {
  const customers = 50;
  const messages = 10;
  const rate = 20;
  const schedule = staggered(customers, messages, rate, 2);

  it('sends every message once, each customer in order', () => {
    expect(schedule).toHaveLength(customers * messages);
    const last = new Map<number, number>();
    for (const { i, m } of schedule) {
      expect(m).toBe((last.get(i) ?? -1) + 1);
      last.set(i, m);
    }
    expect([...last.values()].every((m) => m === messages - 1)).toBe(true);
  });

  it('offers `rate` messages per second in the steady state, one opening in `messages`', () => {
    // Between the ramp-up (the first conversation's span) and the ramp-down.
    const from = (messages - 1) * 2 * 1000;
    const to = ((customers * messages) / rate) * 1000;
    const window = schedule.filter((s) => s.atMs >= from && s.atMs < to);
    const seconds = (to - from) / 1000;
    expect(window.length / seconds).toBeCloseTo(rate, 0);
    expect(window.filter((s) => s.m === 0).length / window.length).toBeCloseTo(1 / messages, 2);
  });

  it('is sorted by send time', () => {
    for (let k = 1; k < schedule.length; k++)
      expect(schedule[k]!.atMs).toBeGreaterThanOrEqual(schedule[k - 1]!.atMs);
  });
});
