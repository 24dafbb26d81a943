/**
 * The masking lab slice: which strategies the lab compares (settings.lab, persisted), and their rows
 * for the shown sample (computed by the data worker, src/data/strategies). The rows follow the token
 * view: every label reply that lands refreshes them, so they always describe the sample, tokenizer,
 * context length and mask policy the view shows. A failed refresh keeps the last rows, marked stale.
 */
import { isSuperseded } from '../../worker/protocol';
import type { LabReply } from '../../worker/dataProtocol';
import { MAX_LAB_ROWS } from '../../data/strategies/ids';
import type { StrategyId, StrategyOptions } from '../../data/strategies/types';
import { dataWorker } from '../clients';
import type { LabChoiceSpec, LabSettings } from '../types';
import type { Slice } from '../index';

/** Typing in a marker field pauses this long before the rows are recomputed. */
export const LAB_DEBOUNCE_MS = 250;

export interface LabSlice {
  lab: LabReply | null;
  /** Rows are being computed (or a typing pause is pending). */
  labBusy: boolean;
  /** Why the last refresh failed; `lab` keeps the rows before it. */
  labError: string | null;
  /** The shown rows are from an earlier input or choice. */
  labStale: boolean;
  addLabRow(id: StrategyId, options?: StrategyOptions): void;
  removeLabRow(key: string): void;
  /** Undo for the last removed row (its place and options). */
  restoreLabRow(): void;
  lastRemovedLabRow: { choice: LabChoiceSpec; at: number } | null;
  /** Row `key` becomes the first one, the one the others are compared with. */
  makeLabBase(key: string): void;
  setLabOption(key: string, option: string, value: StrategyOptions[string] | undefined, delayMs?: number): void;
  setLabDiffOnly(on: boolean): void;
  refreshLab(delayMs?: number): void;
}

let timer: ReturnType<typeof setTimeout> | undefined;
let latest = 0;
let keys = 0;
const newKey = () => `r${Date.now().toString(36)}${keys++}`;

export const createLabSlice: Slice<LabSlice> = (set, get) => {
  const setLab = (patch: Partial<LabSettings>, delayMs = 0) => {
    set((s) => ({ settings: { ...s.settings, lab: { ...s.settings.lab, ...patch } } }));
    get().refreshLab(delayMs);
  };

  function send(): void {
    timer = undefined;
    const s = get();
    if (!s.parse || s.failure) {
      // Nothing to compute on: the token view shows why (and the lab keeps its last rows, stale).
      set({ labBusy: false, labStale: s.lab !== null });
      return;
    }
    const id = ++latest;
    dataWorker
      .request('lab', {
        text: s.text, sampleIndex: s.sampleIndex, tokenizerId: s.settings.tokenizerId, modelTokenizer: s.modelTokenizer,
        contextLength: s.settings.contextLengths[s.settings.tokenizerId], policy: { ...s.settings.policy, overrides: s.overrides },
        splitSpecialTokens: s.settings.splitSpecialTokens, ownTemplate: s.settings.ownTemplate, customTokenizer: s.settings.customTokenizer, choices: s.settings.lab.choices.map(({ id: sid, options }) => ({ id: sid, options })),
      })
      .then(
        (lab) => id === latest && set({ lab, labBusy: timer !== undefined, labError: null, labStale: false }),
        (err: unknown) => {
          if (isSuperseded(err) || id !== latest) return;
          set({ labBusy: timer !== undefined, labError: `The masking lab could not label this sample: ${err instanceof Error ? err.message : String(err)}`, labStale: get().lab !== null });
        },
      );
  }

  return {
    lab: null,
    labBusy: false,
    labError: null,
    labStale: false,
    lastRemovedLabRow: null,

    refreshLab(delayMs = 0) {
      clearTimeout(timer);
      timer = undefined;
      set({ labBusy: true });
      if (delayMs > 0) timer = setTimeout(send, delayMs);
      else send();
    },
    addLabRow(id, options = {}) {
      const { choices } = get().settings.lab;
      if (choices.length >= MAX_LAB_ROWS) return;
      setLab({ choices: [...choices, { key: newKey(), id, options }] });
    },
    removeLabRow(key) {
      const { choices } = get().settings.lab;
      const at = choices.findIndex((c) => c.key === key);
      if (at < 0 || choices.length <= 1) return;
      set({ lastRemovedLabRow: { choice: choices[at], at } });
      setLab({ choices: choices.filter((c) => c.key !== key) });
    },
    restoreLabRow() {
      const r = get().lastRemovedLabRow;
      const { choices } = get().settings.lab;
      if (!r || choices.length >= MAX_LAB_ROWS) return;
      const next = choices.slice();
      next.splice(Math.min(r.at, next.length), 0, choices.some((c) => c.key === r.choice.key) ? { ...r.choice, key: newKey() } : r.choice);
      set({ lastRemovedLabRow: null });
      setLab({ choices: next });
    },
    makeLabBase(key) {
      const { choices } = get().settings.lab;
      const c = choices.find((x) => x.key === key);
      if (!c || choices[0] === c) return;
      setLab({ choices: [c, ...choices.filter((x) => x !== c)] });
    },
    setLabOption(key, option, value, delayMs = 0) {
      const choices = get().settings.lab.choices.map((c) => {
        if (c.key !== key) return c;
        const options = { ...c.options };
        if (value === undefined) delete options[option];
        else options[option] = value;
        return { ...c, options };
      });
      setLab({ choices }, delayMs);
    },
    setLabDiffOnly(on) {
      set((s) => ({ settings: { ...s.settings, lab: { ...s.settings.lab, diffOnly: on } } }));
    },
  };
};
