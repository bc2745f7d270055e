/**
 * Where the bytes of re-hosted agent files live while customers may open them: the state backend, with a TTL.
 * Memory in a single instance (state lost on restart, like the rest of memory mode), Redis when several instances
 * share one (any instance then serves a link another one made). Keys: `bhb:media:<id>`.
 */
import { PermanentError } from '../core/errors';
import type { MediaFile } from '../core/model';

export interface BlobStore {
  /** Keeps the file for `ttlMs`; the same id replaces the earlier file. */
  put(id: string, file: MediaFile, ttlMs: number): Promise<void>;
  /** The file, or undefined once it expired or when there is none. */
  get(id: string): Promise<MediaFile | undefined>;
}

/**
 * One value per file: a 4-byte big-endian header length, the header as JSON (name, type), then the bytes, so a
 * file is written and read in one command and can never be found half written.
 */
export function encodeBlob(file: MediaFile): Buffer {
  const header = Buffer.from(JSON.stringify({ name: file.name, mimeType: file.mimeType }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, file.data]);
}

export function decodeBlob(value: Buffer): MediaFile | undefined {
  if (value.length < 4) return undefined;
  const headerLength = value.readUInt32BE(0);
  if (4 + headerLength > value.length) return undefined;
  try {
    const header = JSON.parse(value.subarray(4, 4 + headerLength).toString('utf8')) as unknown;
    if (!header || typeof header !== 'object') return undefined;
    const { name, mimeType } = header as { name?: unknown; mimeType?: unknown };
    if (typeof name !== 'string' || typeof mimeType !== 'string') return undefined;
    const data = value.subarray(4 + headerLength);
    return { name, mimeType, size: data.length, data };
  } catch {
    return undefined;
  }
}

/**
 * In process memory, bounded: expired files are swept on every write, and the oldest files go first when the
 * total would pass `maxTotalBytes` (a link to an evicted file answers 404, like an expired one).
 */
export class MemoryBlobStore implements BlobStore {
  private readonly entries = new Map<string, { file: MediaFile; expiresAt: number }>();
  private total = 0;

  constructor(
    private readonly maxTotalBytes = 256 * 1_048_576,
    private readonly now: () => number = Date.now,
  ) {}

  async put(id: string, file: MediaFile, ttlMs: number): Promise<void> {
    if (file.size > this.maxTotalBytes) {
      throw new PermanentError(
        `file of ${file.size} bytes is larger than the media store (${this.maxTotalBytes} bytes)`,
        'MEDIA_TOO_LARGE',
      );
    }
    this.delete(id);
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.delete(key);
    for (const key of this.entries.keys()) {
      if (this.total + file.size <= this.maxTotalBytes) break;
      this.delete(key); // Map order is insertion order: the oldest first
    }
    this.entries.set(id, { file, expiresAt: now + ttlMs });
    this.total += file.size;
  }

  async get(id: string): Promise<MediaFile | undefined> {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.delete(id);
      return undefined;
    }
    return entry.file;
  }

  /** Bytes held now (tests, metrics). */
  get bytes(): number {
    return this.total;
  }

  private delete(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.total -= entry.file.size;
  }
}

/** The two Redis commands the store needs (node-redis v5, the connection `createState()` shares). */
export interface BlobRedisClient {
  set(key: string, value: Buffer, options: { expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  /** RESP type 36 (blob string) mapped to Buffer: the bytes come back as they went in. */
  withTypeMapping(mapping: Record<number, unknown>): { get(key: string): Promise<unknown> };
}

/** node-redis' RESP type code for blob strings (`RESP_TYPES.BLOB_STRING`). */
const BLOB_STRING = 36;

export class RedisBlobStore implements BlobStore {
  constructor(
    private readonly client: () => Promise<BlobRedisClient>,
    private readonly prefix: string,
  ) {}

  async put(id: string, file: MediaFile, ttlMs: number): Promise<void> {
    const client = await this.client();
    await client.set(this.key(id), encodeBlob(file), { expiration: { type: 'PX', value: Math.ceil(ttlMs) } });
  }

  async get(id: string): Promise<MediaFile | undefined> {
    const client = await this.client();
    const value = await client.withTypeMapping({ [BLOB_STRING]: Buffer }).get(this.key(id));
    return Buffer.isBuffer(value) ? decodeBlob(value) : undefined;
  }

  private key(id: string): string {
    return `${this.prefix}media:${id}`;
  }
}
