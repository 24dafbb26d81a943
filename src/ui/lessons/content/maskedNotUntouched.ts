// [masked-not-untouched] a -100 token gets no gradient at its logits (heatmap: dlogit), yet its
// input embedding does (dembed): the trained tokens after it attend to it.
import { setRuns, showHeatmap, showSample, trainRuns } from '../setup';
import { SHORT } from '../samples';
import type { Lesson, SetupContext } from '../types';

const CHIP = '[data-testid=token-list] .tok';
const LIST = '[data-testid=token-list]';

async function heat(ctx: SetupContext, metric: 'dlogit' | 'dembed'): Promise<void> {
  await showSample(ctx, { text: SHORT });
  setRuns(ctx, [{ name: 'Run A · response-only' }]);
  await trainRuns(ctx);
  await showHeatmap(ctx, 0, metric);
}

const num = (v: string | undefined) => (v === undefined || v === 'NaN' ? NaN : Number(v));

export const maskedNotUntouched: Lesson = {
  id: 'masked-not-untouched',
  steps: [
    {
      id: 'dlogit',
      setup: (ctx) => heat(ctx, 'dlogit'),
      target: LIST,
      question: { kind: 'click', within: CHIP, check: (el) => num(el.dataset.dlogit) === 0 },
    },
    {
      id: 'dembed',
      setup: (ctx) => heat(ctx, 'dembed'),
      target: LIST,
      question: { kind: 'click', within: CHIP, check: (el) => el.dataset.runLabel === '-100' && num(el.dataset.dembed) > 0 },
    },
    {
      id: 'why',
      setup: (ctx) => heat(ctx, 'dembed'),
      target: LIST,
      question: { kind: 'choice', choices: [{ id: 'logits', correct: false }, { id: 'attend', correct: true }, { id: 'decay', correct: false }] },
    },
    {
      id: 'none',
      setup: (ctx) => heat(ctx, 'dembed'),
      target: LIST,
      question: { kind: 'click', within: CHIP, check: (el) => num(el.dataset.dembed) === 0 },
    },
    {
      id: 'recap',
      setup: (ctx) => heat(ctx, 'dembed'),
      target: '[data-testid=heatmap-controls]',
      question: { kind: 'choice', choices: [{ id: 'untouched', correct: false }, { id: 'touched', correct: true }] },
    },
  ],
};
