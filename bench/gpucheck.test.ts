/**
 * Steps 1 and 3 of `npm run gpu-check` (scripts/gpu-check.mjs runs it): the adapter report, then
 * our engine's training step at GPU sizes in Node through Dawn, f16 weights off and on. Writes
 * JSON to GPU_CHECK_OUT. GPU_CHECK_DRY=1 (a CPU adapter, e.g. SwiftShader) shrinks every case so
 * the whole check still runs end to end. A benchmark, not a check: it fails only when a case
 * cannot run at all.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { acquireNodeDevice } from '../src/gpu/node-device';
import { describeAdapter } from '../src/gpu/device';
import { llamaConfigFromHf } from '../src/model/hfConfig';
import type { LlamaConfig } from '../src/spec/config';
import { startOurs } from './ours';
import { isError, parameterCount, type BenchCase } from './common';
import { DEFAULT_LORA } from '../src/spec/lora';

/**
 * HuggingFaceTB/SmolLM2-135M's architecture (its config.json's values), with random weights: the
 * smallest Hub model a practitioner would tune here.
 */
const SMOLLM2_135M: LlamaConfig = {
  vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3,
  rope_theta: 100000, rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 8192,
};

it('gpu-check: adapter and training speed', async () => {
  const log = (s: string) => console.log(`[gpu-check] ${s}`);
  const dry = process.env.GPU_CHECK_DRY === '1';
  const probe = await acquireNodeDevice();
  const a = probe.adapter;
  log(`adapter: ${describeAdapter(a)}${a.isFallbackAdapter ? ' (a CPU fallback adapter)' : ''}`);
  if (process.env.GPU_CHECK_ADAPTER_ONLY === '1') {
    if (process.env.GPU_CHECK_OUT) writeFileSync(process.env.GPU_CHECK_OUT, JSON.stringify({ dry, adapter: a, cases: [] }));
    return;
  }
  const hf = JSON.parse(readFileSync('public/models/playground-base/config.json', 'utf8'));
  const embedded = llamaConfigFromHf(hf, 'public/models/playground-base/config.json').config;
  const cases: (BenchCase & { f16: boolean })[] = [];
  for (const f16 of [false, true]) {
    if (dry) {
      cases.push({ name: 'embedded', config: embedded, B: 2, T: 64, rounds: 2, perRound: 1, warmup: 1, f16 });
      if (!f16) cases.push({ name: 'smollm2-135m', config: SMOLLM2_135M, B: 1, T: 32, rounds: 1, perRound: 1, warmup: 1, f16 });
    } else {
      cases.push({ name: 'embedded', config: embedded, B: 8, T: 256, rounds: 5, perRound: 4, warmup: 3, f16 });
      cases.push({ name: 'smollm2-135m', config: SMOLLM2_135M, B: 8, T: 512, rounds: 3, perRound: 2, warmup: 2, f16 });
    }
  }
  // LoRA (DEFAULT_LORA: r 8 on q, k, v, o) on SmolLM2-135M's shape, on an f32 and a bf16 base.
  for (const baseDtype of ['f32', 'bf16'] as const) {
    const lora = { config: DEFAULT_LORA, baseDtype };
    const name = `smollm2-135m LoRA ${baseDtype} base`;
    if (dry) cases.push({ name, config: SMOLLM2_135M, B: 1, T: 32, rounds: 1, perRound: 1, warmup: 1, f16: false, lora });
    else cases.push({ name, config: SMOLLM2_135M, B: 8, T: 512, rounds: 3, perRound: 2, warmup: 2, f16: false, lora });
  }
  const results = [];
  for (const c of cases) {
    log(`case ${c.name} ${c.B}x${c.T}, f16 weights ${c.f16 ? 'on' : 'off'}: ${(parameterCount(c.config) / 1e6).toFixed(1)} M parameters`);
    const t0 = performance.now();
    try {
      const ours = await startOurs(c, log, c.f16, acquireNodeDevice);
      const ms: number[] = [];
      for (let round = 0; round < c.rounds; round++) ms.push(await ours.steps(c.perRound));
      const r = await ours.finish(ms, c.perRound);
      log(`case ${c.name}: ${r.tokensPerSec.toFixed(0)} tokens/s, ${r.stepMs.toFixed(1)} ms/step (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      results.push({ name: c.name, B: c.B, T: c.T, f16: c.f16, lora: c.lora ?? null, config: c.config, parameters: parameterCount(c.config), ours: r });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`case ${c.name}: failed: ${error}`);
      results.push({ name: c.name, B: c.B, T: c.T, f16: c.f16, lora: c.lora ?? null, config: c.config, parameters: parameterCount(c.config), ours: { error } });
    }
  }
  const out = { dry, adapter: a, cases: results };
  if (process.env.GPU_CHECK_OUT) writeFileSync(process.env.GPU_CHECK_OUT, JSON.stringify(out));
  expect(results.some((r) => !isError(r.ours as never)), 'at least one case ran').toBe(true);
}, 60 * 60_000);
