/**
 * Per-step numbers stay out of React: step events are appended to these mutable curve buffers,
 * and the store is told at most every FLUSH_MS (a new `curveVersion` and the derived progress).
 * The chart reads getCurves() when curveVersion changes and redraws itself.
 */
import { appendStep } from './curves';
import type { StepEvent } from '../worker/trainProtocol';
import type { Progress, RunCurve } from './types';
import type { Message } from '../spec/message';

/** Store updates while training: at most this often. */
export const FLUSH_MS = 250;
/** Steps the speed is averaged over. */
const SPEED_WINDOW = 20;

let curves: RunCurve[] = [];
/** Wall time each lockstep step finished, and the tokens it processed over all runs. */
let lockstep: { step: number; at: number; tokens: number }[] = [];
const stepTokens = new Map<number, { runs: number; tokens: number }>();
let pendingWarnings: Message[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;

const emptyCurve = (): RunCurve => ({ step: [], objective: [], response: [], prompt: [], trainedTokens: [], lr: [] });

/** The curves of the shown comparison (mutable; re-read when curveVersion changes). */
export const getCurves = (): readonly RunCurve[] => curves;

/** Start over with `runs` empty curves, or with saved ones. */
export function resetCurves(runs: number | RunCurve[]): void {
  cancelFlush();
  curves = typeof runs === 'number' ? Array.from({ length: runs }, emptyCurve) : runs;
  lockstep = [];
  stepTokens.clear();
  pendingWarnings = [];
}

/** The pause is not training time: measure the speed afresh. */
export function restartSpeed(): void {
  lockstep = [];
}

/** Append a step; `flush` runs within FLUSH_MS with the warnings gathered since the last one. */
export function onStep(e: StepEvent, runName: string, flush: (warnings: Message[]) => void): void {
  const c = curves[e.run];
  if (!c) return;
  const warning = appendStep(c, e, runName);
  if (warning) pendingWarnings.push(warning);
  const s = stepTokens.get(e.step) ?? { runs: 0, tokens: 0 };
  s.runs++;
  s.tokens += e.tokens;
  if (s.runs === curves.length) {
    stepTokens.delete(e.step);
    lockstep.push({ step: e.step, at: performance.now(), tokens: s.tokens });
    if (lockstep.length > SPEED_WINDOW + 1) lockstep.shift();
  } else stepTokens.set(e.step, s);
  if (flushTimer === undefined) flushTimer = setTimeout(() => flush(takeWarnings()), FLUSH_MS);
}

/** A stop-meter reading: run `run`'s p(end-of-turn) per assistant turn after `step`. NaN never reaches the chart. */
export function onStopMeter(run: number, step: number, p: readonly number[], flush: (warnings: Message[]) => void): void {
  const c = curves[run];
  if (!c) return;
  (c.stopStep ??= []).push(step);
  (c.stopP ??= []).push(p.map((x) => (Number.isFinite(x) ? x : null)));
  if (flushTimer === undefined) flushTimer = setTimeout(() => flush(takeWarnings()), FLUSH_MS);
}

/** A held-out reading: run `run`'s mean response-token loss on the held-out samples after `step`. NaN and Infinity are stored as null. */
export function onHeldOut(run: number, step: number, loss: number, flush: (warnings: Message[]) => void): void {
  const c = curves[run];
  if (!c) return;
  (c.heldStep ??= []).push(step);
  (c.heldLoss ??= []).push(Number.isFinite(loss) ? loss : null);
  if (flushTimer === undefined) flushTimer = setTimeout(() => flush(takeWarnings()), FLUSH_MS);
}

/** The warnings gathered since the last flush (and no flush pending). */
export function takeWarnings(): Message[] {
  cancelFlush();
  const w = pendingWarnings;
  pendingWarnings = [];
  return w;
}

function cancelFlush(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
}

export function progressNow(total: number): Progress {
  const step = curves.length ? Math.min(...curves.map((c) => c.step.at(-1) ?? 0)) : 0;
  let tokensPerSec: number | null = null;
  let msPerStep: number | null = null;
  if (lockstep.length >= 2) {
    const first = lockstep[0], last = lockstep[lockstep.length - 1];
    const ms = last.at - first.at;
    const tokens = lockstep.slice(1).reduce((n, s) => n + s.tokens, 0);
    msPerStep = ms / (last.step - first.step);
    tokensPerSec = ms > 0 ? (tokens * 1000) / ms : null;
  }
  return {
    step, total, tokensPerSec, msPerStep,
    etaSec: msPerStep !== null ? ((total - step) * msPerStep) / 1000 : null,
    trainedTokens: curves.map((c) => c.trainedTokens.at(-1) ?? 0),
  };
}
