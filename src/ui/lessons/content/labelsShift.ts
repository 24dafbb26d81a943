// [labels-shift] labels = input_ids; inside the loss position t is scored against label t+1, so
// token 0 is never a target and the last position's logits are never scored.
import { chipData, firstTarget, showSample } from '../setup';
import { SHORT } from '../samples';
import type { Lesson } from '../types';

const CHIP = '[data-testid=token-list] .tok';
const LIST = '[data-testid=token-list]';
const full = { mode: 'full' as const };

export const labelsShift: Lesson = {
  id: 'labels-shift',
  steps: [
    {
      id: 'same',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: full }),
      target: LIST,
      question: { kind: 'choice', choices: [{ id: 'own', correct: true }, { id: 'next', correct: false }, { id: 'minus', correct: false }] },
    },
    {
      id: 'first',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: LIST,
      question: { kind: 'click', within: CHIP, check: (el, s) => chipData(el).index === firstTarget(s) },
    },
    {
      id: 'predictor',
      setup: (ctx) => showSample(ctx, { text: SHORT }),
      target: LIST,
      values: (s) => ({ first: firstTarget(s) }),
      question: { kind: 'click', within: CHIP, check: (el, s) => chipData(el).index === firstTarget(s) - 1 },
    },
    {
      id: 'zero',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: full }),
      target: LIST,
      question: { kind: 'choice', choices: [{ id: 'masked', correct: false }, { id: 'nothing', correct: true }, { id: 'special', correct: false }] },
    },
    {
      id: 'last',
      setup: (ctx) => showSample(ctx, { text: SHORT, policy: full }),
      target: LIST,
      values: (s) => ({ T: s.tokens?.ids.length ?? 0, targets: Math.max(0, (s.tokens?.ids.length ?? 1) - 1) }),
      question: { kind: 'click', within: CHIP, check: (el, s) => chipData(el).index === (s.tokens?.ids.length ?? 0) - 1 },
    },
  ],
};
