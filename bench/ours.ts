/**
 * Our engine on one bench case: start-up on a fresh device, warm-up, timed rounds of steps
 * submitted the way the worker does (a few in flight), one profiled step split by kernel, memory
 * from the size table.
 */
import { acquireDevice, type Gpu } from '../src/gpu/device';
import type { TimedDispatch } from '../src/gpu/timing';
import { memoryEstimate } from '../src/engine/layout';
import { Engine } from '../src/engine/trainer';
import { matmulTilesFor, tuneMatmul } from '../src/engine/autotune';
import { describeTiles, matmulForward } from '../src/engine/ops/matmul';
import { createTensor, writeTensor } from '../src/gpu/buffers';
import { encode, Kernels } from '../src/gpu/kernel';
import { makeRng } from '../src/spec/rng';
import { BENCH_SETTINGS, initWeights, roundStats, syntheticBatch, timePipelined, type BenchCase, type KernelRow, type MatmulSide, type MatmulSummary, type OursResult } from './common';

/** One side of the benchmark, alive for a whole case so timed rounds can alternate with the other side. */
export interface BenchSide<R> {
  /** Runs `n` steps (pipelined) and resolves with their wall time, ms. */
  steps(n: number): Promise<number>;
  /** Summarises the timed rounds (ms each, `perRound` steps each) and frees the GPU memory. */
  finish(roundsMs: readonly number[], perRound: number): Promise<R>;
  /** Frees everything without a result (after an error). */
  abort(): void;
}

/** Start-up on a fresh device (autotune, Engine.create), then the first and the warm-up steps. */
export async function startOurs(c: BenchCase, log: (s: string) => void, f16Weights?: boolean, acquire: () => Promise<Gpu> = () => acquireDevice()): Promise<BenchSide<OursResult>> {
  const gpu = await acquire(); // fresh device: no pipeline cached from an earlier case
  const weights = initWeights(c.config);
  const batch = syntheticBatch(c.B, c.T, c.config.vocab_size);
  let engine: Engine | null = null;
  let freed = false;
  const abort = () => {
    if (freed) return;
    freed = true;
    engine?.destroy();
    gpu.device.destroy();
  };
  try {
    // Tuned here (not inside Engine.create, which would reuse the first case's choice) so every
    // case reports its own measurements; the engine then starts with the chosen tiles.
    const tuning = await tuneMatmul(gpu, { N: c.B * c.T, I: c.config.hidden_size, O: c.config.intermediate_size }, { includeNaive: true });
    log(`ours ${c.name}: matmul autotune ${tuning.ms.toFixed(0)} ms on ${tuning.shape.N}x${tuning.shape.I}x${tuning.shape.O}: ${tuning.timings.map((t) => `${t.tiles === 'naive' ? 'naive' : `${t.tiles.wgx}x${t.tiles.wgy}/${t.tiles.bk}`} ${t.gflops.toFixed(2)}`).join(', ')} GFLOP/s`);
    const t0 = performance.now();
    const e = await Engine.create({ gpu, config: c.config, B: c.B, T: c.T, weights, matmulTiles: tuning.tiles, f16Weights, lora: c.lora ?? null });
    engine = e;
    const startupMs = performance.now() - t0;
    log(`ours ${c.name}: Engine.create ${startupMs.toFixed(0)} ms${e.f16Weights ? ' (f16 weights)' : ''}`);
    const losses: number[] = [];
    const t1 = performance.now();
    const first = await e.trainStep([batch], BENCH_SETTINGS);
    const firstStepMs = performance.now() - t1;
    losses.push(first.loss);
    log(`ours ${c.name}: first step ${firstStepMs.toFixed(0)} ms, loss ${first.loss.toFixed(4)}`);
    for (let i = 1; i < c.warmup; i++) losses.push((await e.trainStep([batch], BENCH_SETTINGS)).loss);
    return {
      abort,
      async steps(n) {
        const ms = await timePipelined(n, () => e.trainStep([batch], BENCH_SETTINGS).then((r) => {
          if (r.status !== 'ok') throw new Error(`ours ${c.name}: step ${r.step} ${r.status}: ${r.message}`);
          losses.push(r.loss);
        }));
        log(`ours ${c.name}: ${n} step(s) in ${ms.toFixed(0)} ms, loss ${losses[losses.length - 1].toFixed(4)}`);
        return ms;
      },
      async finish(roundsMs, perRound) {
        let profile: OursResult['profile'] = null;
        if (gpu.device.features.has('timestamp-query')) {
          const { dispatches } = await e.profileStep([batch], BENCH_SETTINGS);
          profile = summarise(dispatches);
          log(`ours ${c.name}: profiled step ${profile.totalMs.toFixed(1)} ms GPU, matmul ${profile.matmul.gflops.toFixed(2)} GFLOP/s (${(100 * profile.matmul.share).toFixed(0)}% of the step)`);
        }
        const memory: Record<string, number> = { ...memoryEstimate(c.config, c.B, c.T, 1, e.layout.vocabChunk, e.f16Weights) };
        const matmulTiles = e.matmulTiles;
        abort();
        return {
          startupMs, firstStepMs, ...roundStats(c, roundsMs, perRound), losses, profile, memory, matmulTiles, f16Weights: e.f16Weights,
          autotune: {
            ms: tuning.ms, shape: tuning.shape,
            timings: tuning.timings.map((t) => ({ tiles: t.tiles === 'naive' ? 'naive (oracle)' : describeTiles(t.tiles), ms: t.ms, gflops: t.gflops })),
          },
        };
      },
    };
  } catch (err) {
    abort();
    throw err;
  }
}

/** 'MatmulForward[layers.3]' → 'MatmulForward[layers.*]'; the optimizer's per-arena labels → '[optimizer]'. */
function kernelKey(label: string): string {
  return label.replace(/layers\.\d+/, 'layers.*').replace(/\[optimizer\.[^\]]*\]/, '[optimizer]');
}

function summarise(ds: readonly TimedDispatch[]): NonNullable<OursResult['profile']> {
  const totalMs = ds.reduce((a, d) => a + d.ms, 0);
  const rows = new Map<string, { calls: number; ms: number; flops: number }>();
  for (const d of ds) {
    const k = kernelKey(d.label);
    const r = rows.get(k) ?? { calls: 0, ms: 0, flops: 0 };
    r.calls++;
    r.ms += d.ms;
    r.flops += d.flops ?? 0;
    rows.set(k, r);
  }
  const kernels: KernelRow[] = [...rows.entries()]
    .map(([kernel, r]) => ({ kernel, calls: r.calls, ms: r.ms, share: r.ms / totalMs, ...(r.flops ? { gflops: r.flops / (r.ms * 1e6) } : {}) }))
    .sort((a, b) => b.ms - a.ms);
  const mm = ds.filter((d) => d.flops);
  const flops = mm.reduce((a, d) => a + (d.flops ?? 0), 0);
  const ms = mm.reduce((a, d) => a + d.ms, 0);
  const matmul: MatmulSummary = { flops, ms, gflops: flops / (ms * 1e6), share: ms / totalMs };
  return { totalMs, kernels, matmul };
}

/** Random (n, n) f32 values, the matmul micro-benchmark's operands on every side. */
export function matmulOperand(n: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const a = new Float32Array(n * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

/**
 * Our forward matmul kernel alone on (n, n) @ (n, n): out = x @ w^T (w stored (O, I) as the engine
 * stores projections), with the tile shape the engine would pick on this adapter (matmulTilesFor).
 */
export async function startOursMatmul(n: number, acquire: () => Promise<Gpu> = () => acquireDevice()): Promise<MatmulSide> {
  const gpu = await acquire();
  const { device } = gpu;
  try {
    const tuning = await matmulTilesFor(gpu, { N: n, I: n, O: n }, null);
    const x = createTensor(device, 'matmulBench.x', [n, n]), w = createTensor(device, 'matmulBench.w', [n, n]), out = createTensor(device, 'matmulBench.out', [n, n]);
    writeTensor(device, x, matmulOperand(n, 1));
    writeTensor(device, w, matmulOperand(n, 2));
    const ctx = {
      device, kernels: Kernels.for(device), wg: 64, where: 'matmulBench', rope: null, matmulTiles: tuning.tiles,
      scratch: () => { throw new Error('matmulBench: no scratch'); },
    };
    const ds = matmulForward(ctx, out, x, w, null, n, n, n);
    return {
      detail: describeTiles(tuning.tiles),
      async once() {
        const t0 = performance.now();
        const enc = device.createCommandEncoder({ label: 'matmulBench.encoder' });
        const pass = enc.beginComputePass({ label: 'matmulBench.pass' });
        encode(pass, ds);
        pass.end();
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        return performance.now() - t0;
      },
      dispose() {
        device.destroy();
      },
    };
  } catch (err) {
    device.destroy();
    throw err;
  }
}
