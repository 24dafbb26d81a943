/**
 * KV-cache decoding vs recomputing the full forward per new token, time per token. A benchmark,
 * not a check: runs only with GENERATION_BENCH=1 (the full recompute of the embedded model takes
 * minutes on SwiftShader):
 *   GENERATION_BENCH=1 npx vitest run src/engine/generation.bench.test.ts
 * (GENERATION_BENCH=decode times the KV-cache decoder only.)
 * Full recompute = Engine.evaluate on the smallest engine holding prompt + new tokens (B = 1,
 * T = prompt + new), one call per new token; its time per call does not depend on how many tokens
 * are real (the engine computes every position of T), so `recomputeCalls` calls are timed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import { describeAdapter } from '../gpu/device';
import { MICRO_CONFIG, type LlamaConfig } from '../spec/config';
import { Engine } from './trainer';
import { Decoder, PREFILL_CHUNK } from './generation';
import { packBatch } from '../spec/batch';
import { randomModel } from '../reference/testkit';
import { tensorView } from '../reference/model';
import { parseSafetensors } from '../model/safetensors';
import { llamaConfigFromHf } from '../model/hfConfig';

async function bench(name: string, config: LlamaConfig, weights: Record<string, Float32Array>, promptLen: number, newTokens: number, recomputeCalls: number) {
  const gpu = await acquireNodeDevice();
  const T = promptLen + newTokens;
  const engine = await Engine.create({ gpu, config, B: 1, T, weights });
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7 + 1) % config.vocab_size);
  // Prefill one token per submission (chunk 1) vs the default chunk of PREFILL_CHUNK rows.
  const single = await Decoder.create(engine, { maxContext: T, prefillChunk: 1 });
  await single.prefill(prompt); // warm-up: pipelines, first map
  let t0 = performance.now();
  await single.prefill(prompt);
  const singleMs = performance.now() - t0;
  single.destroy();
  const dec = await Decoder.create(engine, { maxContext: T });
  await dec.prefill(prompt);
  t0 = performance.now();
  let logits = await dec.prefill(prompt);
  const prefillMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < newTokens; i++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    logits = await dec.step(best);
  }
  const decodeMs = (performance.now() - t0) / newTokens;
  // A timing is only worth printing if the decoder still produced usable logits.
  expect(logits.length).toBe(config.vocab_size);
  expect(logits.every(Number.isFinite)).toBe(true);
  if (process.env.GENERATION_BENCH === 'decode') recomputeCalls = 0;
  const ids = [...prompt];
  if (recomputeCalls) await engine.evaluate(packBatch([{ ids }], T)); // warm-up
  t0 = performance.now();
  for (let i = 0; i < recomputeCalls; i++) {
    ids.push(1);
    await engine.evaluate(packBatch([{ ids }], T));
  }
  const recomputeMs = recomputeCalls ? (performance.now() - t0) / recomputeCalls : NaN;
  console.log(`${name} on ${describeAdapter(gpu.adapter)}: prompt ${promptLen}, ${newTokens} new tokens, T = ${T}\n` +
    `  KV cache: prefill ${prefillMs.toFixed(0)} ms in chunks of ${Math.min(PREFILL_CHUNK, T)} (${(prefillMs / promptLen).toFixed(1)} ms/token; one token per submission: ${(singleMs / promptLen).toFixed(1)} ms/token), decode ${decodeMs.toFixed(1)} ms/token\n` +
    `  full recompute (Engine.evaluate, T = ${T}): ${recomputeMs.toFixed(0)} ms/token (mean of ${recomputeCalls})  → cache is ${(recomputeMs / decodeMs).toFixed(0)}x faster`);
  dec.destroy();
  engine.destroy();
}

describe.runIf(process.env.GENERATION_BENCH)('generation timing: KV cache vs full recompute', () => {
  it('micro model', async () => {
    const ref = randomModel(MICRO_CONFIG, 1);
    const weights = Object.fromEntries(ref.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(ref.layout, ref.params, s.name))]));
    await bench('micro (V 67, C 24, L 2)', { ...MICRO_CONFIG, max_position_embeddings: 256 }, weights, 128, 64, 16);
  });

  it('embedded playground-base', async () => {
    const dir = new URL('../../public/models/playground-base/', import.meta.url);
    const { config } = llamaConfigFromHf(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
    const f = parseSafetensors(readFileSync(new URL('model.safetensors', dir)));
    const weights = Object.fromEntries(f.tensors.map((t) => [t.name, f.getFloat32(t.name)]));
    await bench('playground-base (V 4096, C 256, L 4)', config, weights, 128, 64, 2);
  }, 900_000);
});
