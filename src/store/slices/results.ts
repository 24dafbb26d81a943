/**
 * The results slice: what the trained runs say about the shown sample. The heatmap (per-token
 * loss, p(target), ||dlogits||, ||d embedding|| of one run at one step) and the answers (the base
 * model and every run continue the sample from its last assistant turn, streamed as they are
 * decoded). The prompt comes from the data worker (the page's one tokenizer), the tokens from the
 * training worker.
 */
import { ANSWER_TOKENS, GREEDY, MAX_ANSWER_TOKENS, type HeatmapData, type Sampling, type StartedInfo } from '../../worker/trainProtocol';
import { dataWorker, trainWorker } from '../clients';
import type { AnswersState, HeatMetric } from '../types';
import type { Slice } from '../index';
import { messageOfError, msg, type Message } from '../../spec/message';

export interface ResultsSlice {
  heatmap: HeatmapData | null;
  heatBusy: boolean;
  heatRun: number;
  heatAt: 'current' | number;
  heatMetric: HeatMetric;
  heatError: Message | null;
  /** The loss arithmetic panel: its own run and weights (the heatmap's choices), and its evaluation. */
  arithRun: number;
  arithAt: 'current' | number;
  arith: HeatmapData | null;
  /** The training `arith` was evaluated in (shown only while that training's `info` is the store's). */
  arithFor: StartedInfo | null;
  arithBusy: boolean;
  arithError: Message | null;
  answers: AnswersState | null;
  answersBusy: boolean;
  answersError: Message | null;
  /** The answers being decoded, by run (-1 = base), while answersBusy. */
  answersLive: Record<number, string> | null;
  /** Most tokens each answer may add. */
  answerTokens: number;
  /** Greedy by default; temperature > 0 samples with top-k / top-p from the seed. */
  sampling: Sampling;
  /** Why the last sampling edit was refused, for the field (null: all fine). */
  samplingError: Message | null;

  requestHeatmap(): void;
  setHeat(patch: Partial<Pick<ResultsSlice, 'heatRun' | 'heatAt' | 'heatMetric'>>): void;
  clearHeatmap(): void;
  /** Evaluate the shown sample for the loss arithmetic panel (run arithRun at arithAt). */
  requestArith(): void;
  /** Pick the panel's run or weights; a shown table follows the pick. */
  setArith(patch: Partial<Pick<ResultsSlice, 'arithRun' | 'arithAt'>>): void;
  requestAnswers(): void;
  setAnswerTokens(n: number): void;
  setSampling(patch: Partial<Sampling>): void;
}

/** The allowed range of each sampling field, for the check and the message. */
export const SAMPLING_RANGE: Record<keyof Sampling, { min: number; max: number; integer: boolean }> = {
  temperature: { min: 0, max: 5, integer: false },
  topK: { min: 0, max: 100_000, integer: true },
  topP: { min: 0.01, max: 1, integer: false },
  seed: { min: 0, max: 2 ** 31 - 1, integer: true },
};

/** Answer requests: the newest one's events and result count. */
let answersId = 0;

export const createResultsSlice: Slice<ResultsSlice> = (set, get) => ({
  heatmap: null,
  heatBusy: false,
  heatRun: 0,
  heatAt: 'current',
  heatMetric: 'dlogit',
  heatError: null,
  arithRun: 0,
  arithAt: 'current',
  arith: null,
  arithFor: null,
  arithBusy: false,
  arithError: null,
  answers: null,
  answersBusy: false,
  answersError: null,
  answersLive: null,
  answerTokens: ANSWER_TOKENS,
  sampling: GREEDY,
  samplingError: null,

  requestHeatmap() {
    const s = get();
    if (s.restored || s.phase === 'idle' || s.phase === 'starting') return;
    set({ heatBusy: true, heatError: null });
    trainWorker.request('evaluate', { run: s.heatRun, at: s.heatAt, sample: s.sampleIndex }).then(
      (data) => set({ heatmap: data, heatBusy: false, heatError: null }),
      (err: unknown) => set({ heatBusy: false, heatError: messageOfError(err) }),
    );
  },
  setHeat(patch) {
    set(patch);
    const s = get();
    if (s.heatmap && ('heatRun' in patch || 'heatAt' in patch)) s.requestHeatmap();
  },
  clearHeatmap() {
    set({ heatmap: null, heatError: null });
  },
  requestArith() {
    const s = get();
    if (s.restored || s.phase === 'idle' || s.phase === 'starting') return;
    const info = s.info;
    set({ arithBusy: true, arithError: null });
    trainWorker.request('evaluate', { run: s.arithRun, at: s.arithAt, sample: s.sampleIndex }).then(
      (data) => set({ arith: data, arithFor: info, arithBusy: false, arithError: null }),
      (err: unknown) => set({ arithBusy: false, arithError: messageOfError(err) }),
    );
  },
  setArith(patch) {
    set(patch);
    const s = get();
    if (s.arith && s.arithFor === s.info) s.requestArith();
  },
  requestAnswers() {
    const s = get();
    if (s.restored || s.phase === 'idle' || s.phase === 'starting' || s.answersBusy) return;
    const mine = ++answersId;
    const sample = s.sampleIndex;
    const sampling = s.sampling;
    set({ answersBusy: true, answersError: null, answersLive: {} });
    const fail = (err: unknown) => mine === answersId && set({ answersBusy: false, answersLive: null, answersError: messageOfError(err) });
    // The prompt is encoded as the training data was (typed special-token text included).
    const splitSpecialTokens = s.preparedWith?.splitSpecialTokens ?? false;
    dataWorker.request('prompt', { text: s.startedText, sample, modelTokenizer: s.modelTokenizer, splitSpecialTokens, ownTemplate: s.preparedWith?.ownTemplate ?? null }).then((prompt) => {
      if (mine !== answersId) return;
      return trainWorker
        .request('generate', { prompt: prompt.ids, maxNewTokens: s.answerTokens, sampling }, {
          onEvent: (e) => mine === answersId && set((st) => ({ answersLive: { ...st.answersLive, [e.run]: e.text } })),
        })
        .then((answers) => {
          if (mine !== answersId) return;
          const st = get();
          const state: AnswersState = { sample, step: st.progress?.step ?? 0, prompt: prompt.text, reference: prompt.reference, answers, sampling };
          set({ answers: state, answersBusy: false, answersLive: null, answersError: null, record: st.record ? { ...st.record, answers: state } : st.record });
        });
    }).catch(fail);
  },
  setAnswerTokens(n) {
    if (Number.isInteger(n) && n >= 1 && n <= MAX_ANSWER_TOKENS) set({ answerTokens: n });
  },
  setSampling(patch) {
    for (const [k, v] of Object.entries(patch) as [keyof Sampling, number][]) {
      const r = SAMPLING_RANGE[k];
      if (!(Number.isFinite(v) && v >= r.min && v <= r.max && (!r.integer || Number.isInteger(v)))) {
        set({ samplingError: msg(r.integer ? 'sampling.whole' : 'sampling.number', { key: k, name: msg(`sampling.name.${k}`), min: r.min, max: r.max, got: String(v) }) });
        return;
      }
    }
    set((s) => ({ sampling: { ...s.sampling, ...patch }, samplingError: null }));
  },
});
