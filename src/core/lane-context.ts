import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which work-queue lane the current async call chain runs in, while the dispatcher holds that lane's lock. A
 * customer's lane is named by the customer key, so work running in it already has the customer to itself: the
 * handoff skips its own per-customer lock there (two Redis commands per message saved; `npm run bench`).
 */
const current = new AsyncLocalStorage<string>();

/** Runs `work` as the holder of `lane`. Only the dispatcher calls this, with the lane's lock held. */
export function runInLane<T>(lane: string, work: () => Promise<T>): Promise<T> {
  return current.run(lane, work);
}

/** The lane whose lock the current call chain holds, if any. */
export function heldLane(): string | undefined {
  return current.getStore();
}
