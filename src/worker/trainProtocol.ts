/**
 * Requests to the training worker (train.worker.ts), in protocol.ts's convention: each resolves with
 * its `res`, and may report `event`s while it runs. A training is one `start` request: its events
 * are `started`, then one `step` per run and step (the store buffers them and flushes to React a
 * few times per second), and it resolves when the training ends. The worker holds no tokenizer:
 * the data worker prepares the samples (PreparedData) and the prompts, and its token table lets
 * this worker decode answers.
 */
import type { Message } from '../spec/message';
import type { RunTraining } from '../spec/lora';
import type { AdapterReport } from '../gpu/device';
import type { ExportedFile } from '../model/export';
import type { PreparedData } from './dataProtocol';
import type { HandOverrides } from './trainPlan';
import type { OptimizerSettings } from '../spec/optimizer';
import type { LossMode } from '../spec/loss';
import type { StepEvent } from './trainSession';

export type { StepEvent, HandOverrides, ExportedFile, AdapterReport };
/** The adapter in words, for the page (a pure function of the report). */
export { describeAdapter } from '../gpu/device';
export type { ModelSummary as LoadedModel, LoadProgress } from '../model/trainLoad';
export { ANSWER_TOKENS, MAX_ANSWER_TOKENS } from '../model/generate';
import type { LoadProgress, ModelSummary as LoadedModel } from '../model/trainLoad';

/**
 * Where the weights come from: a Hugging Face-layout folder URL (config.json, model.safetensors,
 * tokenizer files) or a Hub repo id (`owner/name`), as src/model/hub.ts resolveModelSource reads it.
 */
export interface ModelSource {
  url: string;
}

export interface StartedInfo {
  samples: number;
  /** Samples longer than the context, cut (their tail is not trained). */
  cutSamples: number;
  B: number;
  T: number;
  /** GPU bytes all engines need (memory estimate). */
  memoryBytes: number;
  /** Steps whose weights are kept for the heatmap. */
  snapshotSteps: number[];
  /** Trained tokens per run over the trained samples (one epoch), for people. */
  trainedPerRun: number[];
  /** The held-out samples (indices, ascending; split.ts): no run trains on them. Absent in records from before. */
  heldOut?: number[];
}

/** Per-token heatmap columns of one sample (L tokens). Token i is predicted at position i-1. */
export interface HeatmapData {
  run: number;
  step: number;
  sample: number;
  ids: Int32Array; // (L,)
  /** (L,) the run's labels (-100 = masked). */
  labels: Int32Array;
  /** (L,) -log p(token i | tokens < i); NaN for token 0 (nothing predicts it). */
  loss: Float32Array;
  /** (L,) ||dlogits|| at the position predicting token i; 0 for token 0 and every -100 token. */
  dlogit: Float32Array;
  /** (L,) ||d objective / d embedding of token i||. */
  dembed: Float32Array;
  /** (L,) the weight the run trains token i with (trainPlan runSequence: 1 trained, the prompt weight, 0 at -100). */
  weights: Float32Array;
  /** (L,) token i's text from the data worker's token table (a byte-level piece may be half a character: U+FFFD). */
  pieces: string[];
  /** How the run's objective reduces the weighted per-token losses. */
  lossMode: LossMode;
  /**
   * The objective the run reported for step `step + 1`, whose forward pass ran on exactly these
   * weights (step k's objective is computed before step k's update); null when that step has not
   * reported in this session (the current weights at the end, or a step before a resume).
   * `batchIsSample`: that step's batch was this one sample alone (B = 1), so this sample's loss
   * arithmetic reproduces the objective.
   */
  objective: ReportedObjective | null;
}

export interface ReportedObjective {
  step: number;
  value: number;
  status: StepEvent['status'];
  batchIsSample: boolean;
}

export interface Answer {
  /** -1 = base model, else run index. */
  run: number;
  text: string;
  tokens: number;
  ms: number;
  /** Why it stopped: a stop token, the token budget, or the context. */
  stoppedBy: 'stop token' | 'length';
}

/** Sampling for answers (src/model/generate.ts): temperature 0 is greedy; the seed makes sampling repeatable. */
export interface Sampling {
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}
export const GREEDY: Sampling = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export type TrainEvent =
  | { kind: 'started'; info: StartedInfo }
  | ({ kind: 'step' } & StepEvent)
  | { kind: 'snapshot'; step: number }
  /** Every run's state after `step` is saved (checkpoints.ts): a reload or a lost device resumes here. */
  | { kind: 'checkpoint'; step: number; bytes: number }
  /** A checkpoint could not be saved (e.g. the storage is full): the runs go on in memory. */
  | { kind: 'checkpointFailed'; step: number; message: string; msg?: Message }
  /** The stop meter: run `run`'s p(end-of-turn token) at the end of each assistant turn of the meter sample, after `step` (0: base). */
  | { kind: 'stopMeter'; run: number; step: number; p: number[] }
  /** Run `run`'s mean response-token loss over the held-out samples after `step` (0: base); NaN when not finite. */
  | { kind: 'heldOut'; run: number; step: number; loss: number };

/** Where a training's weights are saved, and the step to continue from. */
export interface ResumeFrom {
  id: string;
  step: number;
}

export interface TrainDone {
  reason: 'completed' | 'stopped' | 'error';
  steps: number;
  message?: string;
  msg?: Message;
}

export type TrainProtocol = {
  /** Acquire the GPU: the adapter, or a failure saying why there is none. */
  gpu: { req: object; res: AdapterReport };
  /**
   * Fetch the model. The model in use stays until the new one has loaded and passed the memory
   * check: a failed load changes nothing. A newer load, or cancelLoad, aborts this one (it fails).
   */
  load: { req: { source: ModelSource }; res: LoadedModel; event: LoadProgress };
  cancelLoad: { req: object; res: void };
  /**
   * Check memory, build one engine per run, and train: resolves when the training ends. `training`
   * names its saved weights; with `resume`, every run continues from that checkpoint (a finished
   * training resumed at its last step trains nothing and is ready for heatmaps, answers, export).
   * `hold`: build the runs from the checkpoint and train no further (a stopped training brought
   * back after a reload stays stopped until the user continues it). `lossModes[r]`: run r's loss
   * normalisation (absent: 'mean_tokens'). `trainings[r]`: full fine-tuning or a LoRA adapter, and
   * the run's own learning rate (absent: full, the optimizer's). optimizer.heldOut holds samples out
   * of every run's data.
   */
  start: {
    req: { training: string; data: PreparedData; runs: number; optimizer: OptimizerSettings; resume: ResumeFrom | null; hold?: boolean; lossModes?: LossMode[]; trainings?: RunTraining[] };
    res: TrainDone;
    event: TrainEvent;
  };
  /** Forget the saved weights of run `run` of `training` (null: all of them). */
  forget: { req: { training: string; run: number | null }; res: { bytes: number } };
  /** Fault injection for tests (`?faults=1`): destroy the GPU device, as a driver reset would. */
  loseDevice: { req: object; res: void };
  pause: { req: object; res: void };
  resume: { req: object; res: void };
  stop: { req: object; res: void };
  /** Stop and free every engine. */
  reset: { req: object; res: void };
  /** Heatmap data for run `run` at 'current', 0 (base) or a snapshot step, on sample `sample`. */
  evaluate: { req: { run: number; at: 'current' | number; sample: number }; res: HeatmapData };
  /** Continue `prompt` (the data worker's PromptReply) with the base model and every run, streaming each answer's text. */
  generate: { req: { prompt: Int32Array; maxNewTokens: number; sampling: Sampling }; res: Answer[]; event: { run: number; text: string } };
  /**
   * Run `run`'s current weights as a Hugging Face folder (src/model/export.ts: model.safetensors,
   * config.json, tokenizer and generation files). `metadata` goes into the safetensors header.
   */
  /** Run `run` as files: its (merged) model folder, or with `adapter` its PEFT adapter (LoRA runs only). */
  export: { req: { run: number; metadata: Record<string, string>; adapter?: boolean }; res: ExportedFile[] };
};

/** News from the training worker that no request asked for. */
export type TrainBroadcast = { kind: 'deviceLost'; message: string; msg?: Message };
