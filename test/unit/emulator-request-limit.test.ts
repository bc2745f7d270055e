import { RequestLimit } from '../../sandbox/emulator-kit';

describe('RequestLimit (the emulators’ enforced API limit)', () => {
  it('accepts up to the limit in any trailing minute, then refuses with the seconds until a slot frees', () => {
    let now = 0;
    const limit = new RequestLimit(3, 60_000, () => now);
    expect([limit.take(), limit.take()]).toEqual([undefined, undefined]);
    now = 20_000;
    expect(limit.take()).toBeUndefined();
    expect(limit.remaining()).toBe(0);
    expect(limit.take()).toBe(40); // the first call leaves the window at 60 s
    expect(limit.refused).toBe(1);
    now = 60_000;
    expect(limit.take()).toBeUndefined(); // both calls at 0 s have left the window
    expect(limit.take()).toBeUndefined();
    expect(limit.take()).toBe(20); // the call at 20 s is the oldest now
  });

  it('does not count refused calls against the limit', () => {
    let now = 0;
    const limit = new RequestLimit(1, 60_000, () => now);
    expect(limit.take()).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(limit.take()).toBe(60);
    now = 60_000;
    expect(limit.take()).toBeUndefined();
    expect(limit.refused).toBe(5);
  });
});
