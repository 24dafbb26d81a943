/**
 * The optimizer settings every layer shares: the store edits and checks them, share links and saved
 * runs carry them, the training worker steps with them (AdamW with decoupled decay, global-norm
 * clipping, a warm-up and a decay schedule).
 */
import { englishOf, msg, type Message } from './message';
export type LrSchedule = 'constant' | 'cosine' | 'linear';

export interface OptimizerSettings {
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up from lr/warmup to lr over this many steps (0 = none). */
  warmupSteps: number;
  /** After warm-up: constant, cosine or linear decay to minLrRatio·lr at the last step. */
  schedule: LrSchedule;
  minLrRatio: number;
  /** Optimizer steps per run. */
  steps: number;
  /** Sequences per step (B). */
  batchSize: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay on 2-D matrices. */
  weightDecay: number;
  /** Global L2 gradient clip; 0 = none. */
  maxGradNorm: number;
  /** Seeds the data order and the held-out split (the only randomness: no dropout, the base weights are given). */
  seed: number;
  /** Share of the samples no run trains on, whose response-token loss is measured during training
   *  (split.ts heldOutSamples: at least 1 sample, and 1 left to train on); 0 = off. */
  heldOut: number;
}

/** Learning rate at step (1-based). */
export function lrAt(step: number, o: OptimizerSettings): number {
  if (o.warmupSteps > 0 && step <= o.warmupSteps) return (o.lr * step) / o.warmupSteps;
  if (o.schedule === 'constant') return o.lr;
  const span = Math.max(1, o.steps - o.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  const floor = o.lr * o.minLrRatio;
  const shape = o.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return floor + (o.lr - floor) * shape;
}

/**
 * Defaults for a model of `params` parameters: small models take (and need) larger steps.
 * SFT usually runs at 1e-5..2e-4 for 0.1–8B models; the 3.8M playground model moves at 1e-3.
 */
export function defaultOptimizer(params: number, samples = 1): OptimizerSettings {
  const lr = params < 20e6 ? 1e-3 : params < 300e6 ? 1e-4 : 2e-5;
  return {
    lr, warmupSteps: 5, schedule: 'cosine', minLrRatio: 0.1, steps: 60, batchSize: Math.max(1, Math.min(4, samples)),
    beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1, seed: 0, heldOut: 0.2,
  };
}

/** The largest held-out share: most of the data still trains. */
export const MAX_HELD_OUT = 0.5;

/** Problems with the settings, for people (empty when they are usable), coded (spec/message.ts). */
export function optimizerProblems(o: OptimizerSettings): Message[] {
  const p: Message[] = [];
  const pos = (v: number, name: string) => { if (!(Number.isFinite(v) && v > 0)) p.push(msg('optimizer.positive', { name: msg(`optimizer.name.${name}`), got: String(v) })); };
  const int = (v: number, name: string, min: number, max: number) => {
    if (!(Number.isInteger(v) && v >= min && v <= max)) p.push(msg('optimizer.whole', { name: msg(`optimizer.name.${name}`), min, max, got: String(v) }));
  };
  pos(o.lr, 'lr');
  int(o.steps, 'steps', 1, 100_000);
  int(o.batchSize, 'batchSize', 1, 256);
  int(o.warmupSteps, 'warmupSteps', 0, 100_000);
  int(o.seed, 'seed', 0, 2 ** 31 - 1);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) p.push(msg('optimizer.beta1', { got: String(o.beta1) }));
  if (!(o.beta2 >= 0 && o.beta2 < 1)) p.push(msg('optimizer.beta2', { got: String(o.beta2) }));
  pos(o.eps, 'eps');
  if (!(o.weightDecay >= 0 && Number.isFinite(o.weightDecay))) p.push(msg('optimizer.weightDecay', { got: String(o.weightDecay) }));
  if (!(o.maxGradNorm >= 0 && Number.isFinite(o.maxGradNorm))) p.push(msg('optimizer.maxGradNorm', { got: String(o.maxGradNorm) }));
  if (!(o.heldOut >= 0 && o.heldOut <= MAX_HELD_OUT)) p.push(msg('optimizer.heldOut', { max: MAX_HELD_OUT * 100, got: Number.isFinite(o.heldOut) ? `${Math.round(o.heldOut * 1000) / 10}%` : String(o.heldOut) }));
  if (!(o.minLrRatio >= 0 && o.minLrRatio <= 1)) p.push(msg('optimizer.minLrRatio', { got: String(o.minLrRatio) }));
  return p;
}

/** The same problems in English. */
export function checkOptimizer(o: OptimizerSettings): string[] {
  return optimizerProblems(o).map(englishOf);
}
