/**
 * Node-only helpers for the loader/export/generation tests: the tiny Hugging Face model fixture
 * (e2e/fixtures/tiny-hf-model/, written from a seeded reference model) and a `fetch` that serves
 * files from disk in small chunks, counting requests.
 *
 * The fixture (regenerate with UPDATE_FIXTURES=1 npx vitest run src/model/loader.test.ts):
 *   tiny-hf-model/           model_type llama, tied embeddings, no bias, weights stored as BF16 in
 *                            one model.safetensors; char-level tokenizer (67 tokens, ChatML specials
 *                            0-3) and generation_config.json (eos [0, 2]).
 *   tiny-hf-model/sharded/   model_type qwen2 (q/k/v bias), untied lm_head, F16 in two shards +
 *                            model.safetensors.index.json; no generation_config.json.
 * Both: V 67, C 24, F 40, L 2, NH 4, NKV 2, max_position_embeddings 64 (MICRO_CONFIG's sizes).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MICRO_CONFIG, type LlamaConfig } from '../spec/config';
import { tensorView } from '../reference/model';
import { paramTable } from '../spec/params';
import { randomModel } from '../reference/testkit';
import { serializeSafetensors, type SafetensorsDtype } from './safetensors';
import type { FetchLike } from './hub';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const TINY_DIR = join(REPO_ROOT, 'e2e/fixtures/tiny-hf-model');
/** Served at this path (Vite serves the project root in dev and e2e). */
export const TINY_URL = '/e2e/fixtures/tiny-hf-model/';

export const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|pad|>'];
/** Byte-level spellings: 'Ġ' is the space byte, 'Ċ' the newline byte (GPT-2 bytes_to_unicode). */
const CHARS = ['Ġ', 'Ċ', ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', ...'.,!?\':-"('];

export const TINY_TIED: LlamaConfig = { ...MICRO_CONFIG, tie_word_embeddings: true, attention_bias: false };
export const TINY_SHARDED: LlamaConfig = { ...MICRO_CONFIG, tie_word_embeddings: false, attention_bias: true };
export const TINY_SEED = { tied: 101, sharded: 102 };

const CHATML = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

export function tinyTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((t, i) => (vocab[t] = i));
  CHARS.forEach((c, i) => (vocab[c] = SPECIALS.length + i));
  if (Object.keys(vocab).length !== MICRO_CONFIG.vocab_size) throw new Error(`tiny tokenizer has ${Object.keys(vocab).length} tokens, the config ${MICRO_CONFIG.vocab_size}`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null, pre_tokenizer: byteLevel, post_processor: { ...byteLevel, trim_offsets: false }, decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
  };
}

export function tinyTokenizerConfig(eos: string): Record<string, unknown> {
  return {
    add_bos_token: false, add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(SPECIALS.map((content, id) => [String(id), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }])),
    bos_token: null, eos_token: eos, pad_token: '<|pad|>', unk_token: null,
    chat_template: CHATML, clean_up_tokenization_spaces: false, model_max_length: 64, tokenizer_class: 'PreTrainedTokenizerFast',
  };
}

/** config.json for the tiny models (HF LlamaConfig / Qwen2Config field names). */
export function tinyConfigJson(cfg: LlamaConfig, modelType: 'llama' | 'qwen2'): Record<string, unknown> {
  return {
    architectures: [modelType === 'llama' ? 'LlamaForCausalLM' : 'Qwen2ForCausalLM'], model_type: modelType,
    vocab_size: cfg.vocab_size, hidden_size: cfg.hidden_size, intermediate_size: cfg.intermediate_size,
    num_hidden_layers: cfg.num_hidden_layers, num_attention_heads: cfg.num_attention_heads, num_key_value_heads: cfg.num_key_value_heads,
    hidden_act: 'silu', max_position_embeddings: cfg.max_position_embeddings, rms_norm_eps: cfg.rms_norm_eps, rope_theta: cfg.rope_theta,
    tie_word_embeddings: cfg.tie_word_embeddings, bos_token_id: 0, eos_token_id: 0, pad_token_id: 3,
    ...(modelType === 'llama' ? { attention_bias: false, mlp_bias: false } : { use_sliding_window: false, sliding_window: 64 }),
    torch_dtype: modelType === 'llama' ? 'bfloat16' : 'float16', transformers_version: '4.46.0',
  };
}

/** The seeded weights of a tiny model, by HF name, in float32 (before rounding to the stored dtype). */
export function tinyWeights(cfg: LlamaConfig, seed: number): Record<string, Float32Array> {
  const m = randomModel(cfg, seed);
  return Object.fromEntries(m.layout.slots.map((s) => [s.name, Float32Array.from(tensorView(m.layout, m.params, s.name))]));
}

const json = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;

/** Every file of the fixture, path relative to TINY_DIR → bytes. */
export function tinyFixtureFiles(): Map<string, Uint8Array> {
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  const tok = enc.encode(json(tinyTokenizerJson()));
  const tensors = (cfg: LlamaConfig, seed: number, dtype: SafetensorsDtype) => {
    const w = tinyWeights(cfg, seed);
    return paramTable(cfg).map((s) => ({ name: s.name, shape: s.shape, data: w[s.name], dtype }));
  };

  files.set('config.json', enc.encode(json(tinyConfigJson(TINY_TIED, 'llama'))));
  files.set('generation_config.json', enc.encode(json({ bos_token_id: 0, eos_token_id: [0, 2], pad_token_id: 3, max_new_tokens: 32, transformers_version: '4.46.0' })));
  files.set('tokenizer.json', tok);
  files.set('tokenizer_config.json', enc.encode(json(tinyTokenizerConfig('<|im_end|>'))));
  files.set('model.safetensors', serializeSafetensors(tensors(TINY_TIED, TINY_SEED.tied, 'BF16'), { format: 'pt' }));

  const all = tensors(TINY_SHARDED, TINY_SEED.sharded, 'F16');
  const split = all.findIndex((t) => t.name.startsWith('model.layers.1.'));
  const shards = [all.slice(0, split), all.slice(split)];
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  shards.forEach((part, i) => {
    const fname = `model-0000${i + 1}-of-00002.safetensors`;
    files.set(`sharded/${fname}`, serializeSafetensors(part, { format: 'pt' }));
    for (const t of part) {
      weightMap[t.name] = fname;
      totalSize += t.data.length * 2;
    }
  });
  files.set('sharded/model.safetensors.index.json', enc.encode(json({ metadata: { total_size: totalSize }, weight_map: weightMap })));
  files.set('sharded/config.json', enc.encode(json(tinyConfigJson(TINY_SHARDED, 'qwen2'))));
  files.set('sharded/tokenizer.json', tok);
  files.set('sharded/tokenizer_config.json', enc.encode(json(tinyTokenizerConfig('<|endoftext|>'))));
  return files;
}

export function writeTinyFixture(): void {
  for (const [rel, bytes] of tinyFixtureFiles()) {
    const p = join(TINY_DIR, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, bytes);
  }
}

export interface DiskFetch {
  fetch: FetchLike;
  /** URLs requested, in order. */
  requests: string[];
}

/**
 * A fetch serving files for URLs whose path starts with `prefix`: `read(relativePath)` gives the
 * bytes or null (→ 404). 200 answers carry Content-Length and stream the body in `chunk`-byte
 * pieces. Other URLs are refused (the tests never go to the network).
 */
export function servingFetch(prefix: string, read: (rel: string) => Uint8Array | null, chunk = 4096): DiskFetch {
  const requests: string[] = [];
  const fetch: FetchLike = async (url) => {
    requests.push(url);
    const path = url.startsWith('http') ? new URL(url).pathname : url;
    if (!path.startsWith(prefix)) throw new TypeError(`servingFetch: ${url} is outside ${prefix} (no network in tests)`);
    const bytes = read(decodeURIComponent(path.slice(prefix.length)));
    if (!bytes) return new Response('Not found', { status: 404, statusText: 'Not Found' });
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (at >= bytes.byteLength) return ctrl.close();
        ctrl.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      },
    });
    return new Response(body, { status: 200, headers: { 'content-length': String(bytes.byteLength), 'content-type': 'application/octet-stream' } });
  };
  return { fetch, requests };
}

/** servingFetch over a directory on disk. */
export function diskFetch(root: string, prefix: string, chunk = 4096): DiskFetch {
  return servingFetch(prefix, (rel) => {
    const file = join(root, rel);
    try {
      return statSync(file).isFile() ? new Uint8Array(readFileSync(file)) : null;
    } catch {
      return null;
    }
  }, chunk);
}
