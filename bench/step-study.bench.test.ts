/**
 * Training-step study (issue 15): our engine's step split by kernel (GPU timestamp queries,
 * Engine.profileStep) in Node + Dawn (SwiftShader unless PLAYGROUND_REAL_GPU), no page, no peers:
 *
 *   npx vitest run --config bench/vitest.step-study.config.ts
 *
 * The embedded model's config (public/models/playground-base/config.json) at STUDY_B×STUDY_T
 * (default 2×64), the bench's weights, batch and optimizer; STUDY_STEPS profiled steps (default 5)
 * after two untimed ones; per kernel the median over the profiled steps (GPU time, robust to CPU
 * load from other processes: each dispatch's own begin/end timestamps), plus the median wall time of
 * STUDY_WALL (default 3) plain steps (one at a time) and their process CPU time (SwiftShader's
 * worker threads included: what the step costs, whatever else the box runs). STUDY_OUT: a JSON file for the rows.
 * STUDY_TILES=wgx,wgy,bk: these matmul tiles instead of the autotune's pick (which a loaded box can tip to
 * another candidate between runs). Nothing here asserts a speed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { acquireNodeDevice } from '../src/gpu/node-device';
import { Engine } from '../src/engine/trainer';
import { matmulTilesFor } from '../src/engine/autotune';
import { describeTiles } from '../src/engine/ops/matmul';
import type { LlamaConfig } from '../src/spec/config';
import { BENCH_SETTINGS, initWeights, syntheticBatch } from './common';

const B = Number(process.env.STUDY_B ?? 2);
const T = Number(process.env.STUDY_T ?? 64);
const STEPS = Number(process.env.STUDY_STEPS ?? 5);
const WALL = Number(process.env.STUDY_WALL ?? 3);
const TILES = process.env.STUDY_TILES?.split(',').map(Number);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const kernelKey = (label: string) => label.replace(/layers\.\d+/, 'layers.*').replace(/\[optimizer\.[^\]]*\]/, '[optimizer]');

test('training step by kernel', async () => {
  const config = JSON.parse(readFileSync(new URL('../public/models/playground-base/config.json', import.meta.url), 'utf8')) as LlamaConfig;
  const gpu = await acquireNodeDevice();
  if (!gpu.device.features.has('timestamp-query')) { console.log('no timestamp-query: nothing to profile'); return; }
  const tiles = TILES ? { wgx: TILES[0], wgy: TILES[1], bk: TILES[2] } : (await matmulTilesFor(gpu, { N: B * T, I: config.hidden_size, O: config.intermediate_size }, null)).tiles;
  const e = await Engine.create({ gpu, config, B, T, weights: initWeights(config), matmulTiles: tiles });
  const batch = syntheticBatch(B, T, config.vocab_size);
  const losses: number[] = [];
  for (let i = 0; i < 2; i++) losses.push((await e.trainStep([batch], BENCH_SETTINGS)).loss);
  const per = new Map<string, { calls: number; ms: number[]; flops: number }>();
  const totals: number[] = [], dispatchCounts: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const { dispatches } = await e.profileStep([batch], BENCH_SETTINGS);
    totals.push(dispatches.reduce((a, d) => a + d.ms, 0));
    dispatchCounts.push(dispatches.length);
    const step = new Map<string, { calls: number; ms: number; flops: number }>();
    for (const d of dispatches) {
      const k = kernelKey(d.label);
      const r = step.get(k) ?? { calls: 0, ms: 0, flops: 0 };
      r.calls++; r.ms += d.ms; r.flops += d.flops ?? 0;
      step.set(k, r);
    }
    for (const [k, r] of step) {
      const p = per.get(k) ?? { calls: r.calls, ms: [], flops: r.flops };
      p.ms.push(r.ms);
      per.set(k, p);
    }
  }
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < WALL; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await e.trainStep([batch], BENCH_SETTINGS);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    losses.push(r.loss);
  }
  const total = median(totals);
  const rows = [...per.entries()].map(([kernel, p]) => ({ kernel, calls: p.calls, ms: median(p.ms), gflops: p.flops ? p.flops / (median(p.ms) * 1e6) : undefined }))
    .sort((a, b) => b.ms - a.ms);
  const lines = [
    `step study: ${config.num_hidden_layers} layers C${config.hidden_size} V${config.vocab_size}, ${B}x${T}, ${STEPS} profiled steps; GPU total median ${total.toFixed(1)} ms (${totals.map((t) => t.toFixed(0)).join(', ')}), ${median(dispatchCounts)} dispatches; wall/step median ${median(wall).toFixed(1)} ms (${wall.map((t) => t.toFixed(0)).join(', ')}), process CPU/step median ${median(cpu).toFixed(1)} ms (${cpu.map((t) => t.toFixed(0)).join(', ')}); losses ${losses.map((l) => l.toFixed(4)).join(', ')}; matmul ${describeTiles(tiles)}${TILES ? ' (STUDY_TILES)' : ''}`,
    '| kernel [place] | calls | ms/step (median) | share | GFLOP/s |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.kernel} | ${r.calls} | ${r.ms.toFixed(2)} | ${(100 * r.ms / total).toFixed(1)}% | ${r.gflops ? r.gflops.toFixed(2) : ''} |`),
  ];
  console.log(lines.join('\n'));
  if (process.env.STUDY_OUT) writeFileSync(process.env.STUDY_OUT, JSON.stringify({ B, T, total, totals, wall, cpu, dispatches: median(dispatchCounts), losses, rows }, null, 1));
  e.destroy();
  gpu.device.destroy();
  expect(losses.every(Number.isFinite)).toBe(true);
});
