import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encryption at rest of the talk log's text and media links: AES-256-GCM with a random 96-bit IV per value and the
 * row's identity as additional authenticated data, so a value copied onto another row does not decrypt.
 *
 * Token: `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts). The key id (first 4 bytes of the key's SHA-256,
 * hex) tells which key a value needs without revealing it, so a rotated key gives a clear error, not garbage.
 */
const VERSION = 'v1';

/** Decodes REPORTS_TEXT_KEY: base64 (standard or url-safe) of exactly 32 random bytes. Throws with the reason. */
export function parseTextKey(value: string): Buffer {
  const trimmed = value.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed))
    throw new Error('must be base64 (e.g. openssl rand -base64 32)');
  const key = Buffer.from(trimmed.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
  if (key.length !== 32)
    throw new Error(`must decode to 32 bytes (got ${key.length}); use openssl rand -base64 32`);
  if (key.every((b) => b === key[0])) throw new Error('must be random bytes, not a repeated value');
  return key;
}

export class TextCipher {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('AES-256-GCM needs a 32-byte key');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  encrypt(plain: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.keyId, iv, tag, ciphertext]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** Throws when the token is not ours, was made with another key, or was altered. */
  decrypt(token: string, aad: string): string {
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new Error('not an encrypted report value');
    const [, keyId, iv, tag, ciphertext] = parts as [string, string, string, string, string];
    if (keyId !== this.keyId) throw new Error(`encrypted with another key (key id ${keyId})`);
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    // A short tag would weaken the authentication (GCM accepts truncated tags unless told otherwise).
    if (ivBytes.length !== 12 || tagBytes.length !== 16) throw new Error('malformed encrypted report value');
    const decipher = createDecipheriv('aes-256-gcm', this.key, ivBytes, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  }
}

/** The additional authenticated data of a talk log value: which row and which field it belongs to. */
export function talkAad(sessionId: string, entryId: string, field: 'text' | 'media'): string {
  return `${sessionId}\n${entryId}\n${field}`;
}
