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
import { FULL_TRAINING, type RunTraining } from '../../spec/lora';
import { defaultOptimizer, optimizerProblems, type OptimizerSettings } from '../../spec/optimizer';
import { joined, messageOfError, msg, type Message } from '../../spec/message';
import type { PolicyRole } from '../../data/types';
import type { LossMode } from '../../spec/loss';
import type { StartedInfo } from '../../worker/trainProtocol';
import { trainWorker } from '../clients';
import { defaultRuns, extraRun } from '../defaults';
import { progressNow, resetCurves, restartSpeed } from '../live';
import { forgetRunning, runTraining } from '../training';
import { MAX_RUNS } from '../validate';
import type { HandApplied, Phase, PolicySettings, PreparedWith, Progress, RunSpec, SavedWeights, TrainingRecord } from '../types';
import type { Slice } from '../index';

/** playground-base's parameter count: the defaults until the loaded model reports its own. */
export const EMBEDDED_PARAMS = 3_819_776;

export const DISCARD_MESSAGE: Message = msg('runs.discard');

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
  warnings: (Message | string)[];
  error: Message | null;
  snapshots: number[];
  /** The curves shown come from a saved record: no weights are on the GPU. */
  restored: boolean;
  /** Hand overrides of the shown training (null: none). */
  hand: HandApplied | null;
  /** The text the shown runs were trained on, and how its data was prepared. */
  startedText: string;
  preparedWith: PreparedWith | null;
  /** Where the shown runs' weights are saved, up to which step (null: not saved). */
  saved: SavedWeights | null;
  /** Why the last checkpoint could not be saved (null: fine). */
  checkpointError: Message | null;
  /** The GPU device was lost under the shown runs: recover() continues from `saved`. */
  deviceLost: boolean;
  /** The discard dialog; `keepRuns`: the runs go only once `proceed` succeeds (a model load), not on confirming. */
  confirm: { message: Message; proceed: () => void; keepRuns?: boolean } | null;
  smoothing: boolean;
  logScale: boolean;

  setOptimizer(patch: Partial<OptimizerSettings>): void;
  setRunPolicy(index: number, patch: Partial<PolicySettings>): void;
  /** Run `index` (or a new run) takes its labels from a masking-lab strategy; null: back to its mask policy. */
  setRunStrategy(index: number | 'new', strategy: RunSpec['strategy'] | null, name?: string): void;
  setRunRole(index: number, role: PolicyRole, on: boolean): void;
  /** How run `index`'s token losses become its objective (per token, per sequence, or summed). */
  setRunLossMode(index: number, mode: LossMode): void;
  /** Changes how run `index` trains (full / LoRA, its settings, its learning rate); through the discard dialog while runs exist. */
  setRunTraining(index: number, patch: Partial<RunTraining>): void;
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
  guard(proceed: () => void, message?: Message, keepRuns?: boolean): boolean;
  /** Drop the runs (worker engines included) and go back to set-up. */
  discardRuns(): void;
  /** Show a saved record (restore or share: no weights on the GPU). */
  showRecord(rec: TrainingRecord): void;
  /**
   * Bring the shown record's saved weights back onto the GPU: a finished training becomes live
   * again (heatmap, answers, download) without retraining; an interrupted one continues.
   */
  restoreSaved(): void;
  /** After a lost device: a new device, every run from its last checkpoint, training continues. */
  recover(): void;
  /** A stopped training goes on from its saved step to the last one. */
  continueTraining(): void;
  /** Forget run `run`'s saved weights (null: every run's); its curves stay. */
  forgetWeights(run: number | null): void;
}

export const createRunsSlice: Slice<RunsSlice> = (set, get) => {
  /** The shown training goes on from its saved step, with the data prepared as it first was. */
  const continueShown = () => {
    const s = get();
    if (s.saved && s.preparedWith) void runTraining(set, get, { saved: s.saved, prepared: s.preparedWith, text: s.startedText, restoreOnly: false });
  };

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
    preparedWith: null,
    saved: null,
    checkpointError: null,
    deviceLost: false,
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
    setRunStrategy(index, strategy, name) {
      const runs = get().runs;
      if (index === 'new' && runs.length >= MAX_RUNS) return;
      const change = () =>
        set((s) => {
          const apply = (r: RunSpec): RunSpec => {
            const { strategy: _old, ...rest } = r;
            // The lab's template-spans row is the settings panel's policy (hand overrides apply to
            // every policy run): the run takes that policy, not a strategy of the same name.
            if (strategy?.id === 'template-spans') return { ...rest, policy: { ...s.settings.policy, roles: { ...s.settings.policy.roles } }, ...(name ? { name } : {}) };
            return { ...rest, ...(strategy ? { strategy } : {}), ...(name ? { name } : {}) };
          };
          if (index === 'new') return { runs: [...s.runs, apply(extraRun(s.runs.length, new Set(s.runs.map((r) => r.color))))] };
          return { runs: s.runs.map((r, i) => (i === index ? apply(r) : r)) };
        });
      if (get().guard(change)) change();
    },
    setRunRole(index, role, on) {
      const r = get().runs[index];
      if (r) get().setRunPolicy(index, { roles: { ...r.policy.roles, [role]: on } });
    },
    setRunLossMode(index, lossMode) {
      if (get().runs[index]?.lossMode === lossMode) return;
      const change = () => set((s) => ({ runs: s.runs.map((r, i) => (i === index ? { ...r, lossMode } : r)) }));
      if (get().guard(change)) change();
    },
    setRunTraining(index, patch) {
      const r = get().runs[index];
      if (!r) return;
      const next: RunTraining = { ...(r.training ?? FULL_TRAINING), ...patch };
      // Switching to LoRA without a learning rate of its own: ten times the optimizer's, the usual
      // ratio between LoRA and full fine-tuning recipes (the user can change it).
      if (patch.mode === 'lora' && next.lr === null) next.lr = Math.min(0.1, get().optimizer.lr * 10);
      if (JSON.stringify(next) === JSON.stringify(r.training ?? FULL_TRAINING)) return;
      const change = () => set((s) => ({ runs: s.runs.map((x, i) => (i === index ? { ...x, training: next } : x)) }));
      if (get().guard(change)) change();
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
        set({ error: msg('runs.modelLoading') });
        return;
      }
      if (s.gpu.status === 'unavailable') {
        set({ error: s.gpu.message ?? msg('runs.noWebgpu') });
        return;
      }
      const go = () => {
        const st = get();
        let optimizer = st.optimizer;
        if (st.optimizerFor !== null) optimizer = { ...optimizer, batchSize: defaultOptimizer(st.model.loaded!.params, st.parse?.sampleCount ?? 1).batchSize };
        const problems = optimizerProblems(optimizer);
        if (problems.length) {
          set({ error: msg('runs.fixOptimizer', { detail: joined(problems) }) });
          return;
        }
        set({ optimizer });
        void runTraining(set, get, null);
      };
      if (runsExist()) {
        set({ confirm: { message: msg('runs.trainAgain'), proceed: go } });
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
      forgetRunning();
      resetCurves(0);
      const saved = get().saved;
      if (trainWorker.started) void trainWorker.request('reset', {}).catch(() => undefined);
      // The user agreed to discard the runs: their saved weights go too.
      if (saved) void trainWorker.request('forget', { training: saved.id, run: null }).catch(() => undefined);
      set((s) => ({
        phase: 'idle', info: null, progress: null, curveVersion: s.curveVersion + 1, warnings: [], error: null, snapshots: [],
        restored: false, heatmap: null, heatBusy: false, heatError: null, answers: null, answersBusy: false, answersError: null, answersLive: null, record: null,
        hand: null, exportError: null, saved: null, preparedWith: null, checkpointError: null, deviceLost: false,
      }));
    },
    showRecord(rec) {
      resetCurves(rec.curves);
      set((s) => ({
        record: rec, restored: true, phase: rec.reason === 'completed' ? 'done' : rec.reason === 'stopped' ? 'stopped' : 'error',
        info: rec.info, answers: rec.answers, warnings: rec.warnings, runs: rec.runs, optimizer: rec.optimizer, optimizerFor: null, hand: rec.hand ?? null,
        startedText: rec.text, curveVersion: s.curveVersion + 1, progress: progressNow(rec.optimizer.steps),
        saved: rec.saved ?? null, preparedWith: rec.prepared ?? null,
      }));
    },
    restoreSaved() {
      const s = get();
      const rec = s.record;
      if (!rec?.saved || !rec.prepared || !s.model.loaded || s.gpu.status !== 'ok') return;
      if (rec.model.name !== s.model.loaded.name) {
        set({ notice: msg('notice.otherModel', { name: rec.model.name }) });
        return;
      }
      // Finished or stopped: the weights come back and nothing trains. Running (or an error mid-run): it continues.
      const finished = rec.reason === 'completed' || rec.reason === 'stopped';
      if (rec.reason === 'running') {
        const at = rec.curves[0]?.step.at(-1) ?? rec.saved.step;
        set({ notice: msg('notice.interrupted', { at, step: rec.saved.step }) });
      }
      void runTraining(set, get, { saved: rec.saved, prepared: rec.prepared, text: rec.text, restoreOnly: finished });
    },
    recover() {
      const s = get();
      if (!s.deviceLost || !s.saved || !s.preparedWith) return;
      set({ notice: msg('notice.newDevice', { step: s.saved.step }) });
      continueShown();
    },
    continueTraining() {
      const s = get();
      if (s.phase !== 'stopped' || !s.saved || s.saved.step >= s.optimizer.steps || s.restored) return;
      continueShown();
    },
    forgetWeights(run) {
      const saved = get().saved;
      if (!saved) return;
      void trainWorker.request('forget', { training: saved.id, run }).then(
        ({ bytes }) => {
          const next = run === null ? null : { ...saved, bytes, forgotten: [...new Set([...saved.forgotten, run])] };
          set((st) => ({ saved: next, record: st.record ? { ...st.record, saved: next } : st.record }));
        },
        (err: unknown) => set({ error: msg('runs.forgetFailed', { detail: messageOfError(err) }) }),
      );
    },
  };
};
