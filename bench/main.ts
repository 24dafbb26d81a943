/**
 * The benchmark page: picks the sizes for this adapter, runs our engine and TF.js on each case,
 * and leaves the result on `window.__bench` (bench/run.spec.ts reads it and writes results.json
 * and results.md). Open /bench/index.html in a WebGPU browser to run it by hand.
 */
import { acquireDevice } from '../src/gpu/device';
import { llamaConfigFromHf } from '../src/model/hfConfig';
import type { LlamaConfig } from '../src/spec/config';
import { startOurs } from './ours';
import { Engine } from '../src/engine/trainer';
import { DEFAULT_MATMUL_TILES } from '../src/engine/ops/matmul';
import { BENCH_SETTINGS, benchCases, EMBEDDED_FALLBACK, initWeights, isError, parameterCount, syntheticBatch, type BaselineCheck, type BenchResult, type CaseResult, type Scale } from './common';
import { fusedLossSavings } from './memory';
import { markdownReport } from './report';

declare global {
  interface Window {
    __bench?: { result?: BenchResult; error?: string };
  }
}

const logEl = document.getElementById('log')!;
function log(s: string): void {
  console.log(`[bench] ${s}`);
  logEl.textContent += `${s}\n`;
}

async function embeddedConfig(): Promise<LlamaConfig> {
  const res = await fetch('/models/playground-base/config.json');
  if (!res.ok) {
    log(`public/models/playground-base/config.json not found (${res.status}); using the planned embedded size`);
    return EMBEDDED_FALLBACK;
  }
  return llamaConfigFromHf(await res.json(), 'public/models/playground-base/config.json').config;
}

/**
 * Both engines on a micro model: the same loss and the same gradients (tolerances of f32 sums in
 * different orders), or the comparison is void and the bench says so.
 */
const CHECK_STEPS = 4;

async function checkBaseline(log: (s: string) => void): Promise<BaselineCheck> {
  const config: LlamaConfig = {
    vocab_size: 67, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 16, attention_bias: false,
  };
  const B = 2, T = 9;
  const weights = initWeights(config, 3);
  const batch = syntheticBatch(B, T, config.vocab_size, 5);
  const gpu = await acquireDevice();
  let ours: { loss: number; grads: Record<string, Float32Array> };
  const oursLosses: number[] = [];
  let oursParams: Record<string, Float32Array> = {};
  try {
    const e = await Engine.create({ gpu, config, B, T, weights, matmulTiles: DEFAULT_MATMUL_TILES });
    const r = await e.trainStep([batch], { ...BENCH_SETTINGS, lr: 0 }); // lr 0: the gradients stay readable
    ours = { loss: r.loss, grads: await e.getGradients() };
    e.setParameters(weights);
    for (let i = 0; i < CHECK_STEPS; i++) oursLosses.push((await e.trainStep([batch], BENCH_SETTINGS)).loss);
    oursParams = await e.getParameters();
    e.destroy();
  } finally {
    gpu.device.destroy();
  }
  const { tfjsGradients, tfjsSteps } = await import('./tfjs');
  const theirs = await tfjsGradients(config, batch, weights);
  const theirSteps = await tfjsSteps(config, batch, weights, CHECK_STEPS);
  // Parameters after the steps: the largest difference, against how far the parameters moved.
  let paramDiff = 0, moved = 0;
  for (const [name, p] of Object.entries(oursParams)) {
    const q = theirSteps.params[name], w0 = weights[name];
    for (let i = 0; i < p.length; i++) {
      paramDiff = Math.max(paramDiff, Math.abs(p[i] - q[i]));
      moved = Math.max(moved, Math.abs(p[i] - w0[i]));
    }
  }
  log(`baseline check: ${CHECK_STEPS} AdamW steps, losses ours ${oursLosses.map((x) => x.toFixed(6)).join(' ')} / tfjs ${theirSteps.losses.map((x) => x.toFixed(6)).join(' ')}; parameters then differ by at most ${paramDiff.toExponential(2)} (they moved up to ${moved.toExponential(2)})`);
  let worst = { tensor: '', maxAbs: 0, scale: 0 };
  for (const [name, g] of Object.entries(ours.grads)) {
    const t = theirs.grads[name];
    if (!t) throw new Error(`TF.js baseline has no gradient for ${name}`);
    let maxAbs = 0, scale = 0;
    for (let i = 0; i < g.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(g[i] - t[i]));
      scale = Math.max(scale, Math.abs(g[i]));
    }
    if (maxAbs / scale > worst.maxAbs / (worst.scale || 1)) worst = { tensor: name, maxAbs, scale };
  }
  const relative = worst.maxAbs / (worst.scale || 1);
  const lossesAgree = oursLosses.every((l, i) => Math.abs(l - theirSteps.losses[i]) <= 1e-4 * Math.abs(l));
  const ok = Math.abs(ours.loss - theirs.loss) <= 1e-4 * Math.abs(ours.loss) && relative <= 1e-3 && lossesAgree;
  log(`baseline check (micro model): loss ours ${ours.loss.toFixed(6)} tfjs ${theirs.loss.toFixed(6)}; worst gradient ${worst.tensor} max|Δ| ${worst.maxAbs.toExponential(2)} (${(100 * relative).toFixed(3)}% of its largest entry): ${ok ? 'agree' : 'DISAGREE'}`);
  return { ok, oursLoss: ours.loss, tfjsLoss: theirs.loss, worstTensor: worst.tensor, maxAbs: worst.maxAbs, relative, oursLosses, tfjsLosses: theirSteps.losses, paramDiff, paramMoved: moved };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function run(): Promise<BenchResult> {
  const params = new URLSearchParams(location.search);
  const only = params.get('only');
  // f16=1 / f16=0 force the engine's f16 weight copies on / off; absent: the engine's default (off).
  const f16 = params.get('f16');
  const f16Weights = f16 === '1' ? true : f16 === '0' ? false : undefined;
  const probe = await acquireDevice();
  const a = probe.adapter;
  probe.device.destroy();
  const scaleParam = params.get('scale');
  const scale: Scale = scaleParam === 'cpu' || scaleParam === 'gpu' ? scaleParam : a.isFallbackAdapter ? 'cpu' : 'gpu';
  log(`adapter: ${a.vendor} ${a.architecture} ${a.description}${a.isFallbackAdapter ? ' (CPU fallback)' : ''}; sizes: ${scale}`);
  const baselineCheck = only === 'ours' || only === 'tfjs' ? null : await checkBaseline(log);
  if (only === 'check') throw new Error('only=check: stopping after the baseline check');
  const cases: CaseResult[] = [];
  for (const c of benchCases(scale, await embeddedConfig())) {
    log(`case ${c.name}: L=${c.config.num_hidden_layers} C=${c.config.hidden_size} V=${c.config.vocab_size} B=${c.B} T=${c.T}`);
    const r: CaseResult = {
      name: c.name, config: c.config, B: c.B, T: c.T, parameters: parameterCount(c.config), rounds: c.rounds, perRound: c.perRound,
      ours: { error: 'not run' }, tfjs: { error: 'not run' },
    };
    const ours = only === 'tfjs' ? null : await startOurs(c, log, f16Weights).catch((e: unknown) => ((r.ours = { error: errorText(e) }), null));
    // Loaded on first use, so a run of ours alone never initialises TF.js.
    const tfjs = only === 'ours' ? null : await import('./tfjs').then(({ startTfjs }) => startTfjs(c, log)).catch((e: unknown) => ((r.tfjs = { error: errorText(e) }), null));
    const oursMs: number[] = [], tfjsMs: number[] = [];
    try {
      for (let round = 0; round < c.rounds; round++) {
        if (ours) oursMs.push(await ours.steps(c.perRound));
        if (tfjs) tfjsMs.push(await tfjs.steps(c.perRound));
      }
      if (ours) r.ours = await ours.finish(oursMs, c.perRound);
      if (tfjs) r.tfjs = await tfjs.finish(tfjsMs, c.perRound);
    } catch (e) {
      ours?.abort();
      tfjs?.abort();
      if (isError(r.ours)) r.ours = { error: errorText(e) };
      if (isError(r.tfjs)) r.tfjs = { error: errorText(e) };
    }
    if (!isError(r.ours) && !isError(r.tfjs)) {
      r.speedup = r.ours.tokensPerSec / r.tfjs.tokensPerSec;
      r.roundSpeedups = oursMs.map((m, i) => tfjsMs[i] / m);
      log(`case ${c.name}: ours ÷ TF.js = ${r.speedup.toFixed(2)}x (per round: ${r.roundSpeedups.map((x) => x.toFixed(2)).join(', ')})`);
    }
    for (const side of [r.ours, r.tfjs]) if (isError(side) && side.error !== 'not run') log(`case ${c.name} failed: ${side.error}`);
    cases.push(r);
  }
  const large = cases[cases.length - 1];
  return {
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    scale,
    adapter: {
      description: a.description, vendor: a.vendor, architecture: a.architecture, isFallbackAdapter: a.isFallbackAdapter,
      features: a.features, subgroupMinSize: a.subgroupMinSize, subgroupMaxSize: a.subgroupMaxSize,
    },
    baselineCheck,
    // The large case's model at 32k and 49k vocabularies, at this run's B×T and at 4×512.
    memoryNotes: [32000, 49152].flatMap((V) => [[large.B, large.T], [4, 512]].map(([B, T]) => fusedLossSavings({ ...large.config, vocab_size: V }, B, T))),
    cases,
  };
}

run().then(
  (result) => {
    document.getElementById('table')!.textContent = markdownReport(result);
    window.__bench = { result };
  },
  (e: unknown) => {
    log(`benchmark failed: ${errorText(e)}`);
    window.__bench = { error: errorText(e) };
  },
);
