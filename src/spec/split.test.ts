// The held-out split: a function of (samples, share, seed), at least one sample held out and one
// left to train on, stable as samples are appended. (The training order without them: src/worker/heldOut.test.ts.)
import { describe, expect, it } from 'vitest';
import { heldOutCount, heldOutSamples } from './split';
import { checkOptimizer, defaultOptimizer } from './optimizer';

describe('held-out split', () => {
  it('holds out round(share·N), at least 1 and never every sample; none when off or with one sample', () => {
    expect(heldOutCount(40, 0.2)).toBe(8);
    expect(heldOutCount(3, 0.2)).toBe(1); // round(0.6) = 1
    expect(heldOutCount(2, 0.01)).toBe(1); // at least one
    expect(heldOutCount(2, 0.5)).toBe(1); // and one left to train on
    expect(heldOutCount(1, 0.5)).toBe(0);
    expect(heldOutCount(10, 0)).toBe(0);
    expect(heldOutSamples(1, 0.2, 0)).toEqual([]);
    expect(heldOutSamples(10, 0, 0)).toEqual([]);
    for (const n of [2, 3, 7, 40, 101]) {
      for (const share of [0.01, 0.2, 0.5]) {
        const held = heldOutSamples(n, share, 5);
        expect(held.length).toBe(heldOutCount(n, share));
        expect(held.length).toBeGreaterThanOrEqual(1);
        expect(held.length).toBeLessThan(n);
        expect([...held].sort((a, b) => a - b)).toEqual(held);
        expect(new Set(held).size).toBe(held.length);
        expect(held.every((i) => Number.isInteger(i) && i >= 0 && i < n)).toBe(true);
      }
    }
  });

  it('is the seed’s alone: the same every time, another seed another split, appended samples keep most of it', () => {
    const a = heldOutSamples(40, 0.2, 7);
    expect(heldOutSamples(40, 0.2, 7)).toEqual(a);
    expect(heldOutSamples(40, 0.2, 8)).not.toEqual(a);
    // Not simply the first or last samples.
    expect(a).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(a).not.toEqual([32, 33, 34, 35, 36, 37, 38, 39]);
    // 40 → 41 samples at the same count (round(0.2·41) = 8): at most one sample changes.
    const b = heldOutSamples(41, 0.2, 7);
    expect(b.length).toBe(8);
    expect(b.filter((i) => !a.includes(i)).length).toBeLessThanOrEqual(1);
    // Seeds spread the held-out samples over the whole data set.
    const hits = new Array(40).fill(0);
    for (let seed = 0; seed < 200; seed++) for (const i of heldOutSamples(40, 0.2, seed)) hits[i]++;
    expect(Math.min(...hits)).toBeGreaterThan(10); // 200 · 0.2 = 40 expected per sample
  });

  it('the optimizer carries the share: 20% by default, 0 to 50% allowed', () => {
    expect(defaultOptimizer(1e6).heldOut).toBe(0.2);
    expect(checkOptimizer({ ...defaultOptimizer(1e6), heldOut: 0 })).toEqual([]);
    expect(checkOptimizer({ ...defaultOptimizer(1e6), heldOut: 0.5 })).toEqual([]);
    expect(checkOptimizer({ ...defaultOptimizer(1e6), heldOut: 0.6 })).toEqual(['Held-out share must be from 0 to 50% (got 60%).']);
    expect(checkOptimizer({ ...defaultOptimizer(1e6), heldOut: -0.1 }).length).toBe(1);
    expect(checkOptimizer({ ...defaultOptimizer(1e6), heldOut: NaN }).length).toBe(1);
  });
});
