/**
 * Runs the benchmark page and writes bench/results.json and bench/results.md. Not a test of speed:
 * it fails when the page cannot produce a result, or when a peer's baseline check disagrees with
 * our engine (after writing the results, which show the mismatch).
 */
import { test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdownReport } from './report';
import type { BenchResult } from './common';

test('benchmark: our engine vs TF.js and jax-js', async ({ page }, info) => {
  page.on('console', (m) => {
    if (m.text().startsWith('[bench]')) console.log(m.text());
  });
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  const q = new URLSearchParams();
  if (process.env.BENCH_SCALE) q.set('scale', process.env.BENCH_SCALE);
  if (process.env.BENCH_ONLY) q.set('only', process.env.BENCH_ONLY);
  if (process.env.BENCH_F16) q.set('f16', process.env.BENCH_F16);
  if (process.env.BENCH_MATMUL_SIZES !== undefined) q.set('matmul', process.env.BENCH_MATMUL_SIZES);
  await page.goto(`/bench/index.html?${q}`);
  const handle = await page.waitForFunction(() => window.__bench, null, { timeout: info.timeout, polling: 1000 });
  const out = (await handle.jsonValue()) as { result?: BenchResult; error?: string };
  if (!out.result) throw new Error(`The benchmark page failed: ${out.error}`);
  const md = markdownReport(out.result);
  // A run that forces f16 weights on or off writes beside the default run's files, not over them.
  const name = process.env.BENCH_F16 ? `results-f16-${process.env.BENCH_F16 === '1' ? 'on' : 'off'}` : 'results';
  writeFileSync(fileURLToPath(new URL(`./${name}.json`, import.meta.url)), `${JSON.stringify(out.result, null, 1)}\n`);
  writeFileSync(fileURLToPath(new URL(`./${name}.md`, import.meta.url)), `# Benchmark results\n\n${md}`);
  console.log(md);
  const check = out.result.baselineCheck;
  if (check && !check.ok) {
    const bad = check.peers.filter((p) => !p.ok).map((p) => `${p.side}: losses within ${p.lossRelative.toExponential(2)} relative, gradients within ${(100 * p.relative).toFixed(3)}% (${p.worstTensor})`);
    throw new Error(`The baseline check failed, so the timings compare different computations (${bad.join('; ')}); results were written to bench/${name}.md.`);
  }
});
