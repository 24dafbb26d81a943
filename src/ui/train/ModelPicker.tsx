// Pick the model to train: a folder URL (Hugging Face layout, served by this page's server) or a
// Hub repo id, with suggestions; download progress (bytes and %) with Cancel; the reason a load
// failed next to the field (the model in use stays); a way back to the embedded model.
import { MemoryPlanner } from '../lora/MemoryPlanner';
import { useStore, type LoadProgress } from '../../store';
import { EMBEDDED_MODEL, MODEL_SUGGESTIONS, isEmbedded } from '../../store/slices/model';
import { memo, useId, useState } from 'react';
import './ModelPicker.css';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

const MIB = 2 ** 20;
const size = (b: number) => (b < MIB ? `${(b / 1024).toFixed(1)} KiB` : `${(b / MIB).toFixed(1)} MiB`);

function Progress({ p }: { p: LoadProgress | null }) {
  const fraction = p && p.total ? p.loaded / p.total : null;
  const { t } = useTranslation('train');
  return (
    <div className="model-progress">
      {/* No value = indeterminate (before the first byte, or a file of unknown size). */}
      <progress className="load-bar" data-testid="model-progress" max={1} value={fraction ?? undefined} aria-label={t('model.download')} />
      {p && (
        <span className="muted small" data-testid="model-progress-text">
          {p.file}: {size(p.loaded)}
          {p.total !== null && t('model.progressTotal', { total: size(p.total), pct: Math.floor((100 * p.loaded) / Math.max(1, p.total)) })}
          {p.cached && t('model.fromCache')}
          {t('model.inAll', { bytes: size(p.bytesReceived) })}
        </span>
      )}
    </div>
  );
}

export const ModelPicker = memo(function ModelPicker() {
  const model = useStore((s) => s.model);
  const loadModel = useStore((s) => s.loadModel);
  const cancelLoad = useStore((s) => s.cancelLoad);
  const [draft, setDraft] = useState('');
  const id = useId();
  const loading = model.status === 'loading';
  const { t } = useTranslation('train');
  const say = useMessage();
  const onEmbedded = model.loaded !== null && isEmbedded(model.loaded) && !(loading && model.url !== EMBEDDED_MODEL);
  return (
    <div className="model-picker" data-testid="model-picker">
      <form
        className="model-form"
        onSubmit={(e) => {
          e.preventDefault();
          loadModel(draft);
        }}
      >
        <label htmlFor={`${id}-src`}>{t('model.label')}</label>
        <input
          id={`${id}-src`}
          className="model-source"
          list={`${id}-list`}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder={t('model.placeholder')}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={`${id}-hint`}
          aria-invalid={model.error !== null}
          data-testid="model-source"
        />
        <datalist id={`${id}-list`} data-testid="model-suggestions">
          {MODEL_SUGGESTIONS.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <button type="submit" data-testid="model-load">
          {t('model.load')}
        </button>
        {loading && model.loaded && (
          <button type="button" onClick={cancelLoad} data-testid="model-cancel">
            {t('model.cancel')}
          </button>
        )}
        {!onEmbedded && (
          <button type="button" className="link" onClick={() => loadModel(EMBEDDED_MODEL)} data-testid="model-embedded">
            {t('model.embedded')}
          </button>
        )}
      </form>
      <p className="hint" id={`${id}-hint`}>
        <Trans t={t} i18nKey="model.hint" values={{ example: MODEL_SUGGESTIONS[0] }} components={{ code: <code /> }} />
      </p>
      {loading && (
        <div className="model-loading" role="status">
          <span>{t('model.loading', { url: model.url })}</span>
          <Progress p={model.progress} />
        </div>
      )}
      {model.error && (
        <p className="message error" role="alert" data-testid="model-error">
          {say(model.error)}
          {model.loaded && t('model.stillUsing', { name: model.loaded.name })}
        </p>
      )}
      {model.loaded?.memoryNote && (
        <p className="message warn" data-testid="model-memory">
          {say(model.loaded.memoryNoteMsg ?? model.loaded.memoryNote)}
        </p>
      )}
      <MemoryPlanner />
      {model.loaded && model.loaded.notes.length > 0 && (
        <ul className="notes" data-testid="model-notes">
          {model.loaded.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
});
