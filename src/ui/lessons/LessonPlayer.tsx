// The lesson on screen: a ring around the view the step explains (the rest of the page dimmed, it
// stays usable), and the text panel next to it with the step's question. The panel is a non-modal
// dialog: its heading takes the focus at every step, its text is a live region, and the keyboard
// drives it (→ or Enter: next once answered, ←: back, Esc: close). A click question is answered by
// clicking in the real view: the click is checked, and the page does not act on it.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { CodedError, messageOfError, msg, type Message } from '../../spec/message';
import { useMessage } from '../i18n/useMessage';
import { useStore, type State } from '../../store';
import { lessonInUrl } from '../../store/slices/lesson';
import { lessonById } from './catalog';
import type { SetupContext, Step } from './types';
import './lessons.css';

type Phase = 'preparing' | 'ready' | 'error';
const GAP = 12;
const MARGIN = 8;

const reducedMotion = () => typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

function contextFor(signal: AbortSignal): SetupContext {
  const get = useStore.getState;
  return {
    get,
    signal,
    until(pred: (s: State) => boolean, what: Message, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(new DOMException('left the step', 'AbortError'));
        if (pred(get())) return resolve();
        const done = () => {
          unsubscribe();
          clearTimeout(timer);
          clearInterval(poll);
          signal.removeEventListener('abort', onAbort);
        };
        const check = () => {
          if (!pred(get())) return;
          done();
          resolve();
        };
        const onAbort = () => {
          done();
          reject(new DOMException('left the step', 'AbortError'));
        };
        const unsubscribe = useStore.subscribe(check);
        // Some conditions (a typing pause ending) change no store field at the moment they become true.
        const poll = setInterval(check, 100);
        const timer = setTimeout(() => {
          done();
          reject(new CodedError(msg('lesson.waited', { s: Math.round(timeoutMs / 1000), what })));
        }, timeoutMs);
        signal.addEventListener('abort', onAbort);
      });
    },
  };
}

/** Places the ring on the target and the panel next to it, every frame while the step is shown. */
function useRing(target: string | null, presenter: boolean, ring: React.RefObject<HTMLDivElement | null>, panel: React.RefObject<HTMLElement | null>) {
  useEffect(() => {
    if (!target) return;
    let raf = 0;
    let last = '';
    const frame = () => {
      raf = requestAnimationFrame(frame);
      const el = document.querySelector(target);
      const r = el?.getBoundingClientRect();
      const p = panel.current;
      const g = ring.current;
      const key = r ? `${r.top}|${r.left}|${r.width}|${r.height}|${innerWidth}|${innerHeight}|${p?.offsetHeight}` : 'none';
      if (key === last) return;
      last = key;
      if (g) {
        g.hidden = !r;
        if (r) {
          const [t, l, w, h] = [r.top - 4, r.left - 4, r.width + 8, r.height + 8];
          Object.assign(g.style, { top: `${t}px`, left: `${l}px`, width: `${w}px`, height: `${h}px` });
          // The dimmed page: four panes around the ring (its own box stays clear).
          const [above, below, before, after] = Array.from(g.parentElement?.querySelectorAll<HTMLElement>('.lesson-dim') ?? []);
          const pane = (el: HTMLElement | undefined, x: number, y: number, pw: number, phh: number) =>
            el && Object.assign(el.style, { left: `${x}px`, top: `${y}px`, width: `${Math.max(0, pw)}px`, height: `${Math.max(0, phh)}px` });
          pane(above, 0, 0, innerWidth, t);
          pane(below, 0, t + h, innerWidth, innerHeight - t - h);
          pane(before, 0, t, l, h);
          pane(after, l + w, t, innerWidth - l - w, h);
        }
      }
      if (!p || presenter) return;
      const pw = p.offsetWidth, ph = p.offsetHeight, vw = innerWidth, vh = innerHeight;
      const clampX = (x: number) => Math.min(Math.max(MARGIN, x), vw - pw - MARGIN);
      const clampY = (y: number) => Math.min(Math.max(MARGIN, y), vh - ph - MARGIN);
      let top = vh - ph - GAP, left = vw - pw - GAP; // docked bottom right when nothing fits
      if (r) {
        if (vh - r.bottom >= ph + GAP + MARGIN) [top, left] = [r.bottom + GAP, clampX(r.left)];
        else if (r.top >= ph + GAP + MARGIN) [top, left] = [r.top - ph - GAP, clampX(r.left)];
        else if (vw - r.right >= pw + GAP + MARGIN) [top, left] = [clampY(r.top), r.right + GAP];
        else if (r.left >= pw + GAP + MARGIN) [top, left] = [clampY(r.top), r.left - pw - GAP];
      }
      p.style.top = `${top}px`;
      p.style.left = `${left}px`;
    };
    raf = requestAnimationFrame(frame);
    return () => cancelAnimationFrame(raf);
  }, [target, presenter, ring, panel]);
}

/** Scroll the target near the top of the viewport, leaving room for the panel under it. */
function scrollToTarget(selector: string): void {
  const el = document.querySelector(selector);
  if (!el) return;
  const r = el.getBoundingClientRect();
  const top = Math.max(0, scrollY + r.top - 72);
  scrollTo({ top, behavior: reducedMotion() ? 'auto' : 'smooth' });
}

/** Markup the strings may use: <code>…</code>, and template text written as self-closing tags, since
 *  a literal "<think>" in a string would be read as a tag. "\n" is shown as ↵, as on the chips. */
const lit = (text: string) => <code>{text}</code>;
const RICH = {
  code: <code />, b: <b />, i: <i />,
  scaffold: lit('<think>↵↵</think>↵↵'), respMarker: lit('"<|im_start|>assistant↵"'), thinkMarker: lit('"</think>↵"'),
  think: lit('<think>'), thinkEnd: lit('</think>'), imEnd: lit('<|im_end|>'), nl: lit('↵'), nl2: lit('↵↵'),
};

const isTyping = (el: Element | null) =>
  el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement || (el instanceof HTMLElement && el.isContentEditable);

export function LessonPlayer() {
  const lesson = useStore((s) => s.lesson);
  const hydrated = useStore((s) => s.hydrated);
  const presenter = useStore((s) => s.presenter);
  const def = lesson ? lessonById(lesson.id) : undefined;
  const step: Step | undefined = def && lesson ? def.steps[lesson.step] : undefined;

  // `?lesson=<id>` opens it once the saved state is read.
  useEffect(() => {
    if (!hydrated) return;
    const { id } = lessonInUrl();
    if (id && lessonById(id)) useStore.getState().openLesson(id);
  }, [hydrated]);

  useEffect(() => {
    document.documentElement.classList.toggle('lesson-presenting', presenter && lesson !== null);
  }, [presenter, lesson]);

  if (!lesson || !def || !step) return null;
  return <LessonStep key={`${lesson.id}/${lesson.step}`} lessonId={lesson.id} index={lesson.step} count={def.steps.length} step={step} answered={lesson.answered} presenter={presenter} />;
}

function LessonStep({ lessonId, index, count, step, answered, presenter }: { lessonId: string; index: number; count: number; step: Step; answered: boolean; presenter: boolean }) {
  const { t } = useTranslation('lessons');
  const [phase, setPhase] = useState<Phase>('preparing');
  const say = useMessage();
  const [failure, setError] = useState<Message | null>(null);
  const error = failure === null ? null : say(failure);
  const [feedback, setFeedback] = useState<'wrong' | 'right' | null>(answered ? 'right' : null);
  const [values, setValues] = useState<Record<string, string | number>>({});
  const [attempt, setAttempt] = useState(0);
  /** The choice clicked last (marked right or wrong). */
  const [chosen, setChosen] = useState<string | null>(null);
  const ring = useRef<HTMLDivElement>(null);
  const panel = useRef<HTMLElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const next = useRef<HTMLButtonElement>(null);
  const { goToLessonStep, closeLesson, answerLesson, setPresenter } = useStore.getState();
  const last = index === count - 1;
  const k = `${lessonId}.steps.${step.id}`;

  // (a) set the page up, then (b) point at the view.
  useEffect(() => {
    const ac = new AbortController();
    setPhase('preparing');
    setError(null);
    step.setup(contextFor(ac.signal)).then(
      () => {
        if (ac.signal.aborted) return;
        setValues(step.values?.(useStore.getState()) ?? {});
        setPhase('ready');
        requestAnimationFrame(() => scrollToTarget(step.target));
      },
      (err: unknown) => {
        if (ac.signal.aborted) return;
        setError(messageOfError(err));
        setPhase('error');
      },
    );
    return () => ac.abort();
  }, [step, attempt]);

  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
  }, []);

  useRing(phase === 'ready' ? step.target : null, presenter, ring, panel);

  const onRight = useCallback(() => {
    setFeedback('right');
    answerLesson();
    requestAnimationFrame(() => next.current?.focus({ preventScroll: true }));
  }, [answerLesson]);

  const forward = useCallback(() => {
    const l = useStore.getState().lesson;
    if (!l || (!l.answered && phase !== 'error')) return;
    if (last) closeLesson();
    else goToLessonStep(index + 1);
  }, [phase, last, closeLesson, goToLessonStep, index]);
  const back = useCallback(() => index > 0 && goToLessonStep(index - 1), [index, goToLessonStep]);

  // (c) a click question: the click in the real view is the answer.
  useEffect(() => {
    const q = step.question;
    if (phase !== 'ready' || q.kind !== 'click' || answered) return;
    const onClick = (e: MouseEvent) => {
      const el = (e.target as Element | null)?.closest<HTMLElement>(q.within);
      if (!el || panel.current?.contains(el)) return;
      e.preventDefault();
      e.stopPropagation();
      if (q.check(el, useStore.getState())) onRight();
      else setFeedback('wrong');
    };
    addEventListener('click', onClick, true);
    return () => removeEventListener('click', onClick, true);
  }, [phase, step, answered, onRight]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
      const el = e.target instanceof Element ? e.target : null;
      if (isTyping(el)) return;
      if (e.key === 'Escape') {
        if (useStore.getState().confirm) return; // the discard dialog's own Escape
        e.preventDefault();
        closeLesson();
        requestAnimationFrame(() => document.querySelector<HTMLElement>('[data-testid=learn]')?.focus());
        return;
      }
      // Arrows and Enter belong to the lesson when the focus is in its panel or nowhere in particular.
      const ours = el === null || el === document.body || el === document.documentElement || (panel.current?.contains(el) ?? false);
      if (!ours) return;
      if (e.key === 'ArrowRight' || (e.key === 'Enter' && !(el instanceof HTMLButtonElement))) {
        e.preventDefault();
        forward();
      } else if (e.key === 'ArrowLeft') {
        e.preventDefault();
        back();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [forward, back, closeLesson]);

  const q = step.question;
  const tv = { ...values, interpolation: { escapeValue: false } };
  const choose = (id: string, correct: boolean | ((s: State) => boolean)) => {
    if (useStore.getState().lesson?.answered) return;
    setChosen(id);
    if (typeof correct === 'function' ? correct(useStore.getState()) : correct) onRight();
    else setFeedback('wrong');
  };
  return (
    <>
      <div className="lesson-backdrop" aria-hidden="true" hidden={phase !== 'ready'}>
        <div className="lesson-dim" />
        <div className="lesson-dim" />
        <div className="lesson-dim" />
        <div className="lesson-dim" />
        <div className="lesson-ring" ref={ring} hidden data-testid="lesson-ring" />
      </div>
      <section
        ref={panel}
        className={`lesson-panel${presenter ? ' presenter' : ''}`}
        role="dialog"
        aria-modal="false"
        aria-labelledby="lesson-step-title"
        aria-describedby="lesson-step-body"
        data-testid="lesson-panel"
        data-lesson={lessonId}
        data-step={index}
        data-phase={phase}
        data-answered={answered}
      >
        <div className="lesson-head">
          <span className="lesson-name">{t(`${lessonId}.title`)}</span>
          <span className="lesson-count" data-testid="lesson-count">
            {t('ui.stepOf', { n: index + 1, count })}
          </span>
          <button type="button" className="link" aria-pressed={presenter} onClick={() => setPresenter(!presenter)} data-testid="lesson-present">
            {t('ui.presenter')}
          </button>
          <button type="button" className="lesson-close" onClick={() => closeLesson()} aria-label={t('ui.close')} title={t('ui.close')} data-testid="lesson-close">
            ×
          </button>
        </div>
        <h2 id="lesson-step-title" ref={heading} tabIndex={-1} data-testid="lesson-step-title">
          {t(`${k}.title`, tv)}
        </h2>
        <div className="lesson-live" aria-live="polite">
          <p id="lesson-step-body" className="lesson-body">
            <Trans t={t} i18nKey={`${k}.body`} values={values} components={RICH} />
          </p>
          {phase === 'preparing' && (
            <p className="lesson-preparing" data-testid="lesson-preparing">
              <span className="spinner" aria-hidden="true" /> {t('ui.preparing')}
            </p>
          )}
          {phase === 'error' && (
            <p className="message error" role="alert" data-testid="lesson-error">
              {t('ui.setupFailed', { error })}{' '}
              <button type="button" onClick={() => setAttempt((n) => n + 1)}>
                {t('ui.retry')}
              </button>
            </p>
          )}
          {phase === 'ready' && (
            <>
              <p className="lesson-question" data-testid="lesson-question">
                <Trans t={t} i18nKey={`${k}.question`} values={values} components={RICH} />
              </p>
              {q.kind === 'click' && !answered && <p className="lesson-how muted small">{t('ui.clickHint')}</p>}
              {q.kind === 'choice' && (
                <div className="lesson-choices" role="group" aria-labelledby="lesson-step-title">
                  {q.choices.map((c) => (
                    <button
                      key={c.id}
                      type="button"
                      onClick={() => choose(c.id, c.correct)}
                      className={chosen === c.id ? `chosen ${feedback ?? ''}` : undefined}
                      data-testid={`lesson-choice-${c.id}`}
                      disabled={answered}
                    >
                      <Trans t={t} i18nKey={`${k}.choices.${c.id}`} values={values} components={RICH} />
                    </button>
                  ))}
                </div>
              )}
              {feedback && (
                <p className={`lesson-feedback ${feedback}`} data-testid="lesson-feedback" data-feedback={feedback}>
                  <b>{t(feedback === 'right' ? 'ui.right' : 'ui.wrong')}</b>{' '}
                  <Trans t={t} i18nKey={`${k}.${feedback === 'right' ? 'right' : 'hint'}`} values={values} components={RICH} />
                </p>
              )}
            </>
          )}
        </div>
        <div className="lesson-foot">
          <button type="button" onClick={back} disabled={index === 0} data-testid="lesson-back">
            ← {t('ui.back')}
          </button>
          <button type="button" className="primary" ref={next} onClick={forward} disabled={!answered && phase !== 'error'} data-testid="lesson-next">
            {last ? t('ui.finish') : `${t('ui.next')} →`}
          </button>
          {last && (
            <button type="button" className="link" onClick={() => closeLesson(true)} data-testid="lesson-keep">
              {t('ui.keep')}
            </button>
          )}
          <span className="lesson-keys muted small" aria-hidden="true">
            {t('ui.keys')}
          </span>
        </div>
      </section>
    </>
  );
}
