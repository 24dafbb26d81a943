/**
 * The memory planner's numbers: one run's GPU memory per training mode (full fine-tuning, LoRA on
 * an f32 base, LoRA on a bf16 base) for a model at (B, T), from the engine's own size table
 * (checkMemory → memoryEstimate), and whether each fits the adapter's limits.
 */
import { checkMemory, type MemoryLimits } from '../model/memoryCheck';
import type { LlamaConfig } from '../spec/config';
import { trainableCount, type LoraConfig } from '../spec/lora';

export type PlanMode = 'full' | 'lora-f32' | 'lora-bf16';

export interface PlanRow {
  mode: PlanMode;
  /** Bytes of one run (its engine), as the engine allocates them. */
  total: number;
  trainable: number;
  /** null when the adapter's limits are not known yet. */
  fits: boolean | null;
  /** What does not fit, or why the model cannot be sized. */
  why: string;
}

export function memoryPlan(config: LlamaConfig, B: number, T: number, lora: LoraConfig, limits: MemoryLimits | null): PlanRow[] {
  const unlimited = { maxBufferSize: Number.MAX_SAFE_INTEGER, maxStorageBufferBindingSize: Number.MAX_SAFE_INTEGER };
  const modes: [PlanMode, 'f32' | 'bf16' | null][] = [['full', null], ['lora-f32', 'f32'], ['lora-bf16', 'bf16']];
  return modes.map(([mode, baseDtype]) => {
    const l = baseDtype ? { config: lora, baseDtype } : null;
    const fit = checkMemory(config, B, T, 1, limits ?? unlimited, { lora: l });
    const sized = fit.estimate !== null;
    return {
      mode, total: fit.totalBytes, trainable: trainableCount(config, l?.config ?? null),
      fits: sized ? (limits ? fit.ok : null) : false,
      why: sized ? fit.problems.join('; ') : (fit.message ?? fit.problems.join('; ')),
    };
  });
}
