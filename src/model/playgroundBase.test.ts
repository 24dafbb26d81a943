/**
 * The embedded base model's tokenizer files (public/models/playground-base), as transformers.js
 * loads them: special ids, exact Unicode round trips, ChatML rendering, and agreement with the
 * Python BPE encoder that tokenized the pretraining corpus (eval_tokens.json's encode_checks).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { parseSafetensors } from './safetensors';
import { llamaConfigFromHf } from './hfConfig';
import { createModel, forward, setParams } from '../reference/model';

const dir = new URL('../../public/models/playground-base/', import.meta.url);
const readJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
const tokenizerJson = readJson('tokenizer.json');
const tokenizerConfig = readJson('tokenizer_config.json');
const tok = new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);

const encode = (text: string): number[] => tok.encode(text, { add_special_tokens: false });
// transformers.js refuses to decode an empty id list; the empty string is its decoding.
const decode = (ids: number[]): string => (ids.length ? tok.decode(ids, { skip_special_tokens: false }) : '');

/** No lone surrogates (String.prototype.isWellFormed is ES2024, beyond our lib setting). */
const wellFormed = (s: string): boolean => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const SPECIAL_IDS = { '<|endoftext|>': 0, '<|im_start|>': 1, '<|im_end|>': 2, '<|pad|>': 3 };

describe('playground-base tokenizer', () => {
  it('has the documented special ids, 4096 tokens, and distinct eos / end-of-turn / pad', () => {
    for (const [t, id] of Object.entries(SPECIAL_IDS)) {
      expect(tok.convert_tokens_to_ids([t])).toEqual([id]);
      expect(encode(t)).toEqual([id]);
    }
    const model = tokenizerJson.model as { vocab: Record<string, number>; merges: unknown[] };
    expect(Object.keys(model.vocab).length).toBe(4096);
    expect(new Set(Object.values(model.vocab)).size).toBe(4096);
    expect(model.merges.length).toBe(4096 - 4 - 256);
    expect([tok.bos_token_id, tok.eos_token_id, tok.pad_token_id]).toEqual([0, 0, 3]);
    expect(tok.model_max_length).toBe(256);
  });

  it('round-trips text exactly: emoji, CJK, RTL, combining marks, control and whitespace runs', () => {
    const cases = [
      'Hello, world! The quick brown fox jumps over the lazy dog.',
      'family 👩‍👩‍👧‍👦 flags 🇯🇵🏳️‍🌈 skin 👍🏽 keycap 1️⃣',
      '日本語のテキストと中文，한국어 문장。',
      'עברית: שָׁלוֹם, العربية: مَرْحَبًا \u200f\u202bmixed\u202c',
      'combining: e\u0301 a\u0308\u0323 Z\u0324\u0354\u0367\u0311\u0313 decomposed vs composed \u00e9',
      '  two leading spaces\n\n\ttab\r\nCRLF   three trailing   ',
      '\u0000NUL \u0007BEL \u00a0nbsp \u2028LS \ufeffBOM 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{10ffff}',
      "don't it's we'll I'M O'Neil'S",
      'almost special: <|im_start <|im_end| |> <|endoftext |pad|>',
    ];
    for (const t of cases) expect(decode(encode(t)), JSON.stringify(t)).toBe(t);
  });

  it('round-trips arbitrary well-formed Unicode strings (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        fc.pre(wellFormed(s)); // a lone surrogate has no UTF-8 encoding, so no exact round trip exists
        expect(decode(encode(s))).toBe(s);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        expect(decode(encode(s))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('specials inside text are single tokens and merges never produce them', () => {
    const ids = encode('a<|im_start|>b<|im_end|>\n<|pad|><|endoftext|>');
    expect(ids.filter((i) => i < 4)).toEqual([1, 2, 3, 0]);
    // A merge token never spells a special (they are split off before BPE).
    const vocab = (tokenizerJson.model as { vocab: Record<string, number> }).vocab;
    for (const [t, id] of Object.entries(SPECIAL_IDS)) expect(vocab[t]).toBe(id);
    expect(encode('<|im_start').every((i) => i >= 4)).toBe(true);
  });

  it('apply_chat_template renders ChatML without trimming, specials as single tokens', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: '  What does "lantern" mean? \n' },
      { role: 'assistant', content: 'A case for a light.' },
    ];
    const text = tok.apply_chat_template(messages, { tokenize: false, add_generation_prompt: false }) as string;
    expect(text).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n' +
      '<|im_start|>user\n  What does "lantern" mean? \n<|im_end|>\n' +
      '<|im_start|>assistant\nA case for a light.<|im_end|>\n');
    const withPrompt = tok.apply_chat_template(messages.slice(0, 2), { tokenize: false, add_generation_prompt: true }) as string;
    expect(withPrompt.endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    const ids = tok.apply_chat_template(messages, { tokenize: true, add_generation_prompt: false, return_tensor: false, return_dict: false }) as number[];
    expect(ids).toEqual(encode(text));
    expect(ids.filter((i) => i === 1).length).toBe(3);
    expect(ids.filter((i) => i === 2).length).toBe(3);
    expect(ids[0]).toBe(1); // no BOS is prepended
    expect(decode(ids)).toBe(text);
  });

  it('transformers.js encodes held-out corpus texts exactly as the Python encoder did for pretraining', () => {
    const ev = readJson('eval_tokens.json') as { encode_checks: { text: string; ids: number[] }[] };
    expect(ev.encode_checks.length).toBeGreaterThanOrEqual(8);
    for (const { text, ids } of ev.encode_checks) expect(encode(text), JSON.stringify(text.slice(0, 60))).toEqual(ids);
  });
});

describe('playground-base eval_tokens.json', () => {
  it('holds 64 held-out sequences of 256 valid ids with the recorded float32 loss', () => {
    const ev = readJson('eval_tokens.json') as {
      seq_len: number; num_sequences: number; predicted_tokens: number; loss_float32: number; perplexity: number;
      sequences: number[][]; per_sequence_loss_float32: number[];
    };
    expect(ev.seq_len).toBe(256);
    expect(ev.sequences.length).toBe(ev.num_sequences);
    expect(ev.num_sequences).toBeLessThanOrEqual(64);
    expect(ev.predicted_tokens).toBe(ev.num_sequences * 255);
    for (const s of ev.sequences) {
      expect(s.length).toBe(256);
      expect(s.every((i) => Number.isInteger(i) && i >= 0 && i < 4096 && i !== 3)).toBe(true); // no padding
    }
    // Every sequence has the same number of predicted tokens, so the overall mean is the mean of the per-sequence means.
    const mean = ev.per_sequence_loss_float32.reduce((a, b) => a + b, 0) / ev.num_sequences;
    expect(Math.abs(mean - ev.loss_float32)).toBeLessThan(1e-4);
    expect(Math.abs(Math.exp(ev.loss_float32) - ev.perplexity)).toBeLessThan(1e-6 * ev.perplexity);
  });

  it('the Float64 reference model, loaded from model.safetensors, reproduces the PyTorch float32 loss of held-out sequences', () => {
    const ev = readJson('eval_tokens.json') as { sequences: number[][]; per_sequence_loss_float32: number[] };
    const { config } = llamaConfigFromHf(readJson('config.json'), 'playground-base/config.json');
    const file = parseSafetensors(readFileSync(new URL('model.safetensors', dir)), 'playground-base/model.safetensors');
    const model = createModel(config);
    setParams(model, Object.fromEntries(file.tensors.map((t) => [t.name, file.getFloat32(t.name)])));
    const T = 256;
    const V = config.vocab_size;
    let maxDiff = 0;
    for (const row of [0, 1]) {
      const ids = Int32Array.from(ev.sequences[row]);
      const logits = forward(model, ids, new Int32Array(T), Int32Array.from({ length: T }, (_, t) => t), 1, T); // (T, V)
      // Mean over t < T-1 of logsumexp(logits[t]) - logits[t, ids[t+1]].
      let sum = 0;
      for (let t = 0; t < T - 1; t++) {
        const r = logits.subarray(t * V, (t + 1) * V);
        let m = -Infinity;
        for (let v = 0; v < V; v++) m = Math.max(m, r[v]);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(r[v] - m);
        sum += m + Math.log(z) - r[ids[t + 1]];
      }
      const loss = sum / (T - 1);
      maxDiff = Math.max(maxDiff, Math.abs(loss - ev.per_sequence_loss_float32[row]));
    }
    console.log(`reference vs PyTorch float32 per-sequence loss: max |diff| ${maxDiff.toExponential(2)}`);
    // PyTorch ran in float32; the reference in float64. A layout or RoPE mistake would be off by > 0.1.
    expect(maxDiff).toBeLessThan(1e-4);
  });
});
