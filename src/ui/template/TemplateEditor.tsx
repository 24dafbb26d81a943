// Your own chat template: edit a copy of the tokenizer's Jinja template (or paste one), and the token
// view, the lab and training re-render with it as you type (after a pause; the data worker renders,
// not this page). A template error shows its line and column here, and the last good view stays.
import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useStore } from '../../store';
import { INPUT_DEBOUNCE_MS } from '../../store/slices/input';
import { offsetOf } from '../textOffset';

export function TemplateEditor() {
  const { t } = useTranslation('template');
  const own = useStore((s) => s.settings.ownTemplate);
  const setOwn = useStore((s) => s.setOwnTemplate);
  const shown = useStore((s) => s.tokens?.chatTemplate ?? null);
  const label = useStore((s) => s.tokens?.tokenizerLabel ?? '');
  const failure = useStore((s) => (s.failure?.templateAt ? s.failure : null));
  const [draft, setDraft] = useState(own ?? '');
  const [dropped, setDropped] = useState<string | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const id = useId();
  // The store's template changes from elsewhere (a restore, Undo): show it.
  useEffect(() => {
    if (own !== null && own !== draft) setDraft(own);
  }, [own]);
  const at = failure?.templateAt;
  const goTo = () => {
    const el = area.current;
    if (!el || !at) return;
    const i = offsetOf(el.value, at.line, at.column);
    el.focus();
    el.setSelectionRange(i, Math.min(el.value.length, i + 1));
  };
  return (
    <section className="panel template-editor" data-testid="template-editor" aria-labelledby={`${id}-h`}>
      <div className="panel-head">
        <h2 id={`${id}-h`} className="inline-h">
          {t('title')}
        </h2>{' '}
        <span className="muted small">{own === null ? t('usingTokenizers', { label }) : t('usingYours')}</span>
      </div>
      {own === null ? (
        <p className="template-start">
          <button
            type="button"
            data-testid="template-edit"
            disabled={shown === null}
            onClick={() => {
              setDraft(shown ?? '');
              setOwn(shown ?? '');
            }}
          >
            {t('editCopy')}
          </button>{' '}
          {dropped !== null && (
            <button type="button" className="link" data-testid="template-undo" onClick={() => (setDraft(dropped), setOwn(dropped), setDropped(null))}>
              {t('undoDrop')}
            </button>
          )}
          <span className="hint"> {t('hint')}</span>
        </p>
      ) : (
        <>
          <label htmlFor={id} className="visually-hidden">
            {t('title')}
          </label>
          <textarea
            id={id}
            ref={area}
            className="template-text"
            data-testid="template-text"
            spellCheck={false}
            value={draft}
            aria-invalid={failure !== null || undefined}
            aria-describedby={failure ? `${id}-err` : undefined}
            onChange={(e) => {
              setDraft(e.target.value);
              setOwn(e.target.value, INPUT_DEBOUNCE_MS);
            }}
          />
          {failure && (
            <p id={`${id}-err`} className="error" role="alert" data-testid="template-error" data-line={at?.line} data-column={at?.column}>
              {failure.error.message}{' '}
              {at && (
                <button type="button" className="link" onClick={goTo}>
                  {t('goTo', { line: at.line, column: at.column })}
                </button>
              )}{' '}
              <span className="muted">{t('lastGood')}</span>
            </p>
          )}
          <p>
            <button
              type="button"
              data-testid="template-drop"
              onClick={() => {
                setDropped(draft);
                setOwn(null);
              }}
            >
              {t('useTokenizers')}
            </button>
          </p>
        </>
      )}
    </section>
  );
}
