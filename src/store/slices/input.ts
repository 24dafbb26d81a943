/**
 * The input slice: the pasted text, the shown sample, the tokenizer and context length, and the
 * data worker's last good result for the token view. Every action that changes what the worker
 * computes calls `relabel()`; text edits are debounced, settings apply at once.
 *
 * Stale-view rule: when a new input fails (bad JSON, unknown role, tokenizer missing…), `tokens`
 * and `labels` keep the last good result and `stale` is set, so the user never loses the view
 * while fixing a typo.
 */
import { EXAMPLES } from '../../data/examples';
import { isSuperseded, WorkerError } from '../../worker/protocol';
import { messageOfError, msg, worded, type Message } from '../../spec/message';
import { contextLimit, type LabelColumns, type LabelFailure, type ModelTokenizer, type ParseInfo, type TokenColumns } from '../../worker/dataProtocol';
import type { TokenizerId } from '../../data/types';
import { dataWorker } from '../clients';
import { DEFAULT_SETTINGS } from '../defaults';
import { MAX_CONTEXT } from '../validate';
import type { Failure, Settings } from '../types';
import type { Slice } from '../index';

/** Typing pauses this long before the worker re-parses. */
export const INPUT_DEBOUNCE_MS = 200;

export interface InputSlice {
  // Persisted (PERSISTED in persist.ts).
  text: string;
  sampleIndex: number;
  settings: Settings;
  // Session only.
  hydrated: boolean;
  /** A request is waiting (debounce) or running in the worker. */
  busy: boolean;
  /** What the worker is doing, when it takes long (tokenizer download). */
  status: Message | null;
  /** Parse info of the latest input (null when it did not parse). */
  parse: ParseInfo | null;
  /** Last good result: tokens and labels always belong together (labels.key === tokens.key). */
  tokens: TokenColumns | null;
  labels: LabelColumns | null;
  /** The latest input failed; tokens/labels are from an earlier input. */
  stale: boolean;
  failure: Failure | null;
  lastRunMs: number | null;
  /** The loaded model's tokenizer behind tokenizerId 'default' (null: the embedded model's); set when a model loads. */
  modelTokenizer: ModelTokenizer | null;
  /** What could not be restored from the saved state or a share link (null: nothing to say). */
  notice: Message | null;

  setText(text: string): void;
  setSampleIndex(index: number): void;
  stepSample(delta: number): void;
  loadExample(id: string): void;
  setTokenizer(id: TokenizerId): void;
  /** null = back to the tokenizer's own limit. */
  setContextLength(n: number | null): void;
  /** Encode special-token text typed in messages as plain characters (Settings.splitSpecialTokens). */
  setSplitSpecialTokens(on: boolean): void;
  /** Render with the user's own Jinja template (null: the tokenizer's); typing waits INPUT_DEBOUNCE_MS. */
  setOwnTemplate(template: string | null, delayMs?: number): void;
  /** A model was loaded: 'default' now reads its tokenizer and the view switches to it. */
  setModelTokenizer(model: ModelTokenizer | null): void;
  dismissNotice(): void;
  /** Ask the data worker to label the shown sample again: after `delayMs` of quiet (typing) or at once. */
  relabel(delayMs?: number): void;
  /** A typing pause is pending: the shown tokens are about to be replaced. */
  editPending(): boolean;
  /** The token view shows `labels` in full (it renders big samples over several tasks). */
  viewShown(labels: LabelColumns): void;
}

let debounceTimer: ReturnType<typeof setTimeout> | undefined;
/** The label request whose answer counts (older ones are ignored). */
let latest = 0;
/** Last token columns received, even from a reply we otherwise ignored (the worker sends each
 *  tokenization once; later replies for the same tokenization carry only labels). */
let received: TokenColumns | null = null;
/** The applied labels the token view has not shown yet: `busy` stays set until it has (viewShown),
 *  so "not busy" still means the chips on screen are the latest answer's. */
let unshown: LabelColumns | null = null;

export const createInputSlice: Slice<InputSlice> = (set, get) => {
  function send(): void {
    debounceTimer = undefined;
    const s = get();
    const id = ++latest;
    dataWorker
      .request(
        'label',
        {
          text: s.text, sampleIndex: s.sampleIndex, tokenizerId: s.settings.tokenizerId, policy: { ...s.settings.policy, overrides: s.overrides },
          contextLength: s.settings.contextLengths[s.settings.tokenizerId], modelTokenizer: s.modelTokenizer,
          splitSpecialTokens: s.settings.splitSpecialTokens, ownTemplate: s.settings.ownTemplate, customTokenizer: s.settings.customTokenizer,
        },
        { onEvent: (e) => id === latest && set({ status: e.status }) },
      )
      .then(
        (r) => {
          if (r.tokens) received = r.tokens;
          if (id !== latest) return;
          const tokens = r.tokens ?? received;
          if (!tokens || tokens.key !== r.labels.key) {
            throw new Error(`labels for tokenization ${r.labels.key} arrived without its tokens`);
          }
          unshown = r.labels;
          set((st) => ({
            busy: true, status: null, parse: r.parse, tokens, labels: r.labels, stale: false, failure: null, lastRunMs: r.ms,
            // The worker clamps the sample index (e.g. a JSONL shrank); follow it.
            sampleIndex: r.parse.sampleIndex === st.sampleIndex ? st.sampleIndex : r.parse.sampleIndex,
          }));
          // The lab's rows describe what the view shows: same sample, tokenizer, context and policy.
          get().refreshLab();
        },
      )
      .catch((err: unknown) => {
        if (isSuperseded(err) || id !== latest) return;
        const f = err instanceof WorkerError ? (err.detail as LabelFailure | undefined) : undefined;
        const m = msg('store.dataWorkerFailed', { detail: messageOfError(err) });
        set((st) => ({
          busy: debounceTimer !== undefined,
          status: null,
          parse: f?.parse ?? null,
          stale: st.tokens !== null,
          labStale: st.lab !== null,
          // No stage: the worker itself failed on this input (or crashed); say what it said.
          failure: f
            ? { stage: f.stage, error: f.error, lineErrors: f.parse?.lineErrors ?? f.lineErrors ?? null, ...(f.templateAt ? { templateAt: f.templateAt } : {}) }
            : { stage: 'parse', error: worded(m), lineErrors: null },
        }));
      });
  }

  return {
    text: EXAMPLES[0]?.text ?? '',
    sampleIndex: 0,
    settings: DEFAULT_SETTINGS,
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
    notice: null,

    relabel(delayMs = 0) {
      if (!get().hydrated) return; // hydrate() runs the first request
      clearTimeout(debounceTimer);
      debounceTimer = undefined;
      unshown = null;
      set({ busy: true });
      if (delayMs > 0) debounceTimer = setTimeout(send, delayMs);
      else send();
    },
    editPending: () => debounceTimer !== undefined,
    viewShown(labels) {
      if (labels !== unshown) return;
      unshown = null;
      set({ busy: debounceTimer !== undefined });
    },
    setText(text) {
      if (text === get().text) return;
      if (!get().guard(() => get().setText(text))) return;
      set({ text, overrides: {} });
      get().relabel(INPUT_DEBOUNCE_MS);
    },
    setSampleIndex(index) {
      const n = get().parse?.sampleCount ?? 1;
      const clamped = Math.min(Math.max(0, Math.trunc(index)), Math.max(0, n - 1));
      if (clamped === get().sampleIndex) return;
      set({ sampleIndex: clamped, overrides: {} });
      get().relabel();
    },
    stepSample(delta) {
      get().setSampleIndex(get().sampleIndex + delta);
    },
    loadExample(id) {
      const ex = EXAMPLES.find((e) => e.id === id);
      if (!ex) return;
      if (!get().guard(() => get().loadExample(id))) return;
      set({ text: ex.text, sampleIndex: 0, overrides: {} });
      get().relabel();
    },
    setTokenizer(id) {
      if (id === get().settings.tokenizerId) return;
      set((s) => ({ settings: { ...s.settings, tokenizerId: id }, overrides: {} }));
      get().relabel();
    },
    setContextLength(n) {
      // The model's own tokenizer stops at the model's positions: training cannot see further.
      const limit = contextLimit(get().settings.tokenizerId, get().modelTokenizer) ?? MAX_CONTEXT;
      const v = n === null || !Number.isFinite(n) ? null : Math.min(limit, Math.max(1, Math.round(n)));
      if (!get().guard(() => get().setContextLength(n))) return;
      set((s) => ({
        settings: { ...s.settings, contextLengths: { ...s.settings.contextLengths, [s.settings.tokenizerId]: v } },
      }));
      get().relabel();
    },
    setOwnTemplate(template, delayMs = 0) {
      if (template === get().settings.ownTemplate) return;
      // It changes the tokens and every run's labels, like the text.
      if (!get().guard(() => get().setOwnTemplate(template, delayMs))) return;
      set((s) => ({ settings: { ...s.settings, ownTemplate: template }, overrides: {} }));
      get().relabel(delayMs);
    },
    setSplitSpecialTokens(on) {
      if (on === get().settings.splitSpecialTokens) return;
      // It changes the tokens (and so every run's labels): ask before discarding runs, like the text.
      if (!get().guard(() => get().setSplitSpecialTokens(on))) return;
      set((s) => ({ settings: { ...s.settings, splitSpecialTokens: on }, overrides: {} }));
      get().relabel();
    },
    setModelTokenizer(model) {
      const same = (a: ModelTokenizer | null, b: ModelTokenizer | null) => a?.source === b?.source && a?.contextLength === b?.contextLength;
      const s = get();
      if (same(model, s.modelTokenizer) && s.settings.tokenizerId === 'default') return;
      set({ modelTokenizer: model, settings: { ...s.settings, tokenizerId: 'default' }, overrides: {} });
      get().relabel();
    },
    dismissNotice() {
      set({ notice: null });
    },
  };
};
