/**
 * The loss of one sequence written out as arithmetic: one row per token, then the sum, the divisor
 * and the result, by the rules of loss.ts (the same ones the engine and the reference reduce with).
 *
 * Contract: inputs are (L,) columns of one sequence in the heatmap's convention, indexed by the
 * TARGET token: loss[i] = -log p(ids[i] | ids[<i]) (NaN for i = 0: nothing predicts it), labels[i]
 * the HF label (the id, or -100) and weights[i] its weight. Under the HF shift the logits at i-1
 * predict labels[i], so labels[0] never counts. A row counts when i ≥ 1 and labels[i] != -100;
 * sum = Σ weight·(-log p) over counted rows; the divisor is, for this one sequence:
 * - mean_tokens: the trained weight (the trained-token count when every weight is 1);
 * - mean_sequences: trained weight × sequences with trained weight (1 here), the same number;
 * - sum: 1.
 * With no trained weight the result is 'nothing to train': PyTorch's mean would be 0/0 = NaN, and
 * the engine reports the step as 'no trained tokens' instead of dividing.
 */
import { IGNORE_INDEX, type LossMode } from './loss';

/** The result when no target carries trained weight. */
export const NOTHING_TO_TRAIN = 'nothing to train';

export interface LossArithmeticRow {
  /** Position of the target token in the sequence (predicted by the logits at index - 1). */
  index: number;
  /** The target token's id, ids[index]. */
  target: number;
  /** Its label: the id, or -100. */
  label: number;
  /** p(target | earlier tokens) = exp(-loss); NaN for token 0. */
  p: number;
  /** -log p, or 'skipped' where the loss ignores the token (label -100, or token 0). */
  term: number | 'skipped';
  /** The weight the run trained this token with (it multiplies the term; skipped rows show theirs but add nothing). */
  weight: number;
}

export interface LossArithmetic {
  rows: LossArithmeticRow[];
  mode: LossMode;
  /** Σ weight · (-log p) over the rows that count. */
  sum: number;
  /** What the sum is divided by under `mode` (see the file comment). */
  divisor: number;
  /** Rows that count (i ≥ 1, label != -100). */
  trainedTokens: number;
  /** Σ weight over the rows that count. */
  trainedWeight: number;
  /** sum / divisor, or NOTHING_TO_TRAIN. */
  result: number | typeof NOTHING_TO_TRAIN;
}

export interface LossArithmeticInput {
  ids: ArrayLike<number>; // (L,)
  labels: ArrayLike<number>; // (L,)
  weights: ArrayLike<number>; // (L,)
  /** (L,) -log p(token i | tokens < i); NaN for token 0. */
  loss: ArrayLike<number>;
  mode: LossMode;
}

export function lossArithmetic({ ids, labels, weights, loss, mode }: LossArithmeticInput): LossArithmetic {
  const L = ids.length;
  if (labels.length !== L || weights.length !== L || loss.length !== L) {
    throw new Error(`The loss columns disagree in length: ${L} ids, ${labels.length} labels, ${weights.length} weights, ${loss.length} losses.`);
  }
  const rows: LossArithmeticRow[] = new Array(L);
  let sum = 0, trainedWeight = 0, trainedTokens = 0;
  for (let i = 0; i < L; i++) {
    const counts = i >= 1 && labels[i] !== IGNORE_INDEX;
    const term = counts ? loss[i] : 'skipped';
    rows[i] = { index: i, target: ids[i], label: labels[i], p: i >= 1 ? Math.exp(-loss[i]) : NaN, term, weight: weights[i] };
    if (counts) {
      sum += weights[i] * loss[i];
      trainedWeight += weights[i];
      trainedTokens++;
    }
  }
  const divisor = mode === 'sum' ? 1 : trainedWeight;
  const result = trainedWeight > 0 ? sum / divisor : NOTHING_TO_TRAIN;
  return { rows, mode, sum, divisor, trainedTokens, trainedWeight, result };
}
