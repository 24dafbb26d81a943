/**
 * loadModel against the tiny HF-format fixture (e2e/fixtures/tiny-hf-model/, BF16 single file and
 * an F16 sharded variant) served by a fetch that reads the files from disk: conversion, progress,
 * the cache (a second load makes no request), Hub ids, and the errors people see (unsupported
 * architecture, missing or misshapen tensor, gated repo, network failure, truncated download).
 * Then the embedded model: loaded the same way, its held-out loss computed with the GPU Engine
 * matches eval_tokens.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { loadModel, type LoadProgress } from './loader';
import { clearModelCache, MemoryCache, MODEL_CACHE_NAME, resolveModelSource, type FetchLike } from './hub';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, parseSafetensors, serializeSafetensors } from './safetensors';
import { diskFetch, REPO_ROOT, servingFetch, TINY_DIR, TINY_SEED, TINY_SHARDED, TINY_TIED, TINY_URL, tinyFixtureFiles, tinyWeights, writeTinyFixture } from './testkit';
import { paramTable } from '../spec/params';

const round = (w: Float32Array, to: (x: number) => number, back: (h: number) => number) => w.map((x) => back(to(x)));

function expectMonotone(events: LoadProgress[]) {
  const byFile = new Map<string, LoadProgress[]>();
  for (const e of events) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  for (const [file, es] of byFile) {
    for (let i = 1; i < es.length; i++) expect(es[i].received, `${file} event ${i}`).toBeGreaterThanOrEqual(es[i - 1].received);
    const last = es[es.length - 1];
    expect(last.done, file).toBe(true);
    expect(last.received, file).toBe(last.total);
  }
  for (let i = 1; i < events.length; i++) expect(events[i].bytesReceived).toBeGreaterThanOrEqual(events[i - 1].bytesReceived);
  return byFile;
}

describe('tiny-hf-model fixture', () => {
  it('is what the test helper writes (UPDATE_FIXTURES=1 rewrites it)', () => {
    if (process.env.UPDATE_FIXTURES) writeTinyFixture();
    for (const [rel, bytes] of tinyFixtureFiles()) {
      const p = join(TINY_DIR, rel);
      expect(existsSync(p), `${rel} missing: run UPDATE_FIXTURES=1 npx vitest run src/model/loader.test.ts`).toBe(true);
      expect(Buffer.compare(readFileSync(p), bytes), `${rel} differs from the helper's output`).toBe(0);
    }
  });
});

describe('loadModel', () => {
  it('loads a BF16 tied model from a folder URL: exact conversion, tokenizer, stop ids, progress to the total', async () => {
    const served = diskFetch(TINY_DIR, TINY_URL, 1000);
    const events: LoadProgress[] = [];
    const m = await loadModel(TINY_URL, { fetch: served.fetch, cache: new MemoryCache(), onProgress: (p) => events.push(p) });
    expect(m.config).toEqual(TINY_TIED);
    expect(m.info.modelType).toBe('llama');
    expect(m.dtypes).toEqual({ BF16: paramTable(TINY_TIED).length });
    const want = tinyWeights(TINY_TIED, TINY_SEED.tied);
    expect(Object.keys(m.weights).sort()).toEqual(Object.keys(want).sort());
    expect(m.weights['lm_head.weight']).toBeUndefined();
    for (const [k, w] of Object.entries(want)) expect(m.weights[k], k).toEqual(round(w, f32ToBf16Bits, bf16BitsToF32));
    expect(m.stopTokenIds).toEqual([0, 2]); // generation_config [0, 2]; config 0; tokenizer eos <|im_end|> = 2
    expect(m.parameterCount).toBe(paramTable(TINY_TIED).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0));
    expect(Object.keys(m.sideFiles).sort()).toEqual(['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);

    const tok = new PreTrainedTokenizer(m.tokenizerJson, m.tokenizerConfig);
    expect(tok.encode('Hi there', { add_special_tokens: false })).toEqual([4 + 2 + 33, 4 + 2 + 8, 4, 4 + 2 + 19, 4 + 2 + 7, 4 + 2 + 4, 4 + 2 + 17, 4 + 2 + 4]);
    const ids = tok.apply_chat_template([{ role: 'user', content: 'hi' }], { add_generation_prompt: true, tokenize: true, return_tensor: false, return_dict: false }) as number[];
    expect(ids.slice(0, 1)).toEqual([1]);
    expect(tok.decode(ids, { skip_special_tokens: false })).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');

    const byFile = expectMonotone(events);
    const size = readFileSync(join(TINY_DIR, 'model.safetensors')).byteLength;
    const w = byFile.get('model.safetensors')!;
    expect(w.length).toBeGreaterThan(5); // streamed in 1000-byte chunks
    expect(w[w.length - 1].total).toBe(size);
    expect(w.every((e) => e.total === size && !e.cached)).toBe(true);
    expect(events[events.length - 1].filesDone).toBe(5);
    console.log(`tiny BF16 load: ${events.length} progress events, model.safetensors ${size} bytes in ${w.length - 2} chunks; requests: ${served.requests.map((u) => u.slice(TINY_URL.length)).join(', ')}`);
  });

  it('a second load with the same cache makes no request (404s of optional files are cached too)', async () => {
    const cache = new MemoryCache();
    const first = diskFetch(TINY_DIR, TINY_URL);
    const a = await loadModel(`${TINY_URL}sharded/`, { fetch: first.fetch, cache });
    expect(first.requests.some((u) => u.endsWith('/sharded/model.safetensors'))).toBe(true); // probed, 404
    const second = diskFetch(TINY_DIR, TINY_URL);
    const events: LoadProgress[] = [];
    const b = await loadModel(`${TINY_URL}sharded/`, { fetch: second.fetch, cache, onProgress: (p) => events.push(p) });
    expect(second.requests).toEqual([]);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.cached && e.done && e.received === e.total)).toBe(true);
    for (const k of Object.keys(a.weights)) expect(b.weights[k]).toEqual(a.weights[k]);
  });

  it('treats a dev server index.html answer (200, text/html) for a missing file as missing', async () => {
    const disk = diskFetch(TINY_DIR, TINY_URL);
    const spaFetch: FetchLike = async (url, init) => {
      const res = await disk.fetch(url, init);
      return res.status === 404 ? new Response('<!doctype html><html></html>', { status: 200, headers: { 'content-type': 'text/html' } }) : res;
    };
    const m = await loadModel(TINY_URL, { fetch: spaFetch });
    expect(Object.keys(m.sideFiles)).not.toContain('special_tokens_map.json');
    for (const bytes of Object.values(m.sideFiles)) expect(new TextDecoder().decode(bytes.subarray(0, 1))).toBe('{');
  });

  it('loads an F16 sharded qwen2 model (index + 2 shards, untied head, q/k/v bias, no generation_config)', async () => {
    const served = diskFetch(TINY_DIR, TINY_URL);
    const events: LoadProgress[] = [];
    const m = await loadModel(`${TINY_URL}sharded/`, { fetch: served.fetch, cache: null, onProgress: (p) => events.push(p) });
    expect(m.config).toEqual(TINY_SHARDED);
    expect(m.info.modelType).toBe('qwen2');
    expect(m.generationConfig).toBeNull();
    expect(m.stopTokenIds).toEqual([0]);
    const want = tinyWeights(TINY_SHARDED, TINY_SEED.sharded);
    expect(Object.keys(m.weights).sort()).toEqual(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) expect(m.weights[k], k).toEqual(round(w, f32ToF16Bits, f16BitsToF32));
    const files = served.requests.map((u) => u.slice(`${TINY_URL}sharded/`.length));
    expect(files).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'chat_template.json', 'generation_config.json', 'special_tokens_map.json',
      'model.safetensors', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expectMonotone(events);
    expect(events[events.length - 1].filesKnown).toBe(5);
  });

  it('by default caches Hub files in Cache Storage, not same-origin folder files', async () => {
    const buckets = new Map<string, MemoryCache>();
    const fake = {
      open: async (name: string) => buckets.get(name) ?? buckets.set(name, new MemoryCache()).get(name)!,
      delete: async (name: string) => buckets.delete(name),
    };
    const g = globalThis as { caches?: unknown };
    g.caches = fake;
    try {
      const folder = diskFetch(TINY_DIR, TINY_URL);
      await loadModel(TINY_URL, { fetch: folder.fetch });
      expect(buckets.size).toBe(0);
      const prefix = '/me/tiny/resolve/main/';
      const read = (rel: string) => (existsSync(join(TINY_DIR, rel)) ? new Uint8Array(readFileSync(join(TINY_DIR, rel))) : null);
      const first = servingFetch(prefix, read);
      await loadModel('me/tiny', { fetch: first.fetch });
      expect([...buckets.keys()]).toEqual([MODEL_CACHE_NAME]);
      expect(buckets.get(MODEL_CACHE_NAME)!.entries.has('https://huggingface.co/me/tiny/resolve/main/model.safetensors')).toBe(true);
      const second = servingFetch(prefix, read);
      await loadModel('me/tiny', { fetch: second.fetch });
      expect(second.requests).toEqual([]);
      expect(await clearModelCache()).toBe(true);
      expect(buckets.size).toBe(0);
    } finally {
      delete g.caches;
    }
  });

  it('resolves Hub repo ids to resolve/main URLs and loads through them', async () => {
    expect(resolveModelSource('HuggingFaceTB/SmolLM2-135M-Instruct').baseUrl).toBe('https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/');
    expect(resolveModelSource(' Qwen/Qwen2.5-0.5B-Instruct@v1.0 ')).toMatchObject({ kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'v1.0' });
    expect(resolveModelSource('https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct')).toMatchObject({ kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct' });
    expect(resolveModelSource('/models/playground-base')).toMatchObject({ kind: 'folder', baseUrl: '/models/playground-base/' });
    expect(() => resolveModelSource('not a model')).toThrow(/neither a Hugging Face repo id nor a folder URL.*HuggingFaceTB\/SmolLM2-135M-Instruct/);

    const prefix = '/me/tiny/resolve/main/';
    const hub = servingFetch(prefix, (rel) => (existsSync(join(TINY_DIR, rel)) ? new Uint8Array(readFileSync(join(TINY_DIR, rel))) : null));
    const m = await loadModel('me/tiny', { fetch: hub.fetch, cache: null });
    expect(m.location.kind).toBe('hub');
    expect(hub.requests[0]).toBe('https://huggingface.co/me/tiny/resolve/main/config.json');
    expect(m.config).toEqual(TINY_TIED);
  });

  it('says what went wrong: gated repo, network failure, missing repo, truncated download', async () => {
    const status = (code: number, text: string): FetchLike => async () => new Response('', { status: code, statusText: text });
    await expect(loadModel('meta-llama/Llama-3.2-1B', { fetch: status(401, 'Unauthorized'), cache: null }))
      .rejects.toThrow(/config\.json failed: HTTP 401 Unauthorized\. The repository is gated or private/);
    await expect(loadModel('someone/typo', { fetch: status(404, 'Not Found'), cache: null }))
      .rejects.toThrow(/The Hub repo someone\/typo \(revision main\) has no file config\.json, or the repo does not exist/);
    await expect(loadModel('someone/model', { fetch: async () => { throw new TypeError('Failed to fetch'); }, cache: null }))
      .rejects.toThrow(/Could not download https:\/\/huggingface\.co\/someone\/model\/resolve\/main\/config\.json \(Failed to fetch\)\. Check the internet connection/);
    const short: FetchLike = async () => new Response(new Uint8Array(10), { status: 200, headers: { 'content-length': '20' } });
    await expect(loadModel(TINY_URL, { fetch: short, cache: null })).rejects.toThrow(/download of config\.json ended after 10 of 20 bytes/);
    const noTok = servingFetch(TINY_URL, (rel) => (rel === 'config.json' ? new Uint8Array(readFileSync(join(TINY_DIR, rel))) : null));
    await expect(loadModel(TINY_URL, { fetch: noTok.fetch, cache: null })).rejects.toThrow(/has no tokenizer\.json/);
  });

  /** The fixture folder with some files replaced. */
  function patched(replace: Record<string, Uint8Array | string | null>) {
    return servingFetch(TINY_URL, (rel) => {
      if (rel in replace) {
        const v = replace[rel];
        return typeof v === 'string' ? new TextEncoder().encode(v) : v;
      }
      const p = join(TINY_DIR, rel);
      return existsSync(p) ? new Uint8Array(readFileSync(p)) : null;
    });
  }

  it('refuses an unsupported architecture by name, before downloading weights', async () => {
    const cfg = JSON.parse(readFileSync(join(TINY_DIR, 'config.json'), 'utf8'));
    const served = patched({ 'config.json': JSON.stringify({ ...cfg, model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'] }) });
    await expect(loadModel(TINY_URL, { fetch: served.fetch, cache: null })).rejects.toThrow(/unsupported architecture: model_type "qwen3" \(architectures: Qwen3ForCausalLM\)\. Qwen3 applies an RMSNorm/);
    expect(served.requests.some((u) => u.includes('safetensors'))).toBe(false);

    // checkConfig (e.g. the memory check) stops the load before the weights too.
    const again = patched({});
    await expect(loadModel(TINY_URL, { fetch: again.fetch, cache: null, checkConfig: (info) => { throw new Error(`too big: ${info.config.hidden_size}`); } })).rejects.toThrow('too big: 24');
    expect(again.requests.some((u) => u.includes('safetensors'))).toBe(false);
  });

  it('names a missing tensor and a misshapen one, with the expected shapes', async () => {
    const st = parseSafetensors(readFileSync(join(TINY_DIR, 'model.safetensors')));
    const rewrite = (edit: (name: string, shape: number[], data: Float32Array) => { shape: number[]; data: Float32Array } | null) =>
      serializeSafetensors(st.tensors.flatMap((t) => {
        const e = edit(t.name, t.shape, st.getFloat32(t.name));
        return e ? [{ name: t.name, shape: e.shape, data: e.data, dtype: t.dtype }] : [];
      }));
    const missing = patched({ 'model.safetensors': rewrite((n, shape, data) => (n === 'model.layers.1.mlp.up_proj.weight' ? null : { shape, data })) });
    await expect(loadModel(TINY_URL, { fetch: missing.fetch, cache: null }))
      .rejects.toThrow(/tensor "model\.layers\.1\.mlp\.up_proj\.weight" \(shape \[40, 24\]\) is missing from model\.safetensors\. The checkpoint does not match config\.json/);
    const wrong = patched({ 'model.safetensors': rewrite((n, shape, data) => (n === 'model.layers.0.self_attn.k_proj.weight' ? { shape: [24, 12], data: data.slice(0, 288) } : { shape, data })) });
    await expect(loadModel(TINY_URL, { fetch: wrong.fetch, cache: null }))
      .rejects.toThrow(/model\.safetensors: tensor "model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[24, 12\], but config\.json implies \[12, 24\]/);
    // An untied config needs lm_head.weight; the message says why.
    const cfg = JSON.parse(readFileSync(join(TINY_DIR, 'config.json'), 'utf8'));
    const untied = patched({ 'config.json': JSON.stringify({ ...cfg, tie_word_embeddings: false }) });
    await expect(loadModel(TINY_URL, { fetch: untied.fetch, cache: null })).rejects.toThrow(/"lm_head\.weight" \(shape \[67, 24\]\) is missing.*tie_word_embeddings is false/);
    // A tied checkpoint that stores lm_head anyway, and an unused buffer: ignored, noted.
    const extra = patched({ 'model.safetensors': serializeSafetensors([
      ...st.tensors.map((t) => ({ name: t.name, shape: t.shape, data: st.getFloat32(t.name) })),
      { name: 'lm_head.weight', shape: [67, 24], data: new Float32Array(67 * 24) },
      { name: 'model.rotary_emb.inv_freq', shape: [3], data: new Float32Array(3) },
    ]) });
    const m = await loadModel(TINY_URL, { fetch: extra.fetch, cache: null });
    expect(m.weights['lm_head.weight']).toBeUndefined();
    expect(m.notes.join(' ')).toMatch(/2 stored tensor\(s\) not used by the model \(lm_head\.weight: the head is tied to the embedding\)/);
  });
});

describe('the embedded model (public/models/playground-base/)', () => {
  it('loads through loadModel, and the GPU Engine reproduces its held-out loss from eval_tokens.json', async () => {
    const { acquireNodeDevice } = await import('../gpu/node-device');
    const { Engine } = await import('../engine/trainer');
    const { packBatch } = await import('../spec/batch');
    const served = diskFetch(join(REPO_ROOT, 'public'), '/');
    const m = await loadModel(undefined, { fetch: served.fetch, cache: null });
    expect(m.location.baseUrl).toBe('/models/playground-base/');
    expect(m.info.modelType).toBe('llama');
    expect(m.config.tie_word_embeddings).toBe(true);
    expect(m.stopTokenIds).toEqual([0, 2]); // <|endoftext|>, <|im_end|> (generation_config.json)
    const ev = JSON.parse(readFileSync(join(REPO_ROOT, 'public/models/playground-base/eval_tokens.json'), 'utf8')) as {
      seq_len: number; sequences: number[][]; loss_float32: number; per_sequence_loss_float32: number[];
    };
    // All 64 sequences take ~30 s each on SwiftShader; EMBEDDED_EVAL_ALL=1 runs them all.
    const rows = process.env.EMBEDDED_EVAL_ALL ? ev.sequences.length : 2;
    const T = ev.seq_len, B = 2;
    const gpu = await acquireNodeDevice();
    const engine = await Engine.create({ gpu, config: m.config, B, T, weights: m.weights });
    let sum = 0, maxDiff = 0;
    for (let r0 = 0; r0 < rows; r0 += B) {
      const seqs = ev.sequences.slice(r0, Math.min(rows, r0 + B));
      const res = await engine.evaluate(packBatch(seqs.map((ids) => ({ ids })), T));
      seqs.forEach((_, b) => {
        // Per-position losses: position t predicts t+1; the last position predicts nothing.
        let s = 0;
        for (let t = 0; t < T - 1; t++) s += res.losses[b * T + t];
        const loss = s / (T - 1);
        sum += loss;
        maxDiff = Math.max(maxDiff, Math.abs(loss - ev.per_sequence_loss_float32[r0 + b]));
      });
    }
    engine.destroy();
    const mean = sum / rows;
    const want = rows === ev.sequences.length ? ev.loss_float32 : ev.per_sequence_loss_float32.slice(0, rows).reduce((a, b) => a + b, 0) / rows;
    console.log(`playground-base held-out loss, ${rows} of ${ev.sequences.length} sequences: engine ${mean.toFixed(6)} vs PyTorch float32 ${want.toFixed(6)} (|Δ| ${Math.abs(mean - want).toExponential(2)}; per-sequence max |Δ| ${maxDiff.toExponential(2)}); card: all ${ev.sequences.length} = ${ev.loss_float32.toFixed(5)}`);
    expect(Math.abs(mean - want)).toBeLessThan(1e-3);
    expect(maxDiff).toBeLessThan(1e-3);
  }, 1_800_000);
});
