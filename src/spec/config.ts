/**
 * The model config. Field names follow Hugging Face's `LlamaConfig`, so a Hub
 * `config.json` maps onto it field for field.
 *
 * Dimension letters used across engine, reference and shaders:
 *   B  = batch size (sequences per micro-batch)
 *   T  = sequence length (tokens per sequence, padded)
 *   C  = hidden_size
 *   V  = vocab_size
 *   L  = num_hidden_layers
 *   NH = num_attention_heads,  NKV = num_key_value_heads (NKV divides NH: grouped-query attention)
 *   hs = head size = C / NH
 *   F  = intermediate_size (SwiGLU hidden width)
 */
export interface LlamaConfig {
  /** Tokens in the vocabulary (rows of the embedding). */
  vocab_size: number;
  /** Model width C. */
  hidden_size: number;
  /** SwiGLU hidden width F. */
  intermediate_size: number;
  /** Number of decoder blocks L. */
  num_hidden_layers: number;
  /** Query heads NH; C must be divisible by NH. */
  num_attention_heads: number;
  /** Key/value heads NKV (≤ NH, divides NH). NKV = NH is plain multi-head attention. */
  num_key_value_heads: number;
  /** RoPE base frequency (10000 for LLaMA-2, 500000 for LLaMA-3). */
  rope_theta: number;
  /** RMSNorm epsilon. */
  rms_norm_eps: number;
  /** LM head shares the embedding matrix (SmolLM2 does). */
  tie_word_embeddings: boolean;
  /** Longest context the model was trained for; the UI cuts samples here. */
  max_position_embeddings: number;
  /** q/k/v projections carry a bias (Qwen2 does; LLaMA does not). HF: `attention_bias`. */
  attention_bias?: boolean;
}

/** Head size hs = C / NH. */
export function headSize(c: LlamaConfig): number {
  return c.hidden_size / c.num_attention_heads;
}

/** Throws a message a person can act on when the config cannot describe a model this engine runs. */
export function validateConfig(c: LlamaConfig): void {
  const problems: string[] = [];
  const posInt = (k: keyof LlamaConfig) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) problems.push(`${k} must be a positive integer (got ${String(v)})`);
  };
  (['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'max_position_embeddings'] as const).forEach(posInt);
  if (c.hidden_size % c.num_attention_heads !== 0) problems.push(`hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
  if (c.num_attention_heads % c.num_key_value_heads !== 0) problems.push(`num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${c.num_key_value_heads}`);
  if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) problems.push(`head size ${c.hidden_size / c.num_attention_heads} must be even for RoPE`);
  if (!(c.rope_theta > 0)) problems.push(`rope_theta must be > 0 (got ${c.rope_theta})`);
  if (!(c.rms_norm_eps > 0)) problems.push(`rms_norm_eps must be > 0 (got ${c.rms_norm_eps})`);
  if (problems.length) throw new Error(`Unsupported model config: ${problems.join('; ')}`);
}

/** A micro config for tests: runs in seconds on CPU-emulated WebGPU. */
export const MICRO_CONFIG: LlamaConfig = {
  vocab_size: 67,
  hidden_size: 24,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
  max_position_embeddings: 64,
  attention_bias: true,
};
