/**
 * The runs slice: the run list (each run's mask), the optimizer settings, and the life of one
 * comparison (phase, progress, warnings, the saved record). A training is two requests: the data
 * worker prepares every sample with each run's labels (the same computation the token view shows),
 * then the training worker trains on exactly those arrays.
 *
 * Runs are discarded only with the user's consent: actions that change what they were trained on
 * (the text, the context, a mask, a hand override, the model) call `guard`, which asks through the
 * confirm dialog when runs exist.
 */
import { checkOptimizer, defaultOptimizer, type OptimizerSettings } from '../../spec/optimizer';
import type { TokenRole } from '../../data/types';
import type { PreparedData } from '../../worker/dataProtocol';
import type { StartedInfo, TrainDone, TrainEvent } from '../../worker/trainProtocol';
import { dataWorker, trainWorker } from '../clients';
import { defaultRuns, extraRun, runName } from '../defaults';
import { onStep, progressNow, resetCurves, restartSpeed, getCurves } from '../live';
import { MAX_RUNS } from '../validate';
import type { HandApplied, Phase, PolicySettings, Progress, RunSpec, TrainingRecord } from '../types';
import type { Slice } from '../index';

/** playground-base's parameter count: the defaults until the loaded model reports its own. */
export const EMBEDDED_PARAMS = 3_819_776;

export const DISCARD_MESSAGE =
  'This change alters what the runs were trained on (the data or a mask), so their curves, heatmap and answers would no longer match. Discard the runs and apply the change?';

export interface RunsSlice {
  // Persisted (PERSISTED in persist.ts).
  optimizer: OptimizerSettings;
  runs: RunSpec[];
  record: TrainingRecord | null;
  // Session.
  /** Model name the optimizer defaults were chosen for; null once the user edits them. */
  optimizerFor: string | null;
  phase: Phase;
  info: StartedInfo | null;
  progress: Progress | null;
  curveVersion: number;
  /** Steps that updated nothing or gave non-finite numbers, with their step number. */
  warnings: string[];
  error: string | null;
  snapshots: number[];
  /** The curves shown come from a saved record: no weights are on the GPU. */
  restored: boolean;
  /** Hand overrides of the shown training (null: none). */
  hand: HandApplied | null;
  /** The text the shown runs were trained on. */
  startedText: string;
  /** The discard dialog; `keepRuns`: the runs go only once `proceed` succeeds (a model load), not on confirming. */
  confirm: { message: string; proceed: () => void; keepRuns?: boolean } | null;
  smoothing: boolean;
  logScale: boolean;

  setOptimizer(patch: Partial<OptimizerSettings>): void;
  setRunPolicy(index: number, patch: Partial<PolicySettings>): void;
  setRunRole(index: number, role: TokenRole, on: boolean): void;
  setRunName(index: number, name: string): void;
  addRun(): void;
  removeRun(index: number): void;
  train(): void;
  pause(): void;
  resume(): void;
  stop(): void;
  reset(): void;
  setChart(patch: Partial<Pick<RunsSlice, 'smoothing' | 'logScale'>>): void;
  confirmDiscard(): void;
  cancelDiscard(): void;
  /** Curves on screen (live or restored) that a change would make meaningless. */
  runsExist(): boolean;
  /**
   * Asked before an action changes what the runs were trained on: true = go ahead; false = the
   * user is being asked, and `proceed` runs once they agree to discard the runs.
   */
  guard(proceed: () => void, message?: string, keepRuns?: boolean): boolean;
  /** Drop the runs (worker engines included) and go back to set-up. */
  discardRuns(): void;
  /** Show a saved record (restore or share: no weights on the GPU). */
  showRecord(rec: TrainingRecord): void;
}

/** The training whose events count: discard or a new training starts another. */
let generation = 0;

export const createRunsSlice: Slice<RunsSlice> = (set, get) => {
  const flush = (warnings: string[]) => {
    const s = get();
    set({ curveVersion: s.curveVersion + 1, progress: progressNow(s.info ? s.optimizer.steps : 0), warnings: warnings.length ? [...s.warnings, ...warnings] : s.warnings });
  };

  function onEvent(mine: number, e: TrainEvent): void {
    if (mine !== generation) return;
    if (e.kind === 'started') set({ phase: get().phase === 'paused' ? 'paused' : 'training', info: e.info });
    else if (e.kind === 'step') onStep(e, get().runs[e.run]?.name ?? runName(e.run), flush);
    else set((s) => ({ snapshots: [...s.snapshots, e.step] }));
  }

  function onDone(mine: number, done: TrainDone): void {
    if (mine !== generation) return;
    flush([]);
    const s = get();
    const model = s.model.loaded;
    const record: TrainingRecord | null =
      s.info && model
        ? {
            runs: s.runs, optimizer: s.optimizer, model: { name: model.name, params: model.params }, text: s.startedText,
            info: s.info, curves: getCurves() as TrainingRecord['curves'], reason: done.reason, finishedAt: Date.now(), answers: null, warnings: s.warnings, hand: s.hand,
          }
        : null;
    set({
      phase: done.reason === 'completed' ? 'done' : done.reason === 'stopped' ? 'stopped' : 'error',
      error: done.reason === 'error' ? `Training stopped with an error: ${done.message ?? 'unknown'}` : s.error,
      record,
    });
    if (done.reason !== 'error') {
      get().requestAnswers();
      if (s.heatmap) get().requestHeatmap();
    }
  }

  function onFail(mine: number, err: unknown): void {
    if (mine !== generation) return;
    const message = err instanceof Error ? err.message : String(err);
    // Nothing was trained yet: back to set-up, with the reason. Else the curves stay, with it.
    if (get().phase === 'starting') set({ phase: 'idle', error: message, progress: null });
    else set({ phase: 'error', error: `Training stopped with an error: ${message}` });
  }

  async function begin(mine: number): Promise<void> {
    const s = get();
    const model = s.model.loaded;
    if (!model) return;
    let optimizer = s.optimizer;
    if (s.optimizerFor !== null) optimizer = { ...optimizer, batchSize: defaultOptimizer(model.params, s.parse?.sampleCount ?? 1).batchSize };
    const problems = checkOptimizer(optimizer);
    if (problems.length) {
      set({ error: `Fix the optimizer settings first: ${problems.join(' ')}` });
      return;
    }
    resetCurves(s.runs.length);
    const hand = s.handOverrides();
    set((st) => ({
      optimizer, phase: 'starting', info: null, error: null, warnings: [], snapshots: [], restored: false, record: null, exportError: null, startedText: st.text,
      hand: hand ? { sample: hand.sample, tokens: Object.keys(hand.tokens).length } : null,
      heatmap: null, heatError: null, answers: null, answersError: null, heatRun: Math.min(st.heatRun, st.runs.length - 1), heatAt: 'current',
      progress: { step: 0, total: optimizer.steps, tokensPerSec: null, msPerStep: null, etaSec: null, trainedTokens: st.runs.map(() => 0) },
      curveVersion: st.curveVersion + 1,
    }));
    let data: PreparedData;
    try {
      data = await dataWorker.request('prepare', {
        text: s.text, modelTokenizer: s.modelTokenizer, contextLength: s.settings.contextLengths.default,
        policies: s.runs.map((r) => ({ ...r.policy, overrides: {} })), hand, vocabSize: model.config.vocab_size,
      });
    } catch (err) {
      onFail(mine, err);
      return;
    }
    if (mine !== generation) return;
    const transfer = [data.vocab.bytes.buffer, data.vocab.offsets.buffer, ...data.samples.flatMap((p) => [p.ids.buffer, p.roles.buffer, ...p.labels.map((l) => l.buffer), ...p.weights.map((w) => w.buffer)])];
    trainWorker
      .request('start', { data, runs: s.runs.length, optimizer }, { transfer, onEvent: (e) => onEvent(mine, e) })
      .then((done) => onDone(mine, done), (err) => onFail(mine, err));
  }

  const runsExist = () => get().phase !== 'idle' || get().record !== null;

  return {
    optimizer: defaultOptimizer(EMBEDDED_PARAMS),
    runs: defaultRuns(),
    record: null,
    optimizerFor: 'default',
    phase: 'idle',
    info: null,
    progress: null,
    curveVersion: 0,
    warnings: [],
    error: null,
    snapshots: [],
    restored: false,
    hand: null,
    startedText: '',
    confirm: null,
    smoothing: false,
    logScale: false,

    setOptimizer(patch) {
      set((s) => ({ optimizer: { ...s.optimizer, ...patch }, optimizerFor: null }));
    },
    setRunPolicy(index, patch) {
      const change = () => set((s) => ({ runs: s.runs.map((r, i) => (i === index ? { ...r, policy: { ...r.policy, ...patch } } : r)) }));
      if (get().guard(change)) change();
    },
    setRunRole(index, role, on) {
      const r = get().runs[index];
      if (r) get().setRunPolicy(index, { roles: { ...r.policy.roles, [role]: on } });
    },
    setRunName(index, name) {
      set((s) => ({ runs: s.runs.map((r, i) => (i === index ? { ...r, name } : r)) }));
    },
    addRun() {
      if (get().runs.length >= MAX_RUNS) return;
      const add = () => set((s) => ({ runs: [...s.runs, extraRun(s.runs.length, new Set(s.runs.map((r) => r.color)))] }));
      if (get().guard(add)) add();
    },
    removeRun(index) {
      if (get().runs.length <= 1) return;
      const remove = () => set((s) => ({ runs: s.runs.filter((_, i) => i !== index), heatRun: 0 }));
      if (get().guard(remove)) remove();
    },

    train() {
      const s = get();
      if (!s.model.loaded) {
        set({ error: 'The model has not finished loading; wait for its progress bar.' });
        return;
      }
      if (s.gpu.status === 'unavailable') {
        set({ error: s.gpu.message ?? 'WebGPU is not available in this browser.' });
        return;
      }
      const go = () => void begin(++generation);
      if (runsExist()) {
        set({ confirm: { message: 'Train again from the base weights? The current runs (curves, heatmap, answers) will be discarded.', proceed: go } });
      } else go();
    },
    pause() {
      if (get().phase !== 'training') return;
      void trainWorker.request('pause', {});
      set({ phase: 'paused' });
    },
    resume() {
      if (get().phase !== 'paused') return;
      restartSpeed();
      void trainWorker.request('resume', {});
      set({ phase: 'training' });
    },
    stop() {
      const phase = get().phase;
      if (phase !== 'training' && phase !== 'paused' && phase !== 'starting') return;
      void trainWorker.request('stop', {});
    },
    reset() {
      get().discardRuns();
    },
    setChart(patch) {
      set(patch);
    },
    confirmDiscard() {
      const c = get().confirm;
      set({ confirm: null });
      if (!c) return;
      if (!c.keepRuns) get().discardRuns();
      c.proceed();
    },
    cancelDiscard() {
      set({ confirm: null });
    },
    runsExist,
    guard(proceed, message = DISCARD_MESSAGE, keepRuns = false) {
      if (!runsExist()) return true;
      set({ confirm: { message, proceed, keepRuns } });
      return false;
    },
    discardRuns() {
      generation++;
      resetCurves(0);
      if (trainWorker.started) void trainWorker.request('reset', {}).catch(() => undefined);
      set((s) => ({
        phase: 'idle', info: null, progress: null, curveVersion: s.curveVersion + 1, warnings: [], error: null, snapshots: [],
        restored: false, heatmap: null, heatBusy: false, heatError: null, answers: null, answersBusy: false, answersError: null, answersLive: null, record: null,
        hand: null, exportError: null,
      }));
    },
    showRecord(rec) {
      resetCurves(rec.curves);
      set((s) => ({
        record: rec, restored: true, phase: rec.reason === 'completed' ? 'done' : rec.reason === 'stopped' ? 'stopped' : 'error',
        info: rec.info, answers: rec.answers, warnings: rec.warnings, runs: rec.runs, optimizer: rec.optimizer, optimizerFor: null, hand: rec.hand ?? null,
        startedText: rec.text, curveVersion: s.curveVersion + 1, progress: progressNow(rec.optimizer.steps),
      }));
    },
  };
};
