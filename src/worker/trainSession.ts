/**
 * Several training runs side by side on one GPU device: one Engine per run (each holds its own
 * weights and AdamW moments), all built from the same base weights, stepped in lockstep on the
 * same batches (trainPlan.stepBatch: same sequences, order and padding; only labels and weights
 * differ). Runs in the training worker (train.worker.ts) and in Node tests; no DOM.
 *
 * Step k of every run is submitted before step k+1 of any; up to RUN_AHEAD steps are in flight so
 * the GPU never waits for a read-back. Weight snapshots are read at chosen steps (for the heatmap
 * "at step k"); a scratch engine (B = 1) evaluates snapshots and the base weights and generates
 * the base model's answer, so the runs' engines (and their optimizer state) are never overwritten.
 */
import type { Gpu } from '../gpu/device';
import type { LlamaConfig } from '../spec/config';
import { Decoder } from '../engine/generation';
import { generate, type GeneratedToken, type GenerateOptions, type GenerationResult } from '../model/generate';
import { layoutEstimate, memoryEstimate } from '../engine/layout';
import { defaultF16Weights, Engine, type EngineStepReport, type TrainingState } from '../engine/trainer';
import type { TrainSettings } from '../spec/step';
import type { LossMode } from '../spec/loss';
import { heldOutSamples, trainedSamples } from '../spec/split';
import { heldOutBatches, runSequence, sampleBatch, stepBatch, trainOrder, type PreparedSample } from './trainPlan';
import { lrAt, type OptimizerSettings } from '../spec/optimizer';
import { runLora, type RunTraining } from '../spec/lora';
import type { LoraLayout } from '../engine/layout';
import { CodedError, messageOfError, msg, type Message } from '../spec/message';

/** Steps submitted ahead of the one whose report is awaited. */
const RUN_AHEAD = 2;

export interface StepEvent {
  /** Index of the run (order of SessionOptions.runs). */
  run: number;
  step: number;
  lr: number;
  status: EngineStepReport['status'];
  message?: string;
  msg?: Message;
  objective: number;
  /** Mean ruler loss over positions predicting prompt / response tokens; null if none. */
  promptLoss: number | null;
  responseLoss: number | null;
  /** Positions predicting prompt / response tokens (the ruler's counts). */
  promptTokens: number;
  responseTokens: number;
  /** Trained positions (labels != -100) in this step. */
  trainedTokens: number;
  /** Non-padding tokens the step processed. */
  tokens: number;
  gradNorm: number;
  /** GPU time of the step (EngineStepReport.ms). */
  ms: number;
}

export interface SessionOptions {
  gpu: Gpu;
  config: LlamaConfig;
  /** Base weights by HF name (every run starts from them). */
  base: Record<string, Float32Array>;
  /** Run count; labels[r] / weights[r] of every sample belong to run r. */
  runs: number;
  samples: PreparedSample[];
  optimizer: OptimizerSettings;
  padId: number;
  /** Steps after which each run's weights are kept (for the heatmap). */
  snapshotSteps?: readonly number[];
  /** The stop meter: after step 0 (base), every `every` steps and the last, each run's p(token) at
   *  `positions[run]` of sample `sample` (its end-of-turn tokens), from a forward pass queued behind the step. */
  meter?: { sample: number; positions: readonly Int32Array[]; every: number };
  /** Run r's loss normalisation (spec/loss.ts); absent or short: 'mean_tokens'. */
  lossModes?: readonly LossMode[];
  /** How run r trains (the whole model, or a LoRA adapter; its own learning rate); absent: full fine-tuning. */
  trainings?: readonly (RunTraining | undefined)[];
  /** Held-out evaluation: after step 0 (base), every `every` steps and the last, each run's mean
   *  response-token loss over the held-out samples (optimizer.heldOut; none held out: nothing is measured). */
  heldOutEvery?: number;
  /** Continue from a checkpoint: every run's state after `step` (null: that run's weights were forgotten; it keeps the base). */
  resume?: { step: number; states: readonly (TrainingState | null)[] };
  /** A checkpoint every this many steps, and at the end or a stop (0: none). */
  checkpointEvery?: number;
}

export type Weights = Record<string, Float32Array>;

/** Sequence length every engine is built for: the longest prepared sample. */
export function sessionShape(samples: readonly PreparedSample[], batchSize: number): { B: number; T: number } {
  let T = 1;
  for (const s of samples) {
    T = Math.max(T, s.ids.length);
    for (const o of s.own ?? []) if (o) T = Math.max(T, o.ids.length);
  }
  return { B: batchSize, T };
}

/**
 * GPU bytes a session needs: one engine per run at (B, T), the scratch engine at (1, T), and a
 * generation cache. What the memory check compares against the adapter.
 */
export function sessionBytes(config: LlamaConfig, runs: number, B: number, T: number, f16Weights = false, trainings: readonly (RunTraining | undefined)[] = []): number {
  // The scratch engine only evaluates and decodes: the weights once, nothing that trains.
  let bytes = layoutEstimate(config, 1, T, { evalOnly: true }).total;
  for (let r = 0; r < runs; r++) bytes += memoryEstimate(config, B, T, 1, undefined, f16Weights, loraLayout(trainings[r])).total;
  return bytes;
}

/** The engine's LoRA layout of a run (null: full fine-tuning). */
export function loraLayout(t: RunTraining | undefined): LoraLayout | null {
  const config = runLora(t);
  return config ? { config, baseDtype: t!.baseDtype } : null;
}

/** Evenly spaced snapshot steps (never the last: at the end "current" is that step). */
export function pickSnapshotSteps(steps: number, count: number): number[] {
  const out = new Set<number>();
  for (let i = 1; i <= count; i++) {
    const s = Math.round((steps * i) / (count + 1));
    if (s >= 1 && s < steps) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}

export class TrainingSession {
  readonly B: number;
  readonly T: number;
  /** Steps submitted to every run so far (the weights "current" refers to once they land). */
  submitted = 0;
  /** Steps whose reports arrived for every run. */
  completed = 0;
  /** The step of the last checkpoint (or of the resumed one). */
  checkpointed = 0;
  readonly snapshots = new Map<number, Weights[]>();
  /** The held-out samples (ascending): in no run's data order. */
  readonly heldOut: readonly number[];
  private readonly order: Int32Array;
  /** Per run, the report of each step seen in this session (index step - 1). */
  private readonly reports: { objective: number; status: EngineStepReport['status'] }[][];
  private paused = false;
  private stopRequested = false;
  private wake: (() => void) | null = null;
  private scratch: Engine | null = null;
  /** What the scratch engine holds: 'base', or a snapshot 'run@step'. */
  private scratchHolds: string | null = null;
  private training = false;

  private constructor(private readonly o: SessionOptions, private readonly engines: Engine[], shape: { B: number; T: number }) {
    this.B = shape.B;
    this.T = shape.T;
    this.heldOut = heldOutSamples(o.samples.length, o.optimizer.heldOut, o.optimizer.seed);
    this.order = trainOrder(trainedSamples(o.samples.length, this.heldOut), this.B, o.optimizer.steps, o.optimizer.seed);
    this.reports = engines.map(() => []);
  }

  static async create(o: SessionOptions): Promise<TrainingSession> {
    if (o.runs < 1) throw new CodedError(msg('train.noRuns'));
    const shape = sessionShape(o.samples, o.optimizer.batchSize);
    const engines: Engine[] = [];
    try {
      for (let r = 0; r < o.runs; r++) {
        const lora = loraLayout(o.trainings?.[r]);
        // PEFT's init from the training's seed, the same for every run: two LoRA runs with the same
        // rank and modules start from the same adapter (B = 0, the same A), so only their masks differ.
        engines.push(await Engine.create({ gpu: o.gpu, config: o.config, B: shape.B, T: shape.T, weights: o.base, lora: lora ? { ...lora, seed: o.optimizer.seed } : null }));
      }
    } catch (err) {
      for (const e of engines) e.destroy();
      const mib = (sessionBytes(o.config, o.runs, shape.B, shape.T, defaultF16Weights(o.gpu.adapter), o.trainings) / 2 ** 20).toFixed(0);
      throw new CodedError(msg('train.buildRun', { n: engines.length + 1, runs: o.runs, mib, B: shape.B, T: shape.T, detail: messageOfError(err) }));
    }
    const session = new TrainingSession(o, engines, shape);
    if (o.resume) {
      if (o.resume.states.length !== o.runs) throw new CodedError(msg('train.savedRuns', { saved: o.resume.states.length, runs: o.runs }));
      o.resume.states.forEach((st, r) => st && engines[r].setTrainingState(st));
      session.submitted = session.completed = session.checkpointed = Math.min(o.resume.step, o.optimizer.steps);
    }
    return session;
  }

  get runs(): number {
    return this.engines.length;
  }

  /** The train() loop is running (possibly held by pause()). */
  get isTraining(): boolean {
    return this.training;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Train settings of run `run` at step k: the schedule's learning rate, the run's loss mode. */
  private settingsAt(step: number, run: number): TrainSettings {
    const o = this.o.optimizer;
    const lossMode = this.o.lossModes?.[run] ?? 'mean_tokens';
    // A run with its own peak learning rate follows the same schedule from that peak.
    const t = this.o.trainings?.[run];
    const own = t?.mode === 'lora' ? t.lr : null;
    return { lr: lrAt(step, own ? { ...o, lr: own } : o), beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, lossMode };
  }

  /**
   * Trains every run to optimizer.steps (or until stop()), calling onStep per run per step in step
   * order. Resolves 'stopped' or 'completed'. Throws (after the steps in flight) on an engine error.
   */
  async train(
    onStep: (e: StepEvent) => void, onSnapshot: (step: number) => void = () => {},
    onCheckpoint: (step: number, states: TrainingState[]) => Promise<void> = async () => {},
    onMeter: (run: number, step: number, p: number[]) => void = () => {},
    onHeldOut: (run: number, step: number, loss: number) => void = () => {},
  ): Promise<'completed' | 'stopped'> {
    if (this.training) throw new Error('This session is already training.'); // a programmer's error
    this.training = true;
    this.stopRequested = false;
    const { steps } = this.o.optimizer;
    const snapshotAt = new Set(this.o.snapshotSteps ?? []);
    const every = this.o.checkpointEvery ?? 0;
    // getTrainingState is queued behind the steps submitted so far on each engine: exactly step `step`'s state.
    const checkpoint = async (step: number, snapshot = false) => {
      this.checkpointed = step;
      const states = await Promise.all(this.engines.map((e) => e.getTrainingState()));
      // A snapshot on a checkpoint step takes the weights of that one readback (a LoRA run's state
      // holds its adapter: its snapshot is the merged model, read behind the same step).
      if (snapshot) {
        this.snapshots.set(step, await Promise.all(states.map((st, r) => (this.engines[r].lora ? this.engines[r].getParameters() : st.parameters))));
        onSnapshot(step);
      }
      await onCheckpoint(step, states);
    };
    const inflight: Promise<void>[] = [];
    const meter = this.o.meter;
    // Queued on each engine behind the step just submitted: exactly that step's weights.
    const measure = (step: number): Promise<void> =>
      meter
        ? Promise.all(
            this.engines.map(async (e, r) => {
              const pos = meter.positions[r];
              if (!pos || pos.length === 0) return;
              const ev = await e.evaluate(sampleBatch(this.o.samples[meter.sample], r, this.o.padId));
              // losses[t] = -log p(token t+1 | ≤ t): token k's probability is exp(-losses[k-1]).
              onMeter(r, step, Array.from(pos, (k) => (k > 0 ? Math.exp(-ev.losses[k - 1]) : NaN)));
            }),
          ).then(() => undefined)
        : Promise.resolve();
    const meterAt = (step: number) => meter !== undefined && (step === steps || step % Math.max(1, meter.every) === 0);
    const heldEvery = this.heldOut.length > 0 ? (this.o.heldOutEvery ?? 0) : 0;
    const heldAt = (step: number) => heldEvery > 0 && (step === steps || step % heldEvery === 0);
    // Every forward pass queued at once behind the step (as the meter's): all see exactly that step's
    // weights. The loss is the mean over every held-out response token, up to B samples a pass.
    const heldBatches = heldEvery > 0 ? this.engines.map((_, r) => heldOutBatches(this.o.samples, this.heldOut, r, this.B, this.o.padId)) : [];
    const heldOut = (step: number): Promise<void> =>
      Promise.all(
        this.engines.map(async (e, r) => {
          const evs = await Promise.all(heldBatches[r].map((b) => e.evaluate(b)));
          const sum = evs.reduce((a, ev) => a + ev.sums.responseLossSum, 0);
          const count = evs.reduce((a, ev) => a + ev.sums.responseCount, 0);
          onHeldOut(r, step, count > 0 ? sum / count : NaN);
        }),
      ).then(() => undefined);
    try {
      if (this.submitted === 0) inflight.push(measure(0));
      if (this.submitted === 0 && heldEvery > 0) inflight.push(heldOut(0));
      while (this.submitted < steps) {
        if (this.paused) {
          await Promise.all(inflight.splice(0));
          await new Promise<void>((r) => (this.wake = r));
        }
        if (this.stopRequested) break;
        const step = this.submitted + 1;
        const reports = this.engines.map((e, r) => {
          const settings = this.settingsAt(step, r);
          const batch = stepBatch(this.o.samples, this.order, step, this.B, this.T, r, this.o.padId);
          let tokens = 0;
          for (let n = 0; n < batch.docIds.length; n++) if (batch.docIds[n] >= 0) tokens++;
          // The session's step, not the engine's own count (an engine resumed from a checkpoint counts from 1).
          return e.trainStep([batch], settings).then((rep) => {
            this.reports[r][step - 1] = { objective: rep.loss, status: rep.status };
            onStep(toEvent(r, step, rep, settings.lr, tokens));
          });
        });
        this.submitted = step;
        inflight.push(Promise.all(reports).then(() => void (this.completed = step)));
        if (meterAt(step)) inflight.push(measure(step));
        if (heldAt(step)) inflight.push(heldOut(step));
        if (every > 0 && (step % every === 0 || step === steps)) await checkpoint(step, snapshotAt.has(step));
        else if (snapshotAt.has(step)) {
          // getParameters is queued behind step `step` on each engine: exactly its weights.
          this.snapshots.set(step, await Promise.all(this.engines.map((e) => e.getParameters())));
          onSnapshot(step);
        }
        if (inflight.length > RUN_AHEAD) await inflight.shift();
      }
      await Promise.all(inflight);
      if (every > 0 && this.checkpointed !== this.submitted) await checkpoint(this.submitted);
    } finally {
      this.training = false;
    }
    return this.stopRequested ? 'stopped' : 'completed';
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
    this.wake = null;
  }

  stop(): void {
    this.stopRequested = true;
    this.resume();
  }

  /** The engine holding `weights` under `key`: the scratch engine (built on first use). */
  private async scratchWith(key: string, weights: Weights): Promise<Engine> {
    if (!this.scratch) {
      this.scratch = await Engine.create({ gpu: this.o.gpu, config: this.o.config, B: 1, T: this.T, weights, evalOnly: true });
    } else if (this.scratchHolds !== key) {
      this.scratch.setParameters(weights);
    }
    this.scratchHolds = key;
    return this.scratch;
  }

  /** Engine with run `run`'s weights at `at`: 'current', 0 (base) or a snapshot step. */
  private async engineAt(run: number, at: 'current' | number): Promise<{ engine: Engine; step: number }> {
    if (!(run >= 0 && run < this.engines.length)) throw new CodedError(msg('train.noSuchRun', { n: run + 1 }));
    if (at === 'current') return { engine: this.engines[run], step: this.submitted };
    if (at === 0) return { engine: await this.scratchWith('base', this.o.base), step: 0 };
    const snap = this.snapshots.get(at);
    if (!snap) throw new CodedError(this.snapshots.size ? msg('train.noSnapshot', { at, steps: [...this.snapshots.keys()].join(', ') }) : msg('train.noSnapshotYet', { at }));
    return { engine: await this.scratchWith(`${run}@${at}`, snap[run]), step: at };
  }

  /**
   * Per-position losses, ||dlogits|| and ||d input embedding|| of sample `sample` under run `run`'s
   * labels, with the run's weights at `at`. Arrays are (L) for the sample's L kept tokens.
   */
  async evaluate(run: number, at: 'current' | number, sample: number): Promise<{ step: number; losses: Float32Array; dlogitNorms: Float32Array; dembedNorms: Float32Array }> {
    const s = this.o.samples[sample];
    if (!s) throw new CodedError(msg('train.noSample', { n: sample + 1, count: this.o.samples.length }));
    const { engine, step } = await this.engineAt(run, at);
    const ev = await engine.evaluate(sampleBatch(s, run, this.o.padId), 'mean_tokens', false, true);
    return { step, losses: ev.losses, dlogitNorms: ev.dlogitNorms, dembedNorms: ev.dembedNorms ?? new Float32Array(runSequence(s, run).ids.length) };
  }

  /**
   * Completion of `prompt` with run `which`'s current weights, or the base weights
   * (src/model/generate.ts over a KV-cache Decoder): new ids, at most maxNew, ending at (and
   * including) the first stop id; greedy at temperature 0, else sampled from the seeded PRNG.
   * `onToken` sees each id as it is chosen.
   */
  async generate(
    which: number | 'base', prompt: readonly number[], maxNew: number, stop: ReadonlySet<number>,
    sampling: Pick<GenerateOptions, 'temperature' | 'topK' | 'topP' | 'seed'> = { temperature: 0 }, onToken?: (t: GeneratedToken) => void,
  ): Promise<GenerationResult> {
    let engine = which === 'base' ? await this.scratchWith('base', this.o.base) : this.engines[which];
    if (!engine) throw new CodedError(msg('train.noSuchRun', { n: Number(which) + 1 }));
    // A LoRA run answers with its merged weights (W + (alpha/r)·B·A) on the scratch engine.
    if (engine.lora) engine = await this.scratchWith(`${which}@live${this.submitted}`, await engine.getParameters());
    const ctx = this.o.config.max_position_embeddings;
    const room = Math.min(maxNew, ctx - prompt.length);
    if (room < 1) throw new CodedError(msg('train.noRoom', { n: prompt.length, ctx }));
    const dec = await Decoder.create(engine, { maxContext: prompt.length + room });
    try {
      return await generate(dec, prompt, { ...sampling, maxNewTokens: room, stopTokenIds: [...stop] }, onToken);
    } finally {
      dec.destroy();
    }
  }

  /**
   * The objective run `run` reported for step `step`, the loss mode it reduced with, and the
   * samples of that step's batch (B of them); null when that step has not reported in this session
   * (not run yet, or run before a resume). Step k's objective comes from the forward pass before
   * step k's update: it was computed with the weights after step k - 1.
   */
  reported(run: number, step: number): { objective: number; status: EngineStepReport['status']; lossMode: LossMode; samples: number[] } | null {
    const rep = this.reports[run]?.[step - 1];
    if (!rep) return null;
    return { ...rep, lossMode: this.settingsAt(step, run).lossMode, samples: Array.from(this.order.subarray((step - 1) * this.B, step * this.B)) };
  }

  /** The loss mode run `run`'s objective reduces with. */
  lossMode(run: number): LossMode {
    if (!(run >= 0 && run < this.engines.length)) throw new CodedError(msg('train.noSuchRun', { n: run + 1 }));
    return this.settingsAt(1, run).lossMode;
  }

  /** Sample `index` of the training data. */
  sample(index: number): PreparedSample {
    const s = this.o.samples[index];
    if (!s) throw new CodedError(msg('data.noSuchSample', { n: index + 1, count: this.o.samples.length }));
    return s;
  }

  /** Run `run`'s current weights by HF name (queued behind the steps submitted so far); a LoRA run's merged. */
  async weights(run: number): Promise<Weights> {
    const engine = this.engines[run];
    if (!engine) throw new CodedError(msg('train.noSuchRun', { n: run + 1 }));
    return engine.getParameters();
  }

  /** Run `run`'s LoRA adapter (its config and tensors by name), or null for a full fine-tuning run. */
  async adapter(run: number): Promise<{ lora: NonNullable<Engine['lora']>; tensors: Weights } | null> {
    const engine = this.engines[run];
    if (!engine) throw new CodedError(msg('train.noSuchRun', { n: run + 1 }));
    return engine.lora ? { lora: engine.lora, tensors: await engine.getAdapter() } : null;
  }

  dispose(): void {
    this.stop();
    for (const e of this.engines) e.destroy();
    this.scratch?.destroy();
    this.scratch = null;
    this.snapshots.clear();
  }
}

function toEvent(run: number, step: number, r: EngineStepReport, lr: number, tokens: number): StepEvent {
  return {
    run, step, lr, status: r.status, message: r.message, ...(r.msg ? { msg: r.msg } : {}), objective: r.loss,
    promptLoss: r.promptCount > 0 ? r.promptLossSum / r.promptCount : null,
    responseLoss: r.responseCount > 0 ? r.responseLossSum / r.responseCount : null,
    promptTokens: r.promptCount, responseTokens: r.responseCount,
    trainedTokens: r.trainedCount, tokens, gradNorm: r.gradNorm, ms: r.ms,
  };
}
