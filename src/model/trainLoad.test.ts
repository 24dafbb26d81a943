/**
 * The load-time memory check of a picked model, on the e2e fixtures' config.json files and on
 * fake adapter limits: a model that fits says nothing, one that needs a shorter context loads with
 * the memory check's numbers and suggestions, one too large for any setting is refused with its
 * numbers. And the unsupported-architecture fixture is refused by the config reader, naming it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { llamaConfigFromHf } from '../model/hfConfig';
import type { LlamaConfig } from '../spec/config';
import { LOAD_CHECK_TOKENS, loadFit } from './trainLoad';

const FIXTURES = resolve(import.meta.dirname, '../../e2e/fixtures');
const config = (dir: string): LlamaConfig => llamaConfigFromHf(JSON.parse(readFileSync(resolve(FIXTURES, dir, 'config.json'), 'utf8'))).config;
const MiB = 2 ** 20;
const limits = (perBuffer: number) => ({ maxBufferSize: perBuffer, maxStorageBufferBindingSize: perBuffer });

describe('loadFit', () => {
  it('the micro model fits 128 MiB buffers: nothing to say', () => {
    expect(loadFit('micro-model', config('micro-model'), limits(128 * MiB))).toMatchObject({ refuse: null, note: null });
  });

  it('too-large-model (a 1M × 4096 embedding): refused before its weights, with the numbers', () => {
    const fit = loadFit('too-large-model', config('too-large-model'), limits(2048 * MiB));
    expect(fit.note).toBeNull();
    // (V, C) = 1,000,000 × 4096 floats = 15625.0 MiB in one buffer.
    expect(fit.refuse).toMatch(/^too-large-model cannot train on this GPU, so its weights were not downloaded\. This model does not fit this GPU with batch size B = 1, context T = 256/);
    expect(fit.refuse).toContain('parameters:model.embed_tokens.weight (1000000 × 4096), needs 15625.0 MiB, but this GPU allows at most 2048.0 MiB per buffer');
    expect(fit.refuse).toMatch(/It would use \d+\.\d MiB/);
    expect(fit.refuse).toMatch(/the model itself is too large for this GPU; pick a smaller model\.$/);
    console.log(fit.refuse);
  });

  it('fits only with a shorter context: loads, with the suggestions as a note', () => {
    // Attention probabilities (B, NH, T, T) at T = 256 with 64 heads: 1 × 64 × 256 × 256 floats = 16 MiB.
    const wide: LlamaConfig = { ...config('micro-model'), num_attention_heads: 64, num_key_value_heads: 64, hidden_size: 512, max_position_embeddings: 4096 };
    const fit = loadFit('wide', wide, limits(12 * MiB));
    expect(fit.refuse).toBeNull();
    expect(fit.note).toMatch(new RegExp(`^wide at ${LOAD_CHECK_TOKENS} tokens per sequence: This model does not fit this GPU`));
    expect(fit.note).toMatch(/Try a shorter context: T = 128 \(largest buffer \d+\.\d MiB/);
    expect(fit.note).toMatch(/Set the context length in the settings before training\.$/);
  });

  it('fits only as a LoRA run (full fine-tuning at no size): loads, and the note says to switch the runs to LoRA', () => {
    // SmolLM2-135M's shape: f32 full fine-tuning keeps 4 copies (~2 GiB); a 1.2 GiB budget fits a LoRA run on a bf16 base.
    const smol: LlamaConfig = { vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, rope_theta: 100000, rms_norm_eps: 1e-5, tie_word_embeddings: true, max_position_embeddings: 8192 };
    const fit = loadFit('smollm2', smol, { ...limits(1024 * MiB), memoryBudget: 1200 * MiB });
    expect(fit.refuse).toBeNull();
    expect(fit.note).toMatch(/LoRA/);
    expect(fit.note).toMatch(/Switch the runs to a LoRA adapter on their cards \(Training: LoRA adapter, frozen base stored as bf16\) before training\.$/);
    console.log(fit.note);
  });

  it('a model with a context shorter than LOAD_CHECK_TOKENS is checked at its own context', () => {
    const tiny = config('micro-model');
    expect(tiny.max_position_embeddings).toBeLessThan(LOAD_CHECK_TOKENS);
    // 128 tokens × 2 heads: (1, 2, 128, 128) = 128 KiB; a 64 KiB limit is exceeded at T = 128, not T = 64.
    const fit = loadFit('micro-model', tiny, limits(100 * 1024));
    expect(fit.note ?? fit.refuse).toMatch(/context T = 128 /);
  });

  it('the unsupported-model fixture is refused by the config reader, naming its architecture', () => {
    expect(() => config('unsupported-model')).toThrow(/unsupported architecture: model_type "qwen3" \(architectures: Qwen3ForCausalLM\)\. Qwen3 applies an RMSNorm to each query and key head/);
  });
});
