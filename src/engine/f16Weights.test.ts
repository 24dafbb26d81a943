/**
 * f16 weight storage (EngineOptions.f16Weights): the matmuls read f16 copies of the layers'
 * projection matrices, accumulate in f32, and AdamW updates the f32 master weights, after which the
 * copies are rewritten. Checked against the Float64 reference run on the very f16 values the GPU
 * holds, so the usual kernel tolerance applies; plus the copies' refresh after setParameters and
 * after every step. The option is off by default everywhere; the CPU adapter here has no
 * `shader-f16`, which the kernels do not need (pack2x16float / unpack2x16float are core WGSL), so
 * the tests force the option on.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { readTensors } from '../gpu/buffers';
import { MICRO_CONFIG } from '../spec/config';
import { defaultF16Weights, DEFAULT_TRAIN_SETTINGS, Engine } from './trainer';
import { isF16Weight, memoryEstimate } from './layout';
import { DEFAULT_MATMUL_TILES } from './ops/matmul';
import { randomModel, testBatch } from '../reference/testkit';
import { backward, createModel, crossEntropy, forward, setParams, tensorView } from '../reference/model';
import { paramTable } from '../spec/params';
import { decodeF16, f16Quantum, roundF16 } from '../reference/ops';
import { normalisationScales } from '../spec/loss';
import { compareTensor, formatComparison } from '../reference/fixture';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await acquireNodeDevice();
});

/** The engine's f16 copies, decoded, by HF name. */
async function f16Copies(engine: Engine): Promise<Record<string, Float64Array>> {
  const names = [...engine.layout.slots.weights_f16.keys()];
  const raw = await readTensors(gpu.device, names.map((n) => engine.tensor('weights_f16', n)));
  return Object.fromEntries(names.map((name, i) => {
    const words = new Uint32Array(raw[i]);
    const n = engine.layout.slots.weights_f16.get(name)!.shape.reduce((a, b) => a * b, 1);
    return [name, Float64Array.from({ length: n }, (_, j) => decodeF16(j % 2 ? words[j >> 1] >>> 16 : words[j >> 1] & 0xffff))];
  }));
}

/** Every copy holds a neighbouring f16 value of its f32 master (WGSL may round either way). */
function expectCopiesOf(copies: Record<string, Float64Array>, master: Record<string, Float32Array>): void {
  for (const [name, c] of Object.entries(copies)) {
    const m = master[name];
    for (let i = 0; i < c.length; i++) {
      if (roundF16(c[i]) !== c[i] || !(Math.abs(c[i] - m[i]) < f16Quantum(m[i]))) {
        throw new Error(`${name}[${i}]: f16 copy ${c[i]} is not a rounding of the f32 weight ${m[i]}`);
      }
    }
  }
}

describe('f16 weight storage', () => {
  it('is off by default, with or without shader-f16, and the size table counts the copies', async () => {
    expect(gpu.adapter.features.includes('shader-f16')).toBe(false);
    expect(defaultF16Weights(gpu.adapter)).toBe(false);
    const withF16 = { ...gpu.adapter, features: [...gpu.adapter.features, 'shader-f16'] };
    expect(defaultF16Weights(withF16)).toBe(false);
    // An engine left to its default keeps f32 weights only, even where the adapter reports shader-f16.
    const ref = randomModel(MICRO_CONFIG, 3);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    const plain = await Engine.create({ gpu: { ...gpu, adapter: withF16 }, config: MICRO_CONFIG, B: 2, T: 8, weights, matmulTiles: DEFAULT_MATMUL_TILES });
    expect(plain.f16Weights).toBe(false);
    expect(plain.layout.slots.weights_f16.size).toBe(0);
    plain.destroy();
    const matrices = paramTable(MICRO_CONFIG).filter((s) => isF16Weight(s.name));
    expect(matrices.length).toBe(7 * MICRO_CONFIG.num_hidden_layers);
    expect(new Set(matrices.map((s) => s.name.replace(/^model\.layers\.\d+\./, '')))).toEqual(new Set(
      ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight'],
    ));
    const off = memoryEstimate(MICRO_CONFIG, 2, 8), on = memoryEstimate(MICRO_CONFIG, 2, 8, 1, undefined, true);
    expect(off.weights_f16).toBe(0);
    const halfBytes = matrices.reduce((a, s) => a + Math.ceil(s.shape[0] * s.shape[1] / 2) * 4, 0);
    expect(on.weights_f16).toBeGreaterThanOrEqual(halfBytes);
    expect(on.total - off.total).toBe(on.weights_f16);
  });

  it('loss and gradients match the reference run on the f16 values; copies follow setParameters and every AdamW step', async () => {
    const batch = testBatch(MICRO_CONFIG.vocab_size, 5);
    const ref = randomModel(MICRO_CONFIG, 21);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    const engine = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights, f16Weights: true });
    expect(engine.f16Weights).toBe(true);
    await engine.getParameters(); // queued behind the initial upload
    const copies = await f16Copies(engine);
    expect(Object.keys(copies).length).toBe(7 * MICRO_CONFIG.num_hidden_layers);
    expectCopiesOf(copies, weights);

    // The reference on the weights the GPU's matmuls see: f16 matrices, f32 everything else.
    const seen = createModel(MICRO_CONFIG);
    setParams(seen, { ...weights, ...copies });
    forward(seen, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
    const red = crossEntropy(seen, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, 'mean_tokens'));
    backward(seen);
    const settings = { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2, maxGradNorm: 0 };
    const report = await engine.trainStep([batch], settings);
    expect(report.status).toBe('ok');
    const refLoss = red.objective; // seqScale already normalises (mean_tokens)
    expect(Math.abs(report.loss - refLoss), `loss ${report.loss} vs reference ${refLoss}`).toBeLessThanOrEqual(1e-5 + 1e-3 * Math.abs(refLoss));
    const grads = await engine.getGradients();
    let worst = 0;
    for (const s of seen.layout.slots) {
      const r = compareTensor(`f16 grad ${s.name}`, grads[s.name], tensorView(seen.layout, seen.grads, s.name), 1e-5, 1e-3);
      expect(r.failures, formatComparison(r)).toBe(0);
      worst = Math.max(worst, r.maxAbs);
    }
    console.log(`f16 weights: loss |Δ| ${Math.abs(report.loss - refLoss).toExponential(2)}, worst gradient max|Δ| ${worst.toExponential(2)}`);

    // The f32 reference gradients differ by more than the tolerance somewhere: the copies matter.
    const full = createModel(MICRO_CONFIG);
    setParams(full, weights);
    forward(full, batch.ids, batch.docIds, batch.positions, batch.B, batch.T);
    crossEntropy(full, batch, normalisationScales(batch.labels, batch.weights, batch.B, batch.T, 'mean_tokens'));
    backward(full);
    const f32Differs = seen.layout.slots.some((s) => compareTensor('f32', grads[s.name], tensorView(full.layout, full.grads, s.name), 1e-7, 1e-5).failures > 0);
    expect(f32Differs).toBe(true);

    // After the step: the master moved, and the copies are its rounding again.
    const master = await engine.getParameters();
    const after = await f16Copies(engine);
    expectCopiesOf(after, master);
    expect(Object.keys(after).some((k) => after[k].some((v, i) => v !== copies[k][i]))).toBe(true);

    // setParameters rewrites the copies too (here: back to the initial weights).
    engine.setParameters(weights);
    await engine.getParameters(); // queued behind the write
    expect(await f16Copies(engine)).toEqual(copies);
    engine.destroy();
  });

  it('trains like the f32 engine: 8 steps, losses within 1e-2 relative', async () => {
    const batch = testBatch(MICRO_CONFIG.vocab_size, 8);
    const ref = randomModel(MICRO_CONFIG, 4);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    const settings = { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2 };
    const run = async (f16Weights: boolean) => {
      const e = await Engine.create({ gpu, config: MICRO_CONFIG, B: batch.B, T: batch.T, weights, f16Weights });
      const losses: number[] = [];
      for (let i = 0; i < 8; i++) losses.push((await e.trainStep([batch], settings)).loss);
      e.destroy();
      return losses;
    };
    const [a, b] = [await run(false), await run(true)];
    console.log(`f32 losses ${a.map((x) => x.toFixed(4)).join(' ')}\nf16 losses ${b.map((x) => x.toFixed(4)).join(' ')}`);
    expect(a[7]).toBeLessThan(a[0] * 0.9);
    for (let i = 0; i < a.length; i++) expect(Math.abs(b[i] - a[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-2 * a[i]);
  });
});
