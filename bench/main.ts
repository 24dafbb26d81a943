/**
 * The benchmark page: picks the sizes for this adapter, runs our engine and TF.js on each case,
 * and leaves the result on `window.__bench` (bench/run.spec.ts reads it and writes results.json
 * and results.md). Open /bench/index.html in a WebGPU browser to run it by hand.
 */
import { acquireDevice } from '../src/gpu/device';
import { llamaConfigFromHf } from '../src/model/hfConfig';
import type { LlamaConfig } from '../src/engine/config';
import { benchOurs } from './ours';
import { benchCases, EMBEDDED_FALLBACK, isError, parameterCount, type BenchResult, type CaseResult, type Scale } from './common';
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

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function run(): Promise<BenchResult> {
  const params = new URLSearchParams(location.search);
  const only = params.get('only');
  const probe = await acquireDevice();
  const a = probe.adapter;
  probe.device.destroy();
  const scaleParam = params.get('scale');
  const scale: Scale = scaleParam === 'cpu' || scaleParam === 'gpu' ? scaleParam : a.isFallbackAdapter ? 'cpu' : 'gpu';
  log(`adapter: ${a.vendor} ${a.architecture} ${a.description}${a.isFallbackAdapter ? ' (CPU fallback)' : ''}; sizes: ${scale}`);
  const cases: CaseResult[] = [];
  for (const c of benchCases(scale, await embeddedConfig())) {
    log(`case ${c.name}: L=${c.config.num_hidden_layers} C=${c.config.hidden_size} V=${c.config.vocab_size} B=${c.B} T=${c.T}`);
    const r: CaseResult = {
      name: c.name, config: c.config, B: c.B, T: c.T, parameters: parameterCount(c.config), steps: c.steps,
      ours: { error: 'not run' }, tfjs: { error: 'not run' },
    };
    if (only !== 'tfjs') r.ours = await benchOurs(c, log).catch((e: unknown) => ({ error: errorText(e) }));
    if (only !== 'ours') {
      // Loaded on first use, so a run of ours alone never initialises TF.js.
      const { benchTfjs } = await import('./tfjs');
      r.tfjs = await benchTfjs(c, log).catch((e: unknown) => ({ error: errorText(e) }));
    }
    if (!isError(r.ours) && !isError(r.tfjs)) r.speedup = r.ours.tokensPerSec / r.tfjs.tokensPerSec;
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
    memoryNotes: [32000, 49152].map((V) => fusedLossSavings({ ...large.config, vocab_size: V }, large.B, large.T)),
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
