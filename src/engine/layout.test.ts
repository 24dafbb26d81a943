/**
 * The size table: memoryEstimate adds up the tables, parameters/gradients/moments share one
 * arena layout, a small arena limit splits parameters (and the engine still trains identically
 * across several arenas), and an oversized tensor is refused with a message that says what to do.
 */
import { DEFAULT_LORA } from '../spec/lora';
import { describe, expect, it } from 'vitest';
import { MICRO_CONFIG, type LlamaConfig } from '../spec/config';
import { ALIGN, CATEGORIES, activationGradTable, activationTable, buildLayout, defaultVocabChunk, memoryEstimate, VOCAB_CHUNK_ELEMENTS } from './layout';
import { tensorView } from '../reference/model';
import { paramTable } from '../spec/params';
import { randomModel } from '../reference/testkit';
import { packBatch } from '../spec/batch';
import { acquireNodeDevice } from '../gpu/node-device';
import { DEFAULT_TRAIN_SETTINGS, Engine } from './trainer';

const bytes = (specs: { shape: readonly number[] }[]) => specs.reduce((a, s) => a + Math.ceil((s.shape.reduce((x, y) => x * y, 1) * 4) / ALIGN) * ALIGN, 0);

describe('engine layout', () => {
  it('memoryEstimate adds up the size tables', () => {
    const B = 2, T = 8;
    const est = memoryEstimate(MICRO_CONFIG, B, T, 3);
    const p = bytes(paramTable(MICRO_CONFIG));
    expect(est.parameters).toBe(p);
    expect(est.gradients).toBe(p);
    expect(est.adam_m).toBe(p);
    expect(est.adam_v).toBe(p);
    expect(est.activations).toBe(bytes(activationTable(MICRO_CONFIG, B, T)));
    expect(est.activation_grads).toBe(bytes(activationGradTable(MICRO_CONFIG, B, T)));
    expect(est.staging).toBeGreaterThanOrEqual(3 * est.inputs);
    expect(est.total).toBe(Object.entries(est).filter(([k]) => k !== 'total').reduce((a, [, v]) => a + v, 0));
    // A SmolLM2-135M-shaped model at B=4, T=256, for scale (printed, not asserted).
    const smol: LlamaConfig = { vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 8192 };
    const s = memoryEstimate(smol, 4, 256);
    console.log('SmolLM2-135M shape, B=4 T=256 (MiB):', Object.fromEntries(Object.entries(s).map(([k, v]) => [k, +(v / 2 ** 20).toFixed(1)])));
  });

  it('prints the embedded model memory table, and the README quotes it exactly', async () => {
    const { readFile } = await import('node:fs/promises');
    const { llamaConfigFromHf } = await import('../model/hfConfig');
    const hf = JSON.parse(await readFile('public/models/playground-base/config.json', 'utf8'));
    const { config } = llamaConfigFromHf(hf, 'playground-base/config.json');
    const params = paramTable(config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    expect(params).toBe(3_819_776); // the model card's count
    // Full fine-tuning (f32, then f16 weight copies), then LoRA (DEFAULT_LORA: r 8, attention) on an f32 and a bf16 base.
    const lora = (baseDtype: 'f32' | 'bf16') => ({ config: DEFAULT_LORA, baseDtype });
    const rows = ([[1, 256, false, null, ''], [4, 256, false, null, ''], [4, 256, true, null, ', f16 weights'], [4, 256, false, lora('f32'), ', LoRA r 8'], [4, 256, false, lora('bf16'), ', LoRA r 8, bf16 base']] as const)
      .map(([B, T, f16, l, what]) => ({ B, T, what, est: memoryEstimate(config, B, T, 1, undefined, f16, l) }));
    const mibs = (v: number) => (v / 2 ** 20).toFixed(1);
    const lines = ['| category | ' + rows.map((r) => `B=${r.B}, T=${r.T}${r.what} (MiB)`).join(' | ') + ' |', '|---|' + rows.map(() => '---:').join('|') + '|'];
    for (const cat of [...CATEGORIES, 'total'] as const) lines.push(`| ${cat} | ${rows.map((r) => mibs(r.est[cat])).join(' | ')} |`);
    console.log(lines.join('\n'));
    for (const r of rows) expect(r.what.includes('LoRA') ? r.est.frozen + r.est.weights_f16 : r.est.parameters).toBeGreaterThanOrEqual(params * (r.what.includes('bf16') ? 2 : 4));
    // The README's copy must say what the size table says: its header row, then one row per category.
    const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());
    const readme = (await readFile('README.md', 'utf8')).split('\n');
    const at = readme.findIndex((l) => l.startsWith('| category |'));
    expect(at, 'README.md has no memory table (a row starting "| category |")').toBeGreaterThanOrEqual(0);
    const end = readme.findIndex((l, i) => i > at && !l.startsWith('|'));
    const quoted = readme.slice(at, end < 0 ? undefined : end);
    expect(quoted.map(cells), 'README.md memory table vs the size table: rerun this test and paste its output').toEqual(lines.map(cells));
  });

  it('the LM head holds one (N, VC) chunk, never the (N, V) logits or dlogits', () => {
    const smol: LlamaConfig = { vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 2, num_attention_heads: 9, num_key_value_heads: 3, rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 8192 };
    const B = 4, T = 512, N = B * T, V = smol.vocab_size;
    const layout = buildLayout(smol, B, T);
    const VC = layout.vocabChunk;
    expect(VC).toBe(defaultVocabChunk(V, N));
    expect(VC % 64).toBe(0); // chunk slices of the (V, C) head stay 256-byte aligned
    expect(N * VC).toBeLessThanOrEqual(VOCAB_CHUNK_ELEMENTS);
    for (const cat of ['activations', 'activation_grads'] as const) {
      for (const [name, slot] of layout.slots[cat]) {
        expect(slot.shape.reduce((a, b) => a * b, 1), `${cat}:${name}`).toBeLessThan(N * V);
      }
    }
    expect(layout.slots.activations.get('lmHead.chunk')!.shape).toEqual([N, VC]);
    // What an unfused head held, (N, V) twice, is gone: the saving is printed for the record.
    const saved = 2 * N * V * 4 - layout.slots.activations.get('lmHead.chunk')!.bytes - layout.slots.activations.get('lastLogits')!.bytes;
    console.log(`V ${V}, N ${N}: chunk of ${VC} rows; the fused head saves ${(saved / 2 ** 20).toFixed(0)} MiB of ${(2 * N * V * 4 / 2 ** 20).toFixed(0)} MiB`);
    // Small models run the head in one chunk (no recompute in backward).
    expect(buildLayout(MICRO_CONFIG, 2, 8).vocabChunk).toBe(MICRO_CONFIG.vocab_size);
    expect(() => buildLayout(MICRO_CONFIG, 2, 8, { vocabChunk: 50 })).toThrow(/vocabChunk 50 must be a positive multiple of 64/);
  });

  it('parameters, gradients and moments share arena boundaries and offsets; a small limit splits them', () => {
    const layout = buildLayout(MICRO_CONFIG, 2, 8, { maxArenaBytes: 8192 });
    const paramArenas = layout.arenas.filter((a) => a.category === 'parameters');
    expect(paramArenas.length).toBeGreaterThan(2);
    for (const a of layout.arenas) expect(a.bytes).toBeLessThanOrEqual(8192);
    for (const s of paramTable(MICRO_CONFIG)) {
      const p = layout.slots.parameters.get(s.name)!;
      for (const c of ['gradients', 'adam_m', 'adam_v'] as const) {
        const o = layout.slots[c].get(s.name)!;
        expect(o.offset).toBe(p.offset);
        expect(layout.arenas[o.arena].bytes).toBe(layout.arenas[p.arena].bytes);
        expect(layout.arenas[o.arena].decay).toBe(s.shape.length === 2);
      }
    }
    // One buffer per activation: WebGPU forbids reading and writing one buffer in a dispatch.
    for (const a of layout.arenas.filter((x) => x.category === 'activations')) expect(a.slots.length).toBe(1);
    expect(() => buildLayout(MICRO_CONFIG, 2, 8, { maxArenaBytes: 4096 })).toThrow(/The parameters tensor 'model.embed_tokens.weight' \(67 x 24\) needs .* MiB, more than this GPU can bind in one buffer .* Reduce the batch size/);
  });

  it('training over several parameter arenas matches training over one', async () => {
    const gpu = await acquireNodeDevice();
    const ref = randomModel(MICRO_CONFIG, 9);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    const batch = packBatch([{ ids: [3, 4, 5, 6, 7, 8, 9, 10] }, { ids: [11, 12, 13, 14, 15], labels: [-100, -100, 13, 14, 15] }], 8);
    const pair = async () => {
      const one = await Engine.create({ gpu, config: MICRO_CONFIG, B: 2, T: 8, weights });
      const many = await Engine.create({ gpu, config: MICRO_CONFIG, B: 2, T: 8, weights, maxArenaBytes: 8192 });
      expect(many.layout.arenas.filter((a) => a.category === 'gradients').length).toBeGreaterThan(2);
      return [one, many] as const;
    };
    // Clipped: only the f32 summation order of the gradient norm differs (per-arena partials), so
    // the clip factors differ in the last bits. Parameters are not compared here: AdamW divides by
    // sqrt(v), which turns rounding noise in a gradient that is 0 in exact arithmetic (the k_proj
    // bias: softmax ignores a shift shared by all keys) into a full-size step.
    const clipped = { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2, weightDecay: 0.1, maxGradNorm: 0.5 };
    const [one, many] = await pair();
    for (let i = 0; i < 3; i++) {
      const [a, b] = await Promise.all([one.trainStep([batch], clipped), many.trainStep([batch], clipped)]);
      expect(a.clipFactor).toBeLessThan(1);
      for (const k of ['loss', 'gradNorm', 'clipFactor'] as const) expect(Math.abs(b[k] - a[k]), k).toBeLessThanOrEqual(1e-5 * Math.abs(a[k]));
    }
    one.destroy();
    many.destroy();
    // Unclipped: nothing depends on the arena split, so every parameter matches bit for bit.
    const unclipped = { ...clipped, maxGradNorm: 0 };
    const [one2, many2] = await pair();
    for (let i = 0; i < 3; i++) await Promise.all([one2.trainStep([batch], unclipped), many2.trainStep([batch], unclipped)]);
    const [pa, pb] = await Promise.all([one2.getParameters(), many2.getParameters()]);
    for (const k of Object.keys(pa)) expect(Array.from(pb[k]), k).toEqual(Array.from(pa[k]));
    one2.destroy();
    many2.destroy();
  });
});
