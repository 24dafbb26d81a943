/**
 * Messages between the training store (train.ts, main thread) and the training worker
 * (train.worker.ts). Requests that expect an answer carry an `id`; the answer carries the same id
 * (or comes as an `error` with it). Step events stream while runs train; the store buffers them and
 * flushes to React a few times per second.
 */
import type { AdapterReport } from '../gpu/device';
import type { LlamaConfig } from '../spec/config';
import type { MaskPolicy } from '../data/types';
import type { ExportedFile } from '../model/export';
import type { HandOverrides } from './trainPlan';
import type { OptimizerSettings } from '../spec/optimizer';
import type { StepEvent } from './trainSession';

export type { StepEvent, HandOverrides, ExportedFile };

/** Tokens each answer may add: the default, and the most (the worker sizes its memory check for it). */
export const ANSWER_TOKENS = 48;
export const MAX_ANSWER_TOKENS = 64;

/**
 * Where the weights come from: a Hugging Face-layout folder URL (config.json, model.safetensors,
 * tokenizer files) or a Hub repo id (`owner/name`), as src/model/hub.ts resolveModelSource reads it.
 */
export interface ModelSource {
  url: string;
}

export type ToTrainer =
  /**
   * Acquire the GPU, then fetch the model (progress events, then `loaded`). The model in use stays
   * until the new one has loaded and passed the memory check: a failed load changes nothing. A
   * newer load aborts an older one still downloading (the older answers `error`).
   */
  | { type: 'load'; id: number; source: ModelSource }
  /** Abort the load in progress (it answers `error`); the model in use stays. */
  | { type: 'cancelLoad' }
  /**
   * Tokenize `text` (every sample), label it per run, check memory, build one engine per run, and
   * train (answers `started`, then step events, then `done`).
   */
  | { type: 'start'; id: number; text: string; contextLength: number; policies: MaskPolicy[]; optimizer: OptimizerSettings; overrides: HandOverrides | null }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  /** Stop and free every engine (answers `ok`). */
  | { type: 'reset'; id: number }
  /** Heatmap data for run `run` at 'current', 0 (base) or a snapshot step, on sample `sample`. */
  | { type: 'evaluate'; id: number; run: number; at: 'current' | number; sample: number }
  /** Complete sample `sample` up to its last assistant turn: base model and every run. */
  | { type: 'generate'; id: number; sample: number; maxNewTokens: number }
  /**
   * Run `run`'s current weights as a Hugging Face folder (src/model/export.ts: model.safetensors,
   * config.json, tokenizer and generation files), answered by `exported`. `metadata` goes into the
   * safetensors header (run name, mask, steps).
   */
  | { type: 'export'; id: number; run: number; metadata: Record<string, string> };

export interface LoadedModel {
  name: string;
  /** What was asked for (folder URL or Hub repo id): `?model=` takes the same string. */
  source: string;
  kind: 'folder' | 'hub';
  /** Folder the files came from (ends in '/'). */
  url: string;
  config: LlamaConfig;
  params: number;
  /** Bytes of the weights as float32. */
  bytes: number;
  /** Ids that end an answer (eos, end of turn). */
  stopIds: number[];
  tokenizerLabel: string;
  /** What the loader noticed (ignored tensors, a context cut to the sliding window, …). */
  notes: string[];
  /** The load-time memory check's numbers and suggestions when a shorter context is needed (trainLoad.ts); null when it fits. */
  memoryNote: string | null;
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
  /** Trained tokens per run over the whole data set (one epoch), for people. */
  trainedPerRun: number[];
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

export type FromTrainer =
  | { type: 'gpu'; ok: true; adapter: AdapterReport }
  | { type: 'gpu'; ok: false; message: string }
  /**
   * Download progress of load `id`: the file being read (`loaded` of `total` bytes; total null while
   * unknown), and the bytes of every file so far.
   */
  | { type: 'loadProgress'; id: number; file: string; loaded: number; total: number | null; bytesReceived: number; cached: boolean }
  | { type: 'loaded'; id: number; model: LoadedModel }
  | { type: 'started'; id: number; info: StartedInfo }
  | ({ type: 'step' } & StepEvent)
  | { type: 'snapshot'; step: number }
  | { type: 'done'; reason: 'completed' | 'stopped' | 'error'; steps: number; message?: string }
  | { type: 'heatmap'; id: number; data: HeatmapData }
  | { type: 'answers'; id: number; prompt: string; reference: string | null; answers: Answer[] }
  | { type: 'exported'; id: number; run: number; files: ExportedFile[] }
  | { type: 'ok'; id: number }
  | { type: 'error'; id?: number; message: string };
