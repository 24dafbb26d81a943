/**
 * Curves → what the chart draws and what the CSV holds. Pure functions (unit-tested in Node).
 *
 * Chart data is uPlot's aligned layout: x = steps 1..S (0..S once a held-out loss was measured on
 * the base weights), then per run four series in the order SERIES_KINDS (objective, response-token
 * loss, prompt-token loss, held-out response loss), null where a step has no value. Smoothing is a
 * debiased EMA (as TensorBoard's), applied to the drawn copy of the per-step series only (the
 * held-out points are already means over many tokens); the CSV and the run table always carry the raw numbers.
 */
import type { RunCurve } from './types';
import type { StepEvent } from '../worker/trainProtocol';
import { joined, msg, uncoded, type Message } from '../spec/message';

const finiteOrNull = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);

/**
 * Appends one step event to a run's curve. Nothing non-finite is stored: a step that updated
 * nothing (no trained tokens, non-finite loss or gradient) or whose numbers are NaN/Infinity keeps
 * null there, and the returned warning names the run and the step (null when all is well).
 */
export function appendStep(c: RunCurve, e: StepEvent, runName: string): Message | null {
  const ok = e.status === 'ok' && Number.isFinite(e.objective);
  c.step.push(e.step);
  c.objective.push(ok ? e.objective : null);
  c.response.push(finiteOrNull(e.responseLoss));
  c.prompt.push(finiteOrNull(e.promptLoss));
  c.trainedTokens.push((c.trainedTokens.at(-1) ?? 0) + e.trainedTokens);
  c.lr.push(e.lr);
  if (e.status !== 'ok') return msg('curves.run', { run: runName, detail: e.msg ?? (e.message !== undefined ? uncoded(e.message) : msg('curves.stepStatus', { step: e.step, status: e.status })) });
  const bad = ([['objective', e.objective], ['response', e.responseLoss], ['prompt', e.promptLoss]] as const)
    .filter(([, v]) => v !== null && !Number.isFinite(v));
  if (!bad.length) return null;
  const list = joined(bad.map(([k, v]) => msg('curves.is', { what: msg(`curves.what.${k}`), value: String(v) })), 'comma');
  return msg('curves.notPlotted', { run: runName, step: e.step, list });
}

export const SERIES_KINDS = ['objective', 'response', 'prompt', 'heldOut'] as const;
export type SeriesKind = (typeof SERIES_KINDS)[number];

export const SERIES_TITLE: Record<SeriesKind, string> = {
  objective: 'objective (what it optimises)',
  response: 'response-token loss',
  prompt: 'prompt-token loss',
  heldOut: 'held-out response loss',
};

/** EMA weight of the previous value when smoothing is on. */
export const SMOOTHING = 0.8;

/** Debiased exponential moving average that skips nulls (they stay null). */
export function ema(values: readonly (number | null)[], alpha = SMOOTHING): (number | null)[] {
  const out: (number | null)[] = [];
  let acc = 0;
  let n = 0;
  for (const v of values) {
    if (v === null) {
      out.push(null);
      continue;
    }
    acc = alpha * acc + (1 - alpha) * v;
    n++;
    out.push(acc / (1 - alpha ** n));
  }
  return out;
}

/**
 * Aligned chart data: [x, run0.objective, run0.response, run0.prompt, run0.heldOut, run1.objective, …].
 * With `log`, values ≤ 0 become null (a log axis cannot place them).
 */
export function chartData(curves: readonly RunCurve[], opts: { smoothing: boolean; log: boolean }): (number | null)[][] {
  let S = 0;
  for (const c of curves) S = Math.max(S, c.step.at(-1) ?? 0, c.heldStep?.at(-1) ?? 0);
  const x0 = curves.some((c) => c.heldStep?.[0] === 0) ? 0 : 1;
  const x = Array.from({ length: S - x0 + 1 }, (_, i) => i + x0);
  const out: (number | null)[][] = [x];
  const aligned = (steps: readonly number[], values: readonly (number | null)[]) => {
    const a: (number | null)[] = new Array(x.length).fill(null);
    steps.forEach((s, i) => {
      if (s >= x0 && s <= S) a[s - x0] = finiteOrNull(values[i] ?? null);
    });
    return a;
  };
  for (const c of curves) {
    for (const kind of SERIES_KINDS) {
      const held = kind === 'heldOut';
      const a = held ? aligned(c.heldStep ?? [], c.heldLoss ?? []) : aligned(c.step, c[kind]);
      let ys = opts.smoothing && !held ? ema(a) : a;
      if (opts.log) ys = ys.map((v) => (v !== null && v > 0 ? v : null));
      out.push(ys);
    }
  }
  return out;
}

export const CSV_HEADER = ['run', 'step', 'objective', 'response_loss', 'prompt_loss', 'trained_tokens'] as const;

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
const num = (v: number | null) => (v === null ? '' : String(v));

/** One row per run per step, raw values (shortest round-trip decimal of each float). */
export function curvesCsv(names: readonly string[], curves: readonly RunCurve[]): string {
  const lines = [CSV_HEADER.join(',')];
  curves.forEach((c, r) => {
    for (let i = 0; i < c.step.length; i++) {
      lines.push([csvField(names[r] ?? `run ${r + 1}`), String(c.step[i]), num(c.objective[i]), num(c.response[i]), num(c.prompt[i]), String(c.trainedTokens[i])].join(','));
    }
  });
  return `${lines.join('\n')}\n`;
}
