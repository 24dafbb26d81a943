/**
 * The KV-cache decoder against the full forward: feeding a sequence token by token must give, at
 * every position, the logits Engine.evaluate computes for that position (and the Float64 reference
 * forward). Covers untied + qkv bias + GQA (MICRO_CONFIG) and tied + one kv head; the cache is
 * reused across prefill/step, refilled by a second prefill, and refuses ids and positions it
 * cannot hold. The decoder reads the engine's live weights: after a training step it generates
 * with the new ones.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { MICRO_CONFIG, type LlamaConfig } from '../spec/config';
import { Engine, DEFAULT_TRAIN_SETTINGS } from './trainer';
import { Decoder, decoderBytes, decoderTable } from './generation';
import { packBatch } from '../spec/batch';
import { randomModel } from '../reference/testkit';
import { forward, tensorView } from '../reference/model';
import { compareTensor, formatComparison } from '../reference/fixture';
import { makeRng, randn } from '../spec/rng';
import * as ref from '../reference/ops';
import { compare, testGpu } from './ops/testkit';
import { matvecForward } from './ops/matvec';
import { attentionDecode, attentionDecodeAppend } from './ops/attentionDecode';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await acquireNodeDevice();
});

const TIED: LlamaConfig = { ...MICRO_CONFIG, tie_word_embeddings: true, attention_bias: false, num_key_value_heads: 1, hidden_size: 20, num_attention_heads: 2, rope_theta: 500000 };

function weightsOf(cfg: LlamaConfig, seed: number): Record<string, Float32Array> {
  const ref = randomModel(cfg, seed);
  return Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
}

/** |got - want| <= 1e-5 + 1e-3 |want| elementwise; returns max |Δ| (printed by the callers). */
function check(name: string, got: ArrayLike<number>, want: ArrayLike<number>) {
  const r = compareTensor(name, got, want, 1e-5, 1e-3);
  expect(r.failures, formatComparison(r)).toBe(0);
  return r.maxAbs;
}

async function decodeMatchesForward(cfg: LlamaConfig, seed: number) {
  const V = cfg.vocab_size;
  const rng = makeRng(seed);
  const ids = Array.from({ length: 13 }, () => rng.int(0, V));
  const weights = weightsOf(cfg, seed);
  const T = 16;
  const engine = await Engine.create({ gpu, config: cfg, B: 1, T, weights });
  const full = await engine.evaluate(packBatch([{ ids }], T), 'mean_tokens', true);
  const refLogits = forward(randomModel(cfg, seed), Int32Array.from(ids), new Int32Array(ids.length), Int32Array.from(ids.keys()), 1, ids.length);
  // Prefill in chunks of 4 rows: the 9-token prompt takes 3 submissions, the last with 3 padding rows.
  const dec = await Decoder.create(engine, { maxContext: 16, prefillChunk: 4 });
  const P = 9; // prompt, then one step per remaining token
  const rows: Float32Array[] = [await dec.prefill(ids.slice(0, P))];
  for (let t = P; t < ids.length; t++) rows.push(await dec.step(ids[t]));
  expect(dec.length).toBe(ids.length);
  let worstGpu = 0, worstRef = 0;
  rows.forEach((got, i) => {
    const t = P - 1 + i;
    worstGpu = Math.max(worstGpu, check(`decode vs evaluate, position ${t}`, got, full.logits!.subarray(t * V, (t + 1) * V)));
    worstRef = Math.max(worstRef, check(`decode vs Float64 reference, position ${t}`, got, refLogits.subarray(t * V, (t + 1) * V)));
  });
  console.log(`decoder logits, positions ${P - 1}..${ids.length - 1}: max |Δ| ${worstGpu.toExponential(2)} vs Engine.evaluate, ${worstRef.toExponential(2)} vs Float64 reference`);

  // A second prefill restarts at position 0 (stale cache rows beyond it are never read).
  const again = await dec.prefill(ids.slice(0, 3));
  check('second prefill, position 2', again, full.logits!.subarray(2 * V, 3 * V));
  expect(dec.length).toBe(3);
  check('step after the second prefill, position 3', await dec.step(ids[3]), full.logits!.subarray(3 * V, 4 * V));
  dec.destroy();
  engine.destroy();
}

describe('decode ops vs the Float64 reference', () => {
  it('matvecForward = reference matmulForward (N = 1 and 3, with and without bias, I > WG)', async () => {
    const g = await testGpu();
    const rng = makeRng(7);
    for (const [N, I, O, bias] of [[1, 77, 45, true], [3, 130, 19, false], [1, 5, 1, false]] as const) {
      const x = randn(rng, N * I), w = randn(rng, O * I), b = bias ? randn(rng, O) : null;
      const out = g.tensor('out', [N, O]);
      await g.run(matvecForward(g.ctx, out, g.tensor('x', [N, I], x), g.tensor('w', [O, I], w), b ? g.tensor('b', [O], b) : null, N, I, O));
      const want = new Float64Array(N * O);
      ref.matmulForward(want, x, w, b, N, I, O);
      const r = compare(`matvecForward N=${N} I=${I} O=${O}${bias ? ' +bias' : ''}`, await g.read(out), want);
      expect(r.bad).toBe(0);
    }
  });

  // Subgroup reductions where the adapter has them, and the workgroup-memory fallback.
  it.each([true, false])('attentionDecode over a cache filled by attentionDecodeAppend = rows of reference attentionForward (one row, and chunks with padding; subgroups %s)', async (subgroups) => {
    const probe = await testGpu();
    if (subgroups && !probe.ctx.kernels.subgroups) {
      console.log('attentionDecode: this adapter has no subgroups; only the workgroup-memory path is checked');
      return;
    }
    const g = await testGpu(64, subgroups);
    const rng = makeRng(8);
    const T = 70, NH = 6, NKV = 2, hs = 10, Tmax = 75; // T > WG: the key loop strides
    const q = randn(rng, T * NH * hs), k = randn(rng, T * NKV * hs), v = randn(rng, T * NKV * hs);
    const want = new Float64Array(T * NH * hs);
    ref.attentionForward(want, new Float64Array(NH * T * T), q, k, v, new Int32Array(T), 1, T, NH, NKV, hs);
    let worst = 0;
    for (const NQ of [1, 16]) {
      // Feed positions 0..T-1 in chunks of NQ; the last chunk's unused rows are padding (position -1).
      const kc = g.tensor('kcache', [Tmax, NKV, hs]), vc = g.tensor('vcache', [Tmax, NKV, hs]);
      const out = g.tensor('out', [NQ, NH, hs]), scores = g.tensor('scores', [NQ * NH, Tmax]);
      for (let c0 = 0; c0 < T; c0 += NQ) {
        const rows = Math.min(NQ, T - c0);
        const rowsOf = (a: Float64Array, w: number) => { const o = new Float64Array(NQ * w); o.set(a.subarray(c0 * w, (c0 + rows) * w)); return o; };
        const pos = g.tensor('pos', [NQ], Int32Array.from({ length: NQ }, (_, i) => (i < rows ? c0 + i : -1)));
        await g.run([
          ...attentionDecodeAppend(g.ctx, kc, vc, g.tensor('k', [NQ, NKV, hs], rowsOf(k, NKV * hs)), g.tensor('v', [NQ, NKV, hs], rowsOf(v, NKV * hs)), pos, NQ, NH, NKV, hs, Tmax),
          ...attentionDecode(g.ctx, out, scores, g.tensor('q', [NQ, NH, hs], rowsOf(q, NH * hs)), kc, vc, pos, NQ, NH, NKV, hs, Tmax),
        ]);
        if (NQ === 1 && c0 % 7 !== 0 && c0 !== T - 1) continue; // every position fills the cache; a sample is compared
        const got = await g.read(out);
        const r = compare(`attentionDecode NQ=${NQ} positions ${c0}..${c0 + rows - 1}`, got.subarray(0, rows * NH * hs), want.subarray(c0 * NH * hs, (c0 + rows) * NH * hs));
        expect(r.bad).toBe(0);
        worst = Math.max(worst, r.maxAbs);
        expect(Array.from(got.subarray(rows * NH * hs)).every((x) => x === 0)).toBe(true); // padding rows output 0
      }
    }
    console.log(`attentionDecode (${subgroups ? 'subgroup' : 'workgroup-memory'} reductions) vs reference attentionForward rows: max |Δ| ${worst.toExponential(2)}`);
  });
});

describe('Decoder (KV cache)', () => {
  it('matches the full forward at every position: untied, qkv bias, GQA', async () => {
    await decodeMatchesForward(MICRO_CONFIG, 11);
  });

  it('matches the full forward at every position: tied embeddings, one kv head, rope_theta 500000', async () => {
    await decodeMatchesForward(TIED, 12);
  });

  it('generates with the weights as trained, and refuses what it cannot hold', async () => {
    const cfg = MICRO_CONFIG;
    const engine = await Engine.create({ gpu, config: cfg, B: 1, T: 8, weights: weightsOf(cfg, 3) });
    const dec = await Decoder.create(engine, { maxContext: 6 });
    const prompt = [5, 9, 2, 40];
    const before = await dec.prefill(prompt);
    await engine.trainStep([packBatch([{ ids: [5, 9, 2, 40, 7, 7, 7, 7] }], 8)], { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2 });
    const after = await dec.prefill(prompt);
    const ev = await engine.evaluate(packBatch([{ ids: prompt }], 8));
    console.log(`decoder after a training step vs evaluate: max |Δ| ${check('decoder after a training step vs evaluate', after, ev.lastLogits).toExponential(2)}`);
    expect(compareTensor('changed', after, before, 1e-6, 0).failures).toBeGreaterThan(0);

    expect(() => dec.prefill([1, 2, 3, 4, 5, 6, 7])).toThrow(/context is full: 0 tokens \+ 7 more exceed 6/);
    expect(() => dec.prefill([])).toThrow(/at least one token/);
    expect(() => dec.prefill([1, 67])).toThrow(/Token id 67 at prompt position 1 is outside the vocabulary \[0, 67\)/);
    await dec.step(1);
    await dec.step(2);
    await expect(dec.step(3)).rejects.toThrow(/context is full: 6 tokens \+ 1 more exceed 6/);
    await expect(Decoder.create(engine, { maxContext: 65 })).rejects.toThrow(/between 1 and the model's max_position_embeddings \(64\)/);
    dec.destroy();
    engine.destroy();
  });

  it('size table: caches dominate and scale with the context', () => {
    const P = 16;
    const a = decoderBytes(MICRO_CONFIG, 32, P), b = decoderBytes(MICRO_CONFIG, 64, P);
    const { num_hidden_layers: L, num_key_value_heads: NKV, num_attention_heads: NH } = MICRO_CONFIG;
    const extraRows = 32, hs = 6;
    // 32 more rows of every K and V cache (L*2*rows*NKV*hs*4 bytes) and of both score buffers
    // ((1 + P)*NH rows of `rows` floats).
    expect(b.total - a.total).toBe(L * 2 * extraRows * NKV * hs * 4 + (1 + P) * NH * extraRows * 4);
    expect(decoderTable(MICRO_CONFIG, 32).map((s) => s.name)).toContain('layers.1.vcache');
  });
});
