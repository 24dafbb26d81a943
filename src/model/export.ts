/**
 * Fine-tuned weights → a Hugging Face model folder, as downloadable Blobs (the UI saves them):
 *   model.safetensors   every parameter as F32, HF names, in paramTable order, __metadata__
 *                       { format: 'pt' } (what transformers' safetensors loader expects); a tied
 *                       model stores no lm_head.weight, like save_pretrained does
 *   config.json         the source's config.json field for field (fields the engine ignores survive),
 *                       torch_dtype set to float32 (the stored dtype); without one, a config written
 *                       from the LlamaConfig
 *   tokenizer and generation files   copied byte for byte from the source (loader.ts SIDE_FILES)
 * scripts/check_export.py loads such a folder in PyTorch and compares its logits with the engine's.
 */
import type { LlamaConfig } from '../spec/config';
import { paramTable } from '../spec/params';
import { llamaConfigFromHf } from './hfConfig';
import { serializeSafetensors } from './safetensors';
import { SIDE_FILES, type LoadedModel } from './loader';
import { CodedError, msg } from '../spec/message';

export interface ExportedFile {
  /** File name inside the model folder. */
  name: string;
  blob: Blob;
}

export interface ExportInput {
  config: LlamaConfig;
  /** Every parameter by HF name (Engine.getParameters()). */
  weights: Record<string, Float32Array>;
  /** The source model's config.json; its engine-relevant fields must describe `config`. */
  configJson?: Record<string, unknown>;
  /** model_type of a config.json written from scratch (no configJson). Default 'llama' ('qwen2' when attention_bias). */
  modelType?: 'llama' | 'qwen2';
  /** Tokenizer and generation files to copy, by file name. */
  sideFiles?: Record<string, Uint8Array>;
  /** Extra safetensors metadata (strings); `format: 'pt'` is always set. */
  metadata?: Record<string, string>;
}

/** A config.json for `c` when the source had none (transformers' LlamaConfig / Qwen2Config fields). */
export function hfConfigJson(c: LlamaConfig, modelType: 'llama' | 'qwen2' = c.attention_bias ? 'qwen2' : 'llama'): Record<string, unknown> {
  if (modelType === 'llama' && c.attention_bias === undefined) c = { ...c, attention_bias: false };
  if (modelType === 'qwen2' && !c.attention_bias) throw new Error('A qwen2 config always has q/k/v biases; export this model as llama (attention_bias false).');
  return {
    architectures: [modelType === 'llama' ? 'LlamaForCausalLM' : 'Qwen2ForCausalLM'],
    model_type: modelType,
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: c.num_key_value_heads,
    hidden_act: 'silu',
    max_position_embeddings: c.max_position_embeddings,
    rms_norm_eps: c.rms_norm_eps,
    rope_theta: c.rope_theta,
    tie_word_embeddings: c.tie_word_embeddings,
    ...(modelType === 'llama' ? { attention_bias: Boolean(c.attention_bias), mlp_bias: false } : { use_sliding_window: false }),
    torch_dtype: 'float32',
  };
}

/**
 * The fields that decide the computation. max_position_embeddings is left out: a sliding-window
 * model's LlamaConfig carries the window as its context while its config.json keeps its own value.
 */
const computeKey = (c: LlamaConfig) => JSON.stringify([
  c.vocab_size, c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
  c.rope_theta, c.rms_norm_eps, c.tie_word_embeddings, Boolean(c.attention_bias),
]);

/**
 * The files of the fine-tuned model folder. Throws, naming the tensor, when a weight is missing,
 * has the wrong size, or holds a non-finite value (a diverged run is not worth saving).
 */
export function exportModel(input: ExportInput): ExportedFile[] {
  const { config, weights } = input;
  const tensors = paramTable(config).map((s) => {
    const data = weights[s.name];
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!data) throw new Error(`Export: parameter "${s.name}" (shape [${s.shape.join(', ')}]) is missing from the weights.`);
    if (data.length !== n) throw new Error(`Export: parameter "${s.name}" has ${data.length} values; shape [${s.shape.join(', ')}] needs ${n}.`);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(data[i])) {
        throw new CodedError(msg('export.diverged', { name: s.name, value: String(data[i]), i }));
      }
    }
    return { name: s.name, shape: s.shape, data, dtype: 'F32' as const };
  });

  let configJson: Record<string, unknown>;
  if (input.configJson) {
    const described = llamaConfigFromHf(input.configJson, 'config.json').config;
    if (computeKey(described) !== computeKey(config)) {
      throw new Error(`Export: the source config.json describes a different model (${JSON.stringify(described)}) than the weights' config (${JSON.stringify(config)}).`);
    }
    configJson = { ...input.configJson, torch_dtype: 'float32' };
    if ('dtype' in configJson) configJson.dtype = 'float32'; // transformers 5 spelling
  } else {
    configJson = hfConfigJson(config, input.modelType);
  }

  const json = (v: unknown) => new Blob([`${JSON.stringify(v, null, 2)}\n`], { type: 'application/json' });
  const files: ExportedFile[] = [
    { name: 'model.safetensors', blob: new Blob([serializeSafetensors(tensors, { ...input.metadata, format: 'pt' }) as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }) },
    { name: 'config.json', blob: json(configJson) },
  ];
  for (const [name, bytes] of Object.entries(input.sideFiles ?? {})) {
    if (files.some((f) => f.name === name)) continue;
    files.push({ name, blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }) });
  }
  return files;
}

/** exportModel for a model loaded by loadModel, with its fine-tuned weights. */
export function exportFineTuned(source: LoadedModel, weights: Record<string, Float32Array>, metadata?: Record<string, string>): ExportedFile[] {
  const sideFiles = Object.fromEntries(SIDE_FILES.filter((f) => source.sideFiles[f]).map((f) => [f, source.sideFiles[f]]));
  return exportModel({ config: source.config, weights, configJson: source.configJson, sideFiles, metadata: { source: source.location.source, ...metadata } });
}
