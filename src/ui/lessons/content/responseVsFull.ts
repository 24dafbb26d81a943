// [response-vs-full] train response-only and full-sequence on the same sample and read the curves
// on the same rulers: the objectives average over different tokens; the response-token and
// prompt-token losses are measured alike for every run. Then the same two runs on a dataset (40
// capital-city chats, 20% held out): the held-out response loss, generalisation rather than memory.
import { setRuns, showSample, trainRuns, type RunWish } from '../setup';
import { SHORT } from '../samples';
import { EXAMPLES } from '../../../data/examples';
import type { SetupContext, Lesson } from '../types';

export const RESPONSE_VS_FULL_RUNS: RunWish[] = [
  { name: 'Run A · response-only' },
  { name: 'Run B · full-sequence', policy: { mode: 'full' } },
];

async function trained(ctx: SetupContext): Promise<void> {
  await showSample(ctx, { text: SHORT });
  setRuns(ctx, RESPONSE_VS_FULL_RUNS);
  await trainRuns(ctx);
}

const CAPITALS = EXAMPLES.find((e) => e.id === 'capitals-dataset')!.text;
/** Steps on the dataset: one chat each, so 16 of its 32 training chats are seen once. */
const DATASET_STEPS = 16;

async function trainedOnDataset(ctx: SetupContext): Promise<void> {
  await showSample(ctx, { text: CAPITALS });
  setRuns(ctx, RESPONSE_VS_FULL_RUNS);
  await trainRuns(ctx, { steps: DATASET_STEPS });
}

/** The run table's row whose `column` (data-prompt, data-response, data-held) is the smallest. */
export function lowest(el: HTMLElement, column: 'prompt' | 'response' | 'held'): boolean {
  const rows = [...document.querySelectorAll<HTMLElement>('[data-testid^=run-row-]')];
  const v = (r: HTMLElement) => Number(r.dataset[column]);
  const min = Math.min(...rows.map(v).filter(Number.isFinite));
  return v(el) === min;
}

export const responseVsFull: Lesson = {
  id: 'response-vs-full',
  steps: [
    {
      id: 'runs',
      setup: async (ctx) => {
        await showSample(ctx, { text: SHORT });
        setRuns(ctx, RESPONSE_VS_FULL_RUNS);
      },
      target: '.run-cards',
      question: { kind: 'click', within: '[data-testid^=run-card-]', check: (el) => el.dataset.testid === 'run-card-1' },
    },
    {
      id: 'curves',
      setup: trained,
      target: '.loss-chart',
      values: (s) => ({ steps: s.optimizer.steps }),
      question: { kind: 'choice', choices: [{ id: 'yes', correct: false }, { id: 'no', correct: true }] },
    },
    {
      id: 'prompt',
      setup: trained,
      target: '[data-testid=run-table]',
      question: { kind: 'click', within: '[data-testid^=run-row-]', check: (el) => lowest(el, 'prompt') },
    },
    {
      id: 'response',
      setup: trained,
      target: '[data-testid=run-table]',
      question: { kind: 'click', within: '[data-testid^=run-row-]', check: (el) => lowest(el, 'response') },
    },
    {
      id: 'read',
      setup: trained,
      target: '.loss-chart',
      question: { kind: 'choice', choices: [{ id: 'broken', correct: false }, { id: 'fine', correct: true }, { id: 'better', correct: false }] },
    },
    {
      id: 'heldout',
      setup: trainedOnDataset,
      target: '[data-testid=run-table]',
      values: (s) => ({ steps: DATASET_STEPS, samples: s.parse?.sampleCount ?? 40 }),
      question: { kind: 'click', within: '[data-testid^=run-row-]', check: (el) => lowest(el, 'held') },
    },
  ],
};
