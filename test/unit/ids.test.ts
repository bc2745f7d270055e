import { logTag, stableId } from '../../src/core/ids';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('stableId', () => {
  it('is UUID-shaped (version 5 nibble, RFC variant)', () => {
    for (const input of ['', 'redirect:abc', 'agent:ev:zendesk:comment:30764602215937', 'ç😀']) {
      expect(stableId(input)).toMatch(UUID);
    }
  });

  it('gives the same id for the same input and different ids for different inputs', () => {
    expect(stableId('closing:session-1')).toBe(stableId('closing:session-1'));
    expect(stableId('closing:session-1')).not.toBe(stableId('closing:session-2'));
    expect(stableId('closing:session-1')).not.toBe(stableId('redirect:session-1'));
  });

  it('spreads over many inputs without collisions', () => {
    const ids = new Set(Array.from({ length: 2_000 }, (_, i) => stableId(`msg:${i}`)));
    expect(ids.size).toBe(2_000);
  });
});

describe('logTag', () => {
  it('is a short stable hex tag that does not reveal the customer', () => {
    const key = '5511987654321@wa.gw.msging.net';
    const tag = logTag(key);
    expect(tag).toMatch(/^[0-9a-f]{12}$/);
    expect(logTag(key)).toBe(tag);
    expect(tag).not.toContain('5511987654321');
    expect(logTag('5511987654322@wa.gw.msging.net')).not.toBe(tag);
  });
});
