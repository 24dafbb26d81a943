import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, normalisationScales } from './loss';
import { lossArithmetic, NOTHING_TO_TRAIN } from './lossArithmetic';

// Five tokens: token 0 is never predicted; 1 is a masked prompt token; 2..4 are trained.
const ids = [7, 8, 9, 10, 11];
const labels = [7, IGNORE_INDEX, 9, 10, 11];
const loss = [NaN, 2.5, 0.5, 1.0, 2.0];

/** The engine's objective for one sequence, from loss.ts's scales: Σ_t scale · w[t+1] · loss[t+1]. */
function viaScales(w: number[], mode: 'mean_tokens' | 'mean_sequences' | 'sum'): number {
  const scale = normalisationScales(Int32Array.from(labels), Float64Array.from(w), 1, ids.length, mode)[0];
  let s = 0;
  for (let i = 1; i < ids.length; i++) if (labels[i] !== IGNORE_INDEX) s += scale * w[i] * loss[i];
  return s;
}

describe('lossArithmetic', () => {
  it('mean_tokens with unit weights: the divisor is the trained-token count', () => {
    const w = [1, 0, 1, 1, 1];
    const a = lossArithmetic({ ids, labels, weights: w, loss, mode: 'mean_tokens' });
    expect(a.rows).toHaveLength(5);
    expect(a.rows.map((r) => r.term)).toEqual(['skipped', 'skipped', 0.5, 1.0, 2.0]);
    expect(a.rows[2].p).toBeCloseTo(Math.exp(-0.5), 12);
    expect(Number.isNaN(a.rows[0].p)).toBe(true);
    expect(a.rows[1].label).toBe(IGNORE_INDEX);
    expect(a.trainedTokens).toBe(3);
    expect(a.sum).toBeCloseTo(3.5, 12);
    expect(a.divisor).toBe(3);
    expect(a.result).toBeCloseTo(3.5 / 3, 12);
    expect(a.result).toBeCloseTo(viaScales(w, 'mean_tokens'), 12);
  });

  it('label 0 never counts, whatever its label and weight (the HF shift)', () => {
    const a = lossArithmetic({ ids, labels, weights: [1, 0, 1, 1, 1], loss: [5, 2.5, 0.5, 1, 2], mode: 'mean_tokens' });
    expect(a.rows[0].term).toBe('skipped');
    expect(a.trainedTokens).toBe(3);
  });

  it('fractional weights: the divisor is the weight sum', () => {
    const fl = [7, 8, 9, 10, 11];
    const w = [0.3, 0.3, 1, 1, 0.3];
    const a = lossArithmetic({ ids, labels: fl, weights: w, loss, mode: 'mean_tokens' });
    expect(a.trainedTokens).toBe(4);
    expect(a.sum).toBeCloseTo(0.3 * 2.5 + 0.5 + 1 + 0.3 * 2, 12);
    expect(a.divisor).toBeCloseTo(2.6, 12);
    expect(a.result).toBeCloseTo(a.sum / 2.6, 12);
  });

  it('mean_sequences on one sequence divides as mean_tokens does; sum divides by 1', () => {
    const w = [1, 0, 0.3, 1, 1];
    const seq = lossArithmetic({ ids, labels, weights: w, loss, mode: 'mean_sequences' });
    const tok = lossArithmetic({ ids, labels, weights: w, loss, mode: 'mean_tokens' });
    expect(seq.divisor).toBeCloseTo(2.3, 12);
    expect(seq.result).toBeCloseTo(tok.result as number, 12);
    expect(seq.result).toBeCloseTo(viaScales(w, 'mean_sequences'), 12);
    const sum = lossArithmetic({ ids, labels, weights: w, loss, mode: 'sum' });
    expect(sum.divisor).toBe(1);
    expect(sum.result).toBeCloseTo(0.3 * 0.5 + 1 + 2, 12);
    expect(sum.result).toBeCloseTo(viaScales(w, 'sum'), 12);
  });

  it("every label -100: 'nothing to train', never NaN", () => {
    const none = ids.map(() => IGNORE_INDEX);
    for (const mode of ['mean_tokens', 'mean_sequences', 'sum'] as const) {
      const a = lossArithmetic({ ids, labels: none, weights: [0, 0, 0, 0, 0], loss, mode });
      expect(a.result).toBe(NOTHING_TO_TRAIN);
      expect(a.sum).toBe(0);
      expect(a.trainedTokens).toBe(0);
      expect(a.rows.every((r) => r.term === 'skipped')).toBe(true);
    }
    // Only token 0 trained: it is never predicted, so there is still nothing to train.
    const first = lossArithmetic({ ids, labels: [7, -100, -100, -100, -100], weights: [1, 0, 0, 0, 0], loss, mode: 'mean_tokens' });
    expect(first.result).toBe(NOTHING_TO_TRAIN);
  });

  it('says which columns disagree in length', () => {
    expect(() => lossArithmetic({ ids, labels, weights: [1], loss, mode: 'sum' })).toThrow(/5 ids, 5 labels, 1 weights/);
  });
});
