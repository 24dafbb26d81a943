/**
 * One optimizer step, as every layer sees it: the settings it runs with and the report it returns
 * (the reference's trainStep and the GPU engine's Engine.trainStep share both).
 */
import type { LossMode } from './loss';

import type { Message } from './message';

export interface TrainSettings {
  lr: number;
  beta1: number;          // 0.9
  beta2: number;          // 0.999 (torch default) or 0.95
  eps: number;            // 1e-8
  weightDecay: number;    // applied to 2-D matrices only (params.ts decays)
  maxGradNorm: number;    // global L2 clip; Infinity (or 0) = no clipping
  lossMode: LossMode;     // 'mean_tokens' (HF num_items_in_batch) by default
}

export type StepStatus = 'ok' | 'no trained tokens' | 'non-finite';

export interface StepReport {
  status: StepStatus;
  /** The optimizer step this was (1-based); on failure, the step that was not applied. */
  step: number;
  /** The objective over the accumulated batch (for mean_tokens: the weighted mean loss). */
  loss: number;
  trainedWeight: number;
  trainedCount: number;
  /** Pre-clip global gradient norm (NaN when no backward ran). */
  gradNorm: number;
  /** The factor the gradients were multiplied by (1 = not clipped). */
  clipFactor: number;
  promptLossSum: number;
  promptCount: number;
  responseLossSum: number;
  responseCount: number;
  /** Why no update was applied, for people (English; msg the same, coded). */
  message?: string;
  msg?: Message;
}
