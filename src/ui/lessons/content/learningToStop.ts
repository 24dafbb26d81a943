// [learning-to-stop] a run that trains the end-of-turn token against one that does not: the stop
// meter (p(end-of-turn) where the answer ends) and the answers.
import { getCurves } from '../../../store';
import { answersReady, setRuns, showSample, trainRuns, type RunWish } from '../setup';
import { SHORT } from '../samples';
import type { Lesson, SetupContext } from '../types';

const RUNS: RunWish[] = [
  { name: 'Run A · trains end-of-turn' },
  { name: 'Run B · no end-of-turn', policy: { trainEndOfTurn: false } },
];

/** Run `run`'s last p(end-of-turn) at the end of sample 1's first assistant turn (NaN: none). */
export function lastStopP(run: number): number {
  const p = getCurves()[run]?.stopP;
  const v = p?.[p.length - 1]?.[0];
  return typeof v === 'number' ? v : NaN;
}

async function trained(ctx: SetupContext): Promise<void> {
  await showSample(ctx, { text: SHORT });
  setRuns(ctx, RUNS);
  await trainRuns(ctx);
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '—');

export const learningToStop: Lesson = {
  id: 'learning-to-stop',
  steps: [
    {
      id: 'eot',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: '[data-testid=token-list]',
      question: { kind: 'click', within: '[data-testid=token-list] .tok', check: (el) => el.classList.contains('eot') && el.dataset.label !== '-100' },
    },
    {
      id: 'runs',
      setup: async (ctx) => {
        await showSample(ctx, { text: SHORT });
        setRuns(ctx, RUNS);
      },
      target: '.run-cards',
      question: { kind: 'click', within: '[data-testid^=run-card-]', check: (el) => el.dataset.testid === 'run-card-1' },
    },
    {
      id: 'meter',
      setup: trained,
      target: '[data-testid=stop-meter]',
      values: () => ({ pA: fmt(lastStopP(0)), pB: fmt(lastStopP(1)) }),
      question: {
        kind: 'choice',
        choices: [
          { id: 'a', correct: () => lastStopP(0) > lastStopP(1) },
          { id: 'b', correct: () => lastStopP(1) > lastStopP(0) },
        ],
      },
    },
    {
      id: 'answers',
      setup: async (ctx) => {
        await trained(ctx);
        await answersReady(ctx);
      },
      target: '[data-testid=answers]',
      question: { kind: 'choice', choices: [{ id: 'same', correct: false }, { id: 'limit', correct: true }, { id: 'empty', correct: false }] },
    },
    {
      id: 'pad',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: '[data-testid=token-list]',
      question: { kind: 'choice', choices: [{ id: 'fine', correct: false }, { id: 'never', correct: true }, { id: 'twice', correct: false }] },
    },
  ],
};
