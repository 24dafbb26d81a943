/**
 * The shapes the store holds and persists (the slices in slices/ hold them; validate.ts checks the
 * persisted ones). Types only: the store's layer rule (scripts/check-imports.mjs) lets it see the
 * workers only through their protocols.
 */
import type { RunTraining } from '../spec/lora';
import type { InputError, LineErrors, MaskPolicy } from '../data/types';
import type { TokenizerId } from '../data/types';
import type { StrategyId, StrategyOptions } from '../data/strategies/types';
import type { FailStage, ModelTokenizer } from '../worker/dataProtocol';
import type { AdapterReport, Answer, LoadedModel, LoadProgress, StartedInfo } from '../worker/trainProtocol';

export type { LoadProgress };
import type { OptimizerSettings } from '../spec/optimizer';
import type { LossMode } from '../spec/loss';
import type { Message } from '../spec/message';

/** The mask policy minus the hand overrides (those live next to the tokens they index). */
export type PolicySettings = Omit<MaskPolicy, 'overrides'>;

/** One row of the masking lab: a strategy with its options (src/data/strategies). key: React's, stable across edits. */
export interface LabChoiceSpec {
  key: string;
  id: StrategyId;
  options: StrategyOptions;
}

export interface LabSettings {
  /** 1 to MAX_LAB_ROWS rows; the first is the one the others are compared with. */
  choices: LabChoiceSpec[];
  /** Show only the tokens where some row differs from the first. */
  diffOnly: boolean;
}

export interface Settings {
  tokenizerId: TokenizerId;
  /** Context length per tokenizer; null = the tokenizer's own limit (dataProtocol.resolveContextLength). */
  contextLengths: Record<TokenizerId, number | null>;
  policy: PolicySettings;
  /** Special-token text typed in a message ("<|im_end|>") is encoded as plain characters
   *  (transformers' split_special_tokens) instead of becoming the special token. View and training alike. */
  splitSpecialTokens: boolean;
  lab: LabSettings;
  /** The user's own Jinja chat template, used instead of the tokenizer's (null: the tokenizer's). */
  ownTemplate: string | null;
  /** A tokenizer loaded on its own (a Hub id or folder URL, no weights): what tokenizerId 'custom' reads. */
  customTokenizer: ModelTokenizer | null;
}

export interface Failure {
  stage: FailStage;
  error: InputError;
  /** Broken JSONL lines of the failed input (all of them, when no line was usable); null when none. */
  lineErrors: LineErrors | null;
  /** The user's own chat template failed (stage 'template'): where in it the error is. */
  templateAt?: { line: number; column: number };
}

export interface RunSpec {
  id: string;
  name: string;
  color: string;
  policy: PolicySettings;
  /** The run's labels come from this masking-lab strategy instead of `policy` (absent: the policy's). */
  strategy?: { id: StrategyId; options: StrategyOptions };
  /** How the run's weighted token losses become its objective (spec/loss.ts normalisationScales);
   *  saves from before the option read as 'mean_tokens'. */
  lossMode: LossMode;
  /** Full fine-tuning or a LoRA adapter, and the run's own learning rate (absent: full, the optimizer's). */
  training?: RunTraining;
}

export type Phase = 'idle' | 'starting' | 'training' | 'paused' | 'done' | 'stopped' | 'error';

/** One run's curves, one entry per reported step. null = not plotted (non-finite, or no such tokens). */
export interface RunCurve {
  step: number[];
  objective: (number | null)[];
  response: (number | null)[];
  prompt: (number | null)[];
  /** Trained positions so far (cumulative). */
  trainedTokens: number[];
  lr: number[];
  /** The stop meter (absent in records from before it): steps it was measured at, and for each the
   *  p(end-of-turn) at the end of every assistant turn of sample 1 (null: not finite). */
  stopStep?: number[];
  stopP?: (number | null)[][];
  /** Held-out evaluation (absent when nothing was held out, and in records from before it): the
   *  steps it ran at (0 = base) and the mean response-token loss over the held-out samples (null: not finite). */
  heldStep?: number[];
  heldLoss?: (number | null)[];
}

export interface Progress {
  /** Steps every run has finished. */
  step: number;
  total: number;
  tokensPerSec: number | null;
  msPerStep: number | null;
  etaSec: number | null;
  /** Cumulative trained tokens per run. */
  trainedTokens: number[];
}

export interface ModelState {
  /**
   * loading: a load is in flight (`loaded` still holds the model in use, if any); ready: `loaded`
   * is in use; error: no model is loaded (the first load failed).
   */
  status: 'loading' | 'ready' | 'error';
  /** The source being loaded, or the loaded model's. */
  url: string;
  progress: LoadProgress | null;
  loaded: LoadedModel | null;
  /** Why the last load failed; the model in use (if any) stays. */
  error: Message | null;
}

export interface GpuState {
  status: 'pending' | 'ok' | 'unavailable';
  adapter: AdapterReport | null;
  message: Message | null;
}

export type HeatMetric = 'loss' | 'prob' | 'dlogit' | 'dembed';

export interface AnswersState {
  sample: number;
  /** Steps trained when the answers were generated. */
  step: number;
  prompt: string;
  reference: string | null;
  answers: Answer[];
  /** How they were decoded (absent in records saved before sampling existed: greedy). */
  sampling?: { temperature: number; topK: number; topP: number; seed: number };
}

/** The first screen's hand overrides a training applied to every run: on which sample, how many tokens. */
export interface HandApplied {
  sample: number;
  tokens: number;
}

/** Where a training's weights are saved (src/worker/checkpoints.ts) and up to which step. */
export interface SavedWeights {
  id: string;
  step: number;
  bytes: number;
  /** Runs whose saved weights the user forgot (their curves stay). */
  forgotten: number[];
}

/** What the data was prepared with, so a resumed training gets the very same labels. */
export interface PreparedWith {
  /** The user's context length for the model's tokenizer (null: the model's). */
  contextLength: number | null;
  /** The hand overrides, in full (HandApplied only counts them). */
  hand: { sample: number; tokens: Record<number, 'train' | 'mask'>; ids: number[] } | null;
  /** Settings.splitSpecialTokens at the start (absent in records from before the option: false). */
  splitSpecialTokens?: boolean;
  /** The user's own chat template the model's tokenizer rendered with (absent / null: its own). */
  ownTemplate?: string | null;
}

/**
 * A comparison: what is saved and restored. Written when a training finishes or stops, and at
 * every checkpoint while it runs (reason 'running'), so a reload resumes it.
 */
export interface TrainingRecord {
  runs: RunSpec[];
  optimizer: OptimizerSettings;
  model: { name: string; params: number };
  text: string;
  info: StartedInfo;
  curves: RunCurve[];
  reason: 'completed' | 'stopped' | 'error' | 'running';
  finishedAt: number;
  answers: AnswersState | null;
  /** Coded; records saved before messages were coded hold English strings. */
  warnings: (Message | string)[];
  /** Hand overrides the runs were trained with (absent in records saved before they existed). */
  hand?: HandApplied | null;
  /** The saved weights (absent before weights were saved, or when saving failed). */
  saved?: SavedWeights | null;
  prepared?: PreparedWith;
}
