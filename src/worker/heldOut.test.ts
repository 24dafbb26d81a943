/**
 * Per-run loss normalisation and held-out evaluation in a TrainingSession (Dawn/SwiftShader in
 * Node, the e2e micro model, the default tokenizer), each checked against the Float64 reference:
 * - runs that differ only by their loss mode see the same batch at step 1 and report the objective
 *   of their own formula (per-token mean, sum, per-sequence mean); the ruler losses agree;
 * - held-out samples are in no run's data order; every few steps (and at step 0, the base weights)
 *   each run reports the mean response-token loss over them, which is the reference's mean over
 *   the held-out response positions with that run's weights.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { parseSafetensors } from '../model/safetensors';
import { llamaConfigFromHf } from '../model/hfConfig';
import { loadNodeTokenizer } from '../data/testkit';
import { tokenizeConversation } from '../data/attribution';
import { DEFAULT_POLICY } from '../data/labels';
import { parseChatInput } from '../data/parse';
import { EXAMPLES } from '../data/examples';
import type { ChatTokenizer, MaskPolicy } from '../data/types';
import { createModel, crossEntropy, forward, setParams, type ReferenceModel } from '../reference/model';
import type { Batch } from '../spec/batch';
import { IGNORE_INDEX, normalisationScales, type LossMode } from '../spec/loss';
import { defaultOptimizer } from '../spec/optimizer';
import { heldOutSamples, trainedSamples } from '../spec/split';
import { dataOrder, heldOutBatches, prepareSample, sampleBatch, stepBatch, trainOrder, type PreparedSample } from './trainPlan';
import { TrainingSession, type StepEvent } from './trainSession';

const dir = new URL('../../e2e/fixtures/micro-model/', import.meta.url);
const info = llamaConfigFromHf(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const file = parseSafetensors(readFileSync(new URL('model.safetensors', dir)));
const base = Object.fromEntries(file.tensors.map((t) => [t.name, file.getFloat32(t.name)]));
const PAD = 3;

const RESPONSE_ONLY: MaskPolicy = { ...DEFAULT_POLICY, mode: 'response-only' };
const FULL: MaskPolicy = { ...DEFAULT_POLICY, mode: 'full', roles: { system: true, user: true, assistant: true, template: true } };
/** Prompt tokens at weight 0.1: the three loss modes then differ in more than a constant factor. */
const WEIGHTED: MaskPolicy = { ...RESPONSE_ONLY, promptLossWeight: 0.1 };

let gpu: Gpu;
let tok: ChatTokenizer;
let capitals: PreparedSample[];
beforeAll(async () => {
  gpu = await acquireNodeDevice();
  tok = await loadNodeTokenizer('default');
  const parsed = parseChatInput(EXAMPLES.find((e) => e.id === 'capitals-dataset')?.text ?? '');
  if (!parsed.ok) throw new Error(parsed.error.message);
  capitals = parsed.samples.map((c) => prepareSample(tokenizeConversation(tok, c), [RESPONSE_ONLY, FULL, WEIGHTED], info.config.max_position_embeddings));
});

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

/** The reference model with `weights`, and its per-position losses and ruler sums on `batch`. */
function referenceLosses(model: ReferenceModel, batch: Batch) {
  forward(model, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
  const sums = crossEntropy(model, batch, new Float64Array(batch.B));
  return { losses: Float64Array.from(model.acts!.a.losses), sums };
}

function referenceModel(weights: Record<string, Float32Array>): ReferenceModel {
  const m = createModel(info.config);
  setParams(m, weights);
  return m;
}

/** The objective of `mode` written out from per-position losses (position t predicts token t+1). */
function objectiveByFormula(batch: Batch, losses: Float64Array, mode: LossMode): number {
  const { B, T } = batch;
  let total = 0, weight = 0, seqMeans = 0, sequences = 0;
  for (let b = 0; b < B; b++) {
    let s = 0, w = 0;
    for (let t = 0; t < T - 1; t++) {
      const n = b * T + t;
      if (batch.labels[n + 1] === IGNORE_INDEX) continue;
      s += batch.weights[n + 1] * losses[n];
      w += batch.weights[n + 1];
    }
    total += s;
    weight += w;
    if (w > 0) {
      seqMeans += s / w;
      sequences++;
    }
  }
  return mode === 'sum' ? total : mode === 'mean_tokens' ? total / weight : seqMeans / sequences;
}

describe('held-out split in the data order', () => {
  it('no held-out sample is ever trained on; with none held out the order is the plain one', () => {
    const N = capitals.length, B = 4, steps = 40;
    const held = heldOutSamples(N, 0.2, 3);
    expect(held.length).toBe(Math.round(0.2 * N));
    const trained = trainedSamples(N, held);
    const order = trainOrder(trained, B, steps, 3);
    for (const i of order) expect(held).not.toContain(i);
    // Each epoch is a permutation of exactly the trained samples.
    expect([...order.subarray(0, trained.length)].sort((a, b) => a - b)).toEqual(trained);
    expect(Array.from(trainOrder(trainedSamples(N, []), B, steps, 3))).toEqual(Array.from(dataOrder(N, B, steps, 3)));
    // Evaluation batches: every held-out sample once, at most B a batch, padded to the longest.
    const batches = heldOutBatches(capitals, held, 0, B, PAD);
    expect(batches.map((b) => b.B)).toEqual([4, 4]);
    expect(batches[0].T).toBe(Math.max(...held.slice(0, 4).map((i) => capitals[i].ids.length)));
  });
});

describe('per-run loss mode', () => {
  it('three runs, same mask, different loss modes: different objectives on the same step-1 batch, each its own formula', async () => {
    const modes: LossMode[] = ['mean_tokens', 'sum', 'mean_sequences'];
    const samples = capitals.slice(0, 6).map((s) => ({ ...s, labels: modes.map(() => s.labels[2]), weights: modes.map(() => s.weights[2]) }));
    const optimizer = { ...defaultOptimizer(70_000, samples.length), steps: 2, batchSize: 3, heldOut: 0, warmupSteps: 0 };
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: 3, samples, optimizer, padId: PAD, lossModes: modes });
    const events: StepEvent[] = [];
    expect(await session.train((e) => events.push(e))).toBe('completed');
    const first = modes.map((_, r) => events.find((e) => e.run === r && e.step === 1)!);
    const order = trainOrder(trainedSamples(samples.length, []), session.B, optimizer.steps, optimizer.seed);
    const batch = stepBatch(samples, order, 1, session.B, session.T, 0, PAD);
    const ref = referenceModel(base);
    const { losses } = referenceLosses(ref, batch);
    let worst = 0;
    modes.forEach((mode, r) => {
      const formula = objectiveByFormula(batch, losses, mode);
      // The reference's own reduction with loss.ts's scales agrees with the formula written out.
      forward(ref, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
      const reduced = crossEntropy(ref, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, mode)).objective;
      expect(rel(reduced, formula)).toBeLessThan(1e-12);
      worst = Math.max(worst, rel(first[r].objective, formula));
      expect(first[r].status).toBe('ok');
    });
    console.log(`step 1 objectives: ${modes.map((m, r) => `${m} ${first[r].objective.toFixed(5)}`).join(', ')}; max relative |GPU - reference formula| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    // Different objectives: the sum is the mean times the trained weight; the per-sequence mean is neither.
    expect(rel(first[1].objective, first[0].objective)).toBeGreaterThan(1);
    expect(rel(first[2].objective, first[0].objective)).toBeGreaterThan(1e-4);
    // Same batch, same weights: the ruler agrees across the modes at step 1.
    for (const e of first.slice(1)) {
      expect(rel(e.responseLoss!, first[0].responseLoss!)).toBeLessThan(1e-6);
      expect(rel(e.promptLoss!, first[0].promptLoss!)).toBeLessThan(1e-6);
    }
    expect(session.lossMode(1)).toBe('sum');
    session.dispose();
  });
});

describe('held-out evaluation', () => {
  it('each run reports the mean held-out response-token loss at step 0, every k steps and the last, as the reference computes it', async () => {
    const samples = capitals.map((s) => ({ ...s, labels: s.labels.slice(0, 2), weights: s.weights.slice(0, 2) }));
    const optimizer = { ...defaultOptimizer(70_000, samples.length), steps: 5, batchSize: 4, lr: 5e-3, warmupSteps: 1, heldOut: 0.2, seed: 11 };
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: 2, samples, optimizer, padId: PAD, heldOutEvery: 2 });
    expect(session.heldOut).toEqual(heldOutSamples(samples.length, 0.2, 11));
    const held: { run: number; step: number; loss: number }[] = [];
    expect(await session.train(() => {}, undefined, undefined, undefined, (run, step, loss) => held.push({ run, step, loss }))).toBe('completed');
    for (const r of [0, 1]) expect(held.filter((h) => h.run === r).map((h) => h.step)).toEqual([0, 2, 4, 5]);
    const at = (run: number, step: number) => held.find((h) => h.run === run && h.step === step)!.loss;

    /** The reference: every held-out sample alone, the mean over all their response positions. */
    const reference = (weights: Record<string, Float32Array>, run: number) => {
      const m = referenceModel(weights);
      let sum = 0, count = 0;
      for (const i of session.heldOut) {
        const { sums } = referenceLosses(m, sampleBatch(samples[i], run, PAD));
        sum += sums.responseLossSum;
        count += sums.responseCount;
      }
      return sum / count;
    };
    const base0 = reference(base, 0);
    // Base weights: the same number for both runs (the ruler does not depend on the mask).
    expect(rel(at(0, 0), base0)).toBeLessThan(1e-4);
    expect(rel(at(1, 0), base0)).toBeLessThan(1e-5 + rel(at(0, 0), base0));
    const last = [0, 1].map((r) => ({ gpu: at(r, 5), ref: 0 }));
    for (const r of [0, 1]) last[r].ref = reference(await session.weights(r), r);
    console.log(
      `held-out response loss (${session.heldOut.length} of ${samples.length} samples): base ${base0.toFixed(5)}; after 5 steps response-only ${last[0].gpu.toFixed(5)} (reference ${last[0].ref.toFixed(5)}), full ${last[1].gpu.toFixed(5)} (reference ${last[1].ref.toFixed(5)})`,
    );
    for (const r of [0, 1]) expect(rel(last[r].gpu, last[r].ref)).toBeLessThan(1e-4);
    // Training moved it, differently for the two masks.
    expect(at(0, 5)).not.toBe(at(0, 0));
    expect(at(0, 5)).not.toBe(at(1, 5));
    session.dispose();
  });

  it('nothing is measured when nothing is held out', async () => {
    const samples = capitals.slice(0, 3).map((s) => ({ ...s, labels: s.labels.slice(0, 1), weights: s.weights.slice(0, 1) }));
    const optimizer = { ...defaultOptimizer(70_000, samples.length), steps: 2, batchSize: 1, heldOut: 0 };
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: 1, samples, optimizer, padId: PAD, heldOutEvery: 1 });
    const held: number[] = [];
    await session.train(() => {}, undefined, undefined, undefined, (_r, step) => held.push(step));
    expect(session.heldOut).toEqual([]);
    expect(held).toEqual([]);
    session.dispose();
  });
});
