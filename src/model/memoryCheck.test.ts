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

  it('an embedding larger than one buffer is split by rows (as Engine allocates it): Qwen2.5-0.5B under 128 MiB buffers', () => {
    // Qwen2.5-0.5B's embedding (151936 × 896 floats) is 519.3 MiB: 5 parts of at most 128 MiB.
    const r = checkMemory(QWEN_05B, 1, 64, 1, limits(128 * MiB));
    expect(r.ok).toBe(true);
    expect(r.largest!.name).toMatch(/^parameters:model\.embed_tokens\.weight\[0:\d+\]$/);
    expect(r.largest!.bytes).toBeLessThanOrEqual(128 * MiB);
    expect(r.estimate!.parameters).toBeGreaterThanOrEqual(151936 * 896 * 4);
    // With a known budget too small for full fine-tuning (weights, gradients, two moments) at any
    // size, LoRA on a bf16 base is suggested (checked to fit); a budget too small for that refuses.
    const budget = 4096 * MiB;
    const tight = checkMemory(QWEN_05B, 1, 64, 1, limits(128 * MiB, budget));
    expect(tight.ok).toBe(false);
    expect(tight.problems[0]).toMatch(/^it needs \d+\.\d MiB in all, more than the 4096\.0 MiB available$/);
    expect(tight.suggestions).toHaveLength(1);
    const s = tight.suggestions[0];
    expect(s.lora?.baseDtype).toBe('bf16');
    expect(s.text).toMatch(/^training a LoRA adapter instead \(r 8 on q, k, v, o, bf16 base\) \(largest buffer \d+\.\d MiB, \d+\.\d MiB in all\)$/);
    expect(checkMemory(QWEN_05B, s.B, s.T, s.microBatches, limits(128 * MiB, budget), { lora: s.lora }).ok).toBe(true);
    console.log(tight.message);
    const none = checkMemory(QWEN_05B, 1, 64, 1, limits(128 * MiB, 256 * MiB));
    expect(none.suggestions).toEqual([]);
    expect(none.message).toMatch(/the model itself is too large for this GPU; pick a smaller model\.$/);
  });

  it('a tensor that cannot be split and exceeds the buffer limit: named, and the model is too large', () => {
    // A layer matrix is never split (the matmuls read whole matrices): down_proj (896 × 4864 floats) = 16.6 MiB.
    // (The LM head's (N, VC) chunk shrinks to fit the limit.)
    const r = checkMemory(QWEN_05B, 1, 64, 1, limits(16 * MiB));
    expect(r.ok).toBe(false);
    expect(r.largest!.name).toMatch(/^parameters:model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight$/);
    expect(r.message).toMatch(/needs 16\.6 MiB, but this GPU allows at most 16\.0 MiB per buffer/);
    // LoRA with a bf16 base holds the projections at half size: that fits, and is suggested.
    expect(r.suggestions.map((x) => x.lora?.baseDtype)).toEqual(['bf16']);
    // An embedding over 4 GiB is not split (no browser holds it in one Float32Array): named as before.
    const huge = { ...QWEN_05B, vocab_size: 1_000_000, hidden_size: 4096, num_hidden_layers: 2, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 11008 };
    const h = checkMemory(huge, 1, 64, 1, limits(2048 * MiB));
    expect(h.largest!.name).toBe('parameters:model.embed_tokens.weight');
    expect(h.message).toMatch(/needs 15625\.0 MiB, but this GPU allows at most 2048\.0 MiB per buffer.*the model itself is too large for this GPU; pick a smaller model\./);
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
