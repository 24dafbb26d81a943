// [minus-100] what -100 does inside CrossEntropyLoss, in numbers: the term is skipped, the mean
// divides by the count of targets that are not -100, and with none PyTorch's mean is 0/0 = NaN.
import { chipData, showSample } from '../setup';
import { NO_ANSWER, SHORT } from '../samples';
import type { Lesson } from '../types';

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
