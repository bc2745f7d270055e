import { randomBytes } from 'node:crypto';
import { parseTextKey, TextCipher, talkAad } from '../../src/reports/crypto';

describe('REPORTS_TEXT_KEY', () => {
  it('accepts 32 random bytes in base64, standard or url-safe', () => {
    const key = randomBytes(32);
    expect(parseTextKey(key.toString('base64'))).toEqual(key);
    expect(parseTextKey(` ${key.toString('base64url')}\n`)).toEqual(key);
  });

  it.each([
    ['not base64', 'this is not base64!', /base64/],
    ['too short', randomBytes(16).toString('base64'), /32 bytes \(got 16\)/],
    ['too long', randomBytes(48).toString('base64'), /32 bytes \(got 48\)/],
    ['a repeated byte', Buffer.alloc(32, 0).toString('base64'), /random/],
  ])('refuses %s', (_what, value, message) => {
    expect(() => parseTextKey(value)).toThrow(message);
  });
});

describe('TextCipher (AES-256-GCM)', () => {
  const cipher = new TextCipher(randomBytes(32));
  const aad = talkAad('session-1', 'customer:m1', 'text');

  it('round-trips text, with a fresh IV each time', () => {
    const text = 'Meu CPF é 123.456.789-00 🙂';
    const a = cipher.encrypt(text, aad);
    const b = cipher.encrypt(text, aad);
    expect(a).not.toBe(b);
    expect(a).not.toContain('CPF');
    expect(a.startsWith(`v1.${cipher.keyId}.`)).toBe(true);
    expect(cipher.decrypt(a, aad)).toBe(text);
    expect(cipher.decrypt(cipher.encrypt('', aad), aad)).toBe('');
  });

  it('refuses a value altered, moved to another row, truncated, or made with another key', () => {
    const token = cipher.encrypt('hello', aad);
    const parts = token.split('.');
    const flip = (s: string) => Buffer.from(s, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b));
    const altered = [...parts.slice(0, 4), Buffer.from(flip(parts[4]!)).toString('base64url')].join('.');
    expect(() => cipher.decrypt(altered, aad)).toThrow();
    expect(() => cipher.decrypt(token, talkAad('session-2', 'customer:m1', 'text'))).toThrow();
    const shortTag = [...parts.slice(0, 3), parts[3]!.slice(0, 8), parts[4]].join('.');
    expect(() => cipher.decrypt(shortTag, aad)).toThrow(/malformed/);
    const other = new TextCipher(randomBytes(32));
    expect(() => other.decrypt(token, aad)).toThrow(`encrypted with another key (key id ${cipher.keyId})`);
    expect(() => cipher.decrypt('plain text', aad)).toThrow(/not an encrypted/);
  });
});
