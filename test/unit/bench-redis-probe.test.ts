import { commandName } from '../../bench/redis-probe';
import { ACK_TAKE, ENQUEUE } from '../../src/state/redis-work-queue-scripts';

const source = (script: unknown): string => (script as { source: string }).source;

describe('bench: Redis commands named in the round-trip trace', () => {
  it('names the work queue scripts and the kind of key a command touches', () => {
    expect(commandName(['EVAL', source(ENQUEUE), '5', 'bhb:q:lane:x'])).toBe('EVAL ENQUEUE');
    expect(commandName(['EVAL', source(ACK_TAKE), '5', 'bhb:q:lane:x'])).toBe('EVAL ACK_TAKE');
    expect(commandName(['GET', 'bhb::conv:abc@tunnel.msging.net'])).toBe('GET conv');
    expect(commandName(['SET', 'bhb::done:in:abc:m1', '1', 'PX', '1000'])).toBe('SET done');
    expect(commandName(['ZRANGEBYSCORE', 'bhb:q:due', '-inf', '1'])).toBe('ZRANGEBYSCORE q:due');
    expect(commandName(['EVAL', "local t = redis.call('TIME')", '1', 'bhb:rl:zendesk'])).toBe('EVAL GCRA');
  });
});
