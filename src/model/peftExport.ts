/**
 * A LoRA run → a PEFT adapter folder (what `PeftModel.save_pretrained` writes, peft 0.13.2, the
 * version src/spec/lora.ts follows), as downloadable Blobs like export.ts:
 *   adapter_model.safetensors   every lora_A / lora_B as F32, named as PEFT saves them: the module
 *                               path with `base_model.model.` in front and the adapter name
 *                               ('default') stripped, e.g.
 *                               base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight (r, I)
 *                               base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight (O, r)
 *                               in loraTable order; __metadata__ { format: 'pt' } (save_pretrained's)
 *   adapter_config.json         LoraConfig.to_dict() as save_pretrained writes it (inference_mode
 *                               true; runtime_config dropped), every field of peft 0.13's LoraConfig
 * Load it with `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), folder)`.
 * The merged alternative (W + (alpha/r)·B·A, a plain transformers folder) is export.ts's
 * exportFineTuned on Engine.getParameters(); exportLoraRun does either.
 * scripts/check_peft.py applies such an adapter in PyTorch and compares with the engine's logits.
 */
import type { LlamaConfig } from '../spec/config';
import { loraTable, MODULE_NAMES, orderedTargets, peftName, validateLora, type LoraConfig } from '../spec/lora';
import { exportFineTuned, type ExportedFile } from './export';
import type { LoadedModel } from './loader';
import type { ModelLocation } from './hub';
import { serializeSafetensors } from './safetensors';
import { CodedError, msg } from '../spec/message';

export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';

export interface PeftAdapterInput {
  config: LlamaConfig;
  lora: LoraConfig;
  /** The adapter tensors by name (loraTable: model.layers.{i}.<module>.lora_A.weight, ...), Engine.getAdapter(). */
  adapter: Record<string, Float32Array>;
  /** base_model_name_or_path: the Hub id ('owner/name') or the folder the base model came from. */
  baseModel: string;
  /** The base model's Hub revision ('main' is written as null, as PEFT does for no revision). */
  revision?: string | null;
  /** Extra safetensors metadata (strings); `format: 'pt'` is always set. */
  metadata?: Record<string, string>;
}

/** What base_model_name_or_path / revision a loaded model's location gives. */
export function peftBaseOf(location: ModelLocation): { baseModel: string; revision: string | null } {
  if (location.kind === 'hub') return { baseModel: location.repo!, revision: location.revision && location.revision !== 'main' ? location.revision : null };
  return { baseModel: location.source, revision: null };
}

/**
 * adapter_config.json: peft 0.13.2's LoraConfig fields with their defaults, except what this run
 * sets (r, lora_alpha, target_modules, lora_dropout 0, task_type, inference_mode true, the base).
 */
export function peftAdapterConfig(lora: LoraConfig, baseModel: string, revision: string | null = null): Record<string, unknown> {
  validateLora(lora);
  return {
    alpha_pattern: {},
    auto_mapping: null, // null for a transformers base model
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: lora.alpha,
    lora_dropout: 0.0,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: lora.r,
    rank_pattern: {},
    revision,
    target_modules: orderedTargets(lora).map((p) => MODULE_NAMES[p]!),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
}

/**
 * The files of the PEFT adapter folder. Throws, naming the tensor, when an adapter tensor is
 * missing, has the wrong size, or holds a non-finite value.
 */
export function exportPeftAdapter(input: PeftAdapterInput): ExportedFile[] {
  const { config, lora, adapter } = input;
  validateLora(lora, config);
  const tensors = loraTable(config, lora).map((s) => {
    const data = adapter[s.name];
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (!data) throw new Error(`Adapter export: tensor "${s.name}" (shape [${s.shape.join(', ')}]) is missing from the adapter.`);
    if (data.length !== n) throw new Error(`Adapter export: tensor "${s.name}" has ${data.length} values; shape [${s.shape.join(', ')}] needs ${n}.`);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(data[i])) {
        throw new CodedError(msg('export.adapterDiverged', { name: s.name, value: String(data[i]), i }));
      }
    }
    return { name: peftName(s.name), shape: s.shape, data, dtype: 'F32' as const };
  });
  const configJson = peftAdapterConfig(lora, input.baseModel, input.revision ?? null);
  return [
    { name: ADAPTER_WEIGHTS, blob: new Blob([serializeSafetensors(tensors, { ...input.metadata, format: 'pt' }) as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }) },
    { name: ADAPTER_CONFIG, blob: new Blob([`${JSON.stringify(configJson, null, 2)}\n`], { type: 'application/json' }) },
  ];
}

/** What exportLoraRun needs of a LoRA run (Engine has it). */
export interface LoraRun {
  readonly lora: LoraConfig | null;
  getAdapter(): Promise<Record<string, Float32Array>>;
  /** The merged model, W + (alpha/r)·B·A (Engine.getParameters with LoRA). */
  getParameters(): Promise<Record<string, Float32Array>>;
}

/**
 * A LoRA run of `source` as files to download: by default the PEFT adapter folder
 * (adapter_model.safetensors + adapter_config.json, base_model_name_or_path from where `source`
 * was loaded); with `merged: true` the whole merged model as export.ts writes it (model.safetensors,
 * config.json, tokenizer files), loadable without PEFT.
 */
export async function exportLoraRun(source: LoadedModel, run: LoraRun, opts: { merged?: boolean; metadata?: Record<string, string> } = {}): Promise<ExportedFile[]> {
  const lora = run.lora;
  if (!lora) throw new CodedError(msg('export.noAdapter'));
  if (opts.merged) return exportFineTuned(source, await run.getParameters(), opts.metadata);
  return exportPeftAdapter({ config: source.config, lora, adapter: await run.getAdapter(), ...peftBaseOf(source.location), metadata: opts.metadata });
}
