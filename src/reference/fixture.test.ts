/**
 * The CPU reference against PyTorch (float64, scripts/make_fixture.py): logits, dlogits, ruler
 * losses, the loss in every normalisation mode, every parameter gradient, and 10 AdamW steps with
 * gradient accumulation and clipping. Both sides are float64, so the bounds sit a few hundred ulps
 * above round-off (summation order differs from BLAS): atol 1e-12 + rtol 1e-10 for tensors,
 * 1e-11 for step losses and grad norms. Measured: max|Δ| ≈ 4e-15 on every tensor.
 */
import { describe, expect, it } from 'vitest';
import {
  compareTensor, fixtureBatch, fixtureCase, fixtureMicroBatches, fixtureTrainSettings, formatComparison,
  loadMicroFixture, type FixtureCase, type TensorComparison,
} from './fixture';
import { activationGrad, backward, createModel, crossEntropy, forward, setParams, tensorView, trainStep, zeroGrads } from './model';
import { normalisationScales, type LossMode } from '../spec/loss';

const ATOL = 1e-12, RTOL = 1e-10;

function check(r: TensorComparison): void {
  console.log(formatComparison(r));
  expect(r.failures, formatComparison(r)).toBe(0);
}

function runCase(c: FixtureCase): void {
  const model = createModel(c.config);
  setParams(model, c.params);
  const batch = fixtureBatch(c);
  const { B, T } = batch;

  const lossOf = (mode: LossMode) => {
    forward(model, batch.ids, batch.docIds, batch.positions, B, T);
    return crossEntropy(model, batch, normalisationScales(batch.labels, batch.weights, B, T, mode));
  };
  for (const mode of ['sum', 'mean_sequences'] as const) {
    const got = lossOf(mode).objective;
    console.log(`${c.name} loss (${mode}): ${got} vs torch ${c.lossByMode[mode]}  |Δ| ${Math.abs(got - c.lossByMode[mode]).toExponential(2)}`);
    expect(got).toBeCloseTo(c.lossByMode[mode], 10);
  }

  zeroGrads(model);
  const logits = forward(model, batch.ids, batch.docIds, batch.positions, B, T);
  check(compareTensor(`${c.name} logits`, logits, c.logits, ATOL, RTOL));
  const r = crossEntropy(model, batch, normalisationScales(batch.labels, batch.weights, B, T, 'mean_tokens'));
  console.log(`${c.name} loss (mean_tokens): ${r.objective} vs torch ${c.loss}  |Δ| ${Math.abs(r.objective - c.loss).toExponential(2)}`);
  expect(r.objective).toBeCloseTo(c.loss, 12);
  expect(r.trainedWeight).toBeCloseTo(c.trainedWeight, 12);
  expect(r.objective).toBeCloseTo(c.lossByMode.mean_tokens, 12);
  check(compareTensor(`${c.name} rulerLosses`, model.acts!.a.losses, c.rulerLosses, ATOL, RTOL));
  check(compareTensor(`${c.name} dlogits`, activationGrad(model, 'logits'), c.dlogits, ATOL, RTOL));
  backward(model);
  const names = model.layout.slots.map((s) => s.name);
  expect(names.sort()).toEqual(Object.keys(c.grads).sort());
  for (const s of model.layout.slots) check(compareTensor(`${c.name} grad ${s.name}`, tensorView(model.layout, model.grads, s.name), c.grads[s.name], ATOL, RTOL));

  const settings = fixtureTrainSettings(c);
  const micro = fixtureMicroBatches(c);
  const fresh = createModel(c.config);
  setParams(fresh, c.params);
  const clipped: number[] = [];
  for (let i = 0; i < c.steps.losses.length; i++) {
    const rep = trainStep(fresh, micro, settings);
    expect(rep.status).toBe('ok');
    if (rep.clipFactor < 1) clipped.push(rep.step);
    const dl = Math.abs(rep.loss - c.steps.losses[i]), dn = Math.abs(rep.gradNorm - c.steps.gradNorms[i]);
    console.log(`${c.name} step ${rep.step}: loss ${rep.loss.toFixed(12)} (torch ${c.steps.losses[i].toFixed(12)}, |Δ| ${dl.toExponential(2)})  grad norm ${rep.gradNorm.toFixed(6)} (|Δ| ${dn.toExponential(2)})  clip ${rep.clipFactor.toFixed(6)}`);
    expect(dl).toBeLessThan(1e-11);
    expect(dn).toBeLessThan(1e-11);
    expect(rep.clipFactor).toBeCloseTo(c.steps.clipFactors[i], 10);
  }
  expect(clipped).toEqual(c.steps.clippedSteps);
  expect(clipped.length).toBeGreaterThan(0);
  expect(clipped.length).toBeLessThan(c.steps.losses.length);
}

describe('reference vs PyTorch fixture', () => {
  it('fixture file is what the tests expect', () => {
    const f = loadMicroFixture();
    expect(f.dtype).toBe('float64');
    expect(f.cases.map((c) => c.name)).toEqual(['micro', 'tiny_tied']);
  });

  it('micro: untied, qkv bias, GQA; padding, packed documents, weighted labels', () => {
    runCase(fixtureCase('micro'));
  });

  it('tiny_tied: tied embeddings, no bias, one kv head, rope_theta 500000', () => {
    runCase(fixtureCase('tiny_tied'));
  });
});
