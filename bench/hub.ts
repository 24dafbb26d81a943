/**
 * `BENCH_MODEL=<name> npm run bench:node`: a Hub-size model (the real config.json of a Hub model,
 * src/model/fixtures/hub, with seeded random weights: matrices ~ N(0, 0.02²), norms 1, biases 0)
 * trained for two steps in each mode: full fine-tuning (f32), LoRA (DEFAULT_LORA) on an f32 base,
 * LoRA on a bf16 base. Per mode: the size table per category, start-up (Engine.create, weight
 * upload included), the first step and ms per step, the two losses. A mode that cannot be built or
 * run is reported with the engine's message; writes bench/results-node-<model>.json and .md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../src/gpu/device';
import { describeAdapter } from '../src/gpu/device';
import { llamaConfigFromHf } from '../src/model/hfConfig';
import { buildLayout, CATEGORIES, memoryEstimate, type Category, type LoraLayout, type MemoryEstimate } from '../src/engine/layout';
import { Engine } from '../src/engine/trainer';
import { matmulTilesFor } from '../src/engine/autotune';
import { describeTiles } from '../src/engine/ops/matmul';
import { DEFAULT_LORA, trainableCount } from '../src/spec/lora';
import type { LlamaConfig } from '../src/spec/config';
import type { TrainSettings } from '../src/spec/step';
import { initWeights, parameterCount, syntheticBatch } from './common';

/** BENCH_MODEL values → the fixture's file name and Hub repository. */
export const HUB_MODELS = {
  'smollm2-135m': { file: 'SmolLM2-135M-Instruct', repo: 'HuggingFaceTB/SmolLM2-135M-Instruct' },
  'smollm2-360m': { file: 'SmolLM2-360M-Instruct', repo: 'HuggingFaceTB/SmolLM2-360M-Instruct' },
  'qwen2.5-0.5b': { file: 'Qwen2.5-0.5B-Instruct', repo: 'Qwen/Qwen2.5-0.5B-Instruct' },
} as const;
export type HubModel = keyof typeof HUB_MODELS;

export function isHubModel(s: string): s is HubModel {
  return Object.hasOwn(HUB_MODELS, s);
}

/**
 * AdamW without decay, HF Trainer's clip. Learning rates chosen so that step 2's loss (after one
 * update on the same batch) is below step 1's: Adam's first update moves every trained value by
 * about lr in the descent direction, 1e-3 is 5% of the 0.02 init for full fine-tuning; LoRA's B
 * starts at 0, and 1e-2 gives the adapters an update of the same order relative to the base's output.
 */
const FULL_SETTINGS: TrainSettings = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, lossMode: 'mean_tokens' };
const LORA_SETTINGS: TrainSettings = { ...FULL_SETTINGS, lr: 1e-2 };

interface Mode {
  name: string;
  lora: LoraLayout | null;
  settings: TrainSettings;
}

const MODES: Mode[] = [
  { name: 'full fine-tuning (f32)', lora: null, settings: FULL_SETTINGS },
  { name: 'LoRA r8 q,k,v,o (f32 base)', lora: { config: DEFAULT_LORA, baseDtype: 'f32' }, settings: LORA_SETTINGS },
  { name: 'LoRA r8 q,k,v,o (bf16 base)', lora: { config: DEFAULT_LORA, baseDtype: 'bf16' }, settings: LORA_SETTINGS },
];

export interface HubModeResult {
  mode: string;
  lr: number;
  trainable: number;
  /** Bytes per category and total (memoryEstimate). */
  memory: MemoryEstimate;
  /** The largest single GPU buffer of the layout (what the binding limit applies to). */
  largestArena: { label: string; bytes: number } | null;
  /** Engine.create plus the weight upload (until the queue is idle), ms. */
  startupMs?: number;
  /** Step 1 (first use of every pipeline), ms. */
  firstStepMs?: number;
  /** Step 2 (warm), ms: the ms per step. */
  stepMs?: number;
  losses?: number[];
  gradNorms?: number[];
  error?: string;
}

export interface HubBenchResult {
  date: string;
  runtime: string;
  model: HubModel;
  repo: string;
  config: LlamaConfig;
  parameters: number;
  B: number;
  T: number;
  adapter: { description: string; isFallbackAdapter: boolean; maxBufferSize: number; maxStorageBufferBindingSize: number };
  matmulTiles: string;
  autotuneMs: number;
  modes: HubModeResult[];
}

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

export function hubConfig(model: HubModel): LlamaConfig {
  const path = `src/model/fixtures/hub/${HUB_MODELS[model].file}.config.json`;
  return llamaConfigFromHf(JSON.parse(readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8')), path).config;
}

const positiveInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`${name}=${v}: expected a positive integer.`);
  return n;
};

/** Runs every mode on fresh devices from `acquire`; writes the results after each mode. */
export async function runHubBench(model: HubModel, acquire: () => Promise<Gpu>, log: (s: string) => void): Promise<HubBenchResult> {
  const config = hubConfig(model);
  const B = positiveInt('BENCH_B', 1), T = positiveInt('BENCH_T', 256);
  const probe = await acquire();
  const a = probe.adapter;
  const lim = a.limits;
  log(`adapter: ${describeAdapter(a)}; maxBufferSize ${mib(lim.maxBufferSize)}, maxStorageBufferBindingSize ${mib(lim.maxStorageBufferBindingSize)}`);
  const tuning = await matmulTilesFor(probe, { N: B * T, I: config.hidden_size, O: config.intermediate_size }, null);
  probe.device.destroy();
  log(`matmul tiles ${describeTiles(tuning.tiles)} (autotune ${tuning.ms.toFixed(0)} ms)`);
  const t0 = performance.now();
  const weights = initWeights(config);
  const batch = syntheticBatch(B, T, config.vocab_size);
  log(`${model}: ${parameterCount(config).toLocaleString('en-US')} parameters, random weights in ${(performance.now() - t0).toFixed(0)} ms; B=${B} T=${T}`);
  const result: HubBenchResult = {
    date: new Date().toISOString(),
    runtime: `Node ${process.version}, webgpu (Dawn)`,
    model, repo: HUB_MODELS[model].repo, config, parameters: parameterCount(config), B, T,
    adapter: { description: describeAdapter(a), isFallbackAdapter: a.isFallbackAdapter, maxBufferSize: lim.maxBufferSize, maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize },
    matmulTiles: describeTiles(tuning.tiles), autotuneMs: tuning.ms, modes: [],
  };
  const maxArena = Math.min(lim.maxBufferSize, lim.maxStorageBufferBindingSize);
  for (const m of MODES) {
    const r: HubModeResult = {
      mode: m.name, lr: m.settings.lr, trainable: trainableCount(config, m.lora?.config ?? null),
      memory: memoryEstimate(config, B, T, 1, undefined, false, m.lora), largestArena: null,
    };
    try {
      const largest = buildLayout(config, B, T, { lora: m.lora, maxArenaBytes: maxArena }).arenas.reduce((x, y) => (y.bytes > x.bytes ? y : x));
      r.largestArena = { label: largest.label, bytes: largest.bytes };
    } catch {
      // Engine.create below throws the same message; recorded there.
    }
    log(`${m.name}: size table ${mib(r.memory.total)}, trains ${r.trainable.toLocaleString('en-US')} values`);
    let gpu: Gpu | null = null;
    let engine: Engine | null = null;
    try {
      gpu = await acquire();
      const t1 = performance.now();
      engine = await Engine.create({
        gpu, config, B, T, weights, matmulTiles: tuning.tiles, f16Weights: false,
        lora: m.lora ? { config: m.lora.config, baseDtype: m.lora.baseDtype, seed: 0 } : null,
      });
      await gpu.device.queue.onSubmittedWorkDone();
      r.startupMs = performance.now() - t1;
      log(`${m.name}: start-up ${(r.startupMs / 1000).toFixed(1)} s`);
      r.losses = [];
      r.gradNorms = [];
      for (let step = 1; step <= 2; step++) {
        const t2 = performance.now();
        const rep = await engine.trainStep([batch], m.settings);
        const ms = performance.now() - t2;
        if (rep.status !== 'ok') throw new Error(`step ${step}: ${rep.status}${rep.message ? `: ${rep.message}` : ''}`);
        r.losses.push(rep.loss);
        r.gradNorms.push(rep.gradNorm);
        if (step === 1) r.firstStepMs = ms;
        else r.stepMs = ms;
        log(`${m.name}: step ${step} ${(ms / 1000).toFixed(1)} s, loss ${rep.loss.toFixed(4)}, grad norm ${rep.gradNorm.toFixed(3)}`);
      }
    } catch (e) {
      r.error = e instanceof Error ? e.message : String(e);
      log(`${m.name}: FAILED: ${r.error}`);
    } finally {
      engine?.destroy();
      gpu?.device.destroy();
    }
    result.modes.push(r);
    writeHubResults(result);
  }
  return result;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const MIB = (b: number) => (b / 2 ** 20).toFixed(1);

/** The categories that are not zero in any mode, in table order. */
function shownCategories(r: HubBenchResult): Category[] {
  return CATEGORIES.filter((c) => r.modes.some((m) => m.memory[c] > 0));
}

export function hubMarkdown(r: HubBenchResult): string {
  const c = r.config;
  const cats = shownCategories(r);
  const lines = [
    `**${r.repo}** config (L${c.num_hidden_layers} C${c.hidden_size} F${c.intermediate_size} heads ${c.num_attention_heads}/${c.num_key_value_heads} V${c.vocab_size}${c.tie_word_embeddings ? ' tied' : ''}${c.attention_bias ? ', q/k/v bias' : ''}; ${(r.parameters / 1e6).toFixed(1)} M parameters), random weights, B=${r.B}, T=${r.T}, 2 steps on one fixed random batch.`,
    `Adapter: ${r.adapter.description}; maxBufferSize ${mib(r.adapter.maxBufferSize)}, maxStorageBufferBindingSize ${mib(r.adapter.maxStorageBufferBindingSize)}. Matmul tiles ${r.matmulTiles}. Run ${r.date} in ${r.runtime}.`,
    '',
    '| mode | trains | lr | start-up s | step 1 s | ms/step (step 2) | loss step 1 → 2 | result |',
    '|---|---:|---:|---:|---:|---:|---|---|',
    ...r.modes.map((m) => {
      const ok = !m.error;
      const loss = m.losses?.length ? m.losses.map((x) => x.toFixed(4)).join(' → ') : '';
      return `| ${m.mode} | ${(m.trainable / 1e6).toFixed(2)} M | ${m.lr} | ${m.startupMs === undefined ? '' : (m.startupMs / 1000).toFixed(1)} | ${m.firstStepMs === undefined ? '' : (m.firstStepMs / 1000).toFixed(1)} | ${m.stepMs === undefined ? '' : m.stepMs.toFixed(0)} | ${loss} | ${ok ? 'ok' : `failed: ${m.error!.replace(/\|/g, '/')}`} |`;
    }),
    '',
    'GPU memory from the size table (memoryEstimate), MiB:',
    '',
    `| mode | ${cats.join(' | ')} | total | largest buffer |`,
    `|---|${cats.map(() => '---:').join('|')}|---:|---|`,
    ...r.modes.map((m) => `| ${m.mode} | ${cats.map((k) => MIB(m.memory[k])).join(' | ')} | **${MIB(m.memory.total)}** | ${m.largestArena ? `${MIB(m.largestArena.bytes)} (${m.largestArena.label})` : 'over the limit'} |`),
  ];
  return `${lines.join('\n')}\n`;
}

export function writeHubResults(r: HubBenchResult): void {
  writeFileSync(here(`./results-node-${r.model}.json`), `${JSON.stringify(r, null, 1)}\n`);
  writeFileSync(here(`./results-node-${r.model}.md`), `# Hub-size model: ${r.model} (Node, ours only)\n\n${hubMarkdown(r)}`);
}
