/**
 * The loss arithmetic panel's numbers against the GPU engine (Dawn/SwiftShader in Node, the e2e
 * micro model, the default tokenizer): for one sample, lossArithmetic over engine.evaluate's
 * per-position losses and the run's weights gives the objective engine.trainStep reports for a
 * batch of that sample alone, for response-only, full and fractional-weight (prompt weight 0.3)
 * policies and every loss mode; and the session's evaluate at step k's weights pairs with the
 * objective step k+1 reported (it was computed before step k+1's update).
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
import type { ChatMessage, MaskPolicy } from '../data/types';
import { Engine } from '../engine/trainer';
import { IGNORE_INDEX, type LossMode } from '../spec/loss';
import { lossArithmetic } from '../spec/lossArithmetic';
import { defaultOptimizer } from '../spec/optimizer';
import type { TrainSettings } from '../spec/step';
import { prepareSample, runSequence, sampleBatch, type PreparedSample } from './trainPlan';
import { TrainingSession } from './trainSession';

const dir = new URL('../../e2e/fixtures/micro-model/', import.meta.url);
const info = llamaConfigFromHf(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const file = parseSafetensors(readFileSync(new URL('model.safetensors', dir)));
const base = Object.fromEntries(file.tensors.map((t) => [t.name, file.getFloat32(t.name)]));
const PAD = 3;

const POLICIES: [string, MaskPolicy][] = [
  ['response-only', { ...DEFAULT_POLICY, mode: 'response-only' }],
  ['full', { ...DEFAULT_POLICY, mode: 'full' }],
  ['prompt weight 0.3', { ...DEFAULT_POLICY, mode: 'response-only', promptLossWeight: 0.3 }],
];
const CHAT: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris.' },
];

let gpu: Gpu;
let sample: PreparedSample;
beforeAll(async () => {
  gpu = await acquireNodeDevice();
  const tok = await loadNodeTokenizer('default');
  sample = prepareSample(tokenizeConversation(tok, CHAT.map((m) => ({ ...m }))), POLICIES.map(([, p]) => p), info.config.max_position_embeddings);
});

const settings = (lossMode: LossMode): TrainSettings => ({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, lossMode });
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/** The heatmap's convention: loss[i] = -log p(token i | < i), from the engine's per-position losses (t predicts t+1). */
function targetLosses(losses: Float32Array, L: number): Float32Array {
  const out = new Float32Array(L).fill(NaN);
  for (let i = 1; i < L; i++) out[i] = losses[i - 1];
  return out;
}

describe('lossArithmetic against the engine', () => {
  it("its sum and divisor reproduce the engine's reported objective", async () => {
    const L = sample.ids.length;
    const engine = await Engine.create({ gpu, config: info.config, B: 1, T: L, weights: base });
    let worst = 0;
    try {
      for (const [r, [name, policy]] of POLICIES.entries()) {
        const q = runSequence(sample, r);
        // The policies really differ: response-only masks the prompt, the others weigh it 1 or 0.3.
        const prompt = Array.from(q.labels).findIndex((l, i) => i > 0 && l !== IGNORE_INDEX && q.weights[i] < 1);
        expect(prompt >= 0, name).toBe(policy.promptLossWeight > 0);
        if (policy.mode === 'response-only' && policy.promptLossWeight === 0) expect(q.labels.includes(IGNORE_INDEX), name).toBe(true);
        for (const mode of ['mean_tokens', 'mean_sequences', 'sum'] as const) {
          // evaluate() changes no weight, so the step's forward pass sees the same ones.
          const ev = await engine.evaluate(sampleBatch(sample, r, PAD), mode);
          const rep = await engine.trainStep([sampleBatch(sample, r, PAD)], settings(mode));
          expect(rep.status).toBe('ok');
          const a = lossArithmetic({ ids: q.ids, labels: q.labels, weights: q.weights, loss: targetLosses(ev.losses, L), mode });
          expect(typeof a.result).toBe('number');
          const result = a.result as number;
          const e = rel(result, rep.loss);
          worst = Math.max(worst, e);
          console.log(`${name} ${mode}: sum ${a.sum.toFixed(6)} / divisor ${a.divisor.toFixed(6)} = ${result.toFixed(7)}; engine ${rep.loss.toFixed(7)}; rel ${e.toExponential(2)}`);
          expect(Math.abs(result - rep.loss), `${name} ${mode}`).toBeLessThanOrEqual(1e-5 * Math.abs(rep.loss));
          expect(a.trainedTokens).toBe(rep.trainedCount);
          expect(Math.abs(a.trainedWeight - rep.trainedWeight)).toBeLessThanOrEqual(1e-5 * rep.trainedWeight);
        }
      }
    } finally {
      engine.destroy();
    }
    console.log(`loss arithmetic vs engine objective: max relative error ${worst.toExponential(2)}`);
  });

  it('the session pairs the weights after step k with the objective step k+1 reported', async () => {
    const optimizer = { ...defaultOptimizer(70_000, 1), steps: 3, batchSize: 1, lr: 1e-2, warmupSteps: 0 };
    const session = await TrainingSession.create({ gpu, config: info.config, base, runs: POLICIES.length, samples: [sample], optimizer, padId: PAD, snapshotSteps: [1] });
    try {
      expect(session.reported(0, 1)).toBeNull();
      await session.train(() => {});
      let worst = 0;
      for (let r = 0; r < POLICIES.length; r++) {
        const q = runSequence(sample, r);
        for (const at of [0, 1] as const) {
          const ev = await session.evaluate(r, at, 0);
          const next = session.reported(r, ev.step + 1);
          expect(next).not.toBeNull();
          expect(next!.samples).toEqual([0]);
          const a = lossArithmetic({ ids: q.ids, labels: q.labels, weights: q.weights, loss: targetLosses(ev.losses, q.ids.length), mode: next!.lossMode });
          const e = rel(a.result as number, next!.objective);
          worst = Math.max(worst, e);
          expect(e, `run ${r + 1} at step ${at} vs step ${at + 1}'s objective`).toBeLessThanOrEqual(1e-5);
          // Step k's own objective came from the weights before step k: it does not match these.
          if (at === 1) expect(rel(a.result as number, session.reported(r, 1)!.objective)).toBeGreaterThan(1e-4);
        }
        // After the last step nothing has reported on the current weights.
        const cur = await session.evaluate(r, 'current', 0);
        expect(cur.step).toBe(3);
        expect(session.reported(r, 4)).toBeNull();
      }
      console.log(`session: panel at step k vs step k+1's objective, max relative error ${worst.toExponential(2)}`);
    } finally {
      session.dispose();
    }
  });
});
