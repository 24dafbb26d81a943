/**
 * The steps' set-up, made of the store's own actions: the state a step asks for is stated whole
 * (a sample, a mask, runs, a training, a heatmap, lab rows) and only what differs is changed, so a
 * step reached by Back, by Next or by a reload shows the same page, and a training already done
 * is not trained again. A lesson owns the runs: it discards them (without the dialog: opening the
 * lesson asked) before an edit that would otherwise ask.
 */
import { DEFAULT_SETTINGS, RESPONSE_ONLY } from '../../store/defaults';
import type { HeatMetric, LabChoiceSpec, PolicySettings, RunSpec, State } from '../../store';
import type { StrategyId, StrategyOptions } from '../../data/strategies/types';
import type { TokenizerId } from '../../data/types';
import type { LossMode } from '../../spec/loss';
import type { SetupContext } from './types';
import { CodedError, msg, type Message } from '../../spec/message';

/** Lesson trainings are short: a few steps of one small sample, a learning rate that shows in them. */
export const LESSON_STEPS = 8;
export const LESSON_LR = 1e-2;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The token view shows the latest answer of the data worker (and the lab its rows). */
export const viewSettled = (s: State) =>
  !s.busy && !s.editPending() && s.tokens !== null && s.labels !== null && s.labels.key === s.tokens.key && !s.labBusy;

function dropRuns(get: () => State): void {
  const s = get();
  if (s.runsExist()) s.discardRuns();
}

export interface SampleSpec {
  text: string;
  tokenizer?: TokenizerId;
  /** Over the first visit's policy (DEFAULT_SETTINGS). */
  policy?: Partial<PolicySettings>;
  sampleIndex?: number;
  /** Masking-lab rows after the first (template spans); absent: the lab is left as it is. */
  lab?: { id: StrategyId; options?: StrategyOptions }[];
}

/** The token view shows `spec`: its text, tokenizer, mask policy, sample and lab rows. */
export async function showSample(ctx: SetupContext, spec: SampleSpec): Promise<void> {
  const { get } = ctx;
  const policy: PolicySettings = { ...DEFAULT_SETTINGS.policy, roles: { ...DEFAULT_SETTINGS.policy.roles }, ...spec.policy };
  const tokenizer = spec.tokenizer ?? 'default';
  // A model that is loading switches the view to its own tokenizer when it lands: let it land first.
  await ctx.until((st) => st.model.status !== 'loading', msg('lesson.waitFor.model'));
  const s = get();
  const textChanges = s.text !== spec.text;
  const policyChanges = !same(s.settings.policy, policy);
  if (textChanges || policyChanges || Object.keys(s.overrides).length > 0) dropRuns(get);
  if (s.settings.tokenizerId !== tokenizer) get().setTokenizer(tokenizer);
  if (policyChanges) get().setPolicy(policy);
  if (textChanges) {
    get().setText(spec.text);
    get().relabel(); // no typing pause to wait for
  }
  get().clearOverrides();
  if (spec.lab) setLab(get, spec.lab);
  await ctx.until((st) => viewSettled(st) && st.text === spec.text, msg('lesson.waitFor.tokenView'));
  const index = spec.sampleIndex ?? 0;
  if (get().sampleIndex !== index) {
    get().setSampleIndex(index);
    await ctx.until((st) => viewSettled(st) && st.sampleIndex === index, msg('lesson.waitFor.sample'));
  }
}

function setLab(get: () => State, rows: { id: StrategyId; options?: StrategyOptions }[]): void {
  const want = [{ id: 'template-spans' as StrategyId, options: {} }, ...rows.map((r) => ({ id: r.id, options: r.options ?? {} }))];
  const now = () => get().settings.lab.choices;
  const matches = (c: LabChoiceSpec, w: (typeof want)[number]) => c.id === w.id && same(c.options, w.options);
  if (now().length === want.length && now().every((c, i) => matches(c, want[i]))) return;
  // Keep the first row the learner's template-spans row (it is what the others are compared with).
  const base = now().find((c) => c.id === 'template-spans');
  if (!base) get().addLabRow('template-spans');
  const first = now().find((c) => c.id === 'template-spans');
  if (first) get().makeLabBase(first.key);
  for (const c of now().slice(1)) get().removeLabRow(c.key);
  for (const w of want.slice(1)) get().addLabRow(w.id, w.options);
}

/** The key of the lab row that runs `id` (the first such row). */
export const labRowKey = (s: State, id: StrategyId): string | undefined => s.settings.lab.choices.find((c) => c.id === id)?.key;

export interface RunWish {
  name: string;
  /** Over response-only (RESPONSE_ONLY). */
  policy?: Partial<PolicySettings>;
  /** Absent: the per-token mean. */
  lossMode?: LossMode;
}

const wished = (w: RunWish): PolicySettings => ({ ...RESPONSE_ONLY, roles: { ...RESPONSE_ONLY.roles }, ...w.policy });
// Lessons train whole models: a run the learner switched to LoRA goes back to full fine-tuning.
const runMatches = (r: RunSpec, w: RunWish) =>
  !r.strategy && r.name === w.name && same(r.policy, wished(w)) && (r.lossMode ?? 'mean_tokens') === (w.lossMode ?? 'mean_tokens') && (r.training?.mode ?? 'full') === 'full';

/** The run list is `wishes` (names and masks); existing runs go first if it changes. */
export function setRuns(ctx: SetupContext, wishes: RunWish[]): void {
  const { get } = ctx;
  const runs = get().runs;
  if (runs.length === wishes.length && runs.every((r, i) => runMatches(r, wishes[i]))) return;
  dropRuns(get);
  while (get().runs.length > wishes.length) get().removeRun(get().runs.length - 1);
  while (get().runs.length < wishes.length) get().addRun();
  wishes.forEach((w, i) => {
    if (get().runs[i].strategy) get().setRunStrategy(i, null);
    get().setRunPolicy(i, wished(w));
    get().setRunLossMode(i, w.lossMode ?? 'mean_tokens');
    get().setRunTraining(i, { mode: 'full' });
    get().setRunName(i, w.name);
  });
}

/** The runs are trained `steps` steps on the shown text (skipped when that training is on screen). */
export interface LessonTraining {
  steps?: number;
  lr?: number;
  /** Samples per step (default 1). */
  batchSize?: number;
  /** Held-out share (default 20%, the optimizer's default); 0 trains on every sample. */
  heldOut?: number;
}

export async function trainRuns(ctx: SetupContext, t: LessonTraining = {}): Promise<void> {
  const { steps = LESSON_STEPS, lr = LESSON_LR, batchSize = 1, heldOut = 0.2 } = t;
  const { get } = ctx;
  await ctx.until((s) => s.model.status !== 'loading' && s.gpu.status !== 'pending', msg('lesson.waitFor.model'));
  const st = get();
  if (st.gpu.status === 'unavailable') throw new CodedError(st.gpu.message ?? msg('runs.noWebgpu'));
  if (!st.model.loaded) throw new CodedError(st.model.error ?? msg('lesson.modelNotLoaded'));
  const o = st.optimizer;
  const done = st.phase === 'done' && !st.restored && st.startedText === st.text && o.steps === steps && o.lr === lr && o.batchSize === batchSize && o.heldOut === heldOut && st.record?.runs === st.runs;
  if (done) return;
  dropRuns(get);
  // The default held-out share (20%): a dataset's held-out curve is on the same ruler for every run.
  get().setOptimizer({ steps, lr, warmupSteps: 0, schedule: 'constant', batchSize, seed: 0, heldOut });
  get().train();
  await ctx.until((s) => s.phase === 'done' || s.phase === 'error' || (s.phase === 'idle' && s.error !== null), msg('lesson.waitFor.training'), 240_000);
  if (get().phase !== 'done') throw new CodedError(get().error ?? msg('lesson.trainingUnfinished'));
}

/** The heatmap of run `run`, coloured by `metric`, is on the token view's chips. */
export async function showHeatmap(ctx: SetupContext, run: number, metric: HeatMetric): Promise<void> {
  const { get } = ctx;
  get().setHeat({ heatMetric: metric });
  const h = get().heatmap;
  if (!h || h.run !== run || h.sample !== get().sampleIndex || get().heatRun !== run) {
    get().setHeat({ heatRun: run, heatAt: 'current' });
    if (!get().heatBusy) get().requestHeatmap();
  }
  await ctx.until((s) => !s.heatBusy && s.heatmap?.run === run, msg('lesson.waitFor.heatmap'), 120_000);
  const heatError = get().heatError;
  if (heatError) throw new CodedError(heatError);
  await untilDom(ctx, '[data-testid=heatmap-shown]', msg('lesson.waitFor.heatmapChips'));
}

/** The loss arithmetic panel shows run `run` at step `at` (0: the base weights) for the shown sample. */
export async function showArithmetic(ctx: SetupContext, run: number, at: 'current' | number): Promise<void> {
  const { get } = ctx;
  const a = get().arith;
  if (!a || a.run !== run || a.step !== (at === 'current' ? a.step : at) || a.sample !== get().sampleIndex || get().arithFor !== get().info || get().arithAt !== at) {
    get().setArith({ arithRun: run, arithAt: at });
    if (!get().arithBusy) get().requestArith();
  }
  await ctx.until((s) => !s.arithBusy && s.arith !== null && s.arithFor === s.info && s.arith.run === run, msg('lesson.waitFor.lossArith'), 120_000);
  const arithError = get().arithError;
  if (arithError) throw new CodedError(arithError);
  await untilDom(ctx, '[data-testid=loss-arith-row]', msg('lesson.waitFor.lossArithRows'));
}

/** The answers of the trained runs are generated. */
export async function answersReady(ctx: SetupContext): Promise<void> {
  const { get } = ctx;
  if (!get().answers && !get().answersBusy) get().requestAnswers();
  await ctx.until((s) => s.answers !== null && !s.answersBusy, msg('lesson.waitFor.answers'), 120_000);
}

/** An element matching `selector` is in the page. */
export function untilDom(ctx: SetupContext, selector: string, what: Message, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const tick = () => {
      if (ctx.signal.aborted) return reject(new DOMException('left the step', 'AbortError'));
      if (document.querySelector(selector)) return resolve();
      if (performance.now() - t0 > timeoutMs) return reject(new CodedError(msg('lesson.waited', { s: Math.round(timeoutMs / 1000), what })));
      setTimeout(tick, 50);
    };
    tick();
  });
}

/** Chips of the token view, read from their data-* attributes (the same ones the e2e tests read). */
export interface ChipData {
  index: number;
  label: number;
  role: string;
  id: number;
  weight: number;
}

export function chipData(el: HTMLElement): ChipData {
  const d = el.dataset;
  return { index: Number(d.index), label: Number(d.label), role: d.role ?? '', id: Number(d.tokenId), weight: Number(d.weight) };
}

/** The first position the loss is computed on: the first label that is not -100 after position 0. */
export function firstTarget(s: State): number {
  const l = s.labels?.labels;
  if (!l) return -1;
  for (let i = 1; i < l.length; i++) if (l[i] !== -100) return i;
  return -1;
}
