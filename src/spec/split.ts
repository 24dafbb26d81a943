/**
 * The held-out split: which samples no run trains on, so that every run's response-token loss can
 * be read on text it never saw. A function of (sample count, share, seed) alone: the page shows the
 * same split the training worker uses, and a resumed training gets the very same one.
 *
 * Each sample draws a key from the seed and its own index; the `count` smallest keys are held out.
 * So the split is stable: the same inputs give the same samples, and appending samples to a data set
 * moves at most the samples whose rank changes (not a fresh shuffle of all of them).
 */
import { makeRng } from './rng';

/** Samples held out at `share` of `samples`: round(share·N), at least 1 and leaving at least 1 to train on; 0 when off or N < 2. */
export function heldOutCount(samples: number, share: number): number {
  if (!(share > 0) || samples < 2) return 0;
  return Math.min(samples - 1, Math.max(1, Math.round(share * samples)));
}

/** Indices (ascending) of the held-out samples among `samples`, seeded by `seed` (the optimizer's). */
export function heldOutSamples(samples: number, share: number, seed: number): number[] {
  const count = heldOutCount(samples, share);
  if (count === 0) return [];
  // A different stream than the data order's (seed itself): the split and the order are independent.
  const key = (i: number) => makeRng((Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0).uniform();
  const keys = Float64Array.from({ length: samples }, (_, i) => key(i));
  return Array.from({ length: samples }, (_, i) => i)
    .sort((a, b) => keys[a] - keys[b] || a - b)
    .slice(0, count)
    .sort((a, b) => a - b);
}

/** The samples the runs train on: every index not held out, ascending. */
export function trainedSamples(samples: number, heldOut: readonly number[]): number[] {
  const out = new Set(heldOut);
  return Array.from({ length: samples }, (_, i) => i).filter((i) => !out.has(i));
}
