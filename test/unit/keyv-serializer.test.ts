import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import { deserialize, serialize } from '../../src/state/keyv-serializer';

/** Values as Keyv stores them: `{ value, expires }`. */
const samples: unknown[] = [
  { value: { sessionId: 's1', customer: { key: 'ana@tunnel.msging.net' }, tags: ['a', 'b'] }, expires: 17 },
  { value: 'plain' },
  { value: ':)' },
  { value: '::double' },
  { value: { text: ':starts with a colon', list: [':x', 'y', ':'], nested: { k: ':v' } } },
  { value: { 'key:with:colons': 1, ':leading': 2, 'ends,': ':value', 'ends:': 'x' } },
  { value: { quote: 'he said "a:b" and ",\\":" here', backslash: '\\":' } },
  { value: Buffer.from('bytes') },
  { value: { file: Buffer.from([0, 1, 2]) } },
  { value: { when: new Date('2026-12-02T10:00:00.000Z'), n: 1.5, t: true, f: false, z: null } },
  { value: { skipped: undefined, list: [1, undefined, 'x'] } },
  { value: [] },
  { value: 0 },
  { value: null },
  { value: 1, expires: undefined },
];

describe("Keyv serializer (Keyv's format on a fast path)", () => {
  it.each(samples.map((s, i) => [i, s]))('writes sample %i byte for byte as Keyv does', (_i, sample) => {
    expect(serialize(sample)).toBe(defaultSerialize(sample));
  });

  it.each(samples.map((s, i) => [i, s]))('reads sample %i back as Keyv does', (_i, sample) => {
    const text = defaultSerialize(sample);
    expect(deserialize(text)).toEqual(defaultDeserialize(text));
  });

  it('reads what an earlier version wrote with escaped strings', () => {
    const written = defaultSerialize({ value: { first: { text: ':-)' } } });
    expect(written).toContain('"::-)"');
    expect(deserialize(written)).toEqual({ value: { first: { text: ':-)' } } });
  });
});
