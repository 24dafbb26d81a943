// The paste box: examples menu, detected format, JSONL sample stepper, and every message about
// the input (parse errors, broken JSONL lines, nothing to train, context cut) right under the text
// the user edits.
import { useStore, type Failure } from '../store';
import type { InputError } from '../data/types';
import { useId, useRef } from 'react';
import { PasteEditor, type PasteEditorHandle } from './PasteEditor';
import { offsetOf } from './textOffset';
import { EXAMPLES } from '../data/examples';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from './i18n/useMessage';

/** Titles of the failure stages (keys under input:stage). */
const stageKey = (stage: Failure['stage']) => `stage.${stage}` as const;

export function InputPanel() {
  const text = useStore((s) => s.text);
  const setText = useStore((s) => s.setText);
  const loadExample = useStore((s) => s.loadExample);
  const parse = useStore((s) => s.parse);
  const sampleIndex = useStore((s) => s.sampleIndex);
  const stepSample = useStore((s) => s.stepSample);
  const failure = useStore((s) => s.failure);
  const stale = useStore((s) => s.stale);
  const labels = useStore((s) => s.labels);
  const editorRef = useRef<PasteEditorHandle>(null);
  const currentText = () => useStore.getState().text;
  const textId = useId();
  const exampleId = useId();
  const hintId = useId();
  const { t } = useTranslation('input');
  const say = useMessage();

  const showLocation = (e: InputError | undefined) => {
    if (!e?.line) return;
    const at = offsetOf(text, e.line, e.column ?? 1);
    editorRef.current?.select(at, Math.min(text.length, at + 1));
  };

  const n = parse?.sampleCount ?? 0;
  // Broken JSONL lines: of the shown input when it parsed, else of the failed input.
  const lineErrors = parse?.lineErrors ?? failure?.lineErrors ?? null;
  // Messages about the current view only make sense when it is not stale.
  const current = !stale && !failure ? labels : null;
  const location =
    failure?.error.line !== undefined
      ? failure.error.column !== undefined
        ? t('locationColumn', { line: failure.error.line, column: failure.error.column })
        : t('location', { line: failure.error.line })
      : null;

  return (
    <section className="panel input-panel" aria-labelledby={`${textId}-h`}>
      <div className="panel-head">
        <h2 id={`${textId}-h`}>{t('title')}</h2>
        <span
          className={`format-badge${parse ? '' : ' unknown'}`}
          data-testid="format"
          title={t('formatTitle')}
        >
          {parse ? say(parse.formatMsg ?? parse.formatLabel) : failure?.stage === 'parse' ? t('notRecognised') : '…'}
        </span>
      </div>

      <div className="input-toolbar">
        <label htmlFor={exampleId}>{t('examples')}</label>
        <select
          id={exampleId}
          value=""
          onChange={(e) => {
            if (e.target.value) loadExample(e.target.value);
          }}
        >
          <option value="">{t('loadExample')}</option>
          {EXAMPLES.map((ex) => (
            <option key={ex.id} value={ex.id}>
              {t(`example.${ex.id}`, { defaultValue: ex.title, n: ex.text.split('\n').length })}
            </option>
          ))}
        </select>

        {n > 1 && (
          <div className="stepper" role="group" aria-label={t('stepper')}>
            <button type="button" onClick={() => stepSample(-1)} disabled={sampleIndex <= 0} aria-label={t('previousSample')}>
              {t('prev')}
            </button>
            <span data-testid="sample-position" aria-live="polite">
              {t('position', { n: sampleIndex + 1, total: n })}
              {parse?.sampleLine != null && t('positionLine', { line: parse.sampleLine })}
            </span>
            <button type="button" onClick={() => stepSample(1)} disabled={sampleIndex >= n - 1} aria-label={t('nextSample')}>
              {t('next')}
            </button>
          </div>
        )}
      </div>

      <span id={`${textId}-label`} className="visually-hidden">
        {t('textLabel')}
      </span>
      <PasteEditor
        ref={editorRef}
        testId="paste-box"
        value={text}
        onChange={setText}
        current={currentText}
        labelledBy={`${textId}-label`}
        describedBy={hintId}
        invalid={failure?.stage === 'parse'}
        placeholder={'[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]'}
      />
      <p id={hintId} className="hint">
        <Trans t={t} i18nKey="hint" values={{ chars: text.length.toLocaleString() }} components={{ code: <code /> }} />
      </p>

      <div className="messages">
        {failure && (
          <div className="message error" role="alert" data-testid="input-error">
            <strong>{t(stageKey(failure.stage))}</strong>: {say(failure.error.msg ?? failure.error.message)}
            <div className="message-actions">
              {location && (
                <button type="button" className="link" onClick={() => showLocation(failure.error)}>
                  {t('showLocation', { location })}
                </button>
              )}
              {stale && <span className="stale-note">{t('staleNote')}</span>}
            </div>
          </div>
        )}
        {lineErrors && (
          <div className="message warn line-errors" role="status" data-testid="line-errors">
            <strong>
              {t('linesLeftOut', { total: lineErrors.total, lines: lineErrors.lines })}
            </strong>
            {parse ? t('othersAreSamples', { n: parse.sampleCount }) : t('noneIsSample')}
            <ul>
              {lineErrors.errors.map((e, k) => (
                <li key={k}>
                  {e.line !== undefined ? (
                    <button type="button" className="link" onClick={() => showLocation(e)} title={t('showInText')}>
                      {say(e.msg ?? e.message)}
                    </button>
                  ) : (
                    say(e.msg ?? e.message)
                  )}
                </li>
              ))}
            </ul>
            {lineErrors.total > lineErrors.errors.length && (
              <p>
                {t('moreBroken', { count: lineErrors.total - lineErrors.errors.length })}
              </p>
            )}
          </div>
        )}
        {current?.nothingToTrain && (
          <div className="message warn" role="alert" data-testid="nothing-to-train">
            <strong>{say(current.msg ?? current.message)}</strong>
            {t('nothingToTrain')}
          </div>
        )}
        {current?.context.cutAt !== null && current?.context.cutAt !== undefined && (
          <div
            className={`message ${current.context.removesResponse ? 'warn' : 'info'}`}
            role={current.context.removesResponse ? 'alert' : 'status'}
            data-testid={current.context.removesResponse ? 'context-warning' : 'context-info'}
          >
            {current.context.removesResponse && <strong>{t('cutRemovesTrained')}</strong>}
            {say(current.context.msg ?? current.context.message)}
          </div>
        )}
      </div>
    </section>
  );
}
