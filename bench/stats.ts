/** The benchmarks' statistics, one definition of each: percentiles of samples and medians over runs. */

/** The p-quantile (0..1) of an ascending array: the sample at rank floor(p * n), nearest below. */
function pct(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The middle value of `xs` in any order (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** What the latency tables show of a set of samples, in the samples' unit. */
export interface Distribution {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Sorts `samples` in place and returns their percentiles, maximum and mean. */
export function distribution(samples: Float64Array): Distribution {
  samples.sort();
  let sum = 0;
  for (const s of samples) sum += s;
  return {
    p50: pct(samples, 0.5),
    p90: pct(samples, 0.9),
    p99: pct(samples, 0.99),
    p999: pct(samples, 0.999),
    max: samples[samples.length - 1]!,
    mean: sum / samples.length,
  };
}

/** How many samples lie at or above the p-quantile: p99.9 of 2,000 samples is the 2nd largest. */
export function rankFromTop(count: number, p: number): number {
  return count - Math.min(count - 1, Math.floor(p * count));
}
