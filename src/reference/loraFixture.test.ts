/**
 * LoRA in the CPU reference against PyTorch (float64, scripts/make_lora_fixture.py): logits with a
 * trained-looking adapter (B ≠ 0), the mean_tokens loss, every adapter gradient, 10 AdamW steps over
 * the adapter only (losses, pre-clip grad norms over the adapter gradients, clip factors), the
 * adapter after them, and the base parameters bit-identical afterwards. Both sides are float64, so
 * the bounds are fixture.test.ts's: atol 1e-12 + rtol 1e-10 for tensors, 1e-11 for step losses and
 * grad norms (the GPU engine's f32 bound is 1e-5 + 1e-3·|x|).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compareTensor, formatComparison, type TensorComparison } from './fixture';
import {
  loadLoraFixture, loraFixtureBatch, loraFixtureCase, loraFixtureConfig, loraFixtureMicroBatches, loraFixtureTrainSettings,
  type LoraFixtureCase, type LoraFixtureName,
} from './loraFixture';
import { attachLora, backward, createModel, crossEntropy, forward, loraGrads, loraParams, setParams, tensorView, trainStep, zeroGrads, type ReferenceModel } from './model';
import { normalisationScales } from '../spec/loss';
import { MODULE_NAMES } from '../spec/lora';
import type { TrainSettings } from '../spec/step';

const ATOL = 1e-12, RTOL = 1e-10;

function check(r: TensorComparison): TensorComparison {
  console.log(formatComparison(r));
  expect(r.failures, formatComparison(r)).toBe(0);
  return r;
}

/** sha256 over each tensor's float64 little-endian bytes, tensors in sorted-name order (the script's sha256_params). */
function paramsSha256(tensors: Record<string, ArrayLike<number>>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(tensors).sort()) {
    const v = Float64Array.from(tensors[name]);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest('hex');
}

function adaptedModel(c: LoraFixtureCase): ReferenceModel {
  const model = createModel(c.config);
  setParams(model, c.params);
  attachLora(model, loraFixtureConfig(c), c.adapter);
  return model;
}

/** 10 steps from the fixture's start; returns the model and its reports. */
function train(c: LoraFixtureCase, settings: TrainSettings) {
  const model = adaptedModel(c);
  const micro = loraFixtureMicroBatches(c);
  const reports = c.steps.losses.map(() => trainStep(model, micro, settings));
  return { model, reports };
}

function runCase(name: LoraFixtureName): void {
  const c = loraFixtureCase(name);
  const batch = loraFixtureBatch(c);
  const { B, T } = batch;
  expect(c.lora.targetModules).toEqual(c.lora.targets.map((t) => MODULE_NAMES[t]));
  expect(c.base.unchanged).toBe(true);
  expect(paramsSha256(c.params), 'the JSON base parameters are the ones torch used').toBe(c.base.sha256Before);

  // Forward, loss and adapter gradients with the initial adapter.
  const model = adaptedModel(c);
  expect(model.lora!.layout.slots.map((s) => s.name)).toEqual(c.lora.tensors);
  expect(model.lora!.scale).toBe(c.lora.scale);
  zeroGrads(model);
  const logits = forward(model, batch.ids, batch.docIds, batch.positions, B, T);
  check(compareTensor(`${name} logits`, logits, c.logits, ATOL, RTOL));
  const r = crossEntropy(model, batch, normalisationScales(batch.labels, batch.weights, B, T, 'mean_tokens'));
  console.log(`${name} loss (mean_tokens): ${r.objective} vs torch ${c.loss}  |Δ| ${Math.abs(r.objective - c.loss).toExponential(2)}`);
  check(compareTensor(`${name} loss (mean_tokens)`, [r.objective], [c.loss], ATOL, RTOL));
  check(compareTensor(`${name} trainedWeight`, [r.trainedWeight], [c.trainedWeight], ATOL, RTOL));
  backward(model);
  const grads = loraGrads(model);
  expect(Object.keys(grads)).toEqual(Object.keys(c.adapterGrads));
  let worstGrad = 0;
  for (const [k, want] of Object.entries(c.adapterGrads)) {
    expect(want.some((x) => x !== 0), `${k}: the fixture gradient is non-zero`).toBe(true);
    worstGrad = Math.max(worstGrad, check(compareTensor(`${name} grad ${k}`, grads[k], want, ATOL, RTOL)).maxAbs);
  }
  console.log(`${name}: worst adapter gradient max|Δ| ${worstGrad.toExponential(2)}`);

  // 10 AdamW steps over the adapter only.
  const settings = loraFixtureTrainSettings(c);
  expect(settings.weightDecay).toBeGreaterThan(0);
  const { model: trained, reports } = train(c, settings);
  const clipped: number[] = [];
  reports.forEach((rep, i) => {
    expect(rep.status).toBe('ok');
    expect(rep.step).toBe(i + 1);
    if (rep.clipFactor < 1) clipped.push(rep.step);
    const dl = Math.abs(rep.loss - c.steps.losses[i]), dn = Math.abs(rep.gradNorm - c.steps.gradNorms[i]);
    console.log(`${name} step ${rep.step}: loss ${rep.loss.toFixed(12)} (torch ${c.steps.losses[i].toFixed(12)}, |Δ| ${dl.toExponential(2)})  grad norm ${rep.gradNorm.toFixed(6)} (|Δ| ${dn.toExponential(2)})  clip ${rep.clipFactor.toFixed(6)}`);
    expect(dl).toBeLessThan(1e-11);
    expect(dn).toBeLessThan(1e-11);
  });
  check(compareTensor(`${name} 10-step losses`, reports.map((x) => x.loss), c.steps.losses, ATOL, RTOL));
  check(compareTensor(`${name} 10-step grad norms`, reports.map((x) => x.gradNorm), c.steps.gradNorms, ATOL, RTOL));
  check(compareTensor(`${name} 10-step clip factors`, reports.map((x) => x.clipFactor), c.steps.clipFactors, ATOL, RTOL));
  expect(clipped).toEqual(c.steps.clippedSteps);
  expect(clipped.length).toBeGreaterThan(0);
  expect(clipped.length).toBeLessThan(c.steps.losses.length);

  // The adapter after the 10 steps. It must have moved far beyond the bound, or the check is empty.
  const final = loraParams(trained);
  expect(Object.keys(final)).toEqual(Object.keys(c.finalAdapter));
  let worstFinal = 0;
  for (const [k, want] of Object.entries(c.finalAdapter)) {
    const moved = compareTensor(`${k} moved`, c.adapter[k], want, ATOL, RTOL);
    expect(moved.maxAbs, `${k}: training moved it`).toBeGreaterThan(1e-3);
    worstFinal = Math.max(worstFinal, check(compareTensor(`${name} final ${k}`, final[k], want, ATOL, RTOL)).maxAbs);
  }
  console.log(`${name}: worst final adapter max|Δ| ${worstFinal.toExponential(2)}`);

  // The base parameters: bit-identical, and the checksum torch reported after its 10 steps.
  for (const s of trained.layout.slots) {
    expect(Array.from(tensorView(trained.layout, trained.params, s.name)), `${s.name} frozen`).toEqual(c.params[s.name]);
  }
  const after = Object.fromEntries(trained.layout.slots.map((s) => [s.name, tensorView(trained.layout, trained.params, s.name)]));
  expect(paramsSha256(after)).toBe(c.base.sha256After);

  // The final check sees weight decay on A and B: without it, the adapter misses the fixture.
  const { model: noDecay } = train(c, { ...settings, weightDecay: 0 });
  const off = Object.entries(loraParams(noDecay)).map(([k, v]) => compareTensor(k, v, c.finalAdapter[k], ATOL, RTOL));
  expect(off.every((x) => x.failures > 0), 'every adapter tensor misses the fixture without weight decay').toBe(true);
}

describe('reference LoRA vs PyTorch fixture', () => {
  it('fixture file is what the tests expect', () => {
    const f = loadLoraFixture();
    expect(f.dtype).toBe('float64');
    expect(f.cases.map((c) => c.name)).toEqual(['micro_lora', 'tied_attn_lora']);
  });

  it('micro_lora: MICRO_CONFIG, all 7 targets, r 4, alpha 8; padding, packed documents, weighted labels', () => {
    runCase('micro_lora');
  });

  it('tied_attn_lora: tied embeddings, no bias, one kv head; q and v only, r 2, alpha 4', () => {
    runCase('tied_attn_lora');
  });
});
