import { PermanentError, RetryableError } from '../../src/core/errors';
import { backoffDelay, type RetryPolicy, withRetry } from '../../src/core/retry';

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 };
const tiny: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

describe('backoffDelay', () => {
  it('grows exponentially with full jitter between half and all of the ceiling', () => {
    const low = () => 0;
    const high = () => 1;
    expect([1, 2, 3].map((a) => backoffDelay(policy, a, new Error('x'), low))).toEqual([50, 100, 200]);
    expect([1, 2, 3].map((a) => backoffDelay(policy, a, new Error('x'), high))).toEqual([100, 200, 400]);
  });

  it('never exceeds maxDelayMs', () => {
    expect(backoffDelay(policy, 10, new Error('x'), () => 1)).toBe(1_000);
    expect(backoffDelay(policy, 30, new Error('x'), () => 0.5)).toBeLessThanOrEqual(1_000);
  });

  it('honours the wait the other side asked for, capped by maxDelayMs', () => {
    expect(backoffDelay(policy, 1, new RetryableError('429', 'RATE', 700), () => 0)).toBe(700);
    expect(backoffDelay(policy, 1, new RetryableError('429', 'RATE', 0), () => 1)).toBe(0);
    expect(backoffDelay(policy, 1, new RetryableError('429', 'RATE', 60_000), () => 0)).toBe(1_000);
  });
});

describe('withRetry', () => {
  afterEach(() => jest.useRealTimers());

  it('returns the first success without retrying', async () => {
    const work = jest.fn(async () => 'ok');
    await expect(withRetry(work, tiny)).resolves.toBe('ok');
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('retries a RetryableError and returns the later success, reporting each retry', async () => {
    const onRetry = jest.fn();
    const work = jest.fn(async (attempt: number) => {
      if (attempt < 3) throw new RetryableError(`fail ${attempt}`, 'FLAKY');
      return attempt;
    });
    await expect(withRetry(work, tiny, onRetry)).resolves.toBe(3);
    expect(work.mock.calls.map(([a]) => a)).toEqual([1, 2, 3]);
    expect(onRetry).toHaveBeenCalledTimes(2);
    expect(onRetry.mock.calls.map(([err, attempt]) => [(err as Error).message, attempt])).toEqual([
      ['fail 1', 1],
      ['fail 2', 2],
    ]);
  });

  it('gives up after the configured number of attempts with the last error', async () => {
    const work = jest.fn(async (attempt: number) => {
      throw new RetryableError(`fail ${attempt}`, 'DOWN');
    });
    await expect(withRetry(work, tiny)).rejects.toThrow('fail 3');
    expect(work).toHaveBeenCalledTimes(3);
  });

  it.each([
    ['a PermanentError', new PermanentError('422', 'BAD')],
    ['a plain Error', new Error('bug')],
    ['a thrown string', 'oops'],
  ])('does not retry %s', async (_what, error) => {
    const onRetry = jest.fn();
    const work = jest.fn(async () => {
      throw error;
    });
    await expect(withRetry(work, tiny, onRetry)).rejects.toBe(error);
    expect(work).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('waits the Retry-After delay before the next attempt', async () => {
    jest.useFakeTimers();
    const work = jest.fn(async (attempt: number) => {
      if (attempt === 1) throw new RetryableError('429', 'RATE', 800);
      return 'done';
    });
    const result = withRetry(work, policy);
    await jest.advanceTimersByTimeAsync(799);
    expect(work).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('done');
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('passes the computed delay to onRetry', async () => {
    jest.useFakeTimers();
    const onRetry = jest.fn();
    const work = jest.fn(async (attempt: number) => {
      if (attempt === 1) throw new RetryableError('429', 'RATE', 250);
      return 'done';
    });
    const result = withRetry(work, policy, onRetry);
    await jest.advanceTimersByTimeAsync(250);
    await expect(result).resolves.toBe('done');
    expect(onRetry).toHaveBeenCalledWith(expect.any(RetryableError), 1, 250);
  });
});
