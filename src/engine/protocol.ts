/**
 * Messages between the UI thread and the engine worker (worker.ts). Requests that expect an answer
 * carry an `id`; the answer (or an `error`) carries the same id. `progress` events stream while a
 * run is going. Everything here survives structured clone; Float32Arrays are transferred.
 */
import type { LlamaConfig } from './config';
import type { AdapterReport } from '../gpu/device';
import type { MemoryEstimate } from './layout';
import type { LossSums } from './ops/lossReductions';
import type { LossMode } from '../reference/ops';
import type { Batch, StepStatus, TrainSettings } from '../reference/model';
import type { GenerateOptions, GenerationResult } from '../model/generate';

export type { Batch, TrainSettings, LossMode };

export type ToEngine =
  /** Build the engine: answers `ready`. B, T: micro-batch shape; microBatches: most per step. */
  | { type: 'init'; id: number; config: LlamaConfig; weights: Record<string, Float32Array>; B: number; T: number; microBatches: number; settings: TrainSettings }
  /** Change optimizer settings (applies from the next submitted step). Answers `ok`. */
  | { type: 'setSettings'; id: number; settings: Partial<TrainSettings> }
  /** One optimizer step over these micro-batches: a `progress` event, then `ok`. */
  | { type: 'trainStep'; id: number; microBatches: Batch[] }
  /**
   * `steps` optimizer steps; step i uses plan[i % plan.length] (each a list of micro-batches).
   * Streams `progress`, answers `runDone` when finished or stopped.
   */
  | { type: 'run'; id: number; steps: number; plan: Batch[][] }
  /** Hold a run after the steps already submitted (answers `ok`); `resume` continues it. */
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  /** End a run after the steps already submitted (answers `ok`; the run answers `runDone`). */
  | { type: 'stop'; id: number }
  /** Current weights by HF name: answers `weights`. */
  | { type: 'getWeights'; id: number }
  /** Replace the weights (resets the optimizer): answers `ok`. */
  | { type: 'setWeights'; id: number; weights: Record<string, Float32Array> }
  /**
   * Forward only: per-position losses, sums, next-token logits. Answers `evaluation`. `embedGrads`
   * adds a backward pass without update and answers dembedNorms too (heatmap).
   */
  | { type: 'evaluate'; id: number; batch: Batch; mode?: LossMode; allLogits?: boolean; embedGrads?: boolean }
  /**
   * Continue `prompt` (token ids: the conversation rendered with add_generation_prompt) with the
   * current weights: streams one `token` event per new token, answers `generated`. Refused while a
   * run is stepping (pause or stop it first). `maxContext`: KV-cache rows (default: prompt +
   * maxNewTokens, at most max_position_embeddings).
   */
  | { type: 'generate'; id: number; prompt: number[]; options: GenerateOptions; maxContext?: number }
  /** End the current generation after the token being computed (answers `ok`; it answers `generated` with reason 'aborted'). */
  | { type: 'stopGeneration'; id: number }
  /** Free GPU memory. Answers `ok`. */
  | { type: 'dispose'; id: number };

/** One step's numbers for the curves. Losses are means over the positions of that kind, null if none. */
export interface ProgressEvent {
  type: 'progress';
  /** trainStep call number within this engine, 1-based. */
  step: number;
  status: StepStatus;
  /** Why nothing was updated (no trained tokens, non-finite), for people. */
  message?: string;
  /** The training objective of the step (normalised as settings.lossMode says). */
  objective: number;
  /** Mean ruler loss over positions predicting prompt tokens / response tokens. */
  promptLoss: number | null;
  responseLoss: number | null;
  /** Trained positions (labels != -100) in the step. */
  trainedTokens: number;
  trainedWeight: number;
  gradNorm: number;
  clipFactor: number;
  /** Updates applied so far (AdamW's t). */
  optimizerStep: number;
  /** GPU time of the step, ms (see EngineStepReport.ms). */
  ms: number;
}

export type FromEngine =
  | { type: 'ready'; id: number; adapter: AdapterReport; memory: MemoryEstimate; B: number; T: number; microBatches: number }
  | ProgressEvent
  | { type: 'ok'; id: number }
  | { type: 'runDone'; id: number; steps: number; reason: 'completed' | 'stopped' | 'error' }
  | { type: 'weights'; id: number; weights: Record<string, Float32Array> }
  /** One new token of generation request `id`. */
  | { type: 'token'; id: number; token: number; index: number; logprob: number }
  | ({ type: 'generated'; id: number } & GenerationResult)
  | { type: 'evaluation'; id: number; losses: Float32Array; dlogitNorms: Float32Array; sums: LossSums; lastLogits: Float32Array; logits?: Float32Array; dembedNorms?: Float32Array }
  /** A request failed (id) or the device was lost (no id). */
  | { type: 'error'; id?: number; message: string };
