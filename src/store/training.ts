/**
 * One training, from the page's side: prepare the data in the data worker (the labels the view
 * shows), then train in the training worker on exactly those arrays, folding its events into the
 * store. A training may start fresh or continue from saved weights (a reload, a lost device, a
 * finished training whose weights come back without retraining).
 */
import { FULL_TRAINING } from '../spec/lora';
import type { PreparedData } from '../worker/dataProtocol';
import type { TrainDone, TrainEvent } from '../worker/trainProtocol';
import { dataWorker, trainWorker } from './clients';
import { runName } from './defaults';
import { getCurves, onStep, progressNow, resetCurves, onStopMeter, onHeldOut } from './live';
import type { State } from './index';
import type { PreparedWith, RunCurve, SavedWeights, TrainingRecord } from './types';
import { messageOfError, msg, uncoded, type Message } from '../spec/message';

/** "Training stopped with an error: …", and where a recovery would continue from (null: none). */
const stoppedWith = (detail: Message, recoverStep: number | null): Message =>
  recoverStep === null ? msg('training.stopped', { detail }) : msg('training.stoppedRecover', { detail, step: recoverStep });

type Set = (p: Partial<State> | ((s: State) => Partial<State>)) => void;
type Get = () => State;

/** The training whose events count: a discard or a new training starts another. */
let generation = 0;
export const newGeneration = (): number => ++generation;

/** Where to continue from: the saved weights, and what the data was prepared with then. */
export interface Continue {
  saved: SavedWeights;
  prepared: PreparedWith;
  text: string;
  /** Only bring the weights back (a finished or stopped training): nothing is trained, no answers are regenerated. */
  restoreOnly: boolean;
}

/** Points up to `step` (0 = base) of steps `at`, as the count to keep. */
const upTo = (at: readonly number[], step: number) => {
  const n = at.findIndex((s) => s > step);
  return n < 0 ? at.length : n;
};

/** A curve's points up to `step`, the stop meter's and the held-out loss's included (copies). */
const cut = (c: RunCurve, step: number): RunCurve => {
  const k = upTo(c.step, step);
  const out: RunCurve = { step: c.step.slice(0, k), objective: c.objective.slice(0, k), response: c.response.slice(0, k), prompt: c.prompt.slice(0, k), trainedTokens: c.trainedTokens.slice(0, k), lr: c.lr.slice(0, k) };
  if (c.stopStep && c.stopP) {
    const m = upTo(c.stopStep, step);
    out.stopStep = c.stopStep.slice(0, m);
    out.stopP = c.stopP.slice(0, m).map((p) => p.slice());
  }
  if (c.heldStep && c.heldLoss) {
    const h = upTo(c.heldStep, step);
    out.heldStep = c.heldStep.slice(0, h);
    out.heldLoss = c.heldLoss.slice(0, h);
  }
  return out;
};

/** The record of the shown training as it stands (curves copied: they keep growing). */
export function recordNow(s: State, reason: TrainingRecord['reason']): TrainingRecord | null {
  const model = s.model.loaded;
  if (!s.info || !model) return null;
  return {
    runs: s.runs, optimizer: s.optimizer, model: { name: model.name, params: model.params }, text: s.startedText, info: s.info,
    curves: getCurves().map((c) => cut(c, Infinity)), reason, finishedAt: Date.now(), answers: s.answers, warnings: s.warnings, hand: s.hand,
    saved: s.saved, prepared: s.preparedWith ?? undefined,
  };
}

export async function runTraining(set: Set, get: Get, from: Continue | null): Promise<void> {
  const mine = newGeneration();
  const s = get();
  const model = s.model.loaded;
  if (!model) return;
  const prepared: PreparedWith = from?.prepared ?? (() => {
    const hand = s.handOverrides();
    return {
      contextLength: s.settings.contextLengths.default, hand: hand ? { sample: hand.sample, tokens: hand.tokens, ids: Array.from(hand.ids) } : null,
      splitSpecialTokens: s.settings.splitSpecialTokens,
      // The user's own template applies to training when the view shows the model's tokenizer.
      ownTemplate: s.settings.tokenizerId === 'default' ? s.settings.ownTemplate : null,
    };
  })();
  const text = from?.text ?? s.text;
  // A continued training keeps the optimizer it was started with (the schedule and the data order
  // depend on it), whatever the form says now.
  const optimizer = (from && s.record?.optimizer) || s.optimizer;
  const id = from?.saved.id ?? `t${Date.now().toString(36)}`;
  const step = from?.saved.step ?? 0;
  resetCurves(from ? getCurves().map((c) => cut(c, step)) : s.runs.length);
  set((st) => ({
    phase: 'starting', info: null, error: null, snapshots: [], restored: false, exportError: null, startedText: text, preparedWith: prepared, optimizer,
    saved: from?.saved ?? null, deviceLost: false, checkpointError: null,
    ...(from ? {} : { warnings: [], record: null, answers: null, answersError: null, heatmap: null, heatError: null }),
    hand: prepared.hand ? { sample: prepared.hand.sample, tokens: Object.keys(prepared.hand.tokens).length } : null,
    heatRun: Math.min(st.heatRun, st.runs.length - 1), heatAt: 'current',
    progress: progressNow(optimizer.steps),
    curveVersion: st.curveVersion + 1,
  }));

  const flush = (warnings: Message[]) => {
    const st = get();
    set({ curveVersion: st.curveVersion + 1, progress: progressNow(st.optimizer.steps), warnings: warnings.length ? [...st.warnings, ...warnings] : st.warnings });
  };
  const onEvent = (e: TrainEvent) => {
    if (mine !== generation) return;
    if (e.kind === 'started') set({ phase: get().phase === 'paused' ? 'paused' : from?.restoreOnly ? 'starting' : 'training', info: e.info });
    else if (e.kind === 'step') onStep(e, get().runs[e.run]?.name ?? runName(e.run), flush);
    else if (e.kind === 'snapshot') set((st) => ({ snapshots: [...st.snapshots, e.step] }));
    else if (e.kind === 'stopMeter') onStopMeter(e.run, e.step, e.p, flush);
    else if (e.kind === 'heldOut') onHeldOut(e.run, e.step, e.loss, flush);
    else if (e.kind === 'checkpoint') {
      const saved: SavedWeights = { id, step: e.step, bytes: e.bytes, forgotten: get().saved?.forgotten ?? [] };
      set({ saved, checkpointError: null });
      // Written at every checkpoint: a reload resumes from here.
      if (get().phase !== 'done' && get().phase !== 'stopped') set({ record: recordNow(get(), 'running') });
    } else if (e.kind === 'checkpointFailed') set({ checkpointError: e.msg ?? uncoded(e.message) });
  };
  const onDone = (done: TrainDone) => {
    if (mine !== generation) return;
    flush([]);
    const phase = done.reason === 'completed' ? 'done' : done.reason === 'stopped' ? 'stopped' : 'error';
    const lost = get().deviceLost;
    set({
      phase,
      error: done.reason === 'error' ? stoppedWith(lost ? msg('training.deviceLost') : (done.msg ?? uncoded(done.message ?? 'unknown')), lost ? (get().saved?.step ?? null) : null) : get().error,
    });
    set({ record: recordNow(get(), done.reason) });
    if (done.reason !== 'error' && !from?.restoreOnly) {
      get().requestAnswers();
      if (get().heatmap) get().requestHeatmap();
    }
  };
  const onFail = (err: unknown) => {
    if (mine !== generation) return;
    const m = messageOfError(err);
    // Nothing was trained yet: back to set-up, with the reason. Else the curves stay, with it.
    if (get().phase === 'starting' && !from) set({ phase: 'idle', error: m, progress: null });
    else set({ phase: 'error', error: from ? msg('training.couldNotContinue', { detail: m }) : stoppedWith(m, null) });
  };

  let data: PreparedData;
  try {
    data = await dataWorker.request('prepare', {
      text, modelTokenizer: s.modelTokenizer, contextLength: prepared.contextLength, vocabSize: model.config.vocab_size,
      policies: s.runs.map((r) => ({ ...r.policy, overrides: {} })),
      strategies: s.runs.map((r) => r.strategy ?? null),
      hand: prepared.hand ? { ...prepared.hand, ids: Int32Array.from(prepared.hand.ids) } : null,
      splitSpecialTokens: prepared.splitSpecialTokens ?? false,
      ownTemplate: prepared.ownTemplate ?? null,
    });
  } catch (err) {
    onFail(err);
    return;
  }
  if (mine !== generation) return;
  // A handful of buffers, moved on to the training worker without a copy (see trainPlan.ts PackedSamples).
  const p = data.samples;
  const transfer = [data.vocab.bytes.buffer, data.vocab.offsets.buffer, ...[p.offsets, p.ids, p.roles, p.labels, p.weights, p.fullLengths, p.ownIndex, p.ownIds, p.ownRoles, p.ownLabels, p.ownWeights].map((a) => a.buffer)];
  trainWorker
    .request('start', { training: id, data, runs: s.runs.length, optimizer, resume: from ? { id, step } : null, hold: from?.restoreOnly ?? false, lossModes: s.runs.map((r) => r.lossMode), trainings: s.runs.map((r) => r.training ?? FULL_TRAINING) }, { transfer, onEvent })
    .then(onDone, onFail);
}

/** The events of any training still running no longer count. */
export function forgetRunning(): void {
  generation++;
}
