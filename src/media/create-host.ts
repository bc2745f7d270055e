import type { RedisClientType } from '@keyv/redis';
import type { MediaHost } from '../core/ports';
import { type BlobRedisClient, MemoryBlobStore, RedisBlobStore } from './blob-store';
import { SignedMediaHost } from './host';

/** What the media host needs of the configuration (`BRIDGE_PUBLIC_URL`, `BRIDGE_MEDIA_*`). */
export interface MediaHostSettings {
  publicUrl?: string;
  urlSecret: string;
  linkTtlMs: number;
  maxBytes: number;
}

/**
 * Agents' files re-hosted for customers, bytes in the state backend (Redis when there is one, so any instance
 * serves them): only with a public URL to serve them at; undefined otherwise.
 */
export function createMediaHost(
  settings: MediaHostSettings,
  redis: (() => Promise<RedisClientType>) | undefined,
  prefix: string,
): (MediaHost & SignedMediaHost) | undefined {
  if (!settings.publicUrl) return undefined;
  const blobs = redis
    ? new RedisBlobStore(async () => (await redis()) as unknown as BlobRedisClient, prefix)
    : new MemoryBlobStore();
  return new SignedMediaHost(blobs, {
    publicUrl: settings.publicUrl,
    secret: settings.urlSecret,
    ttlMs: settings.linkTtlMs,
    maxBytes: settings.maxBytes,
  });
}
