import { UnavailableError, errorCode } from '../../src/core/errors';
import { createState, type State } from '../../src/state/create-store';
import { storeCall, storeUnavailable } from '../../src/state/store-errors';
import { captureLogs } from '../helpers/log-capture';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';
import { describeWithRedis } from '../helpers/requirements';

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

  it('storeCall maps a rejection of the store operation and passes results through', async () => {
    await expect(storeCall(async () => 42)).resolves.toBe(42);
    await expect(
      storeCall(async () => {
        throw new ClientOfflineError('The client is offline');
      }),
    ).rejects.toBeInstanceOf(UnavailableError);
    const bug = new Error('ERR Error running script');
    await expect(
      storeCall(async () => {
        throw bug;
      }),
    ).rejects.toBe(bug);
  });
});

describeWithRedis('the Redis state with Redis gone', () => {
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
        state.store.markProcessed('in:c1:m1', 1_000),
        state.queue.depth(),
        state.queue.dueLanes(Date.now(), 10),
        state.queue.enqueue('c1@tunnel.msging.net', { kind: 'force-close', customerKey: 'c1', reason: 'x' }),
        state.limiter('zendesk', 700).acquire(),
      ].map((p) =>
        p.then(
          () => 'resolved',
          (err: unknown) => errorCode(err),
        ),
      ),
    );
    expect(codes).toEqual(Array(6).fill('STATE_STORE_UNAVAILABLE'));
  }, 20_000);
});
