/**
 * Generation: the sampler alone (greedy, temperature/top-k/top-p, seeded draws against the softmax
 * they should follow), then the whole path on the GPU: the tiny fixture model loaded by loadModel,
 * the Engine, the KV-cache Decoder and generate(). Greedy equals the Float64 reference's argmax path,
 * is the same twice, and stops at end-of-turn on a model whose LM head was edited so that the
 * argmax path reaches <|im_end|>.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../gpu/node-device';
import type { Gpu } from '../gpu/device';
import { Engine } from '../engine/trainer';
import { Decoder } from '../engine/generation';
import { createModel, forward, setParams } from '../reference/model';
import { makeRng } from '../spec/rng';
import { argmax, generate, generateStream, logprobOf, optionsFromGenerationConfig, resolveOptions, sampleToken, type GeneratedToken } from './generate';
import { loadModel, type LoadedModel } from './loader';
import { MemoryCache } from './hub';
import { diskFetch, TINY_DIR, TINY_URL } from './testkit';

describe('sampleToken', () => {
  const logits = Float32Array.from([1, 3, 2.5, -1, 3]); // ids 1 and 4 tie for the maximum

  it('greedy: argmax, lowest id on ties; top-k 1 is greedy at any temperature', () => {
    const rng = makeRng(1);
    expect(argmax(logits)).toBe(1);
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleToken(logits, { temperature: 2, topK: 1, topP: 1 }, rng)).toBe(1);
  });

  it('temperature sampling follows softmax(logits / T); top-k and top-p drop the tail; seeded', () => {
    const draws = 20000;
    const freq = (o: { temperature: number; topK: number; topP: number }, seed: number) => {
      const rng = makeRng(seed);
      const f = new Array(logits.length).fill(0);
      for (let i = 0; i < draws; i++) f[sampleToken(logits, o, rng)]++;
      return f.map((x) => x / draws);
    };
    const softmax = (xs: number[], T: number) => {
      const e = xs.map((x) => Math.exp(x / T));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / z);
    };
    const T = 0.7;
    const got = freq({ temperature: T, topK: 0, topP: 1 }, 5);
    const want = softmax([...logits], T);
    // Binomial standard error at 20000 draws is < 0.0036; 5 sigma.
    got.forEach((g, i) => expect(Math.abs(g - want[i]), `id ${i}: ${g} vs ${want[i]}`).toBeLessThan(0.018));
    // top-k 3 keeps ids 1, 4, 2 and renormalises.
    const k3 = freq({ temperature: 1, topK: 3, topP: 1 }, 6);
    const w3 = softmax([3, 3, 2.5], 1);
    expect(k3[0]).toBe(0);
    expect(k3[3]).toBe(0);
    [1, 4, 2].forEach((id, j) => expect(Math.abs(k3[id] - w3[j])).toBeLessThan(0.018));
    // top-p 0.5: p(1) = p(4) ≈ 0.38 each, so the nucleus is {1, 4}.
    const p5 = freq({ temperature: 1, topK: 0, topP: 0.5 }, 7);
    expect(p5[0] + p5[2] + p5[3]).toBe(0);
    expect(Math.abs(p5[1] - 0.5)).toBeLessThan(0.018);
    // Same seed, same draws.
    expect(freq({ temperature: T, topK: 0, topP: 1 }, 5)).toEqual(got);
  });

  it('logprobOf is log-softmax; options are validated and read from generation_config.json', () => {
    const z = [...logits].reduce((a, b) => a + Math.exp(b), 0);
    expect(logprobOf(logits, 2)).toBeCloseTo(2.5 - Math.log(z), 12);
    expect(() => resolveOptions({ temperature: -1, topP: 0, maxNewTokens: 0 })).toThrow(/maxNewTokens must be a whole number ≥ 1 \(got 0\); temperature must be ≥ 0 \(got -1; 0 = greedy\); topP must be in \(0, 1\] \(got 0\)/);
    expect(optionsFromGenerationConfig({ do_sample: true, temperature: 0.8, top_k: 40, max_new_tokens: 128 }, [0, 2]))
      .toEqual({ maxNewTokens: 128, temperature: 0.8, topK: 40, topP: 1, stopTokenIds: [0, 2] });
    expect(optionsFromGenerationConfig(null, [2])).toMatchObject({ temperature: 0, stopTokenIds: [2] });
  });
});

describe('generate on the GPU decoder (tiny fixture model)', () => {
  let gpu: Gpu;
  let tied: LoadedModel, untied: LoadedModel;
  beforeAll(async () => {
    gpu = await acquireNodeDevice();
    const served = diskFetch(TINY_DIR, TINY_URL);
    const cache = new MemoryCache();
    tied = await loadModel(TINY_URL, { fetch: served.fetch, cache });
    untied = await loadModel(`${TINY_URL}sharded/`, { fetch: served.fetch, cache });
  });

  /** Greedy continuation by the Float64 reference (full forward per token). */
  function referenceGreedy(m: LoadedModel, prompt: number[], n: number): number[] {
    const ref = createModel(m.config);
    setParams(ref, m.weights);
    const ids = [...prompt];
    const V = m.config.vocab_size;
    for (let i = 0; i < n; i++) {
      const T = ids.length;
      const logits = forward(ref, Int32Array.from(ids), new Int32Array(T), Int32Array.from(ids.keys()), 1, T);
      ids.push(argmax(logits.subarray((T - 1) * V, T * V)));
    }
    return ids.slice(prompt.length);
  }

  const prompt = [1, 24, 17, 10, 23, 5, 1, 24]; // <|im_start|>user\n<|im_start|>u: any ids in [0, 67)

  it('greedy: equals the reference argmax path, and is the same twice; streams in order', async () => {
    const engine = await Engine.create({ gpu, config: tied.config, B: 1, T: 8, weights: tied.weights });
    const dec = await Decoder.create(engine, { maxContext: 40 });
    const streamed: GeneratedToken[] = [];
    const a = await generate(dec, prompt, { maxNewTokens: 24 }, (t) => streamed.push(t));
    const b = await generate(dec, prompt, { maxNewTokens: 24 });
    expect(a.reason).toBe('max_new_tokens');
    expect(a.tokens.length).toBe(24);
    expect(b.tokens).toEqual(a.tokens);
    expect(streamed.map((t) => t.id)).toEqual(a.tokens);
    expect(streamed.map((t) => t.index)).toEqual([...a.tokens.keys()]);
    expect(streamed.every((t) => t.logprob < 0)).toBe(true);
    expect(a.tokens).toEqual(referenceGreedy(tied, prompt, 24));
    console.log(`greedy (tied BF16 fixture): ${a.tokens.join(' ')}; prefill ${a.prefillMs.toFixed(0)} ms, ${a.msPerToken.toFixed(1)} ms/token`);

    // The async iterator: same tokens; its return value is the result.
    const it = generateStream(dec, prompt, { maxNewTokens: 5 });
    const ids: number[] = [];
    let r = await it.next();
    while (!r.done) {
      ids.push(r.value.id);
      r = await it.next();
    }
    expect(ids).toEqual(a.tokens.slice(0, 5));
    expect(r.value).toMatchObject({ tokens: ids, reason: 'max_new_tokens', promptTokens: prompt.length });

    // Seeded sampling: same seed → same tokens; another seed → (here) different ones.
    const s1 = await generate(dec, prompt, { maxNewTokens: 16, temperature: 1.5, topK: 20, seed: 3 });
    const s2 = await generate(dec, prompt, { maxNewTokens: 16, temperature: 1.5, topK: 20, seed: 3 });
    const s3 = await generate(dec, prompt, { maxNewTokens: 16, temperature: 1.5, topK: 20, seed: 4 });
    expect(s2.tokens).toEqual(s1.tokens);
    expect(s3.tokens).not.toEqual(s1.tokens);

    // Context full, abort, and a prompt that leaves no room.
    const small = await Decoder.create(engine, { maxContext: prompt.length + 3 });
    expect(await generate(small, prompt, { maxNewTokens: 10 })).toMatchObject({ reason: 'context_full', tokens: a.tokens.slice(0, 3) });
    await expect(generate(small, [...prompt, 1, 2, 3], {})).rejects.toThrow(/The prompt has 11 tokens, but the model's context holds 11: no room to answer/);
    const ac = new AbortController();
    const aborted = await generate(dec, prompt, { maxNewTokens: 10 }, (t) => { if (t.index === 1) ac.abort(); }, ac.signal);
    expect(aborted).toMatchObject({ reason: 'aborted', tokens: a.tokens.slice(0, 2) });
    small.destroy();
    dec.destroy();
    engine.destroy();
  });

  it('stops at end-of-turn: an LM head whose <|im_end|> row copies the row of a token the argmax path reaches', async () => {
    const END = 2; // <|im_end|>
    const engine = await Engine.create({ gpu, config: untied.config, B: 1, T: 8, weights: untied.weights });
    const dec = await Decoder.create(engine, { maxContext: 48 });
    const path = (await generate(dec, prompt, { maxNewTokens: 32 })).tokens;
    expect(path).not.toContain(END);
    // The first token that appears for the first time at index ≥ 3: copying its LM-head row into
    // <|im_end|>'s makes the two tie exactly there (and only from there), and the argmax takes the
    // lower id, <|im_end|>.
    const k = path.findIndex((id, i) => i >= 3 && id > END && !path.slice(0, i).includes(id));
    expect(k).toBeGreaterThanOrEqual(3);
    const C = untied.config.hidden_size;
    const head = untied.weights['lm_head.weight'].slice();
    head.copyWithin(END * C, path[k] * C, (path[k] + 1) * C);
    engine.setParameters({ ...untied.weights, 'lm_head.weight': head });
    const r = await generate(dec, prompt, { maxNewTokens: 32, stopTokenIds: [END, ...untied.stopTokenIds] });
    expect(r.reason).toBe('end_of_turn');
    expect(r.tokens).toEqual([...path.slice(0, k), END]);
    console.log(`end-of-turn: greedy path ${path.slice(0, k + 1).join(' ')}…; with <|im_end|> = row of ${path[k]}: ${r.tokens.join(' ')} (stopped, ${r.tokens.length} tokens)`);
    // Without the stop id the same model keeps going past it.
    const noStop = await generate(dec, prompt, { maxNewTokens: k + 3 });
    expect(noStop.reason).toBe('max_new_tokens');
    expect(noStop.tokens[k]).toBe(END);
    dec.destroy();
    engine.destroy();
  });
});

describe('the embedded model generates what its model card shows', () => {
  it('greedy samples in public/models/playground-base/README.md (PyTorch, no KV cache) = tokenizer + loadModel + Decoder + generate', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { PreTrainedTokenizer } = await import('@huggingface/transformers');
    const { REPO_ROOT } = await import('./testkit');
    const readme = readFileSync(join(REPO_ROOT, 'public/models/playground-base/README.md'), 'utf8');
    // Blocks written by scripts/base_export.py: **greedy**, prompt `"<JSON string>"`: then a ```text fence.
    const samples = [...readme.matchAll(/\*\*greedy\*\*, prompt `(".*?")`:\s*```text\n([\s\S]*?)\n```/g)].map((m) => ({ prompt: JSON.parse(m[1]) as string, text: m[2] }));
    expect(samples.length, 'greedy samples in the model card').toBeGreaterThanOrEqual(1);
    const m = await loadModel(undefined, { fetch: diskFetch(join(REPO_ROOT, 'public'), '/').fetch, cache: null });
    const tok = new PreTrainedTokenizer(m.tokenizerJson, m.tokenizerConfig);
    const gpu = await acquireNodeDevice();
    const engine = await Engine.create({ gpu, config: m.config, B: 1, T: 16, weights: m.weights });
    const dec = await Decoder.create(engine, { maxContext: m.config.max_position_embeddings });
    for (const s of samples) {
      const prompt = tok.encode(s.prompt, { add_special_tokens: false });
      // base_export.generate: at most 80 new tokens, stops at <|endoftext|> or <|im_end|>.
      const r = await generate(dec, prompt, { maxNewTokens: 80, stopTokenIds: m.stopTokenIds });
      const text = tok.decode([...prompt, ...r.tokens], { skip_special_tokens: false });
      console.log(`${JSON.stringify(s.prompt)} → ${JSON.stringify(text.slice(s.prompt.length))} (${r.reason}, ${r.tokens.length} tokens, ${r.msPerToken.toFixed(0)} ms/token)`);
      expect(text).toBe(s.text);
    }
    dec.destroy();
    engine.destroy();
  }, 600_000);
});
