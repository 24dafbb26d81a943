/**
 * The benchmark page: picks the sizes for this adapter, checks each peer against our engine on a
 * micro model, runs our engine, TF.js and jax-js (WebGPU and Wasm) on each case in alternating
 * rounds, then the matmul micro-benchmark, and leaves the result on `window.__bench`
 * (bench/run.spec.ts reads it and writes results.json and results.md). Open /bench/index.html in a WebGPU browser to run it by hand.
 */
import { acquireDevice } from '../src/gpu/device';
import { llamaConfigFromHf } from '../src/model/hfConfig';
import type { LlamaConfig } from '../src/spec/config';
import type { Batch } from '../src/spec/batch';
import { startOurs, startOursMatmul, type BenchSide } from './ours';
import { Engine } from '../src/engine/trainer';
import { DEFAULT_MATMUL_TILES } from '../src/engine/ops/matmul';
import {
  BENCH_SETTINGS, benchCases, EMBEDDED_FALLBACK, initWeights, isError, parameterCount, PEERS, SIDE_NAMES, SIDES, syntheticBatch,
  type BaselineCheck, type BenchCase, type BenchResult, type CaseResult, type MatmulRow, type MatmulSide, type Peer, type PeerCheck, type Scale, type Side, type SideResult,
} from './common';
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
 * Our engine and each peer on a micro model: the same loss, the same gradients (tolerances of f32
 * sums in different orders) and the same losses over the first AdamW steps (6 digits), or the
 * comparison is void: the bench prints the mismatch and fails (bench/run.spec.ts).
 */
const CHECK_STEPS = 4;
/** 6 significant digits. */
const LOSS_RTOL = 5e-6;
const GRAD_RTOL = 1e-3;

type PeerRun = {
  gradients(config: LlamaConfig, batch: Batch, weights: Record<string, Float32Array>): Promise<{ loss: number; grads: Record<string, Float32Array> }>;
  steps(config: LlamaConfig, batch: Batch, weights: Record<string, Float32Array>, steps: number): Promise<{ losses: number[]; params: Record<string, Float32Array> }>;
};

/** Each peer's module, loaded on first use so a run without it never initialises it. */
async function peerRun(peer: Peer): Promise<PeerRun> {
  if (peer === 'tfjs') {
    const { tfjsGradients, tfjsSteps } = await import('./tfjs');
    return { gradients: tfjsGradients, steps: tfjsSteps };
  }
  const { jaxGradients, jaxSteps } = await import('./jax');
  const device = peer === 'jax' ? 'webgpu' : 'wasm';
  return { gradients: (c, b, w) => jaxGradients(c, b, w, device), steps: (c, b, w, n) => jaxSteps(c, b, w, n, device) };
}

async function checkBaseline(peers: readonly Peer[], log: (s: string) => void): Promise<BaselineCheck> {
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
  const checks: PeerCheck[] = [];
  for (const peer of peers) {
    const run = await peerRun(peer);
    const theirs = await run.gradients(config, batch, weights);
    const theirSteps = await run.steps(config, batch, weights, CHECK_STEPS);
    // Parameters after the steps: the largest difference, against how far the parameters moved.
    let paramDiff = 0, moved = 0;
    for (const [name, p] of Object.entries(oursParams)) {
      const q = theirSteps.params[name], w0 = weights[name];
      if (!q) throw new Error(`${SIDE_NAMES[peer]} has no parameter ${name} after its steps`);
      for (let i = 0; i < p.length; i++) {
        paramDiff = Math.max(paramDiff, Math.abs(p[i] - q[i]));
        moved = Math.max(moved, Math.abs(p[i] - w0[i]));
      }
    }
    let worst = { tensor: '', maxAbs: 0, scale: 0 };
    for (const [name, g] of Object.entries(ours.grads)) {
      const t = theirs.grads[name];
      if (!t) throw new Error(`${SIDE_NAMES[peer]} has no gradient for ${name}`);
      let maxAbs = 0, scale = 0;
      for (let i = 0; i < g.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(g[i] - t[i]));
        scale = Math.max(scale, Math.abs(g[i]));
      }
      if (maxAbs / scale > worst.maxAbs / (worst.scale || 1)) worst = { tensor: name, maxAbs, scale };
    }
    const relative = worst.maxAbs / (worst.scale || 1);
    const pairs: [number, number][] = [[ours.loss, theirs.loss], ...oursLosses.map((l, i): [number, number] => [l, theirSteps.losses[i]])];
    const lossRelative = Math.max(...pairs.map(([a, b]) => Math.abs(a - b) / Math.abs(a)));
    const ok = lossRelative <= LOSS_RTOL && relative <= GRAD_RTOL;
    const name = SIDE_NAMES[peer];
    log(`baseline check ${name}: ${CHECK_STEPS} AdamW steps, losses ours ${oursLosses.map((x) => x.toFixed(6)).join(' ')} / ${name} ${theirSteps.losses.map((x) => x.toFixed(6)).join(' ')}; parameters then differ by at most ${paramDiff.toExponential(2)} (they moved up to ${moved.toExponential(2)})`);
    log(`baseline check ${name} (micro model): loss ours ${ours.loss.toFixed(6)} ${name} ${theirs.loss.toFixed(6)}; losses within ${lossRelative.toExponential(2)} relative (6 digits: ${LOSS_RTOL}); worst gradient ${worst.tensor} max|Δ| ${worst.maxAbs.toExponential(2)} (${(100 * relative).toFixed(3)}% of its largest entry): ${ok ? 'agree' : 'DISAGREE'}`);
    checks.push({ side: peer, ok, loss: theirs.loss, worstTensor: worst.tensor, maxAbs: worst.maxAbs, relative, losses: theirSteps.losses, lossRelative, paramDiff, paramMoved: moved });
  }
  return { ok: checks.every((c) => c.ok), oursLoss: ours.loss, oursLosses, peers: checks };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One side started on one case. */
async function startSide(side: Side, c: BenchCase, f16Weights: boolean | undefined): Promise<BenchSide<SideResult>> {
  if (side === 'ours') return startOurs(c, log, f16Weights);
  if (side === 'tfjs') return (await import('./tfjs')).startTfjs(c, log);
  return (await import('./jax')).startJax(c, log, side === 'jax' ? 'webgpu' : 'wasm');
}

async function startMatmul(side: Side, n: number): Promise<MatmulSide> {
  if (side === 'ours') return startOursMatmul(n);
  if (side === 'tfjs') return (await import('./tfjs')).startTfjsMatmul(n);
  return (await import('./jax')).startJaxMatmul(n, side === 'jax' ? 'webgpu' : 'wasm');
}

/** Timed products per side and size, after one untimed one (compilation); sides alternate. */
const MATMUL_REPEATS = 3;

async function matmulBench(sizes: readonly number[], sides: readonly Side[]): Promise<NonNullable<BenchResult['matmul']>> {
  const rows: NonNullable<BenchResult['matmul']>['rows'] = [];
  for (const n of sizes) {
    const live: { side: Side; m: MatmulSide; ms: number[] }[] = [];
    for (const side of sides) {
      try {
        const m = await startMatmul(side, n);
        try {
          await m.once();
        } catch (e) {
          m.dispose();
          throw e;
        }
        live.push({ side, m, ms: [] });
      } catch (e) {
        rows.push({ n, side, error: errorText(e) });
        log(`matmul ${n}²: ${SIDE_NAMES[side]} failed: ${errorText(e)}`);
      }
    }
    const failed = new Set<Side>();
    for (let rep = 0; rep < MATMUL_REPEATS; rep++) {
      for (const s of live) {
        if (failed.has(s.side)) continue;
        try {
          s.ms.push(await s.m.once());
        } catch (e) {
          failed.add(s.side);
          rows.push({ n, side: s.side, error: errorText(e) });
        }
      }
    }
    for (const s of live) {
      s.m.dispose();
      if (failed.has(s.side)) continue;
      const ms = [...s.ms].sort((a, b) => a - b)[Math.floor(s.ms.length / 2)];
      rows.push({ n, side: s.side, ms, gflops: (2 * n ** 3) / (ms * 1e6), ...(s.m.detail ? { detail: s.m.detail } : {}) });
    }
    log(`matmul ${n}²: ${rows.filter((r) => r.n === n && !isError(r)).map((r) => `${SIDE_NAMES[r.side]} ${(r as MatmulRow).gflops.toFixed(2)} GFLOP/s`).join(', ')}`);
  }
  return { sizes: [...sizes], rows };
}

/** BENCH_ONLY / ?only=: a comma-separated list of sides, or 'check' (the baseline check alone). */
function parseSides(only: string | null): Side[] {
  if (!only || only === 'check') return [...SIDES];
  const names = only.split(',').map((x) => x.trim());
  const unknown = names.filter((x) => !(SIDES as readonly string[]).includes(x));
  if (unknown.length) throw new Error(`only=${only}: unknown side ${unknown.join(', ')}; use a comma-separated list of ${SIDES.join(', ')}, or check.`);
  return SIDES.filter((s) => names.includes(s));
}

/** ?matmul=512,1024 (BENCH_MATMUL_SIZES); 0 or none skips the micro-benchmark. */
function parseMatmulSizes(param: string | null, scale: Scale): number[] {
  if (param === null) return scale === 'cpu' ? MATMUL_SIZES_CPU : MATMUL_SIZES_GPU;
  if (param === '0' || param === 'none' || param === '') return [];
  const sizes = param.split(',').map((x) => Number(x.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`matmul=${param}: expected a comma-separated list of sizes such as 512,1024,2048 (or 0 for none).`);
  return sizes;
}

/** On SwiftShader one 2048² product takes 9 s (ours) to 26 s (TF.js), 5.5 min for the size with every side; the CPU default leaves it out. */
const MATMUL_SIZES_CPU = [512, 1024];
const MATMUL_SIZES_GPU = [512, 1024, 2048];

async function run(): Promise<BenchResult> {
  const params = new URLSearchParams(location.search);
  const only = params.get('only');
  const sides = parseSides(only);
  // f16=1 / f16=0 force the engine's f16 weight copies on / off; absent: the engine's default (off).
  const f16 = params.get('f16');
  const f16Weights = f16 === '1' ? true : f16 === '0' ? false : undefined;
  const probe = await acquireDevice();
  const a = probe.adapter;
  probe.device.destroy();
  const scaleParam = params.get('scale');
  const scale: Scale = scaleParam === 'cpu' || scaleParam === 'gpu' ? scaleParam : a.isFallbackAdapter ? 'cpu' : 'gpu';
  const matmulSizes = parseMatmulSizes(params.get('matmul'), scale);
  log(`adapter: ${a.vendor} ${a.architecture} ${a.description}${a.isFallbackAdapter ? ' (CPU fallback)' : ''}; sizes: ${scale}; sides: ${sides.join(', ')}; cross-origin isolated: ${crossOriginIsolated}`);
  const peers = PEERS.filter((p) => sides.includes(p));
  const baselineCheck = sides.includes('ours') && peers.length > 0 ? await checkBaseline(peers, log) : null;
  if (only === 'check') throw new Error('only=check: stopping after the baseline check');
  const cases: CaseResult[] = [];
  for (const c of benchCases(scale, await embeddedConfig())) {
    log(`case ${c.name}: L=${c.config.num_hidden_layers} C=${c.config.hidden_size} V=${c.config.vocab_size} B=${c.B} T=${c.T}`);
    const r: CaseResult = {
      name: c.name, config: c.config, B: c.B, T: c.T, parameters: parameterCount(c.config), rounds: c.rounds, perRound: c.perRound,
      ours: { error: 'not run' }, tfjs: { error: 'not run' }, jax: { error: 'not run' }, jaxwasm: { error: 'not run' }, ratios: {},
    };
    // Every side's result lands in its own field; OursResult and TfjsResult extend SideResult.
    const results = r as unknown as Record<Side, SideResult | { error: string }>;
    const live: { side: Side; s: BenchSide<SideResult>; ms: number[] }[] = [];
    for (const side of sides) {
      try {
        live.push({ side, s: await startSide(side, c, f16Weights), ms: [] });
      } catch (e) {
        results[side] = { error: errorText(e) };
      }
    }
    try {
      for (let round = 0; round < c.rounds; round++) for (const x of live) x.ms.push(await x.s.steps(c.perRound));
      for (const x of live) results[x.side] = await x.s.finish(x.ms, c.perRound);
    } catch (e) {
      for (const x of live) {
        x.s.abort();
        if (isError(results[x.side])) results[x.side] = { error: errorText(e) };
      }
    }
    const ours = live.find((x) => x.side === 'ours');
    for (const x of live) {
      const mine = r.ours, theirs = results[x.side];
      if (x.side === 'ours' || !ours || isError(mine) || isError(theirs)) continue;
      const peer = x.side as Peer;
      r.ratios[peer] = { total: mine.tokensPerSec / theirs.tokensPerSec, perRound: ours.ms.map((m, i) => x.ms[i] / m) };
      log(`case ${c.name}: ours ÷ ${SIDE_NAMES[peer]} = ${r.ratios[peer].total.toFixed(2)}x (per round: ${r.ratios[peer].perRound.map((v) => v.toFixed(2)).join(', ')})`);
    }
    for (const side of SIDES) {
      const x = results[side];
      if (isError(x) && x.error !== 'not run') log(`case ${c.name} ${SIDE_NAMES[side]} failed: ${x.error}`);
    }
    cases.push(r);
  }
  const matmul = matmulSizes.length ? await matmulBench(matmulSizes, sides) : undefined;
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
    crossOriginIsolated,
    ...(matmul ? { matmul } : {}),
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
