/**
 * Tensors larger than one buffer (layout.ts Slot.parts): with EngineOptions.maxArenaBytes forced
 * small, the micro model's (V, C) embedding and LM head are split by rows into ≥ 3 parts, and the
 * split engine must compute what the unsplit one does: logits, losses, every gradient, AdamW steps,
 * the moments, the training state round trip, and the decoder's greedy generation. Tied and untied
 * heads, and LoRA (the frozen model split). Both engines run the LM head in chunks of 64 rows, so
 * the same chunks (and the same summation orders) are computed: the results are bit-identical,
 * asserted as such (and at the usual 1e-5 + 1e-3·|x| against the unsplit default one-chunk head).
 * Plus the layout itself: Qwen2.5-0.5B's embedding under 128 MiB buffers, and what is refused.
 */
import { decodeStepState } from './ops/gradNorm';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { MICRO_CONFIG, type LlamaConfig } from '../spec/config';
import { EMBED_TOKENS, LM_HEAD, paramTable } from '../spec/params';
import { packBatch, type Batch } from '../spec/batch';
import { randomModel } from '../reference/testkit';
import { tensorView } from '../reference/model';
import { compareTensor, formatComparison } from '../reference/fixture';
import { makeRng } from '../spec/rng';
import type { LoraConfig } from '../spec/lora';
import { buildLayout, partRows, SPLIT_ROWS } from './layout';
import { vocabChunks } from './ops/lmHead';
import { DEFAULT_MATMUL_TILES } from './ops/matmul';
import { DEFAULT_TRAIN_SETTINGS, Engine, type EngineOptions } from './trainer';
import { Decoder } from './generation';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await acquireNodeDevice();
});

const V = 227; // 3 full 64-row parts and a partial one (35 rows) at an 8 KiB limit (C = 24: 64 rows = 6 KiB)
const LIMIT = 8192;
const UNTIED: LlamaConfig = { ...MICRO_CONFIG, vocab_size: V };
const TIED: LlamaConfig = { ...MICRO_CONFIG, vocab_size: V, tie_word_embeddings: true, attention_bias: false, num_key_value_heads: 1 };
const LORA: LoraConfig = { r: 2, alpha: 4, targets: ['q', 'v'] };
const B = 2, T = 8;

function weightsOf(cfg: LlamaConfig, seed: number): Record<string, Float32Array> {
  const ref = randomModel(cfg, seed);
  return Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
}

/** Ids drawn over the whole vocabulary, so every part is read and every part's rows get gradients. */
function batchOf(seed: number): Batch {
  const rng = makeRng(seed);
  const a = Array.from({ length: T }, () => rng.int(0, V));
  const b = Array.from({ length: 6 }, () => rng.int(0, V));
  return packBatch([{ ids: a }, { ids: b, labels: b.map((x, i) => (i < 2 ? -100 : x)) }], T);
}

let worst = 0;
/** Bit-identical (the split changes no summation order); max |Δ| is recorded for the report. */
function same(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const r = compareTensor(name, got, want, 0, 0);
  worst = Math.max(worst, r.maxAbs);
  expect(r.failures, formatComparison(r)).toBe(0);
}
/** At the usual tolerance, for the unsplit engine's default one-chunk head. */
function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>): number {
  const r = compareTensor(name, got, want, 1e-5, 1e-3);
  expect(r.failures, formatComparison(r)).toBe(0);
  return r.maxAbs;
}

async function engines(cfg: LlamaConfig, lora: LoraConfig | null) {
  const weights = weightsOf(cfg, 5);
  // One tile shape for all (concurrent autotuning could pick different ones, and so different sums).
  const base: EngineOptions = { gpu, config: cfg, B, T, weights, lora: lora ? { config: lora } : null, matmulTiles: DEFAULT_MATMUL_TILES };
  const [one, split, oneDefault] = await Promise.all([
    Engine.create({ ...base, vocabChunk: 64 }),
    Engine.create({ ...base, vocabChunk: 64, maxArenaBytes: LIMIT }),
    Engine.create(base),
  ]);
  return { weights, one, split, oneDefault };
}

/** The split layout: embedding (and untied head) in ≥ 3 parts, mirrored by gradients and moments. */
function checkSplitLayout(e: Engine, cfg: LlamaConfig, lora: boolean): void {
  const names = cfg.tie_word_embeddings ? [EMBED_TOKENS] : [EMBED_TOKENS, LM_HEAD];
  const cats = lora ? (['frozen'] as const) : (['parameters', 'gradients', 'adam_m', 'adam_v'] as const);
  for (const name of names) {
    const p = e.layout.slots[cats[0]].get(name)!;
    expect(p.parts, `${cats[0]}:${name} is split`).toBeDefined();
    expect(p.parts!.length).toBeGreaterThanOrEqual(3);
    expect(p.parts!.map((x) => x.rows)).toEqual([64, 64, 64, 35]);
    for (const c of cats) {
      const s = e.layout.slots[c].get(name)!;
      expect(s.parts!.map((x) => [x.row0, x.rows, x.offset, e.layout.arenas[x.arena].bytes]), `${c} mirrors ${cats[0]}`).toEqual(p.parts!.map((x) => [x.row0, x.rows, x.offset, e.layout.arenas[x.arena].bytes]));
    }
    expect(() => e.tensor(cats[0], name)).toThrow(/split by rows into 4 buffers/);
  }
  for (const a of e.layout.arenas) expect(a.bytes).toBeLessThanOrEqual(LIMIT);
  if (lora) for (const s of paramTable(cfg)) expect(e.layout.slots.gradients.has(s.name)).toBe(false);
}

async function splitMatches(cfg: LlamaConfig, lora: LoraConfig | null) {
  worst = 0;
  const { weights, one, split, oneDefault } = await engines(cfg, lora);
  checkSplitLayout(split, cfg, lora !== null);
  const batch = batchOf(11);

  // Forward: logits, losses, loss sums.
  const [a, b, d] = await Promise.all([one.evaluate(batch, 'mean_tokens', true), split.evaluate(batch, 'mean_tokens', true), oneDefault.evaluate(batch, 'mean_tokens', true)]);
  same('logits', b.logits!, a.logits!);
  same('losses', b.losses, a.losses);
  same('dlogitNorms', b.dlogitNorms, a.dlogitNorms);
  same('lastLogits', b.lastLogits, a.lastLogits);
  same('objective', [b.sums.objective], [a.sums.objective]);
  const vsDefault = close('logits vs the one-chunk head', b.logits!, d.logits!);
  close('loss vs the one-chunk head', [b.sums.objective], [d.sums.objective]);

  // Weights as written and read back by name.
  if (!lora) {
    const back = await split.getParameters();
    for (const [k, v] of Object.entries(weights)) expect(back[k], `${k} read back`).toEqual(v);
  } else {
    const frozen = await split.getFrozenParameters();
    for (const [k, v] of Object.entries(weights)) expect(frozen[k], `${k} frozen read back`).toEqual(v);
  }

  // Gradients (lr 0: nothing moves).
  const settings0 = { ...DEFAULT_TRAIN_SETTINGS, lr: 0, maxGradNorm: 0 };
  const [ra, rb] = await Promise.all([one.trainStep([batch], settings0), split.trainStep([batch], settings0)]);
  same('step loss', [rb.loss], [ra.loss]);
  // The global norm sums per-arena partials, and the split has more arenas: last bits only.
  const normDelta = close('grad norm', [rb.gradNorm], [ra.gradNorm]);
  const [ga, gb] = await Promise.all([one.getGradients(), split.getGradients()]);
  expect(Object.keys(gb).sort()).toEqual(Object.keys(ga).sort());
  for (const k of Object.keys(ga)) same(`grad ${k}`, gb[k], ga[k]);

  // 3 AdamW steps (weight decay; unclipped: the global norm's per-arena partials sum in another order).
  const settings = { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2, weightDecay: 0.1, maxGradNorm: 0 };
  const batches = [batchOf(12), batchOf(13), batchOf(14)];
  for (const mb of batches) {
    const [x, y] = await Promise.all([one.trainStep([mb], settings), split.trainStep([mb], settings)]);
    expect(y.status).toBe('ok');
    same(`loss, step ${x.step}`, [y.loss], [x.loss]);
  }
  const [sa, sb] = await Promise.all([one.getTrainingState(), split.getTrainingState()]);
  for (const k of Object.keys(sa.parameters)) {
    same(`after 3 steps: ${k}`, sb.parameters[k], sa.parameters[k]);
    same(`adam_m ${k}`, sb.adamM[k], sa.adamM[k]);
    same(`adam_v ${k}`, sb.adamV[k], sa.adamV[k]);
  }
  // The step state: the norm word may differ in the last bits (per-arena partials, another order); clip, flag and step count exactly.
  const [stA, stB] = [decodeStepState(sa.stepState.slice().buffer), decodeStepState(sb.stepState.slice().buffer)];
  close('step state norm', [stB.norm], [stA.norm]);
  expect({ ...stB, norm: 0 }).toEqual({ ...stA, norm: 0 });
  if (!lora) {
    const [pa, pb] = await Promise.all([one.getParameters(), split.getParameters()]);
    for (const k of Object.keys(pa)) same(`getParameters ${k}`, pb[k], pa[k]);
  }

  // The state written back by name into the split engine (part by part) and into the unsplit one:
  // the next step is the same on both.
  one.setTrainingState(sb);
  split.setTrainingState(sa);
  const [x4, y4] = await Promise.all([one.trainStep([batchOf(15)], settings), split.trainStep([batchOf(15)], settings)]);
  same('step 4 after the state swap', [y4.loss], [x4.loss]);
  const [g4a, g4b] = await Promise.all([one.getGradients(), split.getGradients()]);
  for (const k of Object.keys(g4a)) same(`step 4 grad ${k}`, g4b[k], g4a[k]);

  // Clipped: only the clip factor's last bits may differ (the norm sums per arena).
  const clipped = { ...settings, maxGradNorm: 0.5 };
  const [c1, c2] = await Promise.all([one.trainStep([batchOf(16)], clipped), split.trainStep([batchOf(16)], clipped)]);
  expect(c1.clipFactor).toBeLessThan(1);
  for (const k of ['loss', 'gradNorm', 'clipFactor'] as const) close(`clipped ${k}`, [c2[k]], [c1[k]]);

  console.log(`${cfg.tie_word_embeddings ? 'tied' : 'untied'}${lora ? ', LoRA q,v r 2' : ''}: split (4 parts) vs unsplit, max |Δ| ${worst} over logits, losses, gradients, 3 AdamW steps and moments; vs the one-chunk head, logits max |Δ| ${vsDefault.toExponential(2)}; gradient norm |Δ| ${normDelta.toExponential(2)}`);
  expect(worst).toBe(0);
  one.destroy();
  split.destroy();
  oneDefault.destroy();
}

/** Greedy generation with the decoder on both engines: same tokens, same logits. */
async function greedyMatches(cfg: LlamaConfig) {
  const weights = weightsOf(cfg, 8);
  const [one, split] = await Promise.all([
    Engine.create({ gpu, config: cfg, B: 1, T: 16, weights, matmulTiles: DEFAULT_MATMUL_TILES }),
    Engine.create({ gpu, config: cfg, B: 1, T: 16, weights, vocabChunk: 64, maxArenaBytes: LIMIT, matmulTiles: DEFAULT_MATMUL_TILES }),
  ]);
  expect(split.layout.slots.parameters.get(EMBED_TOKENS)!.parts!.length).toBe(4);
  const run = async (e: Engine) => {
    const dec = await Decoder.create(e, { maxContext: 32, prefillChunk: 4 });
    const tokens: number[] = [];
    const all: Float32Array[] = [];
    let logits = await dec.prefill([3, 100, 150, 200, 226, 7]);
    for (let i = 0; i < 10; i++) {
      all.push(logits);
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
      tokens.push(best);
      logits = await dec.step(best);
    }
    dec.destroy();
    return { tokens, all };
  };
  const [a, b] = [await run(one), await run(split)];
  expect(b.tokens).toEqual(a.tokens);
  let m = 0;
  a.all.forEach((l, i) => (m = Math.max(m, close(`decoder logits, token ${i}`, b.all[i], l))));
  console.log(`${cfg.tie_word_embeddings ? 'tied' : 'untied'} greedy: ${a.tokens.join(' ')}; split vs unsplit decoder logits max |Δ| ${m}`);
  one.destroy();
  split.destroy();
}

describe('tensors split across buffers', () => {
  it('the layout splits a (V, C) embedding by 64-row multiples; the LM head chunks cut at the parts', () => {
    // Qwen2.5-0.5B's tied embedding (151936 × 896 f32 = 519.3 MiB) under 128 MiB buffers.
    const qwen: LlamaConfig = {
      vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 2, num_attention_heads: 14, num_key_value_heads: 2,
      rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 32768, attention_bias: true,
    };
    const limit = 128 * 2 ** 20;
    const layout = buildLayout(qwen, 1, 256, { maxArenaBytes: limit });
    const R = partRows(896, limit);
    expect(R % SPLIT_ROWS).toBe(0);
    for (const c of ['parameters', 'gradients', 'adam_m', 'adam_v'] as const) {
      const parts = layout.slots[c].get(EMBED_TOKENS)!.parts!;
      expect(parts.length).toBe(Math.ceil(151936 / R));
      expect(parts.reduce((a, p) => a + p.rows, 0)).toBe(151936);
      for (const p of parts) expect(p.offset % 256).toBe(0);
    }
    for (const a of layout.arenas) expect(a.bytes).toBeLessThanOrEqual(limit);
    const chunks = vocabChunks(151936, layout.vocabChunk, layout.slots.parameters.get(EMBED_TOKENS)!.parts!.slice(1).map((p) => p.row0));
    for (const ch of chunks) expect(Math.floor(ch.v0 / R)).toBe(Math.floor((ch.v0 + ch.vc - 1) / R));
    console.log(`Qwen2.5-0.5B embedding under 128 MiB buffers: ${layout.slots.parameters.get(EMBED_TOKENS)!.parts!.map((p) => p.rows).join(' + ')} rows; ${chunks.length} LM-head chunks of ≤ ${layout.vocabChunk} rows`);
    // LoRA: the frozen embedding splits the same way.
    const lora = buildLayout(qwen, 1, 256, { maxArenaBytes: limit, lora: { config: LORA } });
    expect(lora.slots.frozen.get(EMBED_TOKENS)!.parts!.length).toBe(Math.ceil(151936 / R));
  });

  it('refuses what cannot be split, naming the tensor and what to change', () => {
    // Not even 64 rows of the embedding fit.
    expect(() => buildLayout(UNTIED, 1, 8, { maxArenaBytes: 4096, vocabChunk: 64 })).toThrow(/The parameters tensor 'model.embed_tokens.weight' \(227 x 24\) needs .* Split by rows it still needs .* per 64-row part.*train a LoRA adapter/);
    // A layer matrix is never split (the matmuls read whole matrices).
    const wide: LlamaConfig = { ...UNTIED, intermediate_size: 256 }; // gate (256, 24) = 24 KiB
    expect(() => buildLayout(wide, 1, 8, { maxArenaBytes: 16384, vocabChunk: 64 })).toThrow(/The parameters tensor 'model.layers.0.mlp.gate_proj.weight' \(256 x 24\) needs .*more than this GPU can bind in one buffer.*LoRA/);
    // Sizing only: kept whole, over the limit, so a memory check can name it.
    const kept = buildLayout(wide, 1, 8, { maxArenaBytes: 16384, vocabChunk: 64, keepOversized: true });
    expect(kept.arenas.some((a) => a.bytes > 16384 && a.slots[0].name === 'model.layers.0.mlp.gate_proj.weight')).toBe(true);
  });

  it('untied: the split engine matches the unsplit one (logits, loss, gradients, 3 AdamW steps)', async () => {
    await splitMatches(UNTIED, null);
  });
  it('tied: the split embedding is also the head; its gradient gathers both uses', async () => {
    await splitMatches(TIED, null);
  });
  it('LoRA (q, v; r 2): the frozen embedding and head split; the adapter trains the same', async () => {
    await splitMatches(UNTIED, LORA);
  });
  it('decoder: greedy generation over a split embedding and head matches the unsplit engine (untied, tied)', async () => {
    await greedyMatches(UNTIED);
    await greedyMatches(TIED);
  });
});
