/**
 * What a lesson is. A lesson is 4–8 steps; each step
 *   (a) sets up the page with the store's own actions (`setup`: a sample, a tokenizer, a mask, runs,
 *       a training, a heatmap, lab rows). A setup states its whole state, never "what the step
 *       before left", so Back and a reload land on the same page; it skips what is already so
 *       (a training already done is not trained again);
 *   (b) points at the view it explains (`target`, a CSS selector: outlined, the rest dimmed, scrolled
 *       into view, the text panel next to it);
 *   (c) asks one question: a click in the real view (`click`: the clicked element nearest `within`
 *       is checked; the page does not act on it) or, where no click target fits, a choice of buttons.
 * Every string lives in locales/<lang>/lessons.json under `<lesson id>.steps.<step id>`:
 * title, body, question, hint (after a wrong answer), right (after the right one), and `choices.<id>`.
 */
import type { State } from '../../store';
import type { Message } from '../../spec/message';

export interface SetupContext {
  get: () => State;
  /** Resolves once `pred` holds (checked on every store change); rejects when the step is left or after `timeoutMs`. */
  until(pred: (s: State) => boolean, what: Message, timeoutMs?: number): Promise<void>;
  /** Aborted when the learner leaves the step before its setup finished. */
  signal: AbortSignal;
}

/** Values interpolated into a step's strings ({{trained}}…), read from the page once it is set up. */
export type StepValues = (s: State) => Record<string, string | number>;

export interface ClickQuestion {
  kind: 'click';
  /** The clicks that count as an answer: the clicked element's closest match of this selector. */
  within: string;
  check(el: HTMLElement, s: State): boolean;
}

export interface ChoiceQuestion {
  kind: 'choice';
  /** Choice ids (strings under `choices.<id>`), in the order shown; `correct` may read the page. */
  choices: { id: string; correct: boolean | ((s: State) => boolean) }[];
}

export type Question = ClickQuestion | ChoiceQuestion;

export interface Step {
  id: string;
  setup(ctx: SetupContext): Promise<void>;
  /** The element the step explains (the first match). */
  target: string;
  question: Question;
  values?: StepValues;
}

export interface Lesson {
  id: string;
  steps: Step[];
}
