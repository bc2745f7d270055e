import type { LockAttempt } from './ports';

/**
 * Serialises async work per key (per customer): two messages of one customer never run at once,
 * different customers run in parallel. In-process only; several instances need the shared lock
 * of the state store as well.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Runs `work` only when nothing runs or waits for `key`. */
  async tryRun<T>(key: string, work: () => Promise<T>): Promise<LockAttempt<T>> {
    if (this.tails.has(key)) return { acquired: false };
    return { acquired: true, value: await this.run(key, work) };
  }

  /** Keys with work queued or running (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}
