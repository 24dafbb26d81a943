/**
 * The lesson slice: which guided lesson runs (src/ui/lessons holds their steps), at which step,
 * whether its question is answered, and presenter mode. A lesson is named in the URL while it runs
 * (`?lesson=<id>`, `?present=1`), so a reload or a link opens it again from its first step.
 *
 * A lesson drives the page with the same actions a user has (setText, setPolicy, setRunPolicy,
 * train…). It takes over the sample, the settings and the runs: opening one asks before
 * discarding runs on screen, and closing it puts the learner's own sample, settings, runs and
 * optimizer back (the runs the lesson trained go). `keep` on close leaves the lesson's state to explore.
 */
import { FULL_TRAINING } from '../../spec/lora';
import type { OptimizerSettings } from '../../spec/optimizer';
import type { RunSpec, Settings } from '../types';
import type { Slice } from '../index';
import { msg } from '../../spec/message';

export interface LessonState {
  id: string;
  /** 0-based step. */
  step: number;
  /** The step's question was answered correctly (Next is enabled). */
  answered: boolean;
}

/** What the learner had before the lesson took over, put back on close. */
interface Before {
  text: string;
  sampleIndex: number;
  settings: Settings;
  runs: RunSpec[];
  optimizer: OptimizerSettings;
}

export interface LessonSlice {
  lesson: LessonState | null;
  /** Large type, one step per screen, for a projector (also `?present=1`). */
  presenter: boolean;
  /** Open lesson `id` at its first step (asks first when runs are on screen). */
  openLesson(id: string): void;
  /** `keep`: leave the lesson's sample, settings and runs on screen instead of restoring the learner's. */
  closeLesson(keep?: boolean): void;
  goToLessonStep(step: number): void;
  /** The current step's question was answered correctly. */
  answerLesson(): void;
  setPresenter(on: boolean): void;
}

const LESSON_PARAM = 'lesson';
const PRESENT_PARAM = 'present';

const DISCARD_FOR_LESSON = msg('lesson.discard');

let before: Before | null = null;

function writeUrl(lesson: string | null, presenter: boolean): void {
  if (typeof location === 'undefined') return;
  const url = new URL(location.href);
  if (lesson) url.searchParams.set(LESSON_PARAM, lesson);
  else url.searchParams.delete(LESSON_PARAM);
  if (presenter) url.searchParams.set(PRESENT_PARAM, '1');
  else url.searchParams.delete(PRESENT_PARAM);
  history.replaceState(history.state, '', url);
}

/** The lesson and presenter mode the URL names (null: none). */
export function lessonInUrl(): { id: string | null; presenter: boolean } {
  if (typeof location === 'undefined') return { id: null, presenter: false };
  const p = new URLSearchParams(location.search);
  return { id: p.get(LESSON_PARAM), presenter: p.get(PRESENT_PARAM) === '1' };
}

export const createLessonSlice: Slice<LessonSlice> = (set, get) => {
  /** The learner's runs back, by the runs slice's own actions (the lesson's runs are gone by now). */
  function restoreRuns(runs: RunSpec[]): void {
    const s = get();
    while (get().runs.length > runs.length) s.removeRun(get().runs.length - 1);
    while (get().runs.length < runs.length) s.addRun();
    runs.forEach((r, i) => {
      if (r.strategy) s.setRunStrategy(i, r.strategy);
      else {
        if (get().runs[i].strategy) s.setRunStrategy(i, null);
        s.setRunPolicy(i, r.policy);
      }
      s.setRunLossMode(i, r.lossMode ?? 'mean_tokens');
      s.setRunTraining(i, r.training ?? FULL_TRAINING);
      s.setRunName(i, r.name);
    });
  }

  function restore(b: Before): void {
    const s = get();
    if (s.runsExist()) s.discardRuns();
    s.setTokenizer(b.settings.tokenizerId);
    s.setPolicy(b.settings.policy);
    // The learner's lab rows: the lesson's own go, the learner's come back with their options.
    const want = b.settings.lab.choices;
    for (const c of want) if (!get().settings.lab.choices.some((x) => x.key === c.key)) s.addLabRow(c.id, c.options);
    for (const c of get().settings.lab.choices.slice()) if (!want.some((w) => w.key === c.key)) s.removeLabRow(c.key);
    s.setText(b.text);
    s.setSampleIndex(b.sampleIndex);
    restoreRuns(b.runs);
    s.setOptimizer(b.optimizer);
  }

  return {
    lesson: null,
    presenter: lessonInUrl().presenter,

    openLesson(id) {
      const start = () => {
        const s = get();
        if (!before) before = { text: s.text, sampleIndex: s.sampleIndex, settings: s.settings, runs: s.runs, optimizer: s.optimizer };
        if (s.runsExist()) s.discardRuns();
        set({ lesson: { id, step: 0, answered: false } });
        writeUrl(id, get().presenter);
      };
      if (get().lesson?.id === id) return;
      if (get().guard(start, DISCARD_FOR_LESSON)) start();
    },
    closeLesson(keep = false) {
      if (!get().lesson) return;
      set({ lesson: null });
      writeUrl(null, get().presenter);
      const b = before;
      before = null;
      if (b && !keep) restore(b);
    },
    goToLessonStep(step) {
      const l = get().lesson;
      if (!l || step === l.step || step < 0) return;
      set({ lesson: { ...l, step, answered: false } });
    },
    answerLesson() {
      const l = get().lesson;
      if (l && !l.answered) set({ lesson: { ...l, answered: true } });
    },
    setPresenter(on) {
      set({ presenter: on });
      writeUrl(get().lesson?.id ?? null, on);
    },
  };
};
