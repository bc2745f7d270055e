import { KeyedMutex } from '../../src/core/keyed-mutex';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise callbacks run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedMutex', () => {
  it('runs work for one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const gate = deferred();
    const first = mutex.run('customer-a', async () => {
      log.push('first:start');
      await gate.promise;
      log.push('first:end');
      return 1;
    });
    const second = mutex.run('customer-a', async () => {
      log.push('second:start');
      return 2;
    });
    await flush();
    expect(log).toEqual(['first:start']);
    gate.resolve();
    await expect(Promise.all([first, second])).resolves.toEqual([1, 2]);
    expect(log).toEqual(['first:start', 'first:end', 'second:start']);
  });

  it('runs work for different keys in parallel', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const started: string[] = [];
    const a = mutex.run('customer-a', async () => {
      started.push('a');
      await gate.promise;
    });
    const b = mutex.run('customer-b', async () => {
      started.push('b');
    });
    await b;
    expect(started).toEqual(['a', 'b']);
    gate.resolve();
    await a;
  });

  it('passes a failure to its caller and still runs the next work for the key', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('k', async () => {
      throw new Error('boom');
    });
    const next = mutex.run('k', async () => 'after');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('after');
  });

  it('forgets a key once its queue is empty', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const running = mutex.run('k', () => gate.promise);
    void mutex.run('other', async () => undefined);
    expect(mutex.size).toBe(2);
    gate.resolve();
    await running;
    await flush();
    expect(mutex.size).toBe(0);
  });

  it('keeps many queued tasks of one key strictly sequential', async () => {
    const mutex = new KeyedMutex();
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        mutex.run('k', async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await flush();
          order.push(i);
          running--;
        }),
      ),
    );
    expect(maxRunning).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
