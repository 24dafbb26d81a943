// The playground's one store: pasted text + settings (persisted, see persist.ts), the last good
// worker result, and the actions that change them. Every action that changes what the worker
// computes calls `schedule()`; text edits are debounced, settings apply at once.
//
// Stale-view rule: when a new input fails (bad JSON, unknown role, tokenizer missing…), `tokens`
// and `labels` keep the last good result and `stale` is set, so the user never loses the view
// while fixing a typo.
import { create } from 'zustand';
// Main-thread code imports the data module's light parts one by one: its index also exports the
// tokenizer loader, which would pull transformers.js (~0.6 MB) into the page bundle.
import { EXAMPLES } from '../data/examples';
import { DEFAULT_POLICY } from '../data/labels';
import type { InputError, MaskPolicy, TokenRole, TokenizerId } from '../data/types';
import { PERSISTED, WRITE_DEBOUNCE_MS, loadPersisted, savePersisted, type PersistedKey } from './persist';
import type { FailStage, LabelColumns, ModelTokenizer, ParseInfo, RunRequest, TokenColumns, WorkerReply } from '../worker/dataProtocol';

/** The mask policy minus the hand overrides (those live next to the tokens they index). */
export type PolicySettings = Omit<MaskPolicy, 'overrides'>;

export interface Settings {
  tokenizerId: TokenizerId;
  /** Context length per tokenizer; null = the tokenizer's own limit (protocol.resolveContextLength). */
  contextLengths: Record<TokenizerId, number | null>;
  policy: PolicySettings;
}

export const MAX_CONTEXT = 1_048_576;
/** Typing pauses this long before the worker re-parses. */
export const INPUT_DEBOUNCE_MS = 200;

export interface Failure {
  stage: FailStage;
  error: InputError;
}

export interface PlaygroundState {
  // Persisted (PERSISTED in persist.ts).
  text: string;
  sampleIndex: number;
  settings: Settings;
  // Session only.
  /** Hand overrides by token index of the current tokenization; cleared when it changes. */
  overrides: Record<number, 'train' | 'mask'>;
  hydrated: boolean;
  /** A request is waiting (debounce) or running in the worker. */
  busy: boolean;
  /** What the worker is doing, when it takes long (tokenizer download). */
  status: string | null;
  /** Parse info of the latest input (null when it did not parse). */
  parse: ParseInfo | null;
  /** Last good result: tokens and labels always belong together (labels.key === tokens.key). */
  tokens: TokenColumns | null;
  labels: LabelColumns | null;
  /** The latest input failed; tokens/labels are from an earlier input. */
  stale: boolean;
  failure: Failure | null;
  lastRunMs: number | null;
  /** The loaded model's tokenizer behind tokenizerId 'default' (null: the embedded model's); set by train.ts. */
  modelTokenizer: ModelTokenizer | null;

  setText(text: string): void;
  setSampleIndex(index: number): void;
  stepSample(delta: number): void;
  loadExample(id: string): void;
  setTokenizer(id: TokenizerId): void;
  /** null = back to the tokenizer's own limit. */
  setContextLength(n: number | null): void;
  setPolicy(patch: Partial<PolicySettings>): void;
  setRoleTrained(role: TokenRole, on: boolean): void;
  /** Flip one token between trained and masked; a second click removes the override. */
  toggleOverride(index: number): void;
  clearOverrides(): void;
  /** A model was loaded: 'default' now reads its tokenizer and the view switches to it. */
  setModelTokenizer(model: ModelTokenizer | null): void;
  /** Read the saved input, then run the first computation. Call once at startup. */
  hydrate(): Promise<void>;
}

const DEFAULT_SETTINGS: Settings = {
  tokenizerId: 'default',
  contextLengths: { default: null, llama3: null, qwen3: null },
  policy: {
    mode: DEFAULT_POLICY.mode,
    assistantTurns: DEFAULT_POLICY.assistantTurns,
    trainEndOfTurn: DEFAULT_POLICY.trainEndOfTurn,
    // "Full sequence" means every role trains until the user unticks one. (DEFAULT_POLICY.roles
    // has only assistant on, which would make full mode look identical to response-only.)
    roles: { system: true, user: true, assistant: true, template: true },
    promptLossWeight: DEFAULT_POLICY.promptLossWeight,
  },
};

// ---- worker plumbing (module scope: one worker per page) ----

let worker: Worker | null = null;
let seq = 0;
let debounceTimer: ReturnType<typeof setTimeout> | undefined;
/** Last token columns received, even from a reply we otherwise ignored (the worker sends each
 *  tokenization once; later replies for the same tokenization carry only labels). */
let received: TokenColumns | null = null;

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('../worker/data.worker.ts', import.meta.url), { type: 'module', name: 'data' });
    worker.onmessage = (ev: MessageEvent<WorkerReply>) => onReply(ev.data);
    worker.onerror = (ev) => {
      usePlayground.setState({
        busy: false,
        status: null,
        stale: usePlayground.getState().tokens !== null,
        failure: { stage: 'template', error: { message: `The data worker crashed: ${ev.message}. Reload the page.` } },
      });
    };
  }
  return worker;
}

function onReply(r: WorkerReply): void {
  if (r.kind === 'result' && r.tokens) received = r.tokens;
  if (r.seq !== seq) return; // a newer request is on its way
  if (r.kind === 'status') {
    usePlayground.setState({ status: r.message });
    return;
  }
  const waiting = debounceTimer !== undefined; // typing continued while the worker ran
  if (r.kind === 'error') {
    usePlayground.setState((s) => ({
      busy: waiting,
      status: null,
      parse: r.parse,
      stale: s.tokens !== null,
      failure: { stage: r.stage, error: r.error },
    }));
    return;
  }
  const tokens = r.tokens ?? received;
  if (!tokens || tokens.key !== r.labels.key) {
    // Cannot happen while `received` tracks every reply; say so rather than show mismatched labels.
    throw new Error(`labels for tokenization ${r.labels.key} arrived without its tokens`);
  }
  usePlayground.setState((s) => ({
    busy: waiting,
    status: null,
    parse: r.parse,
    tokens,
    labels: r.labels,
    stale: false,
    failure: null,
    lastRunMs: r.ms,
    // The worker clamps the sample index (e.g. a JSONL shrank); follow it.
    sampleIndex: r.parse.sampleIndex === s.sampleIndex ? s.sampleIndex : r.parse.sampleIndex,
  }));
}

function send(): void {
  debounceTimer = undefined;
  const s = usePlayground.getState();
  const req: RunRequest = {
    kind: 'run',
    seq: ++seq,
    text: s.text,
    sampleIndex: s.sampleIndex,
    tokenizerId: s.settings.tokenizerId,
    policy: { ...s.settings.policy, overrides: s.overrides },
    contextLength: s.settings.contextLengths[s.settings.tokenizerId],
    modelTokenizer: s.modelTokenizer,
  };
  getWorker().postMessage(req);
}

/** Ask the worker to recompute: after `delayMs` of quiet (typing) or right away (settings). */
function schedule(delayMs: number): void {
  if (!usePlayground.getState().hydrated) return; // hydrate() runs the first request
  clearTimeout(debounceTimer);
  debounceTimer = undefined;
  usePlayground.setState({ busy: true });
  if (delayMs > 0) debounceTimer = setTimeout(send, delayMs);
  else send();
}

// ---- discard guard (training runs) ----

/**
 * Asked before an action changes what training runs were trained on (the text, the context length,
 * the mask). Returns false to hold the action; the guard then asks the user and calls `proceed`
 * once the runs are discarded. Installed by train.ts; none = always proceed.
 */
export type DiscardGuard = (proceed: () => void) => boolean;
let discardGuard: DiscardGuard | null = null;
export function setDiscardGuard(g: DiscardGuard | null): void {
  discardGuard = g;
}
const allowed = (proceed: () => void): boolean => discardGuard?.(proceed) ?? true;

// ---- the store ----

export const usePlayground = create<PlaygroundState>()((set, get) => ({
  text: EXAMPLES[0]?.text ?? '',
  sampleIndex: 0,
  settings: DEFAULT_SETTINGS,
  overrides: {},
  hydrated: false,
  busy: true,
  status: null,
  parse: null,
  tokens: null,
  labels: null,
  stale: false,
  failure: null,
  lastRunMs: null,
  modelTokenizer: null,

  setText(text) {
    if (text === get().text) return;
    if (!allowed(() => get().setText(text))) return;
    set({ text, overrides: {} });
    schedule(INPUT_DEBOUNCE_MS);
  },
  setSampleIndex(index) {
    const n = get().parse?.sampleCount ?? 1;
    const clamped = Math.min(Math.max(0, Math.trunc(index)), Math.max(0, n - 1));
    if (clamped === get().sampleIndex) return;
    set({ sampleIndex: clamped, overrides: {} });
    schedule(0);
  },
  stepSample(delta) {
    get().setSampleIndex(get().sampleIndex + delta);
  },
  loadExample(id) {
    const ex = EXAMPLES.find((e) => e.id === id);
    if (!ex) return;
    if (!allowed(() => get().loadExample(id))) return;
    set({ text: ex.text, sampleIndex: 0, overrides: {} });
    schedule(0);
  },
  setTokenizer(id) {
    if (id === get().settings.tokenizerId) return;
    set((s) => ({ settings: { ...s.settings, tokenizerId: id }, overrides: {} }));
    schedule(0);
  },
  setContextLength(n) {
    const v = n === null || !Number.isFinite(n) ? null : Math.min(MAX_CONTEXT, Math.max(1, Math.round(n)));
    if (!allowed(() => get().setContextLength(n))) return;
    set((s) => ({
      settings: { ...s.settings, contextLengths: { ...s.settings.contextLengths, [s.settings.tokenizerId]: v } },
    }));
    schedule(0);
  },
  setPolicy(patch) {
    if (!allowed(() => get().setPolicy(patch))) return;
    set((s) => ({ settings: { ...s.settings, policy: { ...s.settings.policy, ...patch } } }));
    schedule(0);
  },
  setRoleTrained(role, on) {
    const roles = { ...get().settings.policy.roles, [role]: on };
    get().setPolicy({ roles });
  },
  toggleOverride(index) {
    const { overrides, labels, stale } = get();
    // Indices refer to the shown tokenization: not while it is stale or an edit is about to replace it.
    if (!labels || stale || debounceTimer !== undefined || index < 0 || index >= labels.labels.length) return;
    // Hand overrides reach every training run (train.ts): changing one changes what runs train on.
    if (!allowed(() => get().toggleOverride(index))) return;
    const next = { ...overrides };
    if (index in next) delete next[index];
    else next[index] = labels.weights[index] > 0 ? 'mask' : 'train';
    set({ overrides: next });
    schedule(0);
  },
  clearOverrides() {
    if (Object.keys(get().overrides).length === 0) return;
    if (!allowed(() => get().clearOverrides())) return;
    set({ overrides: {} });
    schedule(0);
  },
  setModelTokenizer(model) {
    const same = (a: ModelTokenizer | null, b: ModelTokenizer | null) => a?.source === b?.source && a?.contextLength === b?.contextLength;
    const s = get();
    if (same(model, s.modelTokenizer) && s.settings.tokenizerId === 'default') return;
    set({ modelTokenizer: model, settings: { ...s.settings, tokenizerId: 'default' }, overrides: {} });
    schedule(0);
  },
  async hydrate() {
    if (get().hydrated) return;
    const saved = await loadPersisted();
    if (saved) set(restore(saved, get()));
    set({ hydrated: true });
    startAutosave();
    schedule(0);
  },
}));

/** Merge a saved record over the defaults, field by field, ignoring anything malformed. */
function restore(saved: Record<string, unknown>, s: PlaygroundState): Partial<PlaygroundState> {
  const out: Partial<PlaygroundState> = {};
  if (typeof saved.text === 'string') out.text = saved.text;
  if (typeof saved.sampleIndex === 'number' && Number.isInteger(saved.sampleIndex) && saved.sampleIndex >= 0) {
    out.sampleIndex = saved.sampleIndex;
  }
  const st = saved.settings as Partial<Settings> | undefined;
  if (st && typeof st === 'object') {
    const d = s.settings;
    const tokenizerId = (['default', 'llama3', 'qwen3'] as const).find((id) => id === st.tokenizerId) ?? d.tokenizerId;
    const contextLengths = { ...d.contextLengths };
    for (const id of Object.keys(contextLengths) as TokenizerId[]) {
      const v = st.contextLengths?.[id];
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1) contextLengths[id] = v;
    }
    const p = (st.policy ?? {}) as Partial<PolicySettings>;
    const policy: PolicySettings = {
      mode: p.mode === 'full' || p.mode === 'response-only' ? p.mode : d.policy.mode,
      assistantTurns: p.assistantTurns === 'last' || p.assistantTurns === 'all' ? p.assistantTurns : d.policy.assistantTurns,
      trainEndOfTurn: typeof p.trainEndOfTurn === 'boolean' ? p.trainEndOfTurn : d.policy.trainEndOfTurn,
      roles: { ...d.policy.roles },
      promptLossWeight:
        typeof p.promptLossWeight === 'number' && p.promptLossWeight >= 0 && p.promptLossWeight <= 1
          ? p.promptLossWeight
          : d.policy.promptLossWeight,
    };
    for (const role of Object.keys(policy.roles) as TokenRole[]) {
      const v = p.roles?.[role];
      if (typeof v === 'boolean') policy.roles[role] = v;
    }
    out.settings = { tokenizerId, contextLengths, policy };
  }
  return out;
}

let autosaveStarted = false;
/** Write the PERSISTED fields to IndexedDB WRITE_DEBOUNCE_MS after they last changed. */
function startAutosave(): void {
  if (autosaveStarted) return;
  autosaveStarted = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const keys = Object.keys(PERSISTED) as PersistedKey[];
  const snapshot = () => {
    const s = usePlayground.getState();
    return Object.fromEntries(keys.map((k) => [k, s[k]])) as Record<PersistedKey, unknown>;
  };
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    void savePersisted(snapshot());
  };
  usePlayground.subscribe((s, prev) => {
    if (keys.some((k) => s[k] !== prev[k])) {
      clearTimeout(timer);
      timer = setTimeout(flush, WRITE_DEBOUNCE_MS);
    }
  });
  // Leaving the tab: write now rather than lose the last 300 ms of typing.
  addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden' && timer !== undefined) flush();
  });
}
