/** Small statistics helpers for the benchmark. */

export interface Percentiles {
  samples: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Nearest-rank percentiles of latencies in milliseconds (NaN entries, i.e. never measured, are skipped). */
export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Array.from(values)
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const mean = sorted.length === 0 ? NaN : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    samples: sorted.length,
    p50Ms: round(at(0.5), 2),
    p95Ms: round(at(0.95), 2),
    p99Ms: round(at(0.99), 2),
    maxMs: round(sorted.at(-1) ?? NaN, 2),
    meanMs: round(mean, 2),
  };
}

/**
 * The index of the median item by `key`: with an even count the lower middle, so the pick is always a real round
 * (a mean of two would be a run that never happened). Among items tied at the median value the earliest wins
 * (round 1 carries the CPU profiles). NaN, a figure that was never measured, sorts above every number.
 */
export function medianIndex<T>(items: readonly T[], key: (item: T) => number): number {
  if (items.length === 0) throw new Error('medianIndex of no items');
  const keys = items.map(key);
  const above = (a: number, b: number): number =>
    Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : a - b;
  const sorted = [...keys].sort(above);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return keys.findIndex((k) => above(k, median) === 0);
}

/** The p99 latencies of a half-load pair: the bridge and the raw relay at the same offered rate. */
export interface P99Pair {
  bridge: { toHelpdesk: { p99Ms: number }; toCustomer: { p99Ms: number } };
  raw: { toHelpdesk: { p99Ms: number }; toCustomer: { p99Ms: number } };
}

/** The pair's p99 ratio, bridge / raw relay, in the worse direction: the figure the p99 target judges. */
export function p99Ratio(pair: P99Pair): number {
  return Math.max(
    pair.bridge.toHelpdesk.p99Ms / pair.raw.toHelpdesk.p99Ms,
    pair.bridge.toCustomer.p99Ms / pair.raw.toCustomer.p99Ms,
  );
}

/** The index of the half-load pair whose p99 ratio is the median of the rounds' (as medianIndex). */
export function medianPairIndex(pairs: readonly P99Pair[]): number {
  return medianIndex(pairs, p99Ratio);
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function mb(bytes: number): number {
  return round(bytes / 1_048_576, 1);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
