/**
 * LoRA in the reference (src/spec/lora.ts semantics): adapter gradients against central finite
 * differences on every target module, a fresh adapter changes nothing, training moves only the
 * adapter, and the merged weights W + (alpha/r)·B·A give the adapted model's logits.
 */
import { describe, expect, it } from 'vitest';
import { MICRO_CONFIG } from '../spec/config';
import { DEFAULT_LORA, initLora, loraScale, loraTable, loraTargets, validateLora, type LoraConfig } from '../spec/lora';
import { PROJECTIONS } from '../spec/params';
import { normalisationScales } from '../spec/loss';
import { makeRng } from '../spec/rng';
import { formatCheck, gradCheck } from './gradcheck';
import { attachLora, backward, crossEntropy, forward, loraGrads, loraParams, trainStep, zeroGrads, type ReferenceModel } from './model';
import { randomModel, testBatch } from './testkit';
import type { Batch } from '../spec/batch';

const ALL: LoraConfig = { r: 3, alpha: 5, targets: PROJECTIONS };

function objective(model: ReferenceModel, batch: Batch): number {
  forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
  return crossEntropy(model, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, 'mean_tokens')).objective;
}

/** An adapter with non-zero B too, so every gradient path (dA needs B ≠ 0) is exercised. */
function randomAdapter(model: ReferenceModel, l: LoraConfig, seed: number): void {
  const t = initLora(model.config, l, seed);
  const rng = makeRng(seed + 5);
  for (const [name, v] of Object.entries(t)) if (name.includes('lora_B')) for (let i = 0; i < v.length; i++) v[i] = 0.3 * rng.normal();
  attachLora(model, l, t);
}

describe('reference LoRA', () => {
  it('size table: PEFT names, (r, I) and (O, r), targets in projection order', () => {
    const t = loraTable(MICRO_CONFIG, { r: 4, alpha: 8, targets: ['v', 'q'] });
    expect(t.slice(0, 4)).toEqual([
      { name: 'model.layers.0.self_attn.q_proj.lora_A.weight', shape: [4, 24] },
      { name: 'model.layers.0.self_attn.q_proj.lora_B.weight', shape: [24, 4] },
      { name: 'model.layers.0.self_attn.v_proj.lora_A.weight', shape: [4, 24] },
      { name: 'model.layers.0.self_attn.v_proj.lora_B.weight', shape: [12, 4] },
    ]);
    expect(t).toHaveLength(2 * 2 * MICRO_CONFIG.num_hidden_layers);
    const down = loraTargets(MICRO_CONFIG, { r: 2, alpha: 2, targets: ['down'] })[0];
    expect([down.O, down.I]).toEqual([24, 40]);
  });

  it('init: B = 0, A uniform in ±1/√I (kaiming_uniform a=√5), seeded', () => {
    const a = initLora(MICRO_CONFIG, DEFAULT_LORA, 1), b = initLora(MICRO_CONFIG, DEFAULT_LORA, 1);
    const A = a['model.layers.1.self_attn.o_proj.lora_A.weight'];
    expect(A).toEqual(b['model.layers.1.self_attn.o_proj.lora_A.weight']);
    const bound = 1 / Math.sqrt(24);
    expect(Math.max(...A.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...A.map(Math.abs))).toBeGreaterThan(0.8 * bound);
    expect(a['model.layers.1.self_attn.o_proj.lora_B.weight'].every((x) => x === 0)).toBe(true);
    expect(initLora(MICRO_CONFIG, DEFAULT_LORA, 2)['model.layers.1.self_attn.o_proj.lora_A.weight']).not.toEqual(A);
  });

  it('bad settings are refused with what to change', () => {
    expect(() => validateLora({ r: 0, alpha: 8, targets: ['q'] })).toThrow(/rank r must be a positive integer/);
    expect(() => validateLora({ r: 4, alpha: 8, targets: [] })).toThrow(/at least one target/);
    expect(() => validateLora({ r: 4, alpha: -1, targets: ['q'] })).toThrow(/alpha/);
    expect(() => validateLora({ r: 64, alpha: 8, targets: ['q'] }, MICRO_CONFIG)).toThrow(/exceeds the model width 24/);
  });

  it('a fresh adapter (B = 0) leaves the logits exactly unchanged', () => {
    const model = randomModel(MICRO_CONFIG, 3);
    const batch = testBatch(MICRO_CONFIG.vocab_size, 4);
    const before = forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T).slice();
    attachLora(model, ALL, initLora(MICRO_CONFIG, ALL, 9));
    const after = forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('adapter gradients match central finite differences on every target module', () => {
    const model = randomModel(MICRO_CONFIG, 7);
    const batch = testBatch(MICRO_CONFIG.vocab_size, 11);
    randomAdapter(model, ALL, 21);
    zeroGrads(model);
    objective(model, batch);
    backward(model);
    const grads = loraGrads(model);
    const lora = model.lora!;
    const rng = makeRng(5);
    for (const s of lora.layout.slots) {
      const view = lora.params.subarray(s.offset, s.offset + s.size);
      const idx = Array.from({ length: 4 }, () => rng.int(0, s.size));
      const r = gradCheck(`lora ${s.name}`, () => objective(model, batch), view, grads[s.name], { indices: idx, atol: 1e-9, rtol: 1e-6 });
      expect(r.failures, formatCheck(r)).toBe(0);
    }
  });

  it('training moves only the adapter: every model parameter stays bit-identical', () => {
    const model = randomModel(MICRO_CONFIG, 8);
    const batch = testBatch(MICRO_CONFIG.vocab_size, 12);
    attachLora(model, DEFAULT_LORA, initLora(MICRO_CONFIG, DEFAULT_LORA, 3));
    const frozen = model.params.slice();
    const a0 = loraParams(model);
    const s = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1, lossMode: 'mean_tokens' as const };
    const losses = [0, 1, 2, 3].map(() => trainStep(model, [batch], s).loss);
    expect(model.step).toBe(4);
    expect(Array.from(model.params)).toEqual(Array.from(frozen));
    const a1 = loraParams(model);
    expect(a1['model.layers.0.self_attn.q_proj.lora_B.weight'].some((x) => x !== 0)).toBe(true);
    expect(a1['model.layers.0.self_attn.q_proj.lora_A.weight']).not.toEqual(a0['model.layers.0.self_attn.q_proj.lora_A.weight']);
    expect(losses[3]).toBeLessThan(losses[0]);
  });

  it('merging W + (alpha/r)·B·A reproduces the adapted logits', () => {
    const model = randomModel(MICRO_CONFIG, 10);
    const batch = testBatch(MICRO_CONFIG.vocab_size, 13);
    randomAdapter(model, ALL, 30);
    const adapted = forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T).slice();
    const merged = randomModel(MICRO_CONFIG, 10);
    const s = loraScale(ALL);
    for (const t of model.lora!.targets) {
      const { A, B } = model.lora!.views.get(`${t.layer}.${t.key}`)!;
      const slot = merged.layout.byName.get(t.base)!;
      for (let o = 0; o < t.O; o++) for (let i = 0; i < t.I; i++) {
        let d = 0;
        for (let j = 0; j < ALL.r; j++) d += B[o * ALL.r + j] * A[j * t.I + i];
        merged.params[slot.offset + o * t.I + i] += s * d;
      }
    }
    const plain = forward(merged, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
    let worst = 0;
    for (let i = 0; i < plain.length; i++) worst = Math.max(worst, Math.abs(plain[i] - adapted[i]));
    expect(worst).toBeLessThan(1e-10);
  });
});
