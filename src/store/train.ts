/**
 * The training store: the run list (each run's mask), the optimizer settings, the model and GPU
 * status, and the live state of a comparison (phase, progress, curves, heatmap, answers). Actions
 * drive the training worker (train.worker.ts, protocol in trainProtocol.ts).
 *
 * Per-step numbers never go through React one by one: step events are appended to mutable curve
 * buffers (`curves`, read with getCurves()), and the store is updated at most every FLUSH_MS with a
 * new `curveVersion` and the derived progress. The chart subscribes to curveVersion and redraws
 * itself; components render at the flush rate, not the step rate.
 *
 * Runs are discarded only with the user's consent: actions that change what they were trained on
 * (the text, the context, a mask, a hand override, the model) go through the discard guard
 * installed in the playground store, or ask through the same dialog.
 *
 * The model: the embedded one, or what `?model=` names, loads when the page opens; loadModel()
 * loads another (folder URL or Hub repo id). The model in use stays until the new one has loaded,
 * so a failed load (offline, unsupported architecture, too large for the GPU) only shows an error.
 * A loaded model's tokenizer becomes the token view's 'default' tokenizer (store.setModelTokenizer).
 */
import { create } from 'zustand';
import type { AdapterReport } from '../gpu/device';
import { usePlayground, setDiscardGuard, type PolicySettings } from './store';
import { TOKEN_ROLES, type TokenRole, type TokenizerId } from '../data/types';
import { defaultOptimizer, checkOptimizer, type OptimizerSettings } from '../spec/optimizer';
import { loadTraining, saveTraining, TRAIN_PERSISTED, TRAIN_WRITE_DEBOUNCE_MS, type TrainPersistedKey } from './trainPersist';
import { decodeShare, shareInHash, shareUrl, type SharedState } from './share';
import { appendStep } from './curves';
import { resolveModelSource } from '../model/hub';
import { ANSWER_TOKENS, MAX_ANSWER_TOKENS, type Answer, type ExportedFile, type FromTrainer, type HandOverrides, type HeatmapData, type LoadedModel, type StartedInfo, type StepEvent, type ToTrainer } from '../worker/trainProtocol';

export interface RunSpec {
  id: string;
  name: string;
  color: string;
  policy: PolicySettings;
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

export interface LoadProgress {
  /** The file being read, e.g. 'model.safetensors'. */
  file: string;
  /** Bytes of that file so far, and its size (null while unknown). */
  loaded: number;
  total: number | null;
  /** Bytes of every file of this load so far. */
  bytesReceived: number;
  /** The file came from the browser's model cache. */
  cached: boolean;
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
  error: string | null;
}

export interface GpuState {
  status: 'pending' | 'ok' | 'unavailable';
  adapter: AdapterReport | null;
  message: string | null;
}

export type HeatMetric = 'loss' | 'prob' | 'dlogit' | 'dembed';

export interface AnswersState {
  sample: number;
  /** Steps trained when the answers were generated. */
  step: number;
  prompt: string;
  reference: string | null;
  answers: Answer[];
}

/** A finished (or stopped) comparison: what is saved and restored. */
export interface TrainingRecord {
  runs: RunSpec[];
  optimizer: OptimizerSettings;
  model: { name: string; params: number };
  text: string;
  info: StartedInfo;
  curves: RunCurve[];
  reason: 'completed' | 'stopped' | 'error';
  finishedAt: number;
  answers: AnswersState | null;
  warnings: string[];
  /** Hand overrides the runs were trained with (absent in records saved before they existed). */
  hand?: HandApplied | null;
}

/** The first screen's hand overrides a training applied to every run: on which sample, how many tokens. */
export interface HandApplied {
  sample: number;
  tokens: number;
}

export interface TrainState {
  // Persisted (TRAIN_PERSISTED in trainPersist.ts).
  optimizer: OptimizerSettings;
  runs: RunSpec[];
  record: TrainingRecord | null;
  // Session.
  /** Model name the optimizer defaults were chosen for; null once the user edits them. */
  optimizerFor: string | null;
  model: ModelState;
  gpu: GpuState;
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
  heatmap: HeatmapData | null;
  heatBusy: boolean;
  heatRun: number;
  heatAt: 'current' | number;
  heatMetric: HeatMetric;
  heatError: string | null;
  answers: AnswersState | null;
  answersBusy: boolean;
  answersError: string | null;
  /** Most tokens each answer may add. */
  answerTokens: number;
  smoothing: boolean;
  logScale: boolean;
  confirm: { message: string; proceed: () => void } | null;
  share: { url: string | null; message: string | null };
  /** Hand overrides of the shown training (null: none). */
  hand: HandApplied | null;
  /** Run whose weights are being exported, and the last export's error. */
  exporting: number | null;
  exportError: string | null;

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
  requestHeatmap(): void;
  setHeat(patch: Partial<Pick<TrainState, 'heatRun' | 'heatAt' | 'heatMetric'>>): void;
  clearHeatmap(): void;
  requestAnswers(): void;
  setChart(patch: Partial<Pick<TrainState, 'smoothing' | 'logScale'>>): void;
  setAnswerTokens(n: number): void;
  confirmDiscard(): void;
  cancelDiscard(): void;
  makeShareLink(): Promise<void>;
  /** Load another model (folder URL or Hub repo id); asks first when runs exist. */
  loadModel(source: string): void;
  /** Stop the download in progress; the model in use stays. */
  cancelLoad(): void;
  /** Run `run`'s current weights as Hugging Face files (model.safetensors, config.json, tokenizer files). */
  exportRun(run: number): Promise<ExportedFile[]>;
}

export const RUN_COLORS = ['#4f46e5', '#d97706', '#059669', '#db2777', '#0891b2'];
export const MAX_RUNS = RUN_COLORS.length;
/** Store updates while training: at most this often. */
export const FLUSH_MS = 250;
/** playground-base's parameter count: the defaults until the loaded model reports its own. */
const EMBEDDED_PARAMS = 3_819_776;
/** Steps the speed is averaged over. */
const SPEED_WINDOW = 20;
/** The embedded model's folder (public/models/playground-base/): loads when no `?model=` is given. */
export const EMBEDDED_MODEL = `${import.meta.env.BASE_URL}models/playground-base/`;
/** Offered in the model field (small LLaMA-style chat models on the Hub; they need the network). */
export const MODEL_SUGGESTIONS = ['HuggingFaceTB/SmolLM2-135M-Instruct', 'HuggingFaceTB/SmolLM2-360M-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct'] as const;

const ALL_ROLES: Record<TokenRole, boolean> = { system: true, user: true, assistant: true, template: true };
const RESPONSE_ONLY: PolicySettings = { mode: 'response-only', assistantTurns: 'all', trainEndOfTurn: true, roles: { ...ALL_ROLES }, promptLossWeight: 0 };
const FULL: PolicySettings = { ...RESPONSE_ONLY, mode: 'full', roles: { ...ALL_ROLES } };

const runName = (i: number) => `Run ${String.fromCharCode(65 + i)}`;

/**
 * Run A response-only, run B full sequence: the comparison the page is about. (Names are hyphenated:
 * they appear in accessible names, which must not collide with the first screen's "Full sequence".)
 */
export function defaultRuns(): RunSpec[] {
  return [
    { id: 'a', name: `${runName(0)} · response-only`, color: RUN_COLORS[0], policy: { ...RESPONSE_ONLY, roles: { ...ALL_ROLES } } },
    { id: 'b', name: `${runName(1)} · full-sequence`, color: RUN_COLORS[1], policy: FULL },
  ];
}

const emptyCurve = (): RunCurve => ({ step: [], objective: [], response: [], prompt: [], trainedTokens: [], lr: [] });

// ---- mutable buffers (module scope: one training at a time per page) ----

let curves: RunCurve[] = [];
/** Wall time each lockstep step finished, and the tokens it processed over all runs. */
let lockstep: { step: number; at: number; tokens: number }[] = [];
const stepTokens = new Map<number, { runs: number; tokens: number }>();
let pendingWarnings: string[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;

/** The curves of the shown comparison (mutable; re-read when curveVersion changes). */
export const getCurves = (): readonly RunCurve[] => curves;

let worker: Worker | null = null;
let nextId = 0;
type Request = Extract<ToTrainer, { id: number }>['type'];
const pending = new Map<number, Request>();
/** The load whose progress and answer count (older ones were superseded or cancelled). */
let loadingId: number | null = null;
/** The current load was asked for in the page (not the start-up load of the embedded model). */
let loadByUser = false;
/** Export requests waiting for their files. */
const exportWaiters = new Map<number, { resolve: (files: ExportedFile[]) => void; reject: (err: Error) => void }>();

function send(msg: ToTrainer): void {
  if ('id' in msg) pending.set(msg.id, msg.type);
  getWorker().postMessage(msg);
}

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('../worker/train.worker.ts', import.meta.url), { type: 'module', name: 'train' });
    worker.onmessage = (ev: MessageEvent<FromTrainer>) => onMessage(ev.data);
    worker.onerror = (ev) => {
      const message = `The training worker failed${ev.message ? `: ${ev.message}` : ' to start'}. Reload the page.`;
      useTrain.setState((s) => ({
        phase: s.phase === 'idle' ? 'idle' : 'error',
        error: message,
        model: s.model.status === 'loading' ? { ...s.model, status: 'error', error: message } : s.model,
        gpu: s.gpu.status === 'pending' ? { status: 'unavailable', adapter: null, message } : s.gpu,
      }));
    };
  }
  return worker;
}

function onStep(e: StepEvent): void {
  const c = curves[e.run];
  if (!c) return;
  const warning = appendStep(c, e, useTrain.getState().runs[e.run]?.name ?? runName(e.run));
  if (warning) pendingWarnings.push(warning);
  const runs = curves.length;
  const s = stepTokens.get(e.step) ?? { runs: 0, tokens: 0 };
  s.runs++;
  s.tokens += e.tokens;
  if (s.runs === runs) {
    stepTokens.delete(e.step);
    lockstep.push({ step: e.step, at: performance.now(), tokens: s.tokens });
    if (lockstep.length > SPEED_WINDOW + 1) lockstep.shift();
  } else stepTokens.set(e.step, s);
  flushSoon();
}

function flushSoon(): void {
  if (flushTimer !== undefined) return;
  flushTimer = setTimeout(flush, FLUSH_MS);
}

function progressNow(total: number): Progress {
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

function flush(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  const s = useTrain.getState();
  const warnings = pendingWarnings.length ? [...s.warnings, ...pendingWarnings] : s.warnings;
  pendingWarnings = [];
  useTrain.setState({ curveVersion: s.curveVersion + 1, progress: progressNow(s.info ? s.optimizer.steps : 0), warnings });
}

function onMessage(m: FromTrainer): void {
  const set = useTrain.setState;
  // An answer ends its request; progress events only name theirs.
  const answer = 'id' in m && m.id !== undefined && m.type !== 'loadProgress' ? m.id : undefined;
  const kind = answer !== undefined ? pending.get(answer) : undefined;
  if (answer !== undefined) pending.delete(answer);
  switch (m.type) {
    case 'gpu':
      set({ gpu: m.ok ? { status: 'ok', adapter: m.adapter, message: null } : { status: 'unavailable', adapter: null, message: m.message } });
      return;
    case 'loadProgress':
      if (m.id !== loadingId) return;
      set((s) => ({ model: { ...s.model, progress: { file: m.file, loaded: m.loaded, total: m.total, bytesReceived: m.bytesReceived, cached: m.cached } } }));
      return;
    case 'loaded':
      if (m.id === loadingId) onLoaded(m.model);
      return;
    case 'started':
      set({ phase: useTrain.getState().phase === 'paused' ? 'paused' : 'training', info: m.info });
      return;
    case 'step':
      onStep(m);
      return;
    case 'snapshot':
      set((s) => ({ snapshots: [...s.snapshots, m.step] }));
      return;
    case 'done':
      onDone(m.reason, m.message);
      return;
    case 'heatmap':
      set({ heatmap: m.data, heatBusy: false, heatError: null });
      return;
    case 'answers': {
      const s = useTrain.getState();
      const answers: AnswersState = { sample: usePlayground.getState().sampleIndex, step: s.progress?.step ?? 0, prompt: m.prompt, reference: m.reference, answers: m.answers };
      set({ answers, answersBusy: false, answersError: null, record: s.record ? { ...s.record, answers } : s.record });
      return;
    }
    case 'exported':
      exportWaiters.get(m.id)?.resolve(m.files);
      exportWaiters.delete(m.id);
      return;
    case 'ok':
      return;
    case 'error':
      if (kind === 'load') {
        if (m.id !== loadingId) return; // superseded or cancelled: the page already moved on
        loadingId = null;
        set((s) => ({
          model: { ...s.model, status: s.model.loaded ? 'ready' : 'error', url: s.model.loaded?.source ?? s.model.url, progress: null, error: `${navigator.onLine ? '' : 'This browser is offline. '}Could not load ${s.model.url}: ${m.message}` },
        }));
      } else if (kind === 'export' && m.id !== undefined) {
        exportWaiters.get(m.id)?.reject(new Error(m.message));
        exportWaiters.delete(m.id);
      } else if (kind === 'evaluate') set({ heatBusy: false, heatError: m.message });
      else if (kind === 'generate') set({ answersBusy: false, answersError: m.message });
      // Nothing was trained: back to set-up, with the reason.
      else if (kind === 'start') set({ phase: 'idle', error: m.message, progress: null });
      else set({ error: m.message });
      return;
  }
}

function onDone(reason: 'completed' | 'stopped' | 'error', message?: string): void {
  flush();
  const s = useTrain.getState();
  const model = s.model.loaded;
  const record: TrainingRecord | null =
    s.info && model
      ? {
          runs: s.runs, optimizer: s.optimizer, model: { name: model.name, params: model.params }, text: startedText,
          info: s.info, curves, reason, finishedAt: Date.now(), answers: null, warnings: s.warnings, hand: s.hand,
        }
      : null;
  useTrain.setState({
    phase: reason === 'completed' ? 'done' : reason === 'stopped' ? 'stopped' : 'error',
    error: reason === 'error' ? `Training stopped with an error: ${message ?? 'unknown'}` : s.error,
    record,
  });
  if (reason !== 'error') {
    useTrain.getState().requestAnswers();
    if (s.heatmap) useTrain.getState().requestHeatmap();
  }
}

/** The text the shown runs were trained on. */
let startedText = '';

/** Runs exist: curves on screen (live or restored) that a change would make meaningless. */
const runsExist = (): boolean => useTrain.getState().phase !== 'idle' || useTrain.getState().record !== null;

const DISCARD_MESSAGE =
  'This change alters what the runs were trained on (the data or a mask), so their curves, heatmap and answers would no longer match. Discard the runs and apply the change?';

/** Runs `f` now when no runs exist, else after the user agrees to discard them. */
function guarded(f: () => void, message = DISCARD_MESSAGE): void {
  if (!runsExist()) f();
  else useTrain.setState({ confirm: { message, proceed: f } });
}

function discard(): void {
  if (flushTimer !== undefined) {
    clearTimeout(flushTimer);
    flushTimer = undefined;
  }
  curves = [];
  lockstep = [];
  stepTokens.clear();
  pendingWarnings = [];
  if (worker) send({ type: 'reset', id: ++nextId });
  useTrain.setState((s) => ({
    phase: 'idle', info: null, progress: null, curveVersion: s.curveVersion + 1, warnings: [], error: null, snapshots: [],
    restored: false, heatmap: null, heatBusy: false, heatError: null, answers: null, answersBusy: false, answersError: null, record: null,
    hand: null, exportError: null,
  }));
}

function resolveModelUrl(): string {
  return new URLSearchParams(location.search).get('model') ?? EMBEDDED_MODEL;
}

/** Whether `m` is the embedded model (its tokenizer is the token view's built-in 'default'). */
export const isEmbedded = (m: LoadedModel): boolean => m.kind === 'folder' && m.url === resolveModelSource(EMBEDDED_MODEL).baseUrl;

/** Ask the worker for `source`; the model in use stays until it answers `loaded`. */
function startLoad(source: string, byUser: boolean): void {
  loadingId = ++nextId;
  loadByUser = byUser;
  useTrain.setState((s) => ({ model: { ...s.model, status: 'loading', url: source, progress: null, error: null } }));
  send({ type: 'load', id: loadingId, source: { url: source } });
}

function onLoaded(model: LoadedModel): void {
  loadingId = null;
  const s = useTrain.getState();
  const samples = usePlayground.getState().parse?.sampleCount ?? 1;
  useTrain.setState({
    model: { status: 'ready', url: model.source, progress: null, loaded: model, error: null },
    // Defaults follow the model until the user edits a setting.
    ...(s.optimizerFor !== null ? { optimizer: defaultOptimizer(model.params, samples), optimizerFor: model.name } : {}),
  });
  // The token view follows a model the user picked (or `?model=`): training tokenizes with that
  // model's tokenizer, and hand overrides index its tokens. The embedded model at start-up leaves
  // the user's saved tokenizer choice alone.
  const embedded = isEmbedded(model);
  if (loadByUser || !embedded) {
    usePlayground.getState().setModelTokenizer(embedded ? null : { source: model.source, label: model.name, contextLength: model.config.max_position_embeddings });
  }
  if (loadByUser) {
    // A reload (or a share link) opens the same model: `?model=` names it, the embedded one needs none.
    const url = new URL(location.href);
    if (embedded) url.searchParams.delete('model');
    else url.searchParams.set('model', model.source);
    history.replaceState(history.state, '', url);
  }
}

const modelDiscardMessage = (source: string): string =>
  `Loading ${source} replaces the model the runs were trained from, so their curves, heatmap, answers and weights go. Discard the runs and load it?`;

/** What the hand overrides on the token view are, as the worker applies them (null: none). */
function handOverrides(): HandOverrides | null {
  const pg = usePlayground.getState();
  if (!pg.tokens || Object.keys(pg.overrides).length === 0) return null;
  return { sample: pg.sampleIndex, tokens: { ...pg.overrides }, ids: pg.tokens.ids.slice() };
}

export const useTrain = create<TrainState>()((set, get) => ({
  optimizer: defaultOptimizer(EMBEDDED_PARAMS),
  runs: defaultRuns(),
  record: null,
  optimizerFor: 'default',
  model: { status: 'loading', url: '', progress: null, loaded: null, error: null },
  gpu: { status: 'pending', adapter: null, message: null },
  phase: 'idle',
  info: null,
  progress: null,
  curveVersion: 0,
  warnings: [],
  error: null,
  snapshots: [],
  restored: false,
  heatmap: null,
  heatBusy: false,
  heatRun: 0,
  heatAt: 'current',
  heatMetric: 'dlogit',
  heatError: null,
  answers: null,
  answersBusy: false,
  answersError: null,
  answerTokens: ANSWER_TOKENS,
  smoothing: false,
  logScale: false,
  confirm: null,
  share: { url: null, message: null },
  hand: null,
  exporting: null,
  exportError: null,

  setOptimizer(patch) {
    set((s) => ({ optimizer: { ...s.optimizer, ...patch }, optimizerFor: null }));
  },
  setRunPolicy(index, patch) {
    guarded(() => set((s) => ({ runs: s.runs.map((r, i) => (i === index ? { ...r, policy: { ...r.policy, ...patch } } : r)) })));
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
    guarded(() =>
      set((s) => {
        const i = s.runs.length;
        const used = new Set(s.runs.map((r) => r.color));
        const color = RUN_COLORS.find((c) => !used.has(c)) ?? RUN_COLORS[i % RUN_COLORS.length];
        const id = `r${Date.now().toString(36)}${i}`;
        return { runs: [...s.runs, { id, name: `${runName(i)} · prompt weight 0.1`, color, policy: { ...RESPONSE_ONLY, roles: { ...ALL_ROLES }, promptLossWeight: 0.1 } }] };
      }),
    );
  },
  removeRun(index) {
    if (get().runs.length <= 1) return;
    guarded(() => set((s) => ({ runs: s.runs.filter((_, i) => i !== index), heatRun: 0 })));
  },

  train() {
    const s = get();
    const model = s.model.loaded;
    if (!model) {
      set({ error: 'The model has not finished loading; wait for its progress bar.' });
      return;
    }
    if (s.gpu.status === 'unavailable') {
      set({ error: s.gpu.message ?? 'WebGPU is not available in this browser.' });
      return;
    }
    const begin = () => {
      const pg = usePlayground.getState();
      const own = pg.settings.contextLengths.default;
      let optimizer = get().optimizer;
      if (get().optimizerFor !== null) {
        optimizer = { ...optimizer, batchSize: defaultOptimizer(model.params, pg.parse?.sampleCount ?? 1).batchSize };
      }
      const problems = checkOptimizer(optimizer);
      if (problems.length) {
        set({ error: `Fix the optimizer settings first: ${problems.join(' ')}` });
        return;
      }
      curves = get().runs.map(emptyCurve);
      lockstep = [];
      stepTokens.clear();
      startedText = pg.text;
      const overrides = handOverrides();
      set((st) => ({
        optimizer, phase: 'starting', info: null, error: null, warnings: [], snapshots: [], restored: false, record: null, exportError: null,
        hand: overrides ? { sample: overrides.sample, tokens: Object.keys(overrides.tokens).length } : null,
        heatmap: null, heatError: null, answers: null, answersError: null, heatRun: Math.min(st.heatRun, st.runs.length - 1), heatAt: 'current',
        progress: { step: 0, total: optimizer.steps, tokensPerSec: null, msPerStep: null, etaSec: null, trainedTokens: st.runs.map(() => 0) },
        curveVersion: st.curveVersion + 1,
      }));
      send({
        type: 'start', id: ++nextId, text: pg.text, contextLength: own ?? model.config.max_position_embeddings,
        policies: get().runs.map((r) => ({ ...r.policy, overrides: {} })), optimizer, overrides,
      });
    };
    if (runsExist()) {
      set({ confirm: { message: 'Train again from the base weights? The current runs (curves, heatmap, answers) will be discarded.', proceed: () => { discard(); begin(); } } });
    } else begin();
  },
  pause() {
    if (get().phase !== 'training') return;
    send({ type: 'pause' });
    set({ phase: 'paused' });
  },
  resume() {
    if (get().phase !== 'paused') return;
    lockstep = []; // the pause is not training time: measure the speed afresh
    send({ type: 'resume' });
    set({ phase: 'training' });
  },
  stop() {
    if (get().phase !== 'training' && get().phase !== 'paused' && get().phase !== 'starting') return;
    send({ type: 'stop' });
  },
  reset() {
    discard();
  },

  requestHeatmap() {
    const s = get();
    if (s.restored || s.phase === 'idle' || s.phase === 'starting') return;
    const sample = usePlayground.getState().sampleIndex;
    set({ heatBusy: true, heatError: null });
    send({ type: 'evaluate', id: ++nextId, run: s.heatRun, at: s.heatAt, sample });
  },
  setHeat(patch) {
    set(patch);
    const s = get();
    if (s.heatmap && ('heatRun' in patch || 'heatAt' in patch)) s.requestHeatmap();
  },
  clearHeatmap() {
    set({ heatmap: null, heatError: null });
  },
  requestAnswers() {
    const s = get();
    if (s.restored || s.phase === 'idle' || s.phase === 'starting' || s.answersBusy) return;
    set({ answersBusy: true, answersError: null });
    send({ type: 'generate', id: ++nextId, sample: usePlayground.getState().sampleIndex, maxNewTokens: s.answerTokens });
  },
  setChart(patch) {
    set(patch);
  },
  setAnswerTokens(n) {
    if (Number.isInteger(n) && n >= 1 && n <= MAX_ANSWER_TOKENS) set({ answerTokens: n });
  },
  confirmDiscard() {
    const c = get().confirm;
    set({ confirm: null });
    if (!c) return;
    discard();
    c.proceed();
  },
  cancelDiscard() {
    set({ confirm: null });
  },
  async makeShareLink() {
    const pg = usePlayground.getState();
    const s = get();
    try {
      const url = await shareUrl({ text: pg.text, sampleIndex: pg.sampleIndex, settings: pg.settings, optimizer: s.optimizer, runs: s.runs });
      let message = 'Link ready.';
      try {
        await navigator.clipboard.writeText(url);
        message = 'Link copied to the clipboard.';
      } catch {
        message = 'Copy the link below (the clipboard is not available here).';
      }
      set({ share: { url, message } });
    } catch (err) {
      set({ share: { url: null, message: `Could not make a link: ${err instanceof Error ? err.message : String(err)}` } });
    }
  },
  loadModel(source) {
    const src = source.trim();
    const current = get().model.loaded;
    const fail = (error: string) => set((s) => ({ model: { ...s.model, error } }));
    if (src === '') {
      fail(`Enter a folder URL ending in / (like ${EMBEDDED_MODEL}) or a Hugging Face repo id (like ${MODEL_SUGGESTIONS[0]}).`);
      return;
    }
    try {
      resolveModelSource(src);
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
      return;
    }
    if (current && current.source === src && get().model.status === 'ready') {
      fail(`${current.name} is already loaded.`);
      return;
    }
    guarded(() => startLoad(src, true), modelDiscardMessage(src));
  },
  cancelLoad() {
    if (loadingId === null) return;
    const cancelled = get().model.url;
    loadingId = null;
    send({ type: 'cancelLoad' });
    set((s) => ({
      model: {
        ...s.model, status: s.model.loaded ? 'ready' : 'error', url: s.model.loaded?.source ?? s.model.url, progress: null,
        error: `Loading ${cancelled} was cancelled.`,
      },
    }));
  },
  async exportRun(run) {
    const s = get();
    if (s.restored || (s.phase !== 'done' && s.phase !== 'stopped')) {
      throw new Error('Download the weights after the training has finished or been stopped (weights are not kept across reloads).');
    }
    const spec = s.runs[run];
    const model = s.model.loaded;
    if (!spec || !model) throw new Error(`There is no run ${run + 1}.`);
    set({ exporting: run, exportError: null });
    const id = ++nextId;
    try {
      const files = await new Promise<ExportedFile[]>((resolve, reject) => {
        exportWaiters.set(id, { resolve, reject });
        send({
          type: 'export', id, run,
          metadata: { run: spec.name, mask_policy: JSON.stringify(spec.policy), base_model: model.source, ...(s.hand ? { hand_overrides: JSON.stringify(s.hand) } : {}) },
        });
      });
      set({ exporting: null });
      return files;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      set({ exporting: null, exportError: `Could not export ${spec.name}: ${message}` });
      throw err;
    }
  },
}));

// ---- start-up: worker, saved runs, share links, autosave ----

let initialised = false;

/**
 * Start loading the model, restore saved runs and settings, apply a share link in the URL, and
 * install the discard guard. Call once after the playground store has hydrated.
 */
export async function initTraining(): Promise<void> {
  if (initialised) return;
  initialised = true;
  setDiscardGuard((proceed) => {
    if (!runsExist()) return true;
    useTrain.setState({ confirm: { message: DISCARD_MESSAGE, proceed } });
    return false;
  });
  startLoad(resolveModelUrl(), false);
  const saved = await loadTraining();
  if (saved) restore(saved);
  startAutosave();
  const share = shareInHash(location.hash);
  if (share) await applyShare(share);
}

function isPolicy(p: unknown): p is PolicySettings {
  const o = p as PolicySettings | null;
  return (
    !!o && (o.mode === 'full' || o.mode === 'response-only') && (o.assistantTurns === 'all' || o.assistantTurns === 'last') &&
    typeof o.trainEndOfTurn === 'boolean' && typeof o.promptLossWeight === 'number' && o.promptLossWeight >= 0 && o.promptLossWeight <= 1 &&
    !!o.roles && TOKEN_ROLES.every((r) => typeof o.roles[r] === 'boolean')
  );
}

function validRuns(v: unknown): RunSpec[] | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_RUNS) return null;
  const ok = v.every((r) => r && typeof r.id === 'string' && typeof r.name === 'string' && typeof r.color === 'string' && isPolicy(r.policy));
  return ok ? (v as RunSpec[]) : null;
}

function validOptimizer(v: unknown): OptimizerSettings | null {
  if (!v || typeof v !== 'object') return null;
  const o = { ...defaultOptimizer(EMBEDDED_PARAMS), ...(v as Partial<OptimizerSettings>) };
  return checkOptimizer(o).length === 0 && ['constant', 'cosine', 'linear'].includes(o.schedule) ? o : null;
}

function restore(saved: Record<string, unknown>): void {
  const patch: Partial<TrainState> = {};
  const optimizer = validOptimizer(saved.optimizer);
  if (optimizer) Object.assign(patch, { optimizer, optimizerFor: null });
  const runs = validRuns(saved.runs);
  if (runs) patch.runs = runs;
  const rec = saved.record as TrainingRecord | null | undefined;
  if (rec && validRuns(rec.runs) && Array.isArray(rec.curves) && rec.curves.length === rec.runs.length && rec.info) {
    curves = rec.curves;
    startedText = rec.text;
    Object.assign(patch, {
      record: rec, restored: true, phase: rec.reason === 'completed' ? 'done' : rec.reason === 'stopped' ? 'stopped' : 'error',
      info: rec.info, answers: rec.answers, warnings: rec.warnings ?? [], runs: rec.runs, optimizer: rec.optimizer, optimizerFor: null, hand: rec.hand ?? null,
    } satisfies Partial<TrainState>);
  }
  useTrain.setState(patch);
  if (patch.record) {
    useTrain.setState((s) => ({ curveVersion: s.curveVersion + 1, progress: progressNow(rec!.optimizer.steps) }));
  }
}

async function applyShare(encoded: string): Promise<void> {
  let shared: SharedState;
  try {
    shared = await decodeShare(encoded);
  } catch (err) {
    useTrain.setState({ share: { url: null, message: err instanceof Error ? err.message : String(err) } });
    return;
  }
  // Consumed: a reload shows the user's own edits, not the link again.
  history.replaceState(null, '', location.pathname + location.search);
  const apply = () => {
    const pg = usePlayground.getState();
    const tokenizerId: TokenizerId = (['default', 'llama3', 'qwen3'] as const).find((t) => t === shared.settings.tokenizerId) ?? 'default';
    usePlayground.setState({ text: shared.text, sampleIndex: Math.max(0, Math.trunc(shared.sampleIndex)), overrides: {} });
    pg.setTokenizer(tokenizerId);
    usePlayground.setState((st) => ({ settings: { ...st.settings, contextLengths: { ...st.settings.contextLengths, ...shared.settings.contextLengths } } }));
    if (isPolicy(shared.settings.policy)) pg.setPolicy(shared.settings.policy);
    else pg.setPolicy({});
    const runs = validRuns(shared.runs);
    const optimizer = validOptimizer(shared.optimizer);
    useTrain.setState({ ...(runs ? { runs } : {}), ...(optimizer ? { optimizer, optimizerFor: null } : {}), share: { url: null, message: 'Loaded the sample and settings from the link.' } });
  };
  guarded(apply);
}

function startAutosave(): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const keys = Object.keys(TRAIN_PERSISTED) as TrainPersistedKey[];
  const write = () => {
    timer = undefined;
    const s = useTrain.getState();
    void saveTraining(Object.fromEntries(keys.map((k) => [k, s[k]])) as Record<TrainPersistedKey, unknown>);
  };
  useTrain.subscribe((s, prev) => {
    if (keys.some((k) => s[k] !== prev[k])) {
      clearTimeout(timer);
      timer = setTimeout(write, TRAIN_WRITE_DEBOUNCE_MS);
    }
  });
  addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden' && timer !== undefined) {
      clearTimeout(timer);
      write();
    }
  });
}
