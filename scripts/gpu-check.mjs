#!/usr/bin/env node
// `npm run gpu-check`: everything a machine with a real GPU should tell us, in one command
// (the first such machine's time is short). In Node through Dawn with the machine's own driver:
//   1. the adapter: name, features, subgroup sizes, limits;
//   2. the correctness suite on that GPU: every kernel against the Float64 reference, the whole
//      model against the PyTorch fixture, f16 weights on and off, both reduction paths
//      (subgroup and workgroup memory: subgroup sizes of 32 and 64 are where CPU-only testing is blind);
//   3. our training step at GPU sizes: the embedded model at 8x256 and SmolLM2-135M's architecture
//      at 8x512, f16 weights off and on, and LoRA (r 8 on q, k, v, o) on an f32 and a bf16 base:
//      tokens/s, ms per step, matmul GFLOP/s and share of the step;
//   4. the same step in PyTorch eager fp32 (TF32 off) when `import torch` works, for the ratio.
// Writes bench/gpu/<adapter>.json and .md. `--dry-run` runs it all on SwiftShader (this repo's
// CPU adapter) at small sizes, to prove the command works before a GPU is there.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dry = process.argv.includes('--dry-run');
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
const say = (s) => console.log(`[gpu-check ${elapsed()}] ${s}`);
const env = { ...process.env, ...(dry ? { GPU_CHECK_DRY: '1' } : { PLAYGROUND_REAL_GPU: '1' }) };
const tmp = join(tmpdir(), `gpu-check-${process.pid}`);
mkdirSync(tmp, { recursive: true });

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { env: { ...env, ...(opts.env ?? {}) }, encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: 256 * 2 ** 20 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, timedOut: r.error?.code === 'ETIMEDOUT' };
}
const vitest = (config, files, extraEnv, timeoutMs, extra = []) =>
  run('npx', ['vitest', 'run', ...(config ? ['--config', config] : []), ...extra, ...files], { env: extraEnv, timeoutMs });

say(`${dry ? 'dry run on the CPU adapter (SwiftShader), small sizes' : "the machine's own GPU driver"}; results go to bench/gpu/`);

// 1. The adapter.
const adapterFile = join(tmp, 'adapter.json');
const probe = vitest('bench/vitest.gpucheck.config.ts', [], { GPU_CHECK_ADAPTER_ONLY: '1', GPU_CHECK_OUT: adapterFile }, 5 * 60_000);
if (!existsSync(adapterFile)) {
  console.error(probe.out.slice(-4000));
  console.error('gpu-check: no WebGPU adapter. Dawn needs a Vulkan driver (NVIDIA, AMD, Intel); run with --dry-run to try the command on SwiftShader.');
  process.exit(2);
}
const { adapter } = JSON.parse(readFileSync(adapterFile, 'utf8'));
say(`1. adapter: ${adapter.description || adapter.vendor} (${adapter.vendor}, ${adapter.architecture || 'no architecture'}), fallback ${adapter.isFallbackAdapter}, subgroups ${adapter.subgroupMinSize}-${adapter.subgroupMaxSize}, features: ${adapter.features.join(', ')}`);
if (adapter.isFallbackAdapter && !dry) {
  console.error('gpu-check: the only adapter is a CPU fallback, so no number would be a GPU number. Run with --dry-run to try the command anyway.');
  process.exit(2);
}

// 2. Correctness on this adapter.
say('2. correctness: kernels vs the Float64 reference, the model vs the PyTorch fixture, f16 on/off, both reduction paths…');
const junk = join(tmp, 'vitest.json');
const CORRECTNESS = ['src/gpu', 'src/engine', 'src/reference/fixture.test.ts', 'src/model/loader.test.ts'];
const corr = vitest(null, CORRECTNESS, {}, 20 * 60_000, ['--reporter=json', `--outputFile=${junk}`, '--reporter=default']);
let correctness = { passed: 0, failed: 0, skipped: 0, files: [], failures: [], maxDiffs: [], timedOut: corr.timedOut };
if (existsSync(junk)) {
  const j = JSON.parse(readFileSync(junk, 'utf8'));
  correctness.passed = j.numPassedTests;
  correctness.failed = j.numFailedTests;
  correctness.skipped = j.numPendingTests + (j.numTodoTests ?? 0);
  correctness.files = j.testResults.map((f) => ({ file: f.name.replace(`${process.cwd()}/`, ''), status: f.status, tests: f.assertionResults.length }));
  correctness.failures = j.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => ({ test: a.fullName, message: (a.failureMessages[0] ?? '').split('\n')[0].slice(0, 400) })));
}
// The tests print their worst differences ("max|a-b|=…"); keep those lines as the evidence.
correctness.maxDiffs = corr.out.split('\n').filter((l) => /max\s*\|a-b\||max abs|max\|Δ|max rel/.test(l)).map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()).slice(0, 400);
say(`2. correctness: ${correctness.passed} passed, ${correctness.failed} failed, ${correctness.skipped} skipped${corr.timedOut ? ' (TIMED OUT)' : ''}`);
for (const f of correctness.failures) say(`   FAILED ${f.test}: ${f.message}`);

// 3. Our training step at GPU sizes.
say('3. speed: our training step (embedded model, SmolLM2-135M architecture; f16 weights off and on)…');
const speedFile = join(tmp, 'speed.json');
const speedRun = vitest('bench/vitest.gpucheck.config.ts', [], { GPU_CHECK_OUT: speedFile }, 20 * 60_000);
const speed = existsSync(speedFile) ? JSON.parse(readFileSync(speedFile, 'utf8')).cases : [];
for (const line of speedRun.out.split('\n').filter((l) => l.includes('[gpu-check]') && l.includes('tokens/s'))) say(`   ${line.replace(/^.*\[gpu-check\] /, '')}`);
if (speed.length === 0) say(`3. speed: no result${speedRun.timedOut ? ' (timed out)' : ''}:\n${speedRun.out.slice(-3000)}`);

// 4. PyTorch, when this machine has it.
let torch = { available: false, python: null, cases: [] };
for (const py of ['python3', '/usr/bin/python3']) {
  if (run(py, ['-c', 'import torch'], { timeoutMs: 60_000 }).code === 0) {
    torch = { available: true, python: py, cases: [] };
    break;
  }
}
if (torch.available) {
  say(`4. PyTorch (${torch.python}): the same step in eager fp32, TF32 off…`);
  for (const c of speed.filter((c) => !c.f16 && !c.ours.error)) {
    // A LoRA case runs LoRA in PyTorch too (frozen model, adapters by PEFT's formula through hooks).
    const MODULES = { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' };
    const lora = c.lora ? ['--lora', JSON.stringify({ r: c.lora.config.r, alpha: c.lora.config.alpha, targets: c.lora.config.targets.map((t) => MODULES[t]) })] : [];
    const r = run(torch.python, ['scripts/torch_step_bench.py', '--config', JSON.stringify(c.config), '--B', String(c.B), '--T', String(c.T), '--steps', dry ? '1' : '5', '--warmup', dry ? '1' : '2', ...lora], { timeoutMs: 10 * 60_000 });
    const line = r.out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    const res = line ? JSON.parse(line) : { error: r.out.slice(-500) };
    torch.cases.push({ name: c.name, B: c.B, T: c.T, ...res, ratio: res.tokens_per_sec ? c.ours.tokensPerSec / res.tokens_per_sec : null });
    say(`   ${c.name}: ${res.tokens_per_sec ? `${res.tokens_per_sec.toFixed(0)} tokens/s on ${res.device}; ours ÷ PyTorch = ${(c.ours.tokensPerSec / res.tokens_per_sec).toFixed(2)}×` : `failed: ${res.error}`}`);
  }
} else say('4. PyTorch: not installed here (python3 -c "import torch" fails); skipped');

// Report.
const slug = `${adapter.vendor || 'unknown'}-${adapter.architecture || adapter.description || 'gpu'}${dry ? '-dry-run' : ''}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
mkdirSync('bench/gpu', { recursive: true });
const result = { date: new Date().toISOString(), dry, command: `npm run gpu-check${dry ? ' -- --dry-run' : ''}`, seconds: (Date.now() - t0) / 1000, adapter, correctness, speed, torch };
writeFileSync(`bench/gpu/${slug}.json`, `${JSON.stringify(result, null, 1)}\n`);
const fmt = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');
const L = adapter.limits ?? {};
const md = [
  `# GPU check: ${adapter.description || adapter.vendor}${dry ? ' (dry run on a CPU adapter: no GPU numbers)' : ''}`,
  '',
  `\`${result.command}\`, ${result.date}, ${fmt(result.seconds, 0)} s in all.`,
  '',
  '## 1. Adapter',
  '',
  '| field | value |',
  '|---|---|',
  `| description | ${adapter.description} |`,
  `| vendor / architecture | ${adapter.vendor} / ${adapter.architecture} |`,
  `| fallback (CPU) adapter | ${adapter.isFallbackAdapter} |`,
  `| subgroup sizes | ${adapter.subgroupMinSize}–${adapter.subgroupMaxSize} |`,
  `| features | ${adapter.features.join(', ')} |`,
  ...Object.entries(L).map(([k, v]) => `| ${k} | ${v} |`),
  '',
  '## 2. Correctness on this adapter',
  '',
  `${correctness.passed} passed, ${correctness.failed} failed, ${correctness.skipped} skipped (\`npx vitest run ${CORRECTNESS.join(' ')}\`).`,
  '',
  ...correctness.failures.map((f) => `- FAILED ${f.test}: ${f.message}`),
  '',
  '<details><summary>Worst differences the tests printed</summary>',
  '',
  '```',
  ...correctness.maxDiffs,
  '```',
  '</details>',
  '',
  '## 3. Our training step',
  '',
  '| case | parameters | B×T | f16 weights | tokens/s | ms/step | matmul GFLOP/s | matmul share | GPU memory (MiB) |',
  '|---|---:|---|---|---:|---:|---:|---:|---:|',
  ...speed.map((c) => c.ours.error
    ? `| ${c.name} | ${fmt(c.parameters / 1e6)} M | ${c.B}×${c.T} | ${c.f16 ? 'on' : 'off'} | failed: ${c.ours.error.slice(0, 200)} | | | | |`
    : `| ${c.name} | ${fmt(c.parameters / 1e6)} M | ${c.B}×${c.T} | ${c.ours.f16Weights ? 'on' : 'off'} | ${fmt(c.ours.tokensPerSec, 0)} | ${fmt(c.ours.stepMs)} | ${fmt(c.ours.profile?.matmul.gflops)} | ${c.ours.profile ? `${fmt(100 * c.ours.profile.matmul.share, 0)}%` : '—'} | ${fmt(Object.values(c.ours.memory ?? {}).reduce((a, b) => a + b, 0) / 2 ** 20)} |`),
  '',
  '## 4. PyTorch eager fp32 (TF32 off)',
  '',
  torch.available
    ? ['| case | B×T | device | tokens/s | ms/step | ours ÷ PyTorch |', '|---|---|---|---:|---:|---:|', ...torch.cases.map((c) => `| ${c.name} | ${c.B}×${c.T} | ${c.device ?? '—'} | ${fmt(c.tokens_per_sec, 0)} | ${fmt(c.ms_per_step)} | ${c.ratio ? `${fmt(c.ratio, 2)}×` : c.error ?? '—'} |`)].join('\n')
    : 'Not run: `import torch` fails on this machine.',
  '',
].join('\n');
writeFileSync(`bench/gpu/${slug}.md`, md);
rmSync(tmp, { recursive: true, force: true });
say(`wrote bench/gpu/${slug}.md and .json`);
process.exit(correctness.failed > 0 || corr.timedOut ? 1 : 0);
