// [template-traps] with the Qwen3 tokenizer: the empty <think></think> block its template writes
// before the last answer (a marker strategy trains it: NeMo Automodel #3739, TRL #6363), and a
// marker that tokenizes differently in context ("</think>\n" alone is two tokens; in the text
// "\n\n" is one, so the id search never finds it: TRL #1183, unsloth #1262).
import { labRowKey, showSample, type SampleSpec } from '../setup';
import { QWEN_TURN } from '../samples';
import type { Lesson, SetupContext } from '../types';
import type { State } from '../../../store';
import { msg } from '../../../spec/message';

const UNSLOTH = 'unsloth-responses-only' as const;
export const AFTER_THINK = '</think>\n';

const spec = (responsePart?: string): SampleSpec => ({
  text: QWEN_TURN,
  tokenizer: 'qwen3',
  lab: [{ id: UNSLOTH, options: { instruction_part: '<|im_start|>user\n', response_part: responsePart ?? '<|im_start|>assistant\n', last_response_only: false } }],
});

/** Token indices [from, to] of the empty think block (<think> … </think> and the newlines after it), or null. */
export function thinkBlock(s: State): [number, number] | null {
  const t = s.tokens;
  if (!t) return null;
  const text = (i: number) => t.rendered.slice(t.starts[i], t.ends[i]);
  let open = -1;
  for (let i = 0; i < t.ids.length; i++) {
    if (text(i) === '<think>') open = i;
    else if (text(i) === '</think>' && open >= 0) return [open, i + 1 < t.ids.length && text(i + 1).trim() === '' ? i + 1 : i];
  }
  return null;
}

const inThink = (i: number, s: State) => {
  const b = thinkBlock(s);
  return b !== null && i >= b[0] && i <= b[1];
};

async function lab(ctx: SetupContext, responsePart?: string): Promise<void> {
  await showSample(ctx, spec(responsePart));
  await ctx.until((s) => !s.labBusy && s.lab !== null && labRowKey(s, UNSLOTH) !== undefined, msg('lesson.waitFor.lab'));
}

export const templateTraps: Lesson = {
  id: 'template-traps',
  steps: [
    {
      id: 'think',
      setup: (ctx) => showSample(ctx, { text: QWEN_TURN, tokenizer: 'qwen3' }),
      target: '[data-testid=token-list]',
      question: { kind: 'click', within: '[data-testid=token-list] .tok', check: (el, s) => inThink(Number(el.dataset.index), s) },
    },
    {
      id: 'unsloth',
      setup: (ctx) => lab(ctx),
      target: '[data-testid=lab-grid]',
      question: {
        kind: 'click',
        within: '.lab-cell',
        check: (el, s) => el.dataset.row === '1' && el.dataset.label !== '-100' && inThink(Number(el.dataset.tokenIndex), s),
      },
    },
    {
      id: 'why',
      setup: (ctx) => lab(ctx),
      target: '[data-testid=lab-row-1]',
      question: { kind: 'choice', choices: [{ id: 'reasoning', correct: false }, { id: 'marker', correct: true }, { id: 'eot', correct: false }] },
    },
    {
      id: 'marker',
      setup: (ctx) => lab(ctx, AFTER_THINK),
      target: '[data-testid=lab-row-1]',
      question: { kind: 'choice', choices: [{ id: 'three', correct: false }, { id: 'all', correct: false }, { id: 'none', correct: true }] },
    },
    {
      id: 'context',
      setup: (ctx) => lab(ctx, AFTER_THINK),
      target: '[data-testid=lab-row-1]',
      question: { kind: 'choice', choices: [{ id: 'merge', correct: true }, { id: 'special', correct: false }, { id: 'case', correct: false }] },
    },
    {
      id: 'check',
      setup: (ctx) => lab(ctx, AFTER_THINK),
      target: '[data-testid=masking-lab]',
      question: { kind: 'choice', choices: [{ id: 'chars', correct: false }, { id: 'ids', correct: true }, { id: 'nothing', correct: false }] },
    },
  ],
};
