/**
 * Export: the file set (F32 safetensors with HF names and format 'pt', config.json, tokenizer files)
 * and its errors; then the PyTorch-loadability fixture: the tiny fixture models (llama tied BF16,
 * qwen2 untied F16) are loaded, trained a few steps on the GPU engine, exported, reloaded by
 * loadModel (logits identical), checked against the Float64 reference, and compared with the
 * logits PyTorch computed from the committed export (torch_logits.json, by scripts/check_export.py).
 *
 * Regenerate the committed fixture (src/model/fixtures/export/<name>/), then the torch logits:
 *   UPDATE_FIXTURES=1 npx vitest run src/model/export.test.ts
 *   /usr/bin/python3 scripts/check_export.py --write
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { Engine, DEFAULT_TRAIN_SETTINGS } from '../engine/trainer';
import { packBatch } from '../spec/batch';
import { createModel, forward, setParams } from '../reference/model';
import { paramTable } from '../spec/params';
import { compareTensor, formatComparison } from '../reference/fixture';
import { exportFineTuned, exportModel, hfConfigJson, type ExportedFile } from './export';
import { llamaConfigFromHf } from './hfConfig';
import { loadModel, type LoadedModel } from './loader';
import { parseSafetensors } from './safetensors';
import { diskFetch, TINY_DIR, TINY_SHARDED, TINY_TIED, TINY_URL, tinyWeights } from './testkit';

const FIXTURE = join(new URL('.', import.meta.url).pathname, 'fixtures/export');
const bytes = async (f: ExportedFile) => new Uint8Array(await f.blob.arrayBuffer());
const byName = (files: ExportedFile[], name: string) => {
  const f = files.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in the export (${files.map((x) => x.name).join(', ')})`);
  return f;
};

describe('exportModel', () => {
  it('writes F32 safetensors in paramTable order with format pt, the config, and the tokenizer files', async () => {
    const weights = tinyWeights(TINY_TIED, 1);
    const tok = new TextEncoder().encode('{"model": {}}');
    const files = exportModel({ config: TINY_TIED, weights, sideFiles: { 'tokenizer.json': tok } });
    expect(files.map((f) => f.name)).toEqual(['model.safetensors', 'config.json', 'tokenizer.json']);
    const st = parseSafetensors(await bytes(byName(files, 'model.safetensors')));
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.tensors.map((t) => t.name)).toEqual(paramTable(TINY_TIED).map((s) => s.name));
    expect(st.tensors.every((t) => t.dtype === 'F32')).toBe(true);
    expect(st.info('lm_head.weight')).toBeUndefined(); // tied: the head is the embedding
    for (const s of paramTable(TINY_TIED)) {
      expect(st.info(s.name)!.shape).toEqual(s.shape);
      expect(st.getFloat32(s.name)).toEqual(weights[s.name]);
    }
    const cfg = JSON.parse(new TextDecoder().decode(await bytes(byName(files, 'config.json'))));
    expect(llamaConfigFromHf(cfg).config).toEqual(TINY_TIED);
    expect(cfg).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], torch_dtype: 'float32' });
    expect(await bytes(byName(files, 'tokenizer.json'))).toEqual(tok);
    // A written-from-scratch qwen2 config maps back to the same LlamaConfig.
    expect(llamaConfigFromHf(hfConfigJson(TINY_SHARDED)).config).toEqual(TINY_SHARDED);
  });

  it('keeps the source config.json field for field (torch_dtype → float32)', async () => {
    const src = JSON.parse(readFileSync(join(TINY_DIR, 'sharded/config.json'), 'utf8'));
    const files = exportModel({ config: TINY_SHARDED, weights: tinyWeights(TINY_SHARDED, 2), configJson: src });
    const cfg = JSON.parse(new TextDecoder().decode(await bytes(byName(files, 'config.json'))));
    expect(cfg).toEqual({ ...src, torch_dtype: 'float32' });
    expect(parseSafetensors(await bytes(byName(files, 'model.safetensors'))).info('lm_head.weight')!.shape).toEqual([67, 24]);
  });

  it('refuses missing, misshapen and non-finite weights, and a config of another model, naming them', () => {
    const w = tinyWeights(TINY_TIED, 1);
    const without = { ...w };
    delete without['model.norm.weight'];
    expect(() => exportModel({ config: TINY_TIED, weights: without })).toThrow('Export: parameter "model.norm.weight" (shape [24]) is missing from the weights.');
    expect(() => exportModel({ config: TINY_TIED, weights: { ...w, 'model.norm.weight': new Float32Array(23) } })).toThrow('parameter "model.norm.weight" has 23 values; shape [24] needs 24.');
    const nan = w['model.layers.1.mlp.down_proj.weight'].slice();
    nan[7] = NaN;
    expect(() => exportModel({ config: TINY_TIED, weights: { ...w, 'model.layers.1.mlp.down_proj.weight': nan } })).toThrow(/"model\.layers\.1\.mlp\.down_proj\.weight" holds NaN at index 7; the training diverged/);
    const src = JSON.parse(readFileSync(join(TINY_DIR, 'config.json'), 'utf8'));
    expect(() => exportModel({ config: TINY_TIED, weights: w, configJson: { ...src, hidden_size: 32 } })).toThrow(/the source config\.json describes a different model/);
  });
});

/** Two fixed sequences of 12 ids (no padding), the input both the engine and PyTorch run. */
const INPUT = [
  [1, 40, 25, 10, 5, 2, 5, 1, 6, 23, 23, 14],
  [0, 12, 61, 33, 4, 4, 59, 7, 18, 2, 30, 66],
];
const T = 12;

async function trainAndExport(gpu: Gpu, loaded: LoadedModel, dir: string) {
  const engine = await Engine.create({ gpu, config: loaded.config, B: 2, T, weights: loaded.weights });
  const train = packBatch([{ ids: [1, 24, 17, 10, 23, 5, 8, 10, 17, 17, 20, 2] }, { ids: [1, 6, 24, 24, 18, 24, 4, 28, 24, 20, 2, 5] }], T);
  const losses: number[] = [];
  for (let i = 0; i < 6; i++) losses.push((await engine.trainStep([train], { ...DEFAULT_TRAIN_SETTINGS, lr: 1e-2 })).loss);
  expect(losses[5]).toBeLessThan(losses[0]);
  const weights = await engine.getParameters();
  const files = exportFineTuned(loaded, weights);
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.name), await bytes(f));
  const ev = await engine.evaluate(packBatch(INPUT.map((ids) => ({ ids })), T), 'mean_tokens', true);
  writeFileSync(join(dir, 'engine_logits.json'), `${JSON.stringify({
    description: 'Logits of the GPU engine (SwiftShader) for input_ids after 6 AdamW steps (lr 1e-2) on the tiny fixture; scripts/check_export.py compares PyTorch on this folder with them.',
    input_ids: INPUT, shape: [INPUT.length, T, loaded.config.vocab_size], train_losses: losses, logits: Array.from(ev.logits!),
  })}\n`);
  engine.destroy();
  return { weights, logits: ev.logits!, losses };
}

describe('export is loadable: GPU-trained, exported, reloaded, vs Float64 and PyTorch', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await acquireNodeDevice();
  });

  for (const [name, url, cfg] of [['llama-tied', TINY_URL, TINY_TIED], ['qwen2', `${TINY_URL}sharded/`, TINY_SHARDED]] as const) {
    it(`${name}: export → loadModel → same logits; Float64 reference agrees; committed export matches PyTorch`, async () => {
      const src = await loadModel(url, { fetch: diskFetch(TINY_DIR, TINY_URL).fetch, cache: null });
      expect(src.config).toEqual(cfg);
      const dir = process.env.UPDATE_FIXTURES ? join(FIXTURE, name) : mkdtempSync(join(tmpdir(), `export-${name}-`));
      const { weights, logits, losses } = await trainAndExport(gpu, src, dir);
      console.log(`${name}: train losses ${losses.map((l) => l.toFixed(4)).join(' → ')}; exported to ${dir}`);

      const re = await loadModel('/export/', { fetch: diskFetch(dir, '/export/').fetch, cache: null });
      expect(re.config).toEqual(cfg);
      expect(re.dtypes).toEqual({ F32: paramTable(cfg).length });
      for (const [k, w] of Object.entries(weights)) expect(re.weights[k], k).toEqual(w);
      expect(Object.keys(re.sideFiles).sort()).toEqual(Object.keys(src.sideFiles).sort());
      const engine = await Engine.create({ gpu, config: re.config, B: 2, T, weights: re.weights });
      const again = await engine.evaluate(packBatch(INPUT.map((ids) => ({ ids })), T), 'mean_tokens', true);
      expect(again.logits).toEqual(logits); // same weights, same kernels: bit for bit

      const ref = createModel(re.config);
      setParams(ref, re.weights);
      const want = forward(ref, Int32Array.from(INPUT.flat()), new Int32Array(2 * T), Int32Array.from({ length: 2 * T }, (_, i) => i % T), 2, T);
      const r = compareTensor(`${name} exported-model logits: engine vs Float64 reference`, logits, want, 1e-5, 1e-3);
      console.log(formatComparison(r));
      expect(r.failures).toBe(0);

      // The committed export, loaded by PyTorch (scripts/check_export.py --write): same logits.
      const committed = join(FIXTURE, name);
      const torchFile = join(committed, 'torch_logits.json');
      expect(existsSync(torchFile), `${torchFile} missing: run /usr/bin/python3 scripts/check_export.py --write`).toBe(true);
      const torch = JSON.parse(readFileSync(torchFile, 'utf8')) as { input_ids: number[][]; logits: number[]; max_abs_error_vs_engine: number };
      expect(torch.input_ids).toEqual(INPUT);
      const c = await loadModel('/export/', { fetch: diskFetch(committed, '/export/').fetch, cache: null });
      const cEngine = await Engine.create({ gpu, config: c.config, B: 2, T, weights: c.weights });
      const cLogits = (await cEngine.evaluate(packBatch(INPUT.map((ids) => ({ ids })), T), 'mean_tokens', true)).logits!;
      const t = compareTensor(`${name} committed export: engine vs PyTorch (float64)`, cLogits, torch.logits, 1e-4, 0);
      console.log(`${formatComparison(t)}  (check_export.py measured ${torch.max_abs_error_vs_engine.toExponential(2)})`);
      expect(t.failures).toBe(0);
      cEngine.destroy();
      engine.destroy();
    });
  }
});
