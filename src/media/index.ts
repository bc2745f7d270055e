export { type BlobRedisClient, type BlobStore, MemoryBlobStore, RedisBlobStore } from './blob-store';
export { HttpMediaFetcher, type MediaFetcherOptions } from './fetcher';
export { type MediaHostOptions, type MediaLookup, SignedMediaHost } from './host';
