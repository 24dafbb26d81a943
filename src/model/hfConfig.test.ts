import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HfConfigError, hfParameterShapes, llamaConfigFromHf } from './hfConfig';

// Fixtures: config.json files written by hand from the public Hub configs of each model.
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./fixtures/hf-configs/${name}.json`, import.meta.url), 'utf8'));

const errorOf = (json: unknown, source?: string): string => {
  try {
    llamaConfigFromHf(json, source);
  } catch (e) {
    expect(e).toBeInstanceOf(HfConfigError);
    return (e as Error).message;
  }
  throw new Error('expected llamaConfigFromHf to throw');
};

describe('llamaConfigFromHf', () => {
  it('SmolLM2-135M-Instruct (llama, tied, GQA 9:3)', () => {
    const info = llamaConfigFromHf(fixture('smollm2-135m-instruct'));
    expect(info.config).toEqual({
      vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
      num_attention_heads: 9, num_key_value_heads: 3, rope_theta: 100000, rms_norm_eps: 1e-5,
      tie_word_embeddings: true, max_position_embeddings: 8192, attention_bias: false,
    });
    expect(info).toMatchObject({ modelType: 'llama', torchDtype: 'bfloat16', bosTokenId: 1, eosTokenIds: [2], padTokenId: 2, notes: [] });
  });

  it('Qwen2.5-0.5B-Instruct (qwen2: q/k/v bias although the config has no field)', () => {
    const info = llamaConfigFromHf(fixture('qwen2.5-0.5b-instruct'));
    expect(info.config).toEqual({
      vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
      num_attention_heads: 14, num_key_value_heads: 2, rope_theta: 1000000, rms_norm_eps: 1e-6,
      tie_word_embeddings: true, max_position_embeddings: 32768, attention_bias: true,
    });
    expect(info.eosTokenIds).toEqual([151645]);
    expect(info.notes).toEqual([]); // use_sliding_window is false: no cut
    const shapes = hfParameterShapes(info.config);
    expect(shapes.get('model.layers.0.self_attn.q_proj.bias')).toEqual([896]);
    expect(shapes.get('model.layers.23.self_attn.k_proj.weight')).toEqual([128, 896]);
    expect(shapes.get('model.layers.0.self_attn.v_proj.bias')).toEqual([128]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    expect(shapes.size).toBe(1 + 24 * 12 + 1);
  });

  it('Mistral-7B-v0.1: sliding window 4096 < 32768 positions cuts the context, with a note', () => {
    const info = llamaConfigFromHf(fixture('mistral-7b-v0.1'));
    expect(info.config.max_position_embeddings).toBe(4096);
    expect(info.config.attention_bias).toBe(false);
    expect(info.config.tie_word_embeddings).toBe(false);
    expect(info.notes[0]).toMatch(/context cut from 32768 to the sliding window of 4096/);
    expect(hfParameterShapes(info.config).get('lm_head.weight')).toEqual([32000, 4096]);
  });

  it('defaults per model_type when fields are absent', () => {
    const minimal = { model_type: 'llama', vocab_size: 100, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4 };
    const llama = llamaConfigFromHf(minimal).config;
    expect(llama).toMatchObject({ num_key_value_heads: 4, rope_theta: 10000, rms_norm_eps: 1e-6, tie_word_embeddings: false, max_position_embeddings: 2048, attention_bias: false });
    expect(llamaConfigFromHf({ ...minimal, attention_bias: true }).config.attention_bias).toBe(true);
    const qwen = llamaConfigFromHf({ ...minimal, model_type: 'qwen2' }).config;
    expect(qwen).toMatchObject({ attention_bias: true, tie_word_embeddings: false, max_position_embeddings: 32768 });
    // transformers 5 keeps rope_theta under rope_parameters
    expect(llamaConfigFromHf({ ...minimal, rope_parameters: { rope_type: 'default', rope_theta: 500000 } }).config.rope_theta).toBe(500000);
  });

  it('unsupported architectures are named, with the reason and what to pick instead', () => {
    expect(errorOf(fixture('qwen3-0.6b'), 'Qwen/Qwen3-0.6B/config.json')).toMatch(
      /^Qwen\/Qwen3-0\.6B\/config\.json: unsupported architecture: model_type "qwen3" \(architectures: Qwen3ForCausalLM\)\. Qwen3 applies an RMSNorm to each query and key head.*SmolLM2-135M/);
    expect(errorOf(fixture('gpt2'))).toMatch(/unsupported architecture: model_type "gpt2" \(architectures: GPT2LMHeadModel\)\. GPT-2 uses learned absolute positions/);
    expect(errorOf({ model_type: 'mamba', architectures: ['MambaForCausalLM'] })).toMatch(/model_type "mamba".*runs LLaMA-style decoders only/);
    expect(errorOf({ hidden_size: 8 })).toMatch(/unsupported architecture: no model_type/);
    expect(errorOf({ ...fixture('smollm2-135m-instruct'), architectures: ['LlamaForSequenceClassification'] })).toMatch(/LlamaForSequenceClassification for model_type "llama".*causal language models/);
    expect(errorOf([1, 2])).toMatch(/expected a JSON object.*got an array/);
  });

  it('unsupported features of a supported type are named', () => {
    expect(errorOf(fixture('llama-3.2-1b'))).toMatch(/RoPE scaling "llama3" \(rope_scaling\) is not supported/);
    const smol = fixture('smollm2-135m-instruct');
    expect(errorOf({ ...smol, hidden_act: 'gelu' })).toMatch(/hidden_act "gelu" is not supported/);
    expect(errorOf({ ...smol, head_dim: 128 })).toMatch(/head_dim 128 differs from hidden_size \/ num_attention_heads = 64/);
    expect(errorOf({ ...smol, mlp_bias: true })).toMatch(/mlp_bias true/);
    expect(errorOf({ ...smol, num_key_value_heads: 2 })).toMatch(/num_attention_heads 9 is not a multiple of num_key_value_heads 2/);
    expect(errorOf({ ...smol, vocab_size: undefined, hidden_size: '576' })).toMatch(/"hidden_size" must be a positive integer \(got "576"\); "vocab_size" is missing/);
  });
});
