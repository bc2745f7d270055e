import { RefusalLog } from '../../src/blip/refusal-log';
import { captureLogs } from '../helpers/log-capture';

describe('RefusalLog', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('logs the first refusal of a kind at once, then one line per window with the count', () => {
    const logs = captureLogs();
    const log = new RefusalLog(logs.logger, 'refused', 'X_REFUSED', 60_000);
    for (let i = 0; i < 500; i++) log.note('direct', { n: i });
    log.note('unknown-router', { n: 0 });
    expect(logs.lines().map((l) => [l.reason, l.n])).toEqual([
      ['direct', 0],
      ['unknown-router', 0],
    ]);

    jest.advanceTimersByTime(60_000);
    expect(logs.lines().slice(2)).toEqual([
      expect.objectContaining({ code: 'X_REFUSED', reason: 'direct', refused: 499, windowSeconds: 60 }),
    ]);

    // Still coming: the next window aggregates too; a quiet window closes it.
    for (let i = 0; i < 10; i++) log.note('direct', {});
    jest.advanceTimersByTime(60_000);
    expect(logs.lines().at(-1)).toMatchObject({ reason: 'direct', refused: 10 });
    jest.advanceTimersByTime(60_000);
    log.note('direct', { n: 'again' });
    expect(logs.lines().at(-1)).toMatchObject({ reason: 'direct', n: 'again' });
    expect(logs.lines()).toHaveLength(5);
  });

  it('writes what is still counted on flush', () => {
    const logs = captureLogs();
    const log = new RefusalLog(logs.logger, 'refused', 'X_REFUSED');
    log.note('direct', {});
    log.note('direct', {});
    log.flush();
    expect(logs.lines().at(-1)).toMatchObject({ refused: 1 });
    jest.advanceTimersByTime(120_000);
    expect(logs.lines()).toHaveLength(2);
  });
});
