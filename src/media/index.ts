export { HttpMediaFetcher, type MediaFetcherOptions } from './fetcher';
