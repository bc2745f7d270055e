import { describeError, errorMessage } from '../../src/core/errors';

describe('describeError', () => {
  it.each<[string, unknown, string]>([
    ['an Error', new Error('boom'), 'boom'],
    [
      'the failed session envelope blip-sdk rejects with',
      { id: 's1', state: 'failed', reason: { code: 1, description: 'The session authentication failed' } },
      'session failed: 1 The session authentication failed',
    ],
    ['a finished session', { id: 's1', state: 'finished' }, 'session finished'],
    [
      'a failed command',
      {
        id: 'c',
        method: 'get',
        uri: '/contacts/x',
        status: 'failure',
        reason: { code: 67, description: 'Resource not found' },
      },
      'command get /contacts/x failed: 67 Resource not found',
    ],
    [
      'a failed notification',
      {
        id: 'n',
        event: 'failed',
        reason: { code: 86, description: 'The gateway switch operation timed out' },
      },
      'notification failed: 86 The gateway switch operation timed out',
    ],
    ['a bare reason', { reason: { code: 13 } }, '13'],
    ['an error-like object', { type: 'error', message: 'socket hang up' }, 'socket hang up'],
    ['a plain object', { a: 1 }, '{"a":1}'],
    ['an empty object', {}, 'an object with no message'],
    ['a string', 'plain words', 'plain words'],
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['a number', 42, '42'],
  ])('renders %s', (_what, value, expected) => {
    expect(describeError(value)).toBe(expected);
    expect(errorMessage(value)).toBe(expected);
  });

  it('never prints [object Object], even for cycles and class instances', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    class Event {
      readonly type = 'close';
    }
    expect(describeError(cyclic)).toBe('an object with no message');
    expect(describeError(new Event())).toBe('{"type":"close"}');
    expect(describeError(Object.create(null))).toBe('an object with no message');
  });

  it('names an error without a message by its code and cause, and lists an AggregateError', () => {
    const refused = Object.assign(new Error(''), { code: 'ECONNREFUSED' });
    expect(describeError(refused)).toBe('ECONNREFUSED');
    expect(describeError(new Error('', { cause: new Error('deep') }))).toBe('Error: deep');
    expect(
      describeError(
        new AggregateError([
          new Error('connect ECONNREFUSED ::1:9'),
          new Error('connect ECONNREFUSED 127.0.0.1:9'),
        ]),
      ),
    ).toBe('connect ECONNREFUSED ::1:9; connect ECONNREFUSED 127.0.0.1:9');
  });

  it('keeps to one line of at most 300 characters', () => {
    const long = describeError(new Error(`first\nsecond ${'x'.repeat(500)}`));
    expect(long).not.toContain('\n');
    expect(long.length).toBe(300);
    expect(long.startsWith('first second')).toBe(true);
  });
});
