/**
 * checkMemory with fake adapter limits: what fits, what does not and why (numbers in MiB), and
 * suggestions that are themselves checked to fit. Sizes come from the engine's layout table, so
 * they are compared with memoryEstimate and hand-computed tensor sizes.
 */
import { describe, expect, it } from 'vitest';
import { checkMemory } from './memoryCheck';
import { buildLayout, memoryEstimate } from '../engine/layout';
import { decoderBytes } from '../engine/generation';
import type { LlamaConfig } from '../spec/config';

/** playground-base's shape (public/models/playground-base/config.json). */
const BASE: LlamaConfig = {
  vocab_size: 4096, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 2,
  rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 256, attention_bias: false,
};
/** Qwen2.5-0.5B's shape. */
const QWEN_05B: LlamaConfig = {
  vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2,
  rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 32768, attention_bias: true,
};
const MiB = 2 ** 20;
const limits = (perBuffer: number, memoryBudget?: number) => ({ maxBufferSize: perBuffer, maxStorageBufferBindingSize: perBuffer, memoryBudget });

describe('checkMemory', () => {
  it('fits: reports the engine estimate and the largest buffer', () => {
    const r = checkMemory(BASE, 4, 256, 2, limits(256 * MiB));
    expect(r.ok).toBe(true);
    expect(r.message).toBeNull();
    expect(r.estimate).toEqual(memoryEstimate(BASE, 4, 256, 2));
    expect(r.totalBytes).toBe(r.estimate!.total);
    // The largest tensor of the engine's layout: the LM head's logits, (B*T, V) = 1024 × 4096 floats = 16 MiB.
    const slots = buildLayout(BASE, 4, 256, { microBatches: 2 }).arenas.flatMap((a) => a.slots);
    const top = slots.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    expect(r.largest).toEqual({ name: `${top.category}:${top.name}`, shape: top.shape, bytes: 16 * MiB });
    expect(top.shape).toEqual([1024, 4096]);
    console.log(`playground-base B=4 T=256 ×2: ${(r.totalBytes / MiB).toFixed(1)} MiB, largest ${r.largest!.name} ${(r.largest!.bytes / MiB).toFixed(1)} MiB`);
  });

  it('a buffer over the per-buffer limit: names it with MiB numbers and suggests settings that fit', () => {
    // Long context: a layer's attention probabilities (B, NH, T, T) = 4 × 8 × 1024 × 1024 floats = 128 MiB.
    const long = { ...BASE, max_position_embeddings: 1024 };
    const lim = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 100 * MiB };
    const r = checkMemory(long, 4, 1024, 1, lim);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['its largest buffer, activations:layers.0.att (4 × 8 × 1024 × 1024), needs 128.0 MiB, but this GPU allows at most 100.0 MiB per buffer (maxStorageBufferBindingSize)']);
    expect(r.message).toMatch(/^This model does not fit this GPU with batch size B = 4, context T = 1024 and 1 micro-batch\(es\): its largest buffer/);
    expect(r.message).toMatch(/It would use \d+\.\d MiB: parameters \d+\.\d MiB, gradients and AdamW moments \d+\.\d MiB, activations \d+\.\d MiB/);
    expect(r.suggestions.map((x) => [x.B, x.T, x.microBatches])).toEqual([[4, 512, 1], [2, 1024, 2]]);
    expect(r.message).toMatch(/Try a shorter context: T = 512 \(largest buffer \d+\.\d MiB, .* MiB in all\); or a smaller batch: B = 2 with 2 micro-batches per step \(4 sequences per step/);
    for (const x of r.suggestions) expect(checkMemory(long, x.B, x.T, x.microBatches, lim).ok).toBe(true);
    console.log(r.message);
  });

  it('a total over a known budget, and fewer micro-batches as a suggestion', () => {
    const need = memoryEstimate(BASE, 4, 256, 8).total;
    const r = checkMemory(BASE, 4, 256, 8, limits(1 << 30, need - 1));
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/^it needs \d+\.\d MiB in all, more than the \d+\.\d MiB available$/);
    expect(r.suggestions.length).toBeGreaterThan(0);
    expect(r.suggestions.some((s) => s.microBatches === 1 && s.B === 4 && s.T === 256)).toBe(true);
    for (const s of r.suggestions) expect(checkMemory(BASE, s.B, s.T, s.microBatches, limits(1 << 30, need - 1)).ok).toBe(true);
  });

  it('a model whose embedding alone exceeds the buffer limit: says the model is too large', () => {
    // Qwen2.5-0.5B's embedding (151936 × 896 floats) is 519.3 MiB; give 256 MiB buffers.
    const r = checkMemory(QWEN_05B, 1, 64, 1, limits(256 * MiB));
    expect(r.ok).toBe(false);
    expect(r.largest!.name).toBe('parameters:model.embed_tokens.weight');
    expect(r.suggestions).toEqual([]);
    expect(r.message).toMatch(/needs 519\.3 MiB, but this GPU allows at most 256\.0 MiB per buffer.*the model itself is too large for this GPU; pick a smaller model\./);
  });

  it('counts the generation decoder when asked (KV caches of the context)', () => {
    const r = checkMemory(BASE, 1, 256, 1, limits(1 << 30), { generationContext: 256 });
    expect(r.generationBytes).toBe(decoderBytes(BASE, 256).total);
    // L × 2 × Tmax × NKV × hs × 4 B = 4 × 2 × 256 × 2 × 32 × 4 = 512 KiB of caches.
    expect(r.generationBytes).toBeGreaterThan(512 * 1024);
    expect(r.totalBytes).toBe(r.estimate!.total + r.generationBytes);
  });

  it('never throws: nonsense sizes give a message', () => {
    for (const [B, T, m] of [[0, 256, 1], [4, 2.5, 1], [4, 256, NaN]]) {
      const r = checkMemory(BASE, B, T, m, limits(1 << 30));
      expect(r.ok).toBe(false);
      expect(r.message).toMatch(/^Cannot size the GPU memory: .*must be whole numbers of at least 1\.$/);
    }
  });
});
