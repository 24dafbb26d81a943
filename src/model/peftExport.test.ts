/**
 * PEFT adapter export: the file set (adapter_model.safetensors with PEFT's names, F32, format pt;
 * adapter_config.json with peft 0.13's LoraConfig fields) and its errors; then the PyTorch fixture:
 * the tiny fixture models (llama tied BF16 with q,v r4/α8; qwen2 untied F16 with all seven
 * projections r3/α5) train a LoRA adapter a few steps on the GPU engine, the adapter and the merged
 * model are exported, read back (header tiling, names = peftName(loraTable), values = the
 * engine's), reloaded into engines (same logits), and compared with the logits PyTorch computed
 * from the committed adapter applied to the base model (torch_logits.json, by scripts/check_peft.py).
 *
 * Regenerate the committed fixture (src/model/fixtures/peft/<name>/), then the torch logits:
 *   UPDATE_FIXTURES=1 npx vitest run src/model/peftExport.test.ts
 *   /usr/bin/python3 scripts/check_peft.py --write
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { Engine, DEFAULT_TRAIN_SETTINGS } from '../engine/trainer';
import { packBatch } from '../spec/batch';
import { compareTensor, formatComparison } from '../reference/fixture';
import { initLora, loraTable, peftName, type LoraConfig } from '../spec/lora';
import { paramTable } from '../spec/params';
import type { ExportedFile } from './export';
import { exportLoraRun, exportPeftAdapter, peftAdapterConfig, peftBaseOf, type LoraRun } from './peftExport';
import { loadModel, type LoadedModel } from './loader';
import { parseSafetensors } from './safetensors';
import { resolveModelSource } from './hub';
import { diskFetch, REPO_ROOT, TINY_DIR, TINY_SHARDED, TINY_TIED, TINY_URL } from './testkit';

const FIXTURE = join(new URL('.', import.meta.url).pathname, 'fixtures/peft');
const bytes = async (f: ExportedFile) => new Uint8Array(await f.blob.arrayBuffer());
const byName = (files: ExportedFile[], name: string) => {
  const f = files.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in the export (${files.map((x) => x.name).join(', ')})`);
  return f;
};
const f32 = (t: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Float32Array.from(v)]));

/** The raw header, checked the way the safetensors library reads it: F32, offsets tiling the data region. */
function rawHeader(buf: Uint8Array) {
  const n = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(0, true));
  expect((8 + n) % 8).toBe(0);
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__?: Record<string, string> };
  const { __metadata__: meta, ...entries } = header;
  const spans = Object.entries(entries).map(([name, e]) => ({ name, ...e })).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
  let at = 0;
  for (const s of spans) {
    expect(s.data_offsets[0], `${s.name} starts where the previous tensor ended`).toBe(at);
    expect(s.data_offsets[1] - s.data_offsets[0]).toBe(4 * s.shape.reduce((a, b) => a * b, 1));
    at = s.data_offsets[1];
  }
  expect(at, 'the tensors tile the data region').toBe(buf.byteLength - 8 - n);
  return { meta, entries };
}

function randomAdapter(cfg: typeof TINY_TIED, lora: LoraConfig, seed: number): Record<string, Float32Array> {
  const a = f32(initLora(cfg, lora, seed));
  let x = seed;
  for (const s of loraTable(cfg, lora)) if (s.name.includes('lora_B')) for (let i = 0; i < a[s.name].length; i++) a[s.name][i] = (((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5) * 0.2;
  return a;
}

describe('exportPeftAdapter', () => {
  const lora: LoraConfig = { r: 4, alpha: 8, targets: ['v', 'q', 'down'] };

  it('writes PEFT names (base_model.model. + module, no adapter name), F32 (r, I) / (O, r), format pt, and the config', async () => {
    const adapter = randomAdapter(TINY_TIED, lora, 7);
    const files = exportPeftAdapter({ config: TINY_TIED, lora, adapter, baseModel: 'owner/tiny' });
    expect(files.map((f) => f.name)).toEqual(['adapter_model.safetensors', 'adapter_config.json']);
    const buf = await bytes(byName(files, 'adapter_model.safetensors'));
    const { meta, entries } = rawHeader(buf);
    expect(meta).toEqual({ format: 'pt' });
    const table = loraTable(TINY_TIED, lora);
    expect(Object.keys(entries)).toEqual(table.map((s) => peftName(s.name)));
    expect(Object.keys(entries)[0]).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(Object.keys(entries)).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    expect(Object.keys(entries).every((k) => !k.includes('.default.'))).toBe(true);
    const st = parseSafetensors(buf);
    for (const s of table) {
      const e = entries[peftName(s.name)];
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual(s.shape);
      expect(st.getFloat32(peftName(s.name))).toEqual(adapter[s.name]);
    }
    expect(entries['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape).toEqual([4, 24]); // (r, I)
    expect(entries['base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight'].shape).toEqual([12, 4]); // (O, r): NKV 2 × hs 6
    expect(entries['base_model.model.model.layers.0.mlp.down_proj.lora_A.weight'].shape).toEqual([4, 40]);

    const cfg = JSON.parse(new TextDecoder().decode(await bytes(byName(files, 'adapter_config.json'))));
    expect(cfg).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj', 'down_proj'],
      bias: 'none', fan_in_fan_out: false, use_rslora: false, use_dora: false, init_lora_weights: true, base_model_name_or_path: 'owner/tiny',
      revision: null, inference_mode: true, modules_to_save: null, layers_to_transform: null, rank_pattern: {}, alpha_pattern: {},
    });
    expect(cfg).toEqual(peftAdapterConfig(lora, 'owner/tiny'));
  });

  it('names the base by Hub id (revision unless main) or folder', () => {
    expect(peftBaseOf(resolveModelSource('HuggingFaceTB/SmolLM2-135M-Instruct'))).toEqual({ baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: null });
    expect(peftBaseOf(resolveModelSource('owner/m@v1.0'))).toEqual({ baseModel: 'owner/m', revision: 'v1.0' });
    expect(peftBaseOf(resolveModelSource('/models/mine/'))).toEqual({ baseModel: '/models/mine/', revision: null });
  });

  it('refuses missing, misshapen and non-finite adapter tensors, and a full fine-tuning run', async () => {
    const a = randomAdapter(TINY_TIED, lora, 3);
    const name = 'model.layers.1.self_attn.v_proj.lora_B.weight';
    const without = { ...a };
    delete without[name];
    expect(() => exportPeftAdapter({ config: TINY_TIED, lora, adapter: without, baseModel: 'x' })).toThrow(`Adapter export: tensor "${name}" (shape [12, 4]) is missing from the adapter.`);
    expect(() => exportPeftAdapter({ config: TINY_TIED, lora, adapter: { ...a, [name]: new Float32Array(5) }, baseModel: 'x' })).toThrow(`tensor "${name}" has 5 values; shape [12, 4] needs 48.`);
    const nan = a[name].slice();
    nan[3] = Infinity;
    expect(() => exportPeftAdapter({ config: TINY_TIED, lora, adapter: { ...a, [name]: nan }, baseModel: 'x' })).toThrow(/holds Infinity at index 3; the training diverged/);
    expect(() => exportPeftAdapter({ config: TINY_TIED, lora: { ...lora, r: 0 }, adapter: a, baseModel: 'x' })).toThrow(/rank r must be a positive integer/);
    const full: LoraRun = { lora: null, getAdapter: async () => ({}), getParameters: async () => ({}) };
    await expect(exportLoraRun({} as LoadedModel, full)).rejects.toThrow(/fine-tunes the whole model; it has no LoRA adapter/);
  });
});

/** The input both the engine and PyTorch run (export.test.ts's). */
const INPUT = [
  [1, 40, 25, 10, 5, 2, 5, 1, 6, 23, 23, 14],
  [0, 12, 61, 33, 4, 4, 59, 7, 18, 2, 30, 66],
];
const T = 12;
const input = () => packBatch(INPUT.map((ids) => ({ ids })), T);
const CASES = [
  { name: 'llama-tied', url: TINY_URL, dir: TINY_DIR, cfg: TINY_TIED, lora: { r: 4, alpha: 8, targets: ['q', 'v'] } as LoraConfig },
  { name: 'qwen2', url: `${TINY_URL}sharded/`, dir: join(TINY_DIR, 'sharded'), cfg: TINY_SHARDED, lora: { r: 3, alpha: 5, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] } as LoraConfig },
] as const;

async function writeFiles(dir: string, files: ExportedFile[]) {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.name), await bytes(f));
}

/** The adapter by engine name, read back from adapter_model.safetensors. */
function readAdapter(buf: Uint8Array, cfg: typeof TINY_TIED, lora: LoraConfig): Record<string, Float32Array> {
  const st = parseSafetensors(buf);
  expect(st.tensors.map((t) => t.name).sort()).toEqual(loraTable(cfg, lora).map((s) => peftName(s.name)).sort());
  return Object.fromEntries(loraTable(cfg, lora).map((s) => [s.name, st.getFloat32(peftName(s.name))]));
}

describe('PEFT adapter of a GPU LoRA run: read back, reloaded, vs PyTorch', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await acquireNodeDevice();
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.lora.targets.join(',')} r${c.lora.r}/α${c.lora.alpha}: adapter and merged export reload to the same logits; committed adapter matches PyTorch`, async () => {
      const src = await loadModel(c.url, { fetch: diskFetch(TINY_DIR, TINY_URL).fetch, cache: null });
      expect(src.config).toEqual(c.cfg);
      const dir = process.env.UPDATE_FIXTURES ? join(FIXTURE, c.name) : mkdtempSync(join(tmpdir(), `peft-${c.name}-`));

      const engine = await Engine.create({ gpu, config: src.config, B: 2, T, weights: src.weights, lora: { config: c.lora, seed: 5 } });
      const before = (await engine.evaluate(input(), 'mean_tokens', true)).logits!;
      const train = packBatch([{ ids: [1, 24, 17, 10, 23, 5, 8, 10, 17, 17, 20, 2] }, { ids: [1, 6, 24, 24, 18, 24, 4, 28, 24, 20, 2, 5] }], T);
      const losses: number[] = [];
      for (let i = 0; i < 6; i++) losses.push((await engine.trainStep([train], { ...DEFAULT_TRAIN_SETTINGS, lr: 2e-2 })).loss);
      expect(losses[5]).toBeLessThan(losses[0]);
      const adapter = await engine.getAdapter();
      const maxB = Math.max(...loraTable(c.cfg, c.lora).filter((s) => s.name.includes('lora_B')).map((s) => Math.max(...Array.from(adapter[s.name], Math.abs))));
      expect(maxB, 'B has moved well away from its zero init').toBeGreaterThan(0.05);
      const logits = (await engine.evaluate(input(), 'mean_tokens', true)).logits!;
      const moved = compareTensor('adapter effect', logits, before, 0, 0).maxAbs;
      expect(moved, 'the adapter changes the logits far beyond the PyTorch tolerance').toBeGreaterThan(1e-2);

      const adapterFiles = await exportLoraRun(src, engine);
      await writeFiles(dir, adapterFiles);
      const mergedFiles = await exportLoraRun(src, engine, { merged: true });
      await writeFiles(join(dir, 'merged'), mergedFiles);
      const sha = (f: string) => createHash('sha256').update(readFileSync(join(c.dir, f))).digest('hex');
      const baseFiles = readdirSync(c.dir).filter((f) => f.endsWith('.safetensors')).sort();
      writeFileSync(join(dir, 'engine_logits.json'), `${JSON.stringify({
        description: `Logits of the GPU engine (SwiftShader) with a LoRA adapter (${c.lora.targets.join(',')} r ${c.lora.r}, alpha ${c.lora.alpha}, PEFT init seed 5) after 6 adapter-only AdamW steps (lr 2e-2) on the tiny fixture model base_model; scripts/check_peft.py applies adapter_model.safetensors to that base in PyTorch and compares, and loads merged/ (the merged export) too.`,
        base_model: relative(REPO_ROOT, c.dir), base_sha256: Object.fromEntries(baseFiles.map((f) => [f, sha(f)])),
        input_ids: INPUT, shape: [INPUT.length, T, c.cfg.vocab_size], train_losses: losses, max_abs_change_from_base: moved, logits: Array.from(logits),
      })}\n`);
      console.log(`${c.name}: LoRA train losses ${losses.map((l) => l.toFixed(4)).join(' → ')}; max|B| ${maxB.toFixed(3)}; logits moved ${moved.toFixed(3)}; exported to ${dir}`);

      // Read back: the adapter file holds exactly the engine's adapter; a fresh LoRA engine on it agrees bit for bit.
      const buf = readFileSync(join(dir, 'adapter_model.safetensors'));
      rawHeader(buf);
      const back = readAdapter(buf, c.cfg, c.lora);
      for (const [k, v] of Object.entries(adapter)) expect(back[k], k).toEqual(v);
      const cfgJson = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      expect(cfgJson).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: c.lora.r, lora_alpha: c.lora.alpha, base_model_name_or_path: c.url, inference_mode: true });
      const again = await Engine.create({ gpu, config: src.config, B: 2, T, weights: src.weights, lora: { config: c.lora, adapter: back } });
      expect((await again.evaluate(input(), 'mean_tokens', true)).logits).toEqual(logits);
      again.destroy();

      // The merged export: a plain model whose full-model engine computes the LoRA engine's logits.
      const merged = await loadModel('/m/', { fetch: diskFetch(join(dir, 'merged'), '/m/').fetch, cache: null });
      expect(merged.config).toEqual(c.cfg);
      expect(merged.dtypes).toEqual({ F32: paramTable(c.cfg).length });
      const params = await engine.getParameters();
      for (const [k, w] of Object.entries(params)) expect(merged.weights[k], k).toEqual(w);
      const full = await Engine.create({ gpu, config: merged.config, B: 2, T, weights: merged.weights });
      const m = compareTensor(`${c.name} merged export (full engine) vs LoRA engine`, (await full.evaluate(input(), 'mean_tokens', true)).logits!, logits, 1e-5, 1e-3);
      console.log(formatComparison(m));
      expect(m.failures).toBe(0);
      full.destroy();
      engine.destroy();

      // The committed adapter on the base, in the engine, vs PyTorch (scripts/check_peft.py --write).
      const committed = join(FIXTURE, c.name);
      const torchFile = join(committed, 'torch_logits.json');
      expect(existsSync(torchFile), `${torchFile} missing: run /usr/bin/python3 scripts/check_peft.py --write`).toBe(true);
      const torch = JSON.parse(readFileSync(torchFile, 'utf8')) as { input_ids: number[][]; logits: number[]; merged_export_logits: number[]; max_abs_error_vs_engine: Record<string, number> };
      expect(torch.input_ids).toEqual(INPUT);
      const cAdapter = readAdapter(readFileSync(join(committed, 'adapter_model.safetensors')), c.cfg, c.lora);
      const cEngine = await Engine.create({ gpu, config: src.config, B: 2, T, weights: src.weights, lora: { config: c.lora, adapter: cAdapter } });
      const cLogits = (await cEngine.evaluate(input(), 'mean_tokens', true)).logits!;
      cEngine.destroy();
      const t = compareTensor(`${c.name} committed adapter: LoRA engine vs PyTorch PEFT forward (float64)`, cLogits, torch.logits, 1e-4, 0);
      console.log(`${formatComparison(t)}  (check_peft.py measured ${JSON.stringify(torch.max_abs_error_vs_engine)})`);
      expect(t.failures).toBe(0);
      const tm = compareTensor(`${c.name} committed adapter: LoRA engine vs PyTorch on the merged export`, cLogits, torch.merged_export_logits, 1e-4, 0);
      console.log(formatComparison(tm));
      expect(tm.failures).toBe(0);
    });
  }
});
