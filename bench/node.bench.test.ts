/**
 * Our engine's half of the benchmark in Node, through the `webgpu` package (Dawn), for a machine
 * with a GPU but no browser (TF.js's WebGPU backend needs a browser, so there is no baseline here):
 *   npm run bench:node                       # SwiftShader on a machine without a GPU
 *   PLAYGROUND_REAL_GPU=1 npm run bench:node # the machine's own Vulkan driver (see vite.config.ts)
 * BENCH_SCALE=cpu|gpu and BENCH_F16=0|1 as for `npm run bench`. Writes bench/results-node.json
 * and .md. A benchmark, not a check: it fails only when a case cannot run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { acquireNodeDevice } from '../src/gpu/node-device';
import { describeAdapter } from '../src/gpu/device';
import { llamaConfigFromHf } from '../src/model/hfConfig';
import { startOurs } from './ours';
import { benchCases, isError, parameterCount, type BenchResult, type CaseResult, type Scale } from './common';
import { fusedLossSavings } from './memory';
import { markdownReport } from './report';

it('benchmark (ours, Node + Dawn)', async () => {
  const log = (s: string) => console.log(`[bench:node] ${s}`);
  const probe = await acquireNodeDevice();
  const a = probe.adapter;
  log(`adapter: ${describeAdapter(a)}`);
  const env = process.env.BENCH_SCALE;
  const scale: Scale = env === 'cpu' || env === 'gpu' ? env : a.isFallbackAdapter ? 'cpu' : 'gpu';
  const f16Weights = process.env.BENCH_F16 === '1' ? true : process.env.BENCH_F16 === '0' ? false : undefined;
  const hf = JSON.parse(readFileSync('public/models/playground-base/config.json', 'utf8'));
  const embedded = llamaConfigFromHf(hf, 'public/models/playground-base/config.json').config;
  const cases: CaseResult[] = [];
  for (const c of benchCases(scale, embedded)) {
    log(`case ${c.name}: L=${c.config.num_hidden_layers} C=${c.config.hidden_size} V=${c.config.vocab_size} B=${c.B} T=${c.T}`);
    // Dawn shares one instance per process; every case still gets its own device.
    const ours = await startOurs(c, log, f16Weights, acquireNodeDevice);
    const ms: number[] = [];
    for (let round = 0; round < c.rounds; round++) ms.push(await ours.steps(c.perRound));
    cases.push({
      name: c.name, config: c.config, B: c.B, T: c.T, parameters: parameterCount(c.config), rounds: c.rounds, perRound: c.perRound,
      ours: await ours.finish(ms, c.perRound), tfjs: { error: 'not run (Node: no browser for TF.js)' },
      jax: { error: 'not run (Node: bench it in the browser)' }, jaxwasm: { error: 'not run (Node: bench it in the browser)' }, ratios: {},
    });
  }
  const large = cases[cases.length - 1];
  const result: BenchResult = {
    date: new Date().toISOString(),
    userAgent: `Node ${process.version}, webgpu (Dawn)`,
    scale,
    adapter: {
      description: a.description, vendor: a.vendor, architecture: a.architecture, isFallbackAdapter: a.isFallbackAdapter,
      features: a.features, subgroupMinSize: a.subgroupMinSize, subgroupMaxSize: a.subgroupMaxSize,
    },
    baselineCheck: null,
    memoryNotes: [32000, 49152].flatMap((V) => [[large.B, large.T], [4, 512]].map(([B, T]) => fusedLossSavings({ ...large.config, vocab_size: V }, B, T))),
    cases,
  };
  const md = markdownReport(result);
  writeFileSync(fileURLToPath(new URL('./results-node.json', import.meta.url)), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(fileURLToPath(new URL('./results-node.md', import.meta.url)), `# Benchmark results (Node, ours only)\n\n${md}`);
  console.log(md);
  for (const c of cases) expect(isError(c.ours), c.name).toBe(false);
}, 60 * 60_000);
