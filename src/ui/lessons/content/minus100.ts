// [minus-100] what -100 does inside CrossEntropyLoss, in numbers: the term is skipped, the mean
// divides by the count of targets that are not -100, and with none PyTorch's mean is 0/0 = NaN.
import { lossArithmetic, NOTHING_TO_TRAIN } from '../../../spec/lossArithmetic';
import type { State } from '../../../store';
import { chipData, setRuns, showArithmetic, showSample, trainRuns } from '../setup';
import { NO_ANSWER, SHORT } from '../samples';
import type { Lesson, SetupContext } from '../types';

/** One response-only run, trained a few steps; the loss arithmetic panel at the base weights (step 0). */
async function arithmetic(ctx: SetupContext): Promise<void> {
  await showSample(ctx, { text: SHORT });
  setRuns(ctx, [{ name: 'Run A · response-only' }]);
  await trainRuns(ctx, { steps: 2 });
  await showArithmetic(ctx, 0, 0);
}

const ARITH = '[data-testid=loss-arith]';
const r4 = (v: number) => Number(v.toFixed(4));

/** The panel's numbers, and the mean a divisor of every token would give (the wrong one). */
function sums(s: State): Record<string, string | number> {
  const h = s.arith;
  if (!h) return {};
  const a = lossArithmetic({ ids: h.ids, labels: h.labels, weights: h.weights, loss: h.loss, mode: h.lossMode });
  const T = h.ids.length;
  return {
    sum: r4(a.sum), divisor: a.divisor, result: a.result === NOTHING_TO_TRAIN ? '—' : r4(a.result), T, overAll: r4(a.sum / T), terms: a.trainedTokens,
  };
}

const CHIP = '[data-testid=token-list] .tok';

export const minus100: Lesson = {
  id: 'minus-100',
  steps: [
    {
      id: 'find',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: '[data-testid=token-list]',
      question: { kind: 'click', within: CHIP, check: (el) => chipData(el).label === -100 },
    },
    {
      id: 'skipped',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: '[data-testid=token-list]',
      question: { kind: 'choice', choices: [{ id: 'zero', correct: false }, { id: 'skip', correct: true }, { id: 'id100', correct: false }] },
    },
    {
      id: 'divisor',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: '[data-testid=stats]',
      values: (s) => ({ tokens: s.tokens?.ids.length ?? 0, masked: s.labels?.masked ?? 0, trained: s.labels?.trained ?? 0, tokensMinus1: (s.tokens?.ids.length ?? 1) - 1 }),
      question: { kind: 'choice', choices: [{ id: 'all', correct: false }, { id: 'shifted', correct: false }, { id: 'trained', correct: true }] },
    },
    {
      id: 'rows',
      setup: arithmetic,
      target: '[data-testid=loss-arith-table]',
      question: { kind: 'click', within: '[data-testid=loss-arith-row]', check: (el) => el.dataset.term === 'skipped' && el.dataset.index !== '0' },
    },
    {
      id: 'sum',
      setup: arithmetic,
      target: ARITH,
      values: sums,
      question: {
        kind: 'click',
        within: '[data-testid=loss-arith-sum], [data-testid=loss-arith-divisor], [data-testid=loss-arith-result]',
        check: (el) => el.dataset.testid === 'loss-arith-divisor',
      },
    },
    {
      id: 'result',
      setup: arithmetic,
      target: ARITH,
      values: sums,
      question: { kind: 'choice', choices: [{ id: 'all', correct: false }, { id: 'kept', correct: true }, { id: 'sum', correct: false }] },
    },
    {
      id: 'none',
      setup: (ctx) => showSample(ctx, { text: NO_ANSWER }),
      target: '[data-testid=nothing-to-train]',
      question: { kind: 'choice', choices: [{ id: 'zero', correct: false }, { id: 'nan', correct: true }, { id: 'raises', correct: false }] },
    },
    {
      id: 'recap',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: '[data-testid=stats]',
      question: { kind: 'choice', choices: [{ id: 'zeroAll', correct: false }, { id: 'removed', correct: false }, { id: 'exact', correct: true }] },
    },
  ],
};
