/**
 * The loss rules every layer shares: Hugging Face's label convention (labels = input_ids, -100
 * where nothing is trained, shifted inside the loss: position t predicts the token at t+1), the
 * roles the prompt/response curves use, and how the weighted per-token losses are normalised.
 * The scales are computed on the CPU (they are tiny and known before the forward pass), by the
 * reference (src/reference/model.ts trainStep) and the GPU engine (src/engine/trainer.ts) alike.
 */

/** HF's ignore index: a label of -100 trains nothing. */
export const IGNORE_INDEX = -100;

/** How the weighted per-token losses are reduced to one objective. */
export type LossMode = 'mean_tokens' | 'mean_sequences' | 'sum';

/** Trained weight per sequence (B): sum over t < T-1 with labels[b,t+1] != -100 of weights[b,t+1]. */
export function trainedWeightPerSequence(labels: Int32Array, weights: Float64Array, B: number, T: number): Float64Array {
  const out = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    for (let t = 1; t < T; t++) {
      const n = b * T + t;
      if (labels[n] !== IGNORE_INDEX) out[b] += weights[n];
    }
  }
  return out;
}

/** Totals a micro-batch contributes to its accumulated step: trained weight, and sequences with weight > 0. */
export function trainedTotals(labels: Int32Array, weights: Float64Array, B: number, T: number): { weight: number; sequences: number } {
  const per = trainedWeightPerSequence(labels, weights, B, T);
  let weight = 0, sequences = 0;
  for (let b = 0; b < B; b++) {
    weight += per[b];
    if (per[b] > 0) sequences++;
  }
  return { weight, sequences };
}

/**
 * seqScale (B) for crossEntropyForward.
 * - 'mean_tokens' (default; HF num_items_in_batch): 1 / total trained weight over ALL micro-batches
 *   of the accumulated step (`totalTrainedWeight`; defaults to this micro-batch's own).
 * - 'mean_sequences': 1 / (trainedWeight_b * sequences with trained weight), 0 for a sequence with
 *   none. `totalTrainedSequences` counts over all micro-batches (defaults to this micro-batch).
 * - 'sum': 1.
 * Zero trained weight gives all-zero scales, never NaN; the trainer reports "no trained tokens".
 */
export function normalisationScales(
  labels: Int32Array, weights: Float64Array, B: number, T: number, mode: LossMode,
  totalTrainedWeight?: number, totalTrainedSequences?: number,
): Float64Array {
  const per = trainedWeightPerSequence(labels, weights, B, T);
  const own = trainedTotals(labels, weights, B, T);
  const scale = new Float64Array(B);
  if (mode === 'sum') {
    scale.fill(1);
  } else if (mode === 'mean_tokens') {
    const total = totalTrainedWeight ?? own.weight;
    if (total > 0) scale.fill(1 / total);
  } else {
    const sequences = totalTrainedSequences ?? own.sequences;
    for (let b = 0; b < B; b++) if (per[b] > 0) scale[b] = 1 / (per[b] * sequences);
  }
  return scale;
}

/** What a position's target token is, for the prompt/response curves: index (b,t) describes ids[b,t+1]. */
export const ROLE_NONE = 0, ROLE_PROMPT = 1, ROLE_RESPONSE = 2;
