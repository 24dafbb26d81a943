/**
 * LoRA adapters, with PEFT's semantics (peft 0.13, `peft.tuners.lora.layer.Linear`):
 *
 *   y = x W^T + b + (alpha / r) · (x A^T) B^T        A (r, I), B (O, r), W (O, I) frozen
 *
 * - B starts at zero, so a fresh adapter leaves the model's output unchanged.
 * - A starts from PEFT's default init (`init_lora_weights=True`): kaiming_uniform_(a=√5) on an
 *   (r, I) weight, i.e. U(-1/√I, 1/√I) (gain √(2/(1+5)) · √3 / √fan_in = 1/√fan_in), drawn here
 *   from our seeded generator instead of torch's.
 * - dropout 0 and bias "none": only A and B train; W, the biases, the norms and the embedding stay
 *   frozen. Weight decay applies to A and B (2-D, `decays` in params.ts), as HF Trainer does.
 *
 * Names are the base layer's HF module path plus `.lora_A.weight` / `.lora_B.weight`; a PEFT
 * adapter file prefixes them with `base_model.model.` (peftName).
 */
import type { LlamaConfig } from './config';
import { layerParamNames, paramTable, PROJECTIONS, type LayerParam, type TensorSpec } from './params';
import { makeRng } from './rng';

export interface LoraConfig {
  /** Rank r (rows of A, columns of B). */
  r: number;
  /** lora_alpha: the update is scaled by alpha / r. */
  alpha: number;
  /** Which projections get an adapter (PEFT target_modules), in any order. */
  targets: readonly LayerParam[];
}

/**
 * r 8 is PEFT's default; alpha 16 (= 2r, scaling 2) is the common recipe (PEFT's own default
 * alpha is 8); attention projections only, as the default.
 */
export const DEFAULT_LORA: LoraConfig = { r: 8, alpha: 16, targets: ['q', 'k', 'v', 'o'] };

/** PEFT's target_modules name of each projection ('q' → 'q_proj'). */
export const MODULE_NAMES: Partial<Record<LayerParam, string>> = {
  q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', gate: 'gate_proj', up: 'up_proj', down: 'down_proj',
};

/** The projection for a PEFT target_modules name ('q_proj' → 'q'), or null. */
export function projectionOf(module: string): LayerParam | null {
  return PROJECTIONS.find((p) => MODULE_NAMES[p] === module) ?? null;
}

/** alpha / r: PEFT's `scaling` (without use_rslora). */
export function loraScale(l: LoraConfig): number {
  return l.alpha / l.r;
}

/** The targets in PROJECTIONS order (the order of the adapter table). */
export function orderedTargets(l: LoraConfig): LayerParam[] {
  return PROJECTIONS.filter((p) => l.targets.includes(p));
}

/** Throws a message a person can act on when the adapter settings cannot be used. */
export function validateLora(l: LoraConfig, cfg?: LlamaConfig): void {
  const problems: string[] = [];
  if (!(Number.isInteger(l.r) && l.r > 0)) problems.push(`rank r must be a positive integer (got ${l.r})`);
  if (!(Number.isFinite(l.alpha) && l.alpha > 0)) problems.push(`alpha must be a positive number (got ${l.alpha})`);
  if (l.targets.length === 0) problems.push('pick at least one target module');
  const bad = l.targets.filter((t) => !PROJECTIONS.includes(t));
  if (bad.length) problems.push(`unknown target module(s) ${bad.join(', ')}; use ${PROJECTIONS.map((p) => MODULE_NAMES[p]).join(', ')}`);
  if (cfg && Number.isInteger(l.r) && l.r > Math.min(cfg.hidden_size, cfg.intermediate_size)) problems.push(`rank r ${l.r} exceeds the model width ${Math.min(cfg.hidden_size, cfg.intermediate_size)}`);
  if (problems.length) throw new Error(`LoRA settings: ${problems.join('; ')}.`);
}

export interface LoraTarget {
  layer: number;
  key: LayerParam;
  /** HF name of the frozen weight (O, I). */
  base: string;
  /** HF name of its bias, or null. */
  bias: string | null;
  A: string;
  B: string;
  /** Output and input features of the base layer. */
  O: number;
  I: number;
}

/** Every adapted projection, layer by layer, targets in PROJECTIONS order. */
export function loraTargets(cfg: LlamaConfig, l: LoraConfig): LoraTarget[] {
  const shapes = new Map(paramTable(cfg).map((s) => [s.name, s.shape]));
  const out: LoraTarget[] = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const n = layerParamNames(i);
    for (const key of orderedTargets(l)) {
      const base = n[key];
      const [O, I] = shapes.get(base)!;
      const module = base.slice(0, -'.weight'.length);
      const biasKey = `${key}b` as LayerParam;
      const bias = shapes.has(n[biasKey] ?? '') ? n[biasKey] : null;
      out.push({ layer: i, key, base, bias, A: `${module}.lora_A.weight`, B: `${module}.lora_B.weight`, O, I });
    }
  }
  return out;
}

/**
 * The adapter size table, in this order (the order of the adapter arrays and GPU arenas):
 *   per layer i, per target p:  model.layers.{i}.<module p>.lora_A.weight (r, I)
 *                               model.layers.{i}.<module p>.lora_B.weight (O, r)
 */
export function loraTable(cfg: LlamaConfig, l: LoraConfig): TensorSpec[] {
  return loraTargets(cfg, l).flatMap((t) => [{ name: t.A, shape: [l.r, t.I] }, { name: t.B, shape: [t.O, l.r] }]);
}

/** PEFT's default init, seeded: A ~ U(-1/√I, 1/√I), B = 0. */
export function initLora(cfg: LlamaConfig, l: LoraConfig, seed: number): Record<string, Float64Array> {
  const rng = makeRng(seed);
  const out: Record<string, Float64Array> = {};
  for (const t of loraTargets(cfg, l)) {
    const bound = 1 / Math.sqrt(t.I);
    const a = new Float64Array(l.r * t.I);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * bound;
    out[t.A] = a;
    out[t.B] = new Float64Array(t.O * l.r);
  }
  return out;
}

/** The tensor name inside a PEFT adapter_model.safetensors. */
export function peftName(name: string): string {
  return `base_model.model.${name}`;
}

/** Parameters that train in a run: every adapter tensor with LoRA, every model tensor without. */
export function trainableCount(cfg: LlamaConfig, l: LoraConfig | null): number {
  const specs = l ? loraTable(cfg, l) : paramTable(cfg);
  return specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}

/**
 * How one run trains: the whole model, or a LoRA adapter on the frozen model. The LoRA fields are
 * kept while a run is switched to full fine-tuning, so switching back restores them.
 */
export interface RunTraining {
  mode: 'full' | 'lora';
  r: number;
  alpha: number;
  targets: LayerParam[];
  /** Storage of the frozen projections in LoRA mode (f32 accumulation either way). */
  baseDtype: 'f32' | 'f16' | 'bf16';
  /** In LoRA mode, the run's own peak learning rate (LoRA wants a larger one than full fine-tuning); null: the optimizer's. Full fine-tuning always uses the optimizer's. */
  lr: number | null;
}

export const FULL_TRAINING: RunTraining = { mode: 'full', r: DEFAULT_LORA.r, alpha: DEFAULT_LORA.alpha, targets: [...DEFAULT_LORA.targets], baseDtype: 'f32', lr: null };

/** The adapter a run trains, or null for full fine-tuning. */
export function runLora(t: RunTraining | undefined): LoraConfig | null {
  return t?.mode === 'lora' ? { r: t.r, alpha: t.alpha, targets: t.targets } : null;
}
