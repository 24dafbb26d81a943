/**
 * What every training run shares, as pure functions (no GPU, no DOM; unit-tested in Node):
 * the prepared dataset (token ids, the ruler roles, per-run labels and weights), the data order,
 * the per-step batch of one run, and the learning-rate schedule.
 *
 * The comparison contract: all runs see the same sequences in the same order, padded to the same
 * (B, T), with the same ruler roles; only labels and weights differ (each run's mask policy).
 *
 * Ruler roles (the prompt/response curves, the same for every run): a token is "response" when
 * RULER_POLICY (response-only, every assistant turn, end-of-turn tokens, reasoning and tool calls
 * included, tool results not) trains it, else
 * "prompt". So a run with that very policy has objective == response-token loss, step by step.
 */
import { computeLabels, DEFAULT_POLICY } from '../data/labels';
import type { MaskPolicy, TokenizedSample } from '../data/types';
import { packBatch, type Batch } from '../spec/batch';
import { IGNORE_INDEX, ROLE_PROMPT, ROLE_RESPONSE } from '../spec/loss';
import { CodedError, msg, type Message } from '../spec/message';

/** The ruler's own fields spelled out; reasoning and tool switches as the default policy has them. */
export const RULER_POLICY: MaskPolicy = { ...DEFAULT_POLICY, mode: 'response-only', assistantTurns: 'all', trainEndOfTurn: true, promptLossWeight: 0, overrides: {} };

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
  /** Per run: the run's own sequence, when its masking-lab strategy builds other token ids than the
   *  chat template's (LLaMA-Factory, torchtune, LLMBook); absent or null: the shared `ids`. */
  own?: (OwnSequence | null)[];
}

/** A run's own token sequence for one sample (L' tokens); its ruler roles are the shared tokens' through the text alignment. */
export interface OwnSequence {
  ids: Int32Array; // (L',)
  roles: Uint8Array; // (L',)
  labels: Int32Array; // (L',)
  weights: Float32Array; // (L',)
}

/** The sequence run `run` trains on for sample `s`. */
export function runSequence(s: PreparedSample, run: number): OwnSequence {
  return s.own?.[run] ?? { ids: s.ids, roles: s.roles, labels: s.labels[run], weights: s.weights[run] };
}

/**
 * A strategy row (src/data/strategies) as run `run`'s labels of prepared sample `s`, cut to maxLen:
 * on the shared ids when the row's ids are the same (the usual case: the strategy renders the
 * template), else as the run's own sequence, with the ruler roles of the shared tokens it aligns
 * with (align.ts) and 'prompt' for tokens only it has. Weight 1 where trained: frameworks have no
 * partial prompt weight.
 */
export function setStrategyRun(s: PreparedSample, run: number, runs: number, row: { ids: Int32Array; labels: Int32Array }, aligned: (sharedIndex: number) => number, maxLen: number): void {
  const L = Math.min(row.ids.length, maxLen);
  const labels = row.labels.slice(0, L);
  const weights = Float32Array.from(labels, (l) => (l === IGNORE_INDEX ? 0 : 1));
  const same = L === s.ids.length && s.ids.every((id, i) => row.ids[i] === id);
  if (same) {
    s.labels[run] = labels;
    s.weights[run] = weights;
    return;
  }
  const roles = new Uint8Array(L).fill(ROLE_PROMPT);
  for (let i = 0; i < s.ids.length; i++) {
    const k = aligned(i);
    if (k >= 0 && k < L) roles[k] = s.roles[i];
  }
  s.own ??= new Array<OwnSequence | null>(runs).fill(null);
  s.own[run] = { ids: row.ids.slice(0, L), roles, labels, weights };
  // The shared slot is never read for this run; keep it all -100 so nothing counts it.
  s.labels[run] = new Int32Array(s.ids.length).fill(IGNORE_INDEX);
  s.weights[run] = new Float32Array(s.ids.length);
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
 * The prepared samples of a data set in a few flat buffers: what travels from the data worker
 * through the page to the training worker (a transfer of 6 buffers, where thousands of small
 * arrays would be cloned one by one on the main thread). N = samples, R = runs, S = total kept tokens.
 */
export interface PackedSamples {
  runs: number;
  /** (K, 4) run, sample, offset into own*, length: the runs' own sequences (OwnSequence). */
  ownIndex: Int32Array;
  ownIds: Int32Array;
  ownRoles: Uint8Array;
  ownLabels: Int32Array;
  ownWeights: Float32Array;
  /** (N + 1,) sample n's tokens are [offsets[n], offsets[n + 1]). */
  offsets: Int32Array;
  ids: Int32Array; // (S,)
  roles: Uint8Array; // (S,)
  labels: Int32Array; // (R, S)
  weights: Float32Array; // (R, S)
  fullLengths: Int32Array; // (N,)
}

export function packSamples(samples: readonly PreparedSample[], runs: number): PackedSamples {
  const offsets = new Int32Array(samples.length + 1);
  samples.forEach((s, n) => (offsets[n + 1] = offsets[n] + s.ids.length));
  const S = offsets[samples.length];
  const p: PackedSamples = {
    runs, offsets, ids: new Int32Array(S), roles: new Uint8Array(S), labels: new Int32Array(runs * S), weights: new Float32Array(runs * S),
    fullLengths: Int32Array.from(samples, (s) => s.fullLength),
    ownIndex: new Int32Array(0), ownIds: new Int32Array(0), ownRoles: new Uint8Array(0), ownLabels: new Int32Array(0), ownWeights: new Float32Array(0),
  };
  const owns: [number, number, OwnSequence][] = [];
  samples.forEach((s, n) => s.own?.forEach((o, r) => o && owns.push([r, n, o])));
  if (owns.length > 0) {
    const total = owns.reduce((a, [, , o]) => a + o.ids.length, 0);
    p.ownIndex = new Int32Array(owns.length * 4);
    p.ownIds = new Int32Array(total);
    p.ownRoles = new Uint8Array(total);
    p.ownLabels = new Int32Array(total);
    p.ownWeights = new Float32Array(total);
    let at = 0;
    owns.forEach(([r, n, o], k) => {
      p.ownIndex.set([r, n, at, o.ids.length], k * 4);
      p.ownIds.set(o.ids, at);
      p.ownRoles.set(o.roles, at);
      p.ownLabels.set(o.labels, at);
      p.ownWeights.set(o.weights, at);
      at += o.ids.length;
    });
  }
  samples.forEach((s, n) => {
    const at = offsets[n];
    p.ids.set(s.ids, at);
    p.roles.set(s.roles, at);
    for (let r = 0; r < runs; r++) {
      p.labels.set(s.labels[r], r * S + at);
      p.weights.set(s.weights[r], r * S + at);
    }
  });
  return p;
}

/** The samples again, as views into the packed buffers (no copy). */
export function unpackSamples(p: PackedSamples): PreparedSample[] {
  const N = p.offsets.length - 1;
  const S = p.offsets[N];
  const out: PreparedSample[] = Array.from({ length: N }, (_, n) => {
    const a = p.offsets[n], b = p.offsets[n + 1];
    return {
      ids: p.ids.subarray(a, b), roles: p.roles.subarray(a, b), fullLength: p.fullLengths[n],
      labels: Array.from({ length: p.runs }, (_, r) => p.labels.subarray(r * S + a, r * S + b)),
      weights: Array.from({ length: p.runs }, (_, r) => p.weights.subarray(r * S + a, r * S + b)),
    };
  });
  for (let k = 0; k < p.ownIndex.length / 4; k++) {
    const [r, n, at, len] = p.ownIndex.subarray(k * 4, k * 4 + 4);
    const s = out[n];
    s.own ??= new Array<OwnSequence | null>(p.runs).fill(null);
    s.own[r] = { ids: p.ownIds.subarray(at, at + len), roles: p.ownRoles.subarray(at, at + len), labels: p.ownLabels.subarray(at, at + len), weights: p.ownWeights.subarray(at, at + len) };
  }
  return out;
}

export const packedBuffers = (p: PackedSamples): ArrayBuffer[] =>
  [p.offsets, p.ids, p.roles, p.labels, p.weights, p.fullLengths, p.ownIndex, p.ownIds, p.ownRoles, p.ownLabels, p.ownWeights].map((a) => a.buffer as ArrayBuffer);

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
export function checkOverrides(hand: HandOverrides, ids: Int32Array): Message | null {
  const idx = Object.keys(hand.tokens).map(Number);
  if (idx.length === 0) return null;
  const last = Math.max(...idx);
  if (last >= hand.ids.length) return msg('data.override.outOfRange', { last, n: hand.sample + 1, tokens: hand.ids.length });
  for (let i = 0; i <= last; i++) {
    if (ids[i] !== hand.ids[i]) {
      return msg('data.override.differs', { n: hand.sample + 1, i, id: ids[i] ?? msg('data.override.none'), was: hand.ids[i] });
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
  if (!(samples > 0)) throw new CodedError(msg('train.noSamples'));
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
 * dataOrder over the trained samples only (split.ts trainedSamples: the held-out ones never appear):
 * the same seeded epochs, indices into all the samples.
 */
export function trainOrder(trained: readonly number[], B: number, steps: number, seed: number): Int32Array {
  return dataOrder(trained.length, B, steps, seed).map((i) => trained[i]);
}

/**
 * Run `run`'s held-out samples as evaluation batches of at most B sequences, each right-padded to
 * its longest (packBatch), with the run's labels and the ruler roles.
 */
export function heldOutBatches(samples: readonly PreparedSample[], heldOut: readonly number[], run: number, B: number, padId: number): Batch[] {
  const out: Batch[] = [];
  for (let k = 0; k < heldOut.length; k += B) {
    const rows = heldOut.slice(k, k + B).map((i) => runSequence(samples[i], run));
    const T = Math.max(...rows.map((q) => q.ids.length));
    out.push(packBatch(rows.map((q) => ({ ids: Array.from(q.ids), labels: Array.from(q.labels), weights: Array.from(q.weights), tokenRoles: Array.from(q.roles) })), T, padId));
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
      const q = runSequence(samples[i], run);
      return { ids: Array.from(q.ids), labels: Array.from(q.labels), weights: Array.from(q.weights), tokenRoles: Array.from(q.roles) };
    }),
    T,
    padId,
  );
}

/** Tokens of one sample as a B = 1 batch for evaluation (heatmap), with run `run`'s labels. */
export function sampleBatch(s: PreparedSample, run: number, padId: number): Batch {
  const q = runSequence(s, run);
  return packBatch([{ ids: Array.from(q.ids), labels: Array.from(q.labels), weights: Array.from(q.weights), tokenRoles: Array.from(q.roles) }], q.ids.length, padId);
}
