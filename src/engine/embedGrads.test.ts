/**
 * Engine.evaluate(..., embedGrads = true): per-position ||d objective / d input embedding|| against
 * the Float64 reference (forward, crossEntropy, backward, activationGrad('encoded')), on a batch with
 * a masked prompt, prompt weights, padding and packed documents. Checks the property the heatmap
 * explains to users: masked (-100) positions have zero logit gradient but a non-zero embedding
 * gradient when a later trained position attends to them. Also: the evaluation changes no weights,
 * and a B×T smaller than the engine's is cut back to the caller's shape.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { MICRO_CONFIG } from '../spec/config';
import { Engine } from './trainer';
import { randomModel, testBatch } from '../reference/testkit';
import { activationGrad, backward, crossEntropy, forward, tensorView } from '../reference/model';
import type { Batch } from '../spec/batch';
import { IGNORE_INDEX, normalisationScales } from '../spec/loss';
import { compareTensor, formatComparison } from '../reference/fixture';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await acquireNodeDevice();
});

/** Reference ||d encoded|| per position (B*T). */
function referenceNorms(seed: number, batch: Batch): { norms: Float64Array; weights: Record<string, Float32Array> } {
  const ref = randomModel(MICRO_CONFIG, seed);
  const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
  forward(ref, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
  crossEntropy(ref, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, 'mean_tokens'));
  backward(ref);
  const d = activationGrad(ref, 'encoded');
  const C = MICRO_CONFIG.hidden_size;
  const norms = new Float64Array(batch.B * batch.T);
  for (let n = 0; n < norms.length; n++) norms[n] = Math.hypot(...d.subarray(n * C, (n + 1) * C));
  return { norms, weights };
}

describe('Engine.evaluate embedGrads', () => {
  it('matches the reference d encoded norms; masked positions: zero dlogit, non-zero dembed', async () => {
    const batch = testBatch(MICRO_CONFIG.vocab_size, 11);
    const { norms, weights } = referenceNorms(3, batch);
    // Engine larger than the batch: the result must still have the batch's (B, T).
    const engine = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B + 1, T: batch.T + 3, weights });
    const ev = await engine.evaluate(batch, 'mean_tokens', false, true);
    expect(ev.dembedNorms).toBeDefined();
    const r = compareTensor('dembedNorms', ev.dembedNorms!, norms, 1e-5, 1e-3);
    console.log(formatComparison(r));
    expect(r.failures, formatComparison(r)).toBe(0);

    // Position t's logits predict token t+1; a masked target means dlogits row t is exactly 0.
    const { B, T } = batch;
    let maskedWithGradient = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t + 1 < T; t++) {
        const n = b * T + t;
        if (batch.docIds[n] < 0) continue;
        if (batch.labels[n + 1] === IGNORE_INDEX) {
          expect(ev.dlogitNorms[n], `dlogit at (${b}, ${t})`).toBe(0);
          if (ev.dembedNorms![n] > 1e-6) maskedWithGradient++;
        }
      }
    }
    // Sequence 0 masks its first four targets, and trained tokens after them attend back.
    expect(maskedWithGradient).toBeGreaterThan(0);

    // No update: the weights are the ones given.
    const after = await engine.getParameters();
    for (const [k, w] of Object.entries(weights)) expect(after[k], k).toEqual(w);
    // Without the flag, no backward and no field.
    const plain = await engine.evaluate(batch);
    expect(plain.dembedNorms).toBeUndefined();
    engine.destroy();
  });
});
