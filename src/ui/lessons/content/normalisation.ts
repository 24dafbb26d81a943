// [normalisation] per-token mean, per-sequence mean and sum on two samples of different lengths,
// and the October 2024 gradient-accumulation bug: averaging each micro-batch's mean over-weights
// the micro-batch with few tokens (transformers PR #34191, unsloth #1134); the fix divides the
// accumulated sum by the total count of trained tokens.
import { setRuns, showSample, trainRuns } from '../setup';
import { getCurves } from '../../../store';
import { SHORT_AND_LONG } from '../samples';
import type { Lesson, SetupContext } from '../types';
import type { State } from '../../../store';

/** Trained tokens of sample 1 and sample 2, read from the token view while setting up. */
const counts = { n1: 0, n2: 0 };

async function counted(ctx: SetupContext, sampleIndex: number): Promise<void> {
  await showSample(ctx, { text: SHORT_AND_LONG, sampleIndex: 0 });
  counts.n1 = ctx.get().labels?.trained ?? 0;
  await showSample(ctx, { text: SHORT_AND_LONG, sampleIndex: 1 });
  counts.n2 = ctx.get().labels?.trained ?? 0;
  if (sampleIndex !== 1) await showSample(ctx, { text: SHORT_AND_LONG, sampleIndex });
}

const r3 = (v: number) => Number(v.toFixed(3));

/** The numbers every step's text uses. Losses for the worked example: 4 per token of sample 1, 1 per token of sample 2. */
function numbers(_s: State) {
  const { n1, n2 } = counts;
  return {
    n1, n2, total: n1 + n2,
    ratio: r3(n2 / Math.max(1, n1)),
    tokenMean: r3((4 * n1 + 1 * n2) / Math.max(1, n1 + n2)),
    seqMean: r3((4 + 1) / 2),
    sum: 4 * n1 + n2,
  };
}

const MODE_RUNS = [
  { name: 'Run A · per-token mean' },
  { name: 'Run B · per-sequence mean', lossMode: 'mean_sequences' as const },
];
/** Steps of the two runs on one batch holding both samples. */
const MODE_STEPS = 4;

/** Both runs' objectives at step 1 (same weights, same batch), as the engine reported them. */
function firstObjectives(s: State) {
  const [a, b] = getCurves();
  const at1 = (c: (typeof a) | undefined) => {
    const i = c?.step.indexOf(1) ?? -1;
    const v = i >= 0 ? c!.objective[i] : null;
    return v === null || v === undefined ? '—' : v.toFixed(4);
  };
  return { ...numbers(s), steps: MODE_STEPS, a1: at1(a), b1: at1(b) };
}

export const normalisation: Lesson = {
  id: 'normalisation',
  steps: [
    {
      id: 'count',
      setup: (ctx) => counted(ctx, 0),
      target: '[data-testid=stats]',
      values: numbers,
      question: { kind: 'click', within: '[data-testid=stats] dd', check: (el) => el.dataset.testid === 'count-trained' },
    },
    {
      id: 'token-mean',
      setup: (ctx) => counted(ctx, 1),
      target: '[data-testid=stats]',
      values: numbers,
      question: { kind: 'choice', choices: [{ id: 'same', correct: true }, { id: 'more', correct: false }, { id: 'less', correct: false }] },
    },
    {
      id: 'seq-mean',
      setup: (ctx) => counted(ctx, 1),
      target: '[data-testid=stats]',
      values: numbers,
      question: { kind: 'choice', choices: [{ id: 'same', correct: false }, { id: 'ratio', correct: true }, { id: 'inverse', correct: false }] },
    },
    {
      id: 'accumulation',
      setup: (ctx) => counted(ctx, 1),
      target: '[data-testid=stats]',
      values: numbers,
      question: { kind: 'choice', choices: [{ id: 'tokens', correct: false }, { id: 'sequences', correct: true }] },
    },
    {
      id: 'modes',
      setup: async (ctx) => {
        await counted(ctx, 0);
        setRuns(ctx, MODE_RUNS);
      },
      target: '.run-cards',
      values: numbers,
      question: {
        kind: 'click',
        within: '[data-testid^=run-card-]',
        check: (el, s) => s.runs[Number(el.dataset.testid?.replace('run-card-', ''))]?.lossMode === 'mean_sequences',
      },
    },
    {
      id: 'engine',
      setup: async (ctx) => {
        await counted(ctx, 0);
        setRuns(ctx, MODE_RUNS);
        // Batch 2, nothing held out: every step holds both samples, so the two divisions differ
        // (with one sample per step they agree).
        await trainRuns(ctx, { steps: MODE_STEPS, batchSize: 2, heldOut: 0 });
      },
      target: '.loss-chart',
      values: firstObjectives,
      question: { kind: 'choice', choices: [{ id: 'data', correct: false }, { id: 'weights', correct: false }, { id: 'divide', correct: true }] },
    },
    {
      id: 'numbers',
      setup: (ctx) => counted(ctx, 1),
      target: '[data-testid=stats]',
      values: numbers,
      question: { kind: 'choice', choices: [{ id: 'seq', correct: false }, { id: 'tok', correct: true }, { id: 'sum', correct: false }] },
    },
    {
      id: 'sum',
      setup: (ctx) => counted(ctx, 1),
      target: '[data-testid=stats]',
      values: numbers,
      question: { kind: 'choice', choices: [{ id: 'nothing', correct: false }, { id: 'scales', correct: true }] },
    },
  ],
};
