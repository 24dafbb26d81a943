// [prompt-weight] the prompt-loss weight between 0 (response-only) and 1 (full sequence): prompt
// tokens train at weight w, the mean divides by the sum of the weights; Huerta-Enochian & Ko
// (2024, arXiv:2401.13586) found small non-zero weights (0.01–0.5) best with short completions.
import { chipData, setRuns, showSample, trainRuns, type RunWish } from '../setup';
import { SHORT } from '../samples';
import type { Lesson, SetupContext } from '../types';
import type { State } from '../../../store';

const W = 0.1;
const RUNS: RunWish[] = [
  { name: 'Run A · prompt weight 0' },
  { name: 'Run B · prompt weight 0.1', policy: { promptLossWeight: W } },
  { name: 'Run C · prompt weight 1', policy: { promptLossWeight: 1 } },
];

/** The divisor of the weighted mean: the weights of the positions the loss scores (1 to T-1). */
function weights(s: State) {
  const l = s.labels;
  let full = 0, part = 0, sum = 0;
  if (l) {
    for (let t = 1; t < l.labels.length; t++) {
      if (l.labels[t] === -100) continue;
      sum += l.weights[t];
      if (l.weights[t] >= 1) full++;
      else part++;
    }
  }
  return { full, part, divisor: Number(sum.toFixed(2)), count: full + part, w: W };
}

async function trained(ctx: SetupContext): Promise<void> {
  await showSample(ctx, { text: SHORT });
  setRuns(ctx, RUNS);
  await trainRuns(ctx);
}

/** The run table's row whose prompt-token loss lies between the others'. */
function middle(el: HTMLElement): boolean {
  const v = (r: HTMLElement) => Number(r.dataset.prompt);
  const all = [...document.querySelectorAll<HTMLElement>('[data-testid^=run-row-]')].map(v).sort((a, b) => a - b);
  return all.length === 3 && v(el) === all[1];
}

export const promptWeight: Lesson = {
  id: 'prompt-weight',
  steps: [
    {
      id: 'partial',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: { promptLossWeight: W } }),
      target: '[data-testid=token-list]',
      values: () => ({ w: W }),
      question: { kind: 'click', within: '[data-testid=token-list] .tok', check: (el) => chipData(el).label !== -100 && chipData(el).weight === W },
    },
    {
      id: 'ends',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: { promptLossWeight: W } }),
      target: '[data-testid=token-list]',
      question: { kind: 'choice', choices: [{ id: 'swapped', correct: false }, { id: 'right', correct: true }, { id: 'both', correct: false }] },
    },
    {
      id: 'divisor',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: { promptLossWeight: W } }),
      target: '[data-testid=stats]',
      values: weights,
      question: { kind: 'choice', choices: [{ id: 'count', correct: false }, { id: 'full', correct: false }, { id: 'divisor', correct: true }] },
    },
    {
      id: 'paper',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: { promptLossWeight: W } }),
      target: '[data-testid=prompt-weight]',
      question: { kind: 'choice', choices: [{ id: 'zero', correct: false }, { id: 'small', correct: true }, { id: 'one', correct: false }] },
    },
    {
      id: 'train',
      setup: trained,
      target: '[data-testid=run-table]',
      question: { kind: 'click', within: '[data-testid^=run-row-]', check: middle },
    },
  ],
};
