// Load a tokenizer on its own: a Hub repo id or a folder URL, whose tokenizer.json,
// tokenizer_config.json and chat template files (no weights) feed the token view, the lab and the
// preflight. A failed load says why here and changes nothing. When the files hold named templates
// (default, tool_use…), pick the one to render with.
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useStore } from '../store';
import { useMessage } from './i18n/useMessage';

export function TokenizerLoader() {
  const { t } = useTranslation('tokenizerOnly');
  const say = useMessage();
  const load = useStore((s) => s.loadTokenizerOnly);
  const state = useStore((s) => s.tokenizerLoad);
  const custom = useStore((s) => s.settings.customTokenizer);
  const info = useStore((s) => s.customInfo);
  const setName = useStore((s) => s.setCustomTemplateName);
  const tokenizerId = useStore((s) => s.settings.tokenizerId);
  const modelLabel = useStore((s) => s.model.loaded?.name ?? null);
  const [source, setSource] = useState(custom?.source ?? '');
  const id = useId();
  const busy = state.status === 'loading';
  return (
    <div className="field tokenizer-loader" data-testid="tokenizer-loader">
      <label htmlFor={id}>{t('label')}</label>
      <div className="row">
        <input
          id={id}
          value={source}
          placeholder={t('placeholder')}
          spellCheck={false}
          aria-invalid={state.status === 'error' || undefined}
          aria-describedby={state.error ? `${id}-err` : `${id}-hint`}
          onChange={(e) => setSource(e.target.value)}
          onKeyDown={(e) => e.key === 'Enter' && !busy && void load(source)}
          data-testid="tokenizer-source"
        />
        <button type="button" disabled={busy} onClick={() => void load(source)} data-testid="tokenizer-load">
          {busy ? t('loading') : t('load')}
        </button>
      </div>
      {busy && state.progress && (
        <p className="hint" role="status">
          {say(state.progress)}
        </p>
      )}
      {state.error ? (
        <p id={`${id}-err`} className="field-error" role="alert" data-testid="tokenizer-load-error">
          {say(state.error)}
        </p>
      ) : (
        <p id={`${id}-hint`} className="hint">
          {t('hint')}
        </p>
      )}
      {custom && tokenizerId === 'custom' && (
        <p className="hint" data-testid="tokenizer-only-note">
          {t('viewShows', { label: custom.label, model: modelLabel ?? t('theModel') })}
          {info && ` ${t('templateFrom', { file: info.templateFile })}`}
        </p>
      )}
      {custom && info && info.templateNames.length > 1 && (
        <label className="choice">
          {t('namedTemplate')}{' '}
          <select value={custom.chatTemplateName ?? info.templateName ?? 'default'} onChange={(e) => void setName(e.target.value)} data-testid="template-name">
            {info.templateNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      )}
    </div>
  );
}
