/**
 * What every training run shares, as pure functions (no GPU, no DOM; unit-tested in Node):
 * the prepared dataset (token ids, the ruler roles, per-run labels and weights), the data order,
 * the per-step batch of one run, and the learning-rate schedule.
 *
 * The comparison contract: all runs see the same sequences in the same order, padded to the same
 * (B, T), with the same ruler roles; only labels and weights differ (each run's mask policy).
 *
 * Ruler roles (the prompt/response curves, the same for every run): a token is "response" when
 * RULER_POLICY (response-only, every assistant turn, end-of-turn tokens included) trains it, else
 * "prompt". So a run with that very policy has objective == response-token loss, step by step.
 */
import { computeLabels } from '../data/labels';
import type { MaskPolicy, TokenizedSample } from '../data/types';
import { packBatch } from '../reference/batch';
import { IGNORE_INDEX, ROLE_PROMPT, ROLE_RESPONSE } from '../reference/ops';
import type { Batch } from '../reference/model';

export const RULER_POLICY: MaskPolicy = {
  mode: 'response-only',
  assistantTurns: 'all',
  trainEndOfTurn: true,
  roles: { system: true, user: true, assistant: true, template: true },
  promptLossWeight: 0,
  overrides: {},
};

/** One training sequence: the first T_ctx tokens of a sample. L = kept tokens. */
export interface PreparedSample {
  ids: Int32Array; // (L,)
  /** (L,) ROLE_PROMPT / ROLE_RESPONSE of each token under RULER_POLICY. */
  roles: Uint8Array;
  /** Per run: (L,) HF labels (id or -100) and (L,) weights. */
  labels: Int32Array[];
  weights: Float32Array[];
  /** Tokens the sample had before the cut. */
  fullLength: number;
}

/** Labels of one sample under every run's policy, cut to `maxLen` tokens. */
export function prepareSample(sample: TokenizedSample, policies: readonly MaskPolicy[], maxLen: number): PreparedSample {
  const L = Math.min(sample.tokens.length, maxLen);
  const ids = new Int32Array(L);
  for (let i = 0; i < L; i++) ids[i] = sample.tokens[i].id;
  const ruler = computeLabels(sample, RULER_POLICY).labels;
  const roles = new Uint8Array(L);
  for (let i = 0; i < L; i++) roles[i] = ruler[i] !== IGNORE_INDEX ? ROLE_RESPONSE : ROLE_PROMPT;
  const labels: Int32Array[] = [];
  const weights: Float32Array[] = [];
  for (const p of policies) {
    const r = computeLabels(sample, p);
    labels.push(r.labels.slice(0, L));
    weights.push(r.weights.slice(0, L));
  }
  return { ids, roles, labels, weights, fullLength: sample.tokens.length };
}

/**
 * Hand overrides from the token view: token index → 'train' | 'mask', made on one sample of the data
 * (the one shown), indexed by the model tokenizer's tokens of that sample.
 */
export interface HandOverrides {
  sample: number;
  tokens: Record<number, 'train' | 'mask'>;
  /** (L,) the token ids the overrides were made on: training checks that its tokenization matches. */
  ids: Int32Array;
}

/**
 * Why the hand overrides cannot be applied to `ids` (the training tokenization of their sample),
 * or null when they can: every overridden index must hold the same token as where it was clicked,
 * and the tokenizations must agree up to the last override (else an index names another token).
 */
export function checkOverrides(hand: HandOverrides, ids: Int32Array): string | null {
  const idx = Object.keys(hand.tokens).map(Number);
  if (idx.length === 0) return null;
  const last = Math.max(...idx);
  if (last >= hand.ids.length) return `a hand override names token ${last}, but sample ${hand.sample + 1} has ${hand.ids.length} tokens`;
  for (let i = 0; i <= last; i++) {
    if (ids[i] !== hand.ids[i]) {
      return (
        `sample ${hand.sample + 1} tokenizes differently for training (token ${i}: id ${ids[i] ?? 'none'} instead of ${hand.ids[i]} in the token view). ` +
        "Pick the loaded model's tokenizer in the settings, or clear the hand overrides"
      );
    }
  }
  return null;
}

/**
 * Every run's policy for sample `sample`: the hand overrides join each run's policy on the sample
 * they were made on, and no other sample (their indices mean nothing elsewhere).
 *
 * All runs, not one: a hand override is an edit of the data ("never train this typo", "do train
 * this template token"), like fixing the text itself, while a run's policy is the rule being
 * compared. Applied to every run, the comparison stays fair (the runs still differ only by their
 * rule), and a user who clicked a chip sees that choice in every run's heatmap. Overrides are
 * absolute (train = weight 1, mask = -100), so a run whose rule already agrees is unchanged.
 */
export function policiesFor(policies: readonly MaskPolicy[], sample: number, hand: HandOverrides | null): MaskPolicy[] {
  if (!hand || hand.sample !== sample || Object.keys(hand.tokens).length === 0) return [...policies];
  return policies.map((p) => ({ ...p, overrides: { ...p.overrides, ...hand.tokens } }));
}

/** Mulberry32: a small seeded PRNG, so the data order is a function of the seed alone. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Sample index of every (step, row): (steps, B). Epochs are consecutive seeded shuffles of all
 * samples (Fisher-Yates), read in order; a batch may span two epochs. One sample: always 0.
 */
export function dataOrder(samples: number, B: number, steps: number, seed: number): Int32Array {
  if (!(samples > 0)) throw new Error('There are no samples to train on. Paste a chat with at least one message.');
  const out = new Int32Array(steps * B);
  const next = rng(seed);
  const perm = Int32Array.from({ length: samples }, (_, i) => i);
  let at = samples; // forces a shuffle first
  for (let i = 0; i < out.length; i++) {
    if (at === samples) {
      for (let j = samples - 1; j > 0; j--) {
        const k = Math.floor(next() * (j + 1));
        [perm[j], perm[k]] = [perm[k], perm[j]];
      }
      at = 0;
    }
    out[i] = perm[at++];
  }
  return out;
}

/**
 * Run `run`'s batch of step `step` (1-based): the B sequences dataOrder gives, right-padded to T
 * with `padId` (label -100, weight 0, docId -1). Roles shift onto the predicting position in packBatch.
 */
export function stepBatch(samples: readonly PreparedSample[], order: Int32Array, step: number, B: number, T: number, run: number, padId: number): Batch {
  const rows = Array.from(order.subarray((step - 1) * B, step * B));
  return packBatch(
    rows.map((i) => {
      const s = samples[i];
      return { ids: Array.from(s.ids), labels: Array.from(s.labels[run]), weights: Array.from(s.weights[run]), tokenRoles: Array.from(s.roles) };
    }),
    T,
    padId,
  );
}

/** Tokens of one sample as a B = 1 batch for evaluation (heatmap), with run `run`'s labels. */
export function sampleBatch(s: PreparedSample, run: number, padId: number): Batch {
  return packBatch([{ ids: Array.from(s.ids), labels: Array.from(s.labels[run]), weights: Array.from(s.weights[run]), tokenRoles: Array.from(s.roles) }], s.ids.length, padId);
}

export type LrSchedule = 'constant' | 'cosine' | 'linear';

export interface OptimizerSettings {
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up from lr/warmup to lr over this many steps (0 = none). */
  warmupSteps: number;
  /** After warm-up: constant, cosine or linear decay to minLrRatio·lr at the last step. */
  schedule: LrSchedule;
  minLrRatio: number;
  /** Optimizer steps per run. */
  steps: number;
  /** Sequences per step (B). */
  batchSize: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay on 2-D matrices. */
  weightDecay: number;
  /** Global L2 gradient clip; 0 = none. */
  maxGradNorm: number;
  /** Seeds the data order (the only randomness: no dropout, the base weights are given). */
  seed: number;
}

/** Learning rate at step (1-based). */
export function lrAt(step: number, o: OptimizerSettings): number {
  if (o.warmupSteps > 0 && step <= o.warmupSteps) return (o.lr * step) / o.warmupSteps;
  if (o.schedule === 'constant') return o.lr;
  const span = Math.max(1, o.steps - o.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  const floor = o.lr * o.minLrRatio;
  const shape = o.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return floor + (o.lr - floor) * shape;
}

/**
 * Defaults for a model of `params` parameters: small models take (and need) larger steps.
 * SFT usually runs at 1e-5..2e-4 for 0.1–8B models; the 3.8M playground model moves at 1e-3.
 */
export function defaultOptimizer(params: number, samples = 1): OptimizerSettings {
  const lr = params < 20e6 ? 1e-3 : params < 300e6 ? 1e-4 : 2e-5;
  return {
    lr, warmupSteps: 5, schedule: 'cosine', minLrRatio: 0.1, steps: 60, batchSize: Math.max(1, Math.min(4, samples)),
    beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, seed: 0,
  };
}

/** Problems with the settings, for people (empty when they are usable). */
export function checkOptimizer(o: OptimizerSettings): string[] {
  const p: string[] = [];
  const pos = (v: number, name: string) => { if (!(Number.isFinite(v) && v > 0)) p.push(`${name} must be a positive number (got ${v}).`); };
  const int = (v: number, name: string, min: number, max: number) => {
    if (!(Number.isInteger(v) && v >= min && v <= max)) p.push(`${name} must be a whole number from ${min} to ${max} (got ${v}).`);
  };
  pos(o.lr, 'Learning rate');
  int(o.steps, 'Steps', 1, 100_000);
  int(o.batchSize, 'Batch size', 1, 256);
  int(o.warmupSteps, 'Warm-up steps', 0, 100_000);
  int(o.seed, 'Seed', 0, 2 ** 31 - 1);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) p.push(`AdamW beta1 must be in [0, 1) (got ${o.beta1}).`);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) p.push(`AdamW beta2 must be in [0, 1) (got ${o.beta2}).`);
  pos(o.eps, 'AdamW epsilon');
  if (!(o.weightDecay >= 0 && Number.isFinite(o.weightDecay))) p.push(`Weight decay must be ≥ 0 (got ${o.weightDecay}).`);
  if (!(o.maxGradNorm >= 0 && Number.isFinite(o.maxGradNorm))) p.push(`Gradient clip must be ≥ 0; 0 turns clipping off (got ${o.maxGradNorm}).`);
  if (!(o.minLrRatio >= 0 && o.minLrRatio <= 1)) p.push(`Final learning-rate ratio must be in [0, 1] (got ${o.minLrRatio}).`);
  return p;
}
