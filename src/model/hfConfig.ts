/**
 * Hugging Face `config.json` → LlamaConfig, and the checkpoint tensor names/shapes it implies.
 *
 * Supported model types are the decoders this engine computes exactly:
 *   llama    (SmolLM2, TinyLlama, LLaMA-2): no q/k/v bias unless `attention_bias`; lm_head untied by default
 *   qwen2    (Qwen2, Qwen2.5): q/k/v always carry a bias (the HF module hard-codes it; the config has no field)
 *   mistral  (Mistral-style): no bias; sliding-window attention, which equals full causal attention
 *            when the context is cut to at most `sliding_window` tokens (done here)
 * Anything else (qwen3's q/k norms, gemma's scaled embeddings, phi's fused qkv, gpt2's learned positions,
 * RoPE scaling, head_dim ≠ hidden_size / num_attention_heads, non-SiLU MLPs) computes something else,
 * so it is refused with an error that names the feature.
 *
 * Defaults for absent fields follow transformers' config classes for each model type.
 */
import { type LlamaConfig, validateConfig } from '../spec/config';
import { paramTable } from '../spec/params';
import { CodedError, msg } from '../spec/message';

interface TypeDefaults {
  /** Architectures entry of a causal LM of this type. */
  architecture: string;
  tie_word_embeddings: boolean;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  /** null: read the `attention_bias` field (default false); boolean: fixed by the architecture. */
  attention_bias: boolean | null;
}

const SUPPORTED: Record<string, TypeDefaults> = {
  llama: { architecture: 'LlamaForCausalLM', tie_word_embeddings: false, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 2048, attention_bias: null },
  qwen2: { architecture: 'Qwen2ForCausalLM', tie_word_embeddings: false, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 32768, attention_bias: true },
  mistral: { architecture: 'MistralForCausalLM', tie_word_embeddings: false, rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 4096 * 32, attention_bias: false },
};

/** Why a known but different architecture cannot run here (shown to the user). */
const UNSUPPORTED_WHY: Record<string, string> = {
  qwen3: 'Qwen3 applies an RMSNorm to each query and key head (q_norm/k_norm) and sets head_dim independently of hidden_size',
  gemma: 'Gemma scales embeddings by sqrt(hidden_size), uses (1 + weight) RMSNorm and GeLU',
  gemma2: 'Gemma 2 adds logit soft-capping, extra norms and alternating sliding-window layers',
  gemma3: 'Gemma 3 adds q/k norms, extra norms and alternating sliding-window layers',
  phi3: 'Phi-3 stores q/k/v and gate/up as fused matrices and may use LongRoPE scaling',
  phi: 'Phi uses LayerNorm, a parallel attention/MLP block and partial rotary embeddings',
  gpt2: 'GPT-2 uses learned absolute positions, LayerNorm and a GeLU MLP',
  gpt_neox: 'GPT-NeoX uses LayerNorm, parallel residuals and partial rotary embeddings',
  mixtral: 'Mixtral is a mixture of experts',
  qwen2_moe: 'Qwen2-MoE is a mixture of experts',
  olmo2: 'OLMo 2 normalises after attention/MLP and adds q/k norms',
  smollm3: 'SmolLM3 drops RoPE in every fourth layer (NoPE)',
};

export interface HfModelInfo {
  config: LlamaConfig;
  /** `model_type` as read. */
  modelType: string;
  /** `torch_dtype` (or transformers 5 `dtype`) when given, e.g. "bfloat16". */
  torchDtype?: string;
  bosTokenId?: number;
  /** eos ids (config.json may hold one id or a list). */
  eosTokenIds: number[];
  padTokenId?: number;
  /** Adjustments a person should know about, e.g. a context cut to the sliding window. */
  notes: string[];
}

/** Thrown when a config.json describes a model this engine cannot run; the message says why and what to do. */
export class HfConfigError extends CodedError {
  override name = 'HfConfigError';
}

type Json = Record<string, unknown>;

// The config's own problems stay English (field names and values); the frames around them are coded.
const SUGGESTION = msg('hf.suggestion');

/**
 * Map a parsed config.json to the engine's LlamaConfig. `source` names the file in errors.
 * Throws HfConfigError for unsupported architectures and features.
 */
export function llamaConfigFromHf(json: unknown, source = 'config.json'): HfModelInfo {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new HfConfigError(msg('hf.notObject', { source, got: Array.isArray(json) ? 'an array' : typeof json }));
  }
  const j = json as Json;
  const archs = Array.isArray(j.architectures) ? j.architectures.filter((a): a is string => typeof a === 'string') : [];
  const modelType = typeof j.model_type === 'string' ? j.model_type : '';
  const named = `${modelType ? `model_type "${modelType}"` : 'no model_type'}${archs.length ? ` (architectures: ${archs.join(', ')})` : ''}`;
  const d = SUPPORTED[modelType];
  if (!d) {
    const why = UNSUPPORTED_WHY[modelType];
    throw new HfConfigError(why ? msg('hf.unsupportedWhy', { source, named, why, suggestion: SUGGESTION }) : msg('hf.unsupported', { source, named, suggestion: SUGGESTION }));
  }
  const wrongArch = archs.filter((a) => a !== d.architecture);
  if (archs.length && wrongArch.length === archs.length) {
    throw new HfConfigError(msg('hf.wrongArch', { source, archs: archs.join(', '), modelType, arch: d.architecture }));
  }

  const problems: string[] = [];
  const int = (key: string, fallback?: number): number => {
    const v = j[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) problems.push(`"${key}" is missing`);
      return fallback ?? 0;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      problems.push(`"${key}" must be a positive integer (got ${JSON.stringify(v)})`);
      return 0;
    }
    return v;
  };
  const num = (v: unknown, key: string, fallback: number): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      problems.push(`"${key}" must be a positive number (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = j[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      problems.push(`"${key}" must be true or false (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return v;
  };

  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const notes: string[] = [];
  // transformers 5 moves rope_theta into rope_parameters; older configs have it at the top level.
  const ropeParams = (typeof j.rope_parameters === 'object' && j.rope_parameters !== null ? j.rope_parameters : {}) as Json;
  const config: LlamaConfig = {
    vocab_size: int('vocab_size'),
    hidden_size: hidden,
    intermediate_size: int('intermediate_size'),
    num_hidden_layers: int('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: int('num_key_value_heads', heads || undefined),
    rope_theta: num(j.rope_theta ?? ropeParams.rope_theta, 'rope_theta', d.rope_theta),
    rms_norm_eps: num(j.rms_norm_eps, 'rms_norm_eps', d.rms_norm_eps),
    tie_word_embeddings: bool('tie_word_embeddings', d.tie_word_embeddings),
    max_position_embeddings: int('max_position_embeddings', d.max_position_embeddings),
    attention_bias: d.attention_bias ?? bool('attention_bias', false),
  };

  const act = j.hidden_act ?? j.hidden_activation ?? 'silu';
  if (act !== 'silu' && act !== 'swish') problems.push(`hidden_act "${String(act)}" is not supported (the engine's MLP is SwiGLU with SiLU)`);
  if (j.mlp_bias === true) problems.push('mlp_bias true is not supported (MLP projections have no bias here)');
  const scaling = (j.rope_scaling ?? null) as Json | null;
  const ropeType = scaling ? (scaling.rope_type ?? scaling.type) : ropeParams.rope_type;
  if (ropeType !== undefined && ropeType !== null && ropeType !== 'default') {
    problems.push(`RoPE scaling "${String(ropeType)}" (rope_scaling) is not supported; the engine computes plain RoPE`);
  }
  if (j.head_dim !== undefined && j.head_dim !== null && heads && hidden && j.head_dim !== hidden / heads) {
    problems.push(`head_dim ${String(j.head_dim)} differs from hidden_size / num_attention_heads = ${hidden / heads}; the engine assumes they are equal`);
  }
  if (j.partial_rotary_factor !== undefined && j.partial_rotary_factor !== 1) {
    problems.push(`partial_rotary_factor ${String(j.partial_rotary_factor)} is not supported (RoPE rotates the whole head)`);
  }
  // Sliding-window attention is plain causal attention over contexts no longer than the window.
  const slidingOn = modelType === 'qwen2' ? j.use_sliding_window === true : modelType === 'mistral';
  const win = j.sliding_window;
  if (slidingOn && typeof win === 'number' && win > 0 && win < config.max_position_embeddings) {
    notes.push(`context cut from ${config.max_position_embeddings} to the sliding window of ${win} tokens, where sliding-window attention equals full causal attention`);
    config.max_position_embeddings = win;
  }
  if (problems.length) {
    throw new HfConfigError(msg('hf.problems', { source, named, problems: problems.join('; '), suggestion: SUGGESTION }));
  }
  try {
    validateConfig(config);
  } catch (e) {
    throw new HfConfigError(msg('hf.invalid', { source, named, detail: (e as Error).message }));
  }

  const ids = (v: unknown): number[] =>
    (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).filter((x): x is number => Number.isInteger(x));
  const one = (v: unknown): number | undefined => (Number.isInteger(v) ? (v as number) : undefined);
  const dtype = j.torch_dtype ?? j.dtype;
  return {
    config,
    modelType,
    torchDtype: typeof dtype === 'string' ? dtype : undefined,
    bosTokenId: one(j.bos_token_id),
    eosTokenIds: ids(j.eos_token_id),
    padTokenId: one(j.pad_token_id),
    notes,
  };
}

/**
 * Tensor names and shapes of a Hugging Face checkpoint for this config (the layout of
 * scripts/torch_llama.py), in model order: the parameter table of src/spec/params.ts.
 */
export function hfParameterShapes(c: LlamaConfig): Map<string, number[]> {
  return new Map(paramTable(c).map((s) => [s.name, [...s.shape]]));
}
