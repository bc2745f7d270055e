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

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function mb(bytes: number): number {
  return round(bytes / 1_048_576, 1);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
