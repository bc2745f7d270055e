import { randomUUID } from 'node:crypto';
import { RetryableError } from '../core/errors';
import { KeyedMutex } from '../core/keyed-mutex';
import type { CustomerLock, LockAttempt } from '../core/ports';

/** The few Redis commands the lock needs (node-redis v5, as used by @keyv/redis). */
export interface LockRedisClient {
  set(
    key: string,
    value: string,
    options: { condition: 'NX'; expiration: { type: 'PX'; value: number } },
  ): Promise<string | null>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisLockOptions {
  /** The lock expires after this long if its holder dies; it is extended while the work runs. */
  ttlMs: number;
  /** How long to wait for another instance to finish before giving up (the caller retries). */
  acquireTimeoutMs: number;
  pollMs: number;
}

/**
 * Per-customer lock shared by every bridge instance on one Redis: SET NX PX with a random token, extended while
 * the work runs, released with compare-and-delete. Inside one process a KeyedMutex queues the callers first, so
 * an instance does not poll Redis against itself and keeps arrival order.
 */
export class RedisCustomerLock implements CustomerLock {
  private readonly local = new KeyedMutex();

  constructor(
    private readonly client: () => Promise<LockRedisClient>,
    private readonly prefix: string,
    private readonly options: RedisLockOptions = { ttlMs: 15_000, acquireTimeoutMs: 30_000, pollMs: 25 },
  ) {}

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, () => this.runLocked(key, work));
  }

  /** One SET NX: runs `work` only if no instance (this one included) holds `key` right now. */
  async tryRun<T>(key: string, work: () => Promise<T>): Promise<LockAttempt<T>> {
    const attempt = await this.local.tryRun(key, async (): Promise<LockAttempt<T>> => {
      const redis = await this.client();
      const lockKey = `${this.prefix}lock:${key}`;
      const token = randomUUID();
      if (!(await this.acquire(redis, lockKey, token))) return { acquired: false };
      return { acquired: true, value: await this.holding(redis, lockKey, token, work) };
    });
    return attempt.acquired ? attempt.value : attempt;
  }

  private acquire(redis: LockRedisClient, lockKey: string, token: string): Promise<boolean> {
    return redis
      .set(lockKey, token, { condition: 'NX', expiration: { type: 'PX', value: this.options.ttlMs } })
      .then((reply) => reply === 'OK');
  }

  private async runLocked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const redis = await this.client();
    const lockKey = `${this.prefix}lock:${key}`;
    const token = randomUUID();
    const deadline = Date.now() + this.options.acquireTimeoutMs;
    while (!(await this.acquire(redis, lockKey, token))) {
      if (Date.now() > deadline) {
        throw new RetryableError(
          'another bridge instance holds this customer for too long',
          'CUSTOMER_LOCK_TIMEOUT',
        );
      }
      await new Promise((r) => setTimeout(r, this.options.pollMs));
    }
    return this.holding(redis, lockKey, token, work);
  }

  /** Runs the work while keeping the lock alive, then releases it if it is still ours. */
  private async holding<T>(
    redis: LockRedisClient,
    lockKey: string,
    token: string,
    work: () => Promise<T>,
  ): Promise<T> {
    const keepAlive = setInterval(() => {
      void redis
        .eval(EXTEND, { keys: [lockKey], arguments: [token, String(this.options.ttlMs)] })
        .catch(() => {});
    }, this.options.ttlMs / 3);
    keepAlive.unref();
    try {
      return await work();
    } finally {
      clearInterval(keepAlive);
      await redis.eval(RELEASE, { keys: [lockKey], arguments: [token] }).catch(() => {});
    }
  }
}
