/**
 * LoRA on the GPU engine (EngineOptions.lora) against the PyTorch LoRA fixture
 * (src/reference/fixtures/lora.json, scripts/make_lora_fixture.py) at the usual 1e-5 + 1e-3·|x|:
 * logits, loss, every adapter gradient, 10 AdamW steps with accumulation and clipping, and the
 * final adapter; the frozen weights stay bit-identical and no gradient of them is computed. A
 * 16-bit base (f16, bf16) is checked against the Float64 reference run on the very rounded values
 * the GPU holds. The merge (getParameters) is checked against the reference's forward.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { compareTensor, formatComparison, type TensorComparison } from '../reference/fixture';
import { loraFixtureBatch, loraFixtureCase, loraFixtureConfig, loraFixtureMicroBatches, loraFixtureTrainSettings, type LoraFixtureName } from '../reference/loraFixture';
import { Engine, mergeLora } from './trainer';
import { isF16Weight, layoutEstimate, memoryEstimate, type MemoryEstimate } from './layout';
import { DEFAULT_MATMUL_TILES } from './ops/matmul';
import { Decoder } from './generation';
import { generate } from '../model/generate';
import { attachLora, backward, createModel, crossEntropy, forward, loraGrads, setParams, trainStep, zeroGrads } from '../reference/model';
import { randomModel, testBatch } from '../reference/testkit';
import { MICRO_CONFIG } from '../spec/config';
import { initLora, loraTable, type LoraConfig } from '../spec/lora';
import { paramTable, PROJECTIONS } from '../spec/params';
import { fromHalfWords, toHalfWords, type HalfDtype } from '../spec/half';
import { normalisationScales } from '../spec/loss';
import { makeRng } from '../spec/rng';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await acquireNodeDevice();
});

function check(r: TensorComparison): TensorComparison {
  console.log(formatComparison(r));
  expect(r.failures, formatComparison(r)).toBe(0);
  return r;
}

const f32 = (t: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Float32Array.from(v)]));

async function runFixture(name: LoraFixtureName) {
  const c = loraFixtureCase(name);
  const lora = loraFixtureConfig(c);
  const batch = loraFixtureBatch(c);
  const settings = loraFixtureTrainSettings(c);
  const base = f32(c.params);

  const one = await Engine.create({ gpu, config: c.config, B: batch.B, T: batch.T, weights: base, lora: { config: lora, adapter: f32(c.adapter) } });
  // The model is frozen: no gradient, moment or weight-gradient dispatch exists for it.
  expect(one.layout.slots.gradients.size).toBe(loraTable(c.config, lora).length);
  for (const s of paramTable(c.config)) expect(one.layout.slots.gradients.has(s.name), s.name).toBe(false);
  const ev = await one.evaluate(batch, 'mean_tokens', true);
  check(compareTensor(`${name} logits`, ev.logits!, c.logits, 1e-5, 1e-3));
  check(compareTensor(`${name} loss`, [ev.sums.objective], [c.loss], 1e-5, 1e-3));
  const rep = await one.trainStep([batch], { ...settings, lr: 0 });
  expect(rep.status).toBe('ok');
  const grads = await one.getGradients();
  expect(Object.keys(grads)).toEqual(c.lora.tensors);
  for (const [k, want] of Object.entries(c.adapterGrads)) check(compareTensor(`${name} grad ${k}`, grads[k], want, 1e-5, 1e-3));
  one.destroy();

  const micro = loraFixtureMicroBatches(c);
  const eng = await Engine.create({ gpu, config: c.config, B: Math.max(...micro.map((m) => m.B)), T: batch.T, microBatches: micro.length, weights: base, lora: { config: lora, adapter: f32(c.adapter) } });
  const reports = await Promise.all(c.steps.losses.map(() => eng.trainStep(micro, settings)));
  reports.forEach((r, i) => {
    expect(r.status).toBe('ok');
    expect(r.optimizerStep).toBe(i + 1);
  });
  check(compareTensor(`${name} 10-step losses`, reports.map((r) => r.loss), c.steps.losses, 1e-5, 1e-3));
  check(compareTensor(`${name} 10-step grad norms`, reports.map((r) => r.gradNorm), c.steps.gradNorms, 1e-5, 1e-3));
  check(compareTensor(`${name} 10-step clip factors`, reports.map((r) => r.clipFactor), c.steps.clipFactors, 1e-5, 1e-3));
  expect(reports.flatMap((r) => (r.clipFactor < 1 ? [r.step] : []))).toEqual(c.steps.clippedSteps);
  const adapter = await eng.getAdapter();
  for (const [k, want] of Object.entries(c.finalAdapter)) check(compareTensor(`${name} final ${k}`, adapter[k], want, 1e-5, 1e-3));
  const frozen = await eng.getFrozenParameters();
  for (const [k, v] of Object.entries(base)) expect(frozen[k], `${k} bit-identical after 10 steps`).toEqual(v);
  eng.destroy();
}

describe('LoRA on the GPU engine vs the PyTorch fixture', () => {
  it('micro_lora: all seven projections, r 4, qkv bias, GQA, accumulation and clipping', async () => {
    await runFixture('micro_lora');
  });
  it('tied_attn_lora: q and v only, tied embeddings, r 2', async () => {
    await runFixture('tied_attn_lora');
  });
});

describe('LoRA engine', () => {
  const ALL: LoraConfig = { r: 3, alpha: 6, targets: PROJECTIONS };

  it('records no weight-gradient product for frozen matrices and no embedding or norm weight backward', async () => {
    const ref = randomModel(MICRO_CONFIG, 2);
    const weights = f32(Object.fromEntries(ref.layout.slots.map((s) => [s.name, ref.params.subarray(s.offset, s.offset + s.size)])));
    const eng = await Engine.create({ gpu, config: MICRO_CONFIG, B: 2, T: 8, weights, lora: { config: ALL } });
    // The recorded program (replayed every step) is what a step runs.
    const labels = (eng as unknown as { program: { backward: { label: string }[] } }).program.backward.map((d) => d.label);
    expect(labels.filter((l) => l.startsWith('MatmulBackwardDw'))).toEqual([]);
    expect(labels.filter((l) => l.startsWith('EmbeddingBackward') || l.startsWith('RmsnormBackwardWeight'))).toEqual([]);
    expect(labels.filter((l) => l.startsWith('LoraBackwardDa'))).toHaveLength(7 * MICRO_CONFIG.num_hidden_layers);
    eng.destroy();
  });

  it('the size table: LoRA keeps no gradients or moments of the model; a 16-bit base halves the projections', () => {
    const cfg = { ...MICRO_CONFIG, vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 4 };
    const full = memoryEstimate(cfg, 2, 16);
    const lf32 = memoryEstimate(cfg, 2, 16, 1, undefined, false, { config: ALL });
    const lbf16 = memoryEstimate(cfg, 2, 16, 1, undefined, false, { config: ALL, baseDtype: 'bf16' });
    const adapterBytes = loraTable(cfg, ALL).reduce((a, s) => a + Math.ceil((s.shape[0] * s.shape[1] * 4) / 256) * 256, 0);
    expect(lf32.parameters).toBe(adapterBytes);
    expect(lf32.gradients).toBe(adapterBytes);
    expect(lf32.frozen).toBe(full.parameters);
    const projBytes = paramTable(cfg).filter((s) => isF16Weight(s.name)).reduce((a, s) => a + s.shape[0] * s.shape[1] * 4, 0);
    expect(lbf16.weights_f16).toBeCloseTo(projBytes / 2, -3);
    expect(lbf16.frozen + lbf16.weights_f16).toBeLessThan(lf32.frozen);
    expect(lf32.total).toBeLessThan(full.total);
    expect(lbf16.total).toBeLessThan(lf32.total);
  });

  for (const dtype of ['f16', 'bf16'] as HalfDtype[]) {
    it(`a ${dtype} base matches the reference run on the very ${dtype} values the GPU holds`, async () => {
      const ref = randomModel(MICRO_CONFIG, 4);
      const weights = f32(Object.fromEntries(ref.layout.slots.map((s) => [s.name, ref.params.subarray(s.offset, s.offset + s.size)])));
      const adapter = initLora(MICRO_CONFIG, ALL, 8);
      const rng = makeRng(1);
      for (const [k, v] of Object.entries(adapter)) if (k.includes('lora_B')) for (let i = 0; i < v.length; i++) v[i] = 0.2 * rng.normal();
      const batch = testBatch(MICRO_CONFIG.vocab_size, 5);
      const eng = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights, lora: { config: ALL, adapter: f32(adapter), baseDtype: dtype } });
      const held = await eng.getFrozenParameters();
      // The GPU holds the 16-bit rounding of each projection, the other tensors as given.
      for (const s of paramTable(MICRO_CONFIG)) {
        const want = isF16Weight(s.name) ? fromHalfWords(toHalfWords(weights[s.name], dtype), weights[s.name].length, dtype) : weights[s.name];
        expect(held[s.name], s.name).toEqual(want);
      }
      expect(held['model.layers.0.mlp.up_proj.weight']).not.toEqual(weights['model.layers.0.mlp.up_proj.weight']);
      const model = createModel(MICRO_CONFIG);
      setParams(model, held);
      attachLora(model, ALL, adapter);
      zeroGrads(model);
      forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
      const sums = crossEntropy(model, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, 'mean_tokens'));
      backward(model);
      const settings = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1, lossMode: 'mean_tokens' as const };
      const r1 = await eng.trainStep([batch], settings);
      check(compareTensor(`${dtype} base loss`, [r1.loss], [sums.objective], 1e-5, 1e-3));
      const grads = await eng.getGradients();
      for (const [k, want] of Object.entries(loraGrads(model))) check(compareTensor(`${dtype} base grad ${k}`, grads[k], want, 1e-5, 1e-3));
      attachLora(model, ALL, adapter);
      const refSteps = [0, 1, 2].map(() => trainStep(model, [batch], settings));
      const gpuSteps = [r1, await eng.trainStep([batch], settings), await eng.trainStep([batch], settings)];
      check(compareTensor(`${dtype} base 3-step losses`, gpuSteps.map((r) => r.loss), refSteps.map((r) => r.loss), 1e-5, 1e-3));
      expect(await eng.getFrozenParameters()).toEqual(held);
      eng.destroy();
    });
  }

  it('getParameters is the merged model: its plain forward gives the adapted logits', async () => {
    const ref = randomModel(MICRO_CONFIG, 6);
    const weights = f32(Object.fromEntries(ref.layout.slots.map((s) => [s.name, ref.params.subarray(s.offset, s.offset + s.size)])));
    const adapter = initLora(MICRO_CONFIG, ALL, 2);
    const rng = makeRng(3);
    for (const [k, v] of Object.entries(adapter)) if (k.includes('lora_B')) for (let i = 0; i < v.length; i++) v[i] = 0.2 * rng.normal();
    const batch = testBatch(MICRO_CONFIG.vocab_size, 7);
    const eng = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights, lora: { config: ALL, adapter: f32(adapter) } });
    const adapted = await eng.evaluate(batch, 'mean_tokens', true);
    const merged = await eng.getParameters();
    expect(merged).toEqual(mergeLora(MICRO_CONFIG, ALL, weights, f32(adapter)));
    const plain = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights: merged });
    const ev = await plain.evaluate(batch, 'mean_tokens', true);
    check(compareTensor('merged vs adapted logits', ev.logits!, adapted.logits!, 1e-5, 1e-3));
    eng.destroy();
    plain.destroy();
  });

  it('an evaluation-only engine (the scratch engine): same logits and embedding gradients as a full one, a decoder on it, a quarter of the weight memory, no training', async () => {
    const ref = randomModel(MICRO_CONFIG, 9);
    const weights = f32(Object.fromEntries(ref.layout.slots.map((s) => [s.name, ref.params.subarray(s.offset, s.offset + s.size)])));
    const batch = testBatch(MICRO_CONFIG.vocab_size, 2);
    const full = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights, matmulTiles: DEFAULT_MATMUL_TILES });
    const ev = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights, evalOnly: true, matmulTiles: DEFAULT_MATMUL_TILES });
    expect(ev.trainedTable).toEqual([]);
    expect(ev.layout.slots.gradients.size + ev.layout.slots.adam_m.size).toBe(0);
    const a = await full.evaluate(batch, 'mean_tokens', true, true), b = await ev.evaluate(batch, 'mean_tokens', true, true);
    expect(Array.from(b.logits!)).toEqual(Array.from(a.logits!));
    expect(Array.from(b.dembedNorms!)).toEqual(Array.from(a.dembedNorms!));
    expect(await ev.getParameters()).toEqual(weights);
    expect(() => ev.trainStep([batch], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, lossMode: 'mean_tokens' })).toThrow(/evaluation only/);
    const decode = async (e: Engine) => {
      const dec = await Decoder.create(e, { maxContext: 12 });
      try {
        return (await generate(dec, [1, 5, 9], { maxNewTokens: 6, temperature: 0, stopTokenIds: [] })).tokens;
      } finally {
        dec.destroy();
      }
    };
    expect(await decode(ev)).toEqual(await decode(full));
    const bytes = (o: { evalOnly?: boolean }) => layoutEstimate(MICRO_CONFIG, 2, 16, o);
    const weightBytes = (e: MemoryEstimate) => e.parameters + e.gradients + e.adam_m + e.adam_v + e.frozen;
    expect(weightBytes(bytes({ evalOnly: true })) * 4).toBe(weightBytes(bytes({})));
    full.destroy();
    ev.destroy();
  });
});
