import { UnavailableError, errorCode } from '../../src/core/errors';
import { createState, type State } from '../../src/state/create-store';
import { mappingStoreErrors, storeUnavailable } from '../../src/state/store-errors';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

class ClientOfflineError extends Error {}

describe('storeUnavailable', () => {
  it('turns a lost Redis connection into STATE_STORE_UNAVAILABLE, keeping the cause', () => {
    const offline = new ClientOfflineError('The client is offline');
    const mapped = storeUnavailable(offline);
    expect(mapped).toBeInstanceOf(UnavailableError);
    expect(errorCode(mapped)).toBe('STATE_STORE_UNAVAILABLE');
    expect((mapped as Error).message).toContain('The client is offline');
    expect((mapped as Error).cause).toBe(offline);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    expect(errorCode(storeUnavailable(refused))).toBe('STATE_STORE_UNAVAILABLE');
  });

  it('leaves every other error as it is', () => {
    const script = new Error('ERR Error running script');
    expect(storeUnavailable(script)).toBe(script);
    expect(storeUnavailable('text')).toBe('text');
  });

  it('maps rejections and throws of wrapped methods, and keeps the methods bound to the object', async () => {
    class Thing {
      #calls = 0;
      flag = 'x';
      async fails(): Promise<void> {
        this.#calls++;
        throw new ClientOfflineError('The client is offline');
      }
      throws(): void {
        throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      }
      calls(): number {
        return this.#calls;
      }
    }
    const thing = mappingStoreErrors(new Thing());
    await expect(thing.fails()).rejects.toBeInstanceOf(UnavailableError);
    expect(() => thing.throws()).toThrow(UnavailableError);
    expect(thing.calls()).toBe(1);
    expect(thing.flag).toBe('x');
  });
});

describe('the Redis state with Redis gone', () => {
  let redis: RedisServer;
  let state: State;

  beforeAll(async () => {
    redis = await startRedisServer();
    state = createState(redis.url, captureLogs().logger);
    await state.store.ping();
    await redis.stop();
  }, 20_000);
  afterAll(async () => {
    await state.store.close().catch(() => {});
  });

  it('fails the store, the queue and the limiter with STATE_STORE_UNAVAILABLE', async () => {
    const codes = await Promise.all(
      [
        state.store.get('c1@tunnel.msging.net'),
        state.queue.depth(),
        state.limiter('zendesk', 700).acquire(),
      ].map((p) =>
        p.then(
          () => 'resolved',
          (err: unknown) => errorCode(err),
        ),
      ),
    );
    expect(codes).toEqual(['STATE_STORE_UNAVAILABLE', 'STATE_STORE_UNAVAILABLE', 'STATE_STORE_UNAVAILABLE']);
  }, 20_000);
});
