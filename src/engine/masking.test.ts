/**
 * Masking and step semantics on the GPU: dlogits exactly 0 where nothing is trained, prompt
 * embeddings still get gradient in response-only mode, a batch with no trained token changes
 * nothing, a non-finite loss/gradient is reported with its step number and leaves weights and
 * optimizer state untouched, and accumulation over micro-batches equals one big batch.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { readF32 } from '../gpu/buffers';
import { MICRO_CONFIG } from '../spec/config';
import { packBatch, selectSequences, type Batch } from '../spec/batch';
import type { TrainSettings } from '../spec/step';
import { randomModel } from '../reference/testkit';
import { tensorView } from '../reference/model';
import { compareTensor, formatComparison } from '../reference/fixture';
import { DEFAULT_TRAIN_SETTINGS, Engine } from './trainer';

const cfg = MICRO_CONFIG;
const V = cfg.vocab_size, C = cfg.hidden_size;
const M = -100;
let gpu: Gpu;
let weights: Record<string, Float32Array>;
const settings: TrainSettings = { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2, weightDecay: 0.1 };

beforeAll(async () => {
  gpu = await acquireNodeDevice();
  const ref = randomModel(cfg, 3);
  weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
});

/** Response-only batch: prompt tokens use ids 1..9, responses ids 10..19; ids >= 20 never occur. */
function responseOnly(): Batch {
  return packBatch([
    { ids: [1, 2, 3, 4, 10, 11, 12, 13], labels: [M, M, M, M, 10, 11, 12, 13], tokenRoles: [1, 1, 1, 1, 2, 2, 2, 2] },
    { ids: [5, 6, 7, 14, 15], labels: [M, M, M, 14, 15], tokenRoles: [1, 1, 1, 2, 2] },
  ], 8);
}

const allMasked = (b: Batch): Batch => ({ ...b, labels: new Int32Array(b.labels.length).fill(M) });

async function params(e: Engine) {
  return e.getParameters();
}

describe('GPU masking semantics', () => {
  it('dlogits are exactly 0 at -100 labels, padding and t = T-1; prompt embeddings still get gradient', async () => {
    const e = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    const batch = responseOnly();
    const r = await e.trainStep([batch], { ...settings, lr: 0 });
    expect(r.status).toBe('ok');
    expect(r.trainedCount).toBe(6); // 4 + 2 response tokens predicted
    // V fits one LM-head chunk, so after backward the chunk buffer holds the whole (N, V) dlogits.
    expect(e.layout.vocabChunk).toBe(V);
    const dl = await readF32(gpu.device, e.tensor('activations', 'lmHead.chunk'));
    let zeroRows = 0;
    for (let n = 0; n < batch.B * batch.T; n++) {
      const t = n % batch.T;
      const trained = t < batch.T - 1 && batch.labels[n + 1] !== M;
      const row = dl.subarray(n * V, (n + 1) * V);
      if (!trained) {
        zeroRows++;
        row.forEach((x, i) => expect(Object.is(x, 0), `dlogits[${n}, ${i}] = ${x}`).toBe(true));
      } else {
        expect(row.some((x) => x !== 0)).toBe(true);
      }
    }
    expect(zeroRows).toBe(batch.B * batch.T - 6);
    const g = (await e.getGradients())['model.embed_tokens.weight'];
    const rowNorm = (id: number) => Math.hypot(...g.subarray(id * C, (id + 1) * C));
    for (const id of [1, 2, 3, 5, 6, 7]) expect(rowNorm(id), `prompt token ${id}`).toBeGreaterThan(1e-6);
    for (const id of [20, 30, 66]) expect(rowNorm(id), `absent token ${id}`).toBe(0);
    // Token 4 and 13 are inputs whose own prediction is untrained or absent; 4 feeds later positions.
    expect(rowNorm(4)).toBeGreaterThan(1e-6);
    e.destroy();
  });

  it('a step with no trained token is reported and changes nothing; the next step is update 1', async () => {
    const e = await Engine.create({ gpu, config: cfg, B: 2, T: 8, microBatches: 2, weights });
    const before = await params(e);
    const batch = allMasked(responseOnly());
    const r = await e.trainStep([selectSequences(batch, [0]), selectSequences(batch, [1])], settings);
    console.log(r.message);
    expect(r.status).toBe('no trained tokens');
    expect(r.step).toBe(1);
    expect(r.message).toMatch(/^Step 1: no position/);
    expect(r.optimizerStep).toBe(0);
    expect(r.trainedCount).toBe(0);
    expect(r.loss).toBe(0);
    expect(Number.isFinite(r.promptLossSum) && r.promptCount > 0).toBe(true); // ruler losses still measured
    expect(await params(e)).toEqual(before);
    const m = await readF32(gpu.device, e.tensor('adam_m', 'model.embed_tokens.weight'));
    expect(m.every((x) => x === 0)).toBe(true);
    const ok = await e.trainStep([responseOnly()], settings);
    expect(ok.status).toBe('ok');
    expect(ok.step).toBe(2);
    expect(ok.optimizerStep).toBe(1);
    expect((await params(e))['model.layers.0.mlp.up_proj.weight']).not.toEqual(before['model.layers.0.mlp.up_proj.weight']);
    e.destroy();
  });

  it('a non-finite gradient is caught on the GPU: reported with its step, weights and moments untouched', async () => {
    const e = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    const good = responseOnly();
    expect((await e.trainStep([good], settings)).status).toBe('ok');
    const before = await params(e);
    const mBefore = await readF32(gpu.device, e.tensor('adam_m', 'lm_head.weight'));
    const vBefore = await readF32(gpu.device, e.tensor('adam_v', 'model.norm.weight'));
    // 'sum' mode leaves the weight unnormalised: 3e38 * (softmax - onehot) overflows the gradients.
    const huge: Batch = { ...good, weights: good.weights.map((w) => (w > 0 ? 3e38 : 0)) };
    const bad = await e.trainStep([huge], { ...settings, lossMode: 'sum' });
    console.log(bad.message);
    expect(bad.status).toBe('non-finite');
    expect(bad.step).toBe(2);
    expect(bad.message).toMatch(/^Step 2: the (loss|gradient norm) is (Infinity|NaN)/);
    expect(bad.optimizerStep).toBe(1);
    expect(await params(e)).toEqual(before);
    expect(await readF32(gpu.device, e.tensor('adam_m', 'lm_head.weight'))).toEqual(mBefore);
    expect(await readF32(gpu.device, e.tensor('adam_v', 'model.norm.weight'))).toEqual(vBefore);
    const next = await e.trainStep([good], settings);
    expect(next.status).toBe('ok');
    expect(next.step).toBe(3);
    expect(next.optimizerStep).toBe(2);
    e.destroy();
  });

  it('a NaN weight gives a NaN loss: reported, no update', async () => {
    const poisoned = { ...weights, 'model.embed_tokens.weight': weights['model.embed_tokens.weight'].slice() };
    poisoned['model.embed_tokens.weight'][2 * C + 5] = NaN; // token 2 occurs in the batch
    const e = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights: poisoned });
    const r = await e.trainStep([responseOnly()], settings);
    console.log(r.message);
    expect(r.status).toBe('non-finite');
    expect(r.message).toMatch(/^Step 1: the loss is NaN/);
    expect(r.optimizerStep).toBe(0);
    expect(await params(e)).toEqual(poisoned);
    e.destroy();
  });

  it('accumulating two micro-batches gives the gradient of one batch of both (mean_tokens, mean_sequences)', async () => {
    const batch = responseOnly();
    const whole = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    const split = await Engine.create({ gpu, config: cfg, B: 1, T: 8, microBatches: 2, weights });
    for (const lossMode of ['mean_tokens', 'mean_sequences'] as const) {
      const s = { ...settings, lr: 0, lossMode };
      const a = await whole.trainStep([batch], s);
      const b = await split.trainStep([selectSequences(batch, [0]), selectSequences(batch, [1])], s);
      expect(b.loss).toBeCloseTo(a.loss, 5);
      const ga = await whole.getGradients(), gb = await split.getGradients();
      for (const k of Object.keys(ga)) {
        const r = compareTensor(`accumulated ${lossMode} ${k}`, gb[k], ga[k], 1e-6, 1e-4);
        if (r.failures) console.log(formatComparison(r));
        expect(r.failures, formatComparison(r)).toBe(0);
      }
    }
    whole.destroy();
    split.destroy();
  });

  it('rejects malformed batches with a message that says where', async () => {
    const e = await Engine.create({ gpu, config: cfg, B: 2, T: 8, weights });
    const b = responseOnly();
    const wrongLabel = { ...b, labels: b.labels.map((l, n) => (n === 9 ? 3 : l)) };
    expect(() => e.trainStep([wrongLabel], settings)).toThrow(/Label 3 at step 1, micro-batch 0, sequence 1, position 1 is neither -100 nor the input id 6/);
    const badId = { ...b, ids: b.ids.map((x, n) => (n === 2 ? V : x)) };
    expect(() => e.trainStep([badId], settings)).toThrow(/Token id 67 at step 1, micro-batch 0, sequence 0, position 2 is outside the vocabulary/);
    expect(() => e.trainStep([packBatch([{ ids: [1, 2] }, { ids: [1] }, { ids: [3] }], 4)], settings)).toThrow(/3 x 4 but the engine holds at most 2 x 8/);
    e.destroy();
  });
});
