/**
 * Our engine's half of the benchmark in Node, through the `webgpu` package (Dawn), for a machine
 * with a GPU but no browser (TF.js's WebGPU backend needs a browser, so there is no baseline here):
 *   npm run bench:node                       # SwiftShader on a machine without a GPU
 *   PLAYGROUND_REAL_GPU=1 npm run bench:node # the machine's own Vulkan driver (see vite.config.ts)
 * BENCH_SCALE=cpu|gpu and BENCH_F16=0|1 as for `npm run bench`. Writes bench/results-node.json
 * and .md. A benchmark, not a check: it fails only when a case cannot run.
 *
 * Hub-size models instead of the usual cases (bench/hub.ts):
 *   BENCH_MODEL=smollm2-135m npm run bench:node   # or smollm2-360m, qwen2.5-0.5b
 * builds the model from its real Hub config.json (src/model/fixtures/hub) with seeded random
 * weights and, in each mode (full fine-tuning f32, LoRA r8 q/k/v/o on an f32 base, on a bf16 base),
 * reports the size table per category against the adapter's buffer limits, the start-up
 * (Engine.create with the weight upload) and ms per step at B=1, T=256 (BENCH_B, BENCH_T override),
 * and checks that two steps on one random batch give finite, decreasing losses. A mode that cannot
 * be built or run is reported with the engine's message; only every mode failing fails the run.
 * Writes bench/results-node-<model>.json and .md. Minutes per step on SwiftShader.
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
import { HUB_MODELS, hubMarkdown, isHubModel, runHubBench } from './hub';

const HUB_MODEL = process.env.BENCH_MODEL;

it.skipIf(!!HUB_MODEL)('benchmark (ours, Node + Dawn)', async () => {
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

if (HUB_MODEL) {
  it(`Hub-size model ${HUB_MODEL} (ours, Node + Dawn)`, async () => {
    if (!isHubModel(HUB_MODEL)) throw new Error(`BENCH_MODEL=${HUB_MODEL}: expected one of ${Object.keys(HUB_MODELS).join(', ')}.`);
    const r = await runHubBench(HUB_MODEL, acquireNodeDevice, (s) => console.log(`[bench:node ${HUB_MODEL}] ${s}`));
    console.log(hubMarkdown(r));
    const ran = r.modes.filter((m) => !m.error);
    expect(ran.length, `every mode failed: ${r.modes.map((m) => `${m.mode}: ${m.error}`).join('; ')}`).toBeGreaterThan(0);
    for (const m of ran) {
      const [l1, l2] = m.losses!;
      expect(Number.isFinite(l1) && Number.isFinite(l2), `${m.mode}: losses ${l1}, ${l2}`).toBe(true);
      expect(l2, `${m.mode}: step 2's loss below step 1's`).toBeLessThan(l1);
    }
  }, 6 * 60 * 60_000);
}
