// Tokenizer, context length and the mask policy. Every control applies at once (no "apply").
import { useStore } from '../store';
import { TokenizerLoader } from './TokenizerLoader';
import { MAX_CONTEXT } from '../store/validate';
import { contextLimit } from '../worker/dataProtocol';
import { useEffect, useId, useState } from 'react';
import { TOKENIZERS } from '../data/sources';
import { POLICY_ROLES, type TokenizerId } from '../data/types';
import { Explainer } from './Explainer';
import { Trans, useTranslation } from 'react-i18next';

/** The mask switches for message fields beyond content: policy key and input name (label and hint: settings:field.<key>). */
const FIELD_SWITCHES = [
  ['trainReasoning', 'train-reasoning'],
  ['trainToolCalls', 'train-tool-calls'],
  ['trainToolResults', 'train-tool-results'],
] as const;

function ContextLengthInput() {
  const own = useStore((s) => s.settings.contextLengths[s.settings.tokenizerId]);
  const effective = useStore((s) => s.labels?.contextLength ?? null);
  const limit = useStore((s) => contextLimit(s.settings.tokenizerId, s.modelTokenizer));
  const setContextLength = useStore((s) => s.setContextLength);
  const id = useId();
  const { t } = useTranslation('settings');
  // Local draft so typing "1" on the way to "1024" does not cut the sample at 1 token.
  const [draft, setDraft] = useState<string>('');
  const shown = own ?? effective;
  useEffect(() => setDraft(shown === null ? '' : String(shown)), [shown]);

  const commit = () => {
    const v = Number(draft);
    if (draft.trim() === '' || !Number.isFinite(v) || v < 1) setDraft(shown === null ? '' : String(shown));
    else {
      // Past the model's positions the store keeps the limit: show that, not what was typed.
      const kept = limit !== null ? Math.min(Math.round(v), limit) : Math.round(v);
      setDraft(String(kept));
      if (kept !== shown) setContextLength(kept);
    }
  };
  return (
    <div className="field">
      <label htmlFor={id}>{t('contextLength')}</label>
      <div className="inline">
        <input
          id={id}
          type="number"
          inputMode="numeric"
          min={1}
          max={limit ?? MAX_CONTEXT}
          step={1}
          value={draft}
          data-testid="context-length"
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === 'Enter') commit();
          }}
        />
        <span className="unit">{t('tokens')}</span>
        {own !== null && (
          <button type="button" className="link" onClick={() => setContextLength(null)}>
            {t('useModels')}
          </button>
        )}
      </div>
      <p className="hint">
        {own === null ? t('modelsLimit') : t('yourSetting')}
        {t('cutHere')}
        {limit !== null && (
          <span data-testid="context-limit">
            {' '}
            {t('stopsAt', { limit })}
          </span>
        )}
      </p>
    </div>
  );
}

export function SettingsPanel() {
  const tokenizerId = useStore((s) => s.settings.tokenizerId);
  const modelTokenizer = useStore((s) => s.modelTokenizer);
  const customTokenizer = useStore((s) => s.settings.customTokenizer);
  const policy = useStore((s) => s.settings.policy);
  const setTokenizer = useStore((s) => s.setTokenizer);
  const setPolicy = useStore((s) => s.setPolicy);
  const setRoleTrained = useStore((s) => s.setRoleTrained);
  const overrideCount = useStore((s) => Object.keys(s.overrides).length);
  const clearOverrides = useStore((s) => s.clearOverrides);
  const splitSpecialTokens = useStore((s) => s.settings.splitSpecialTokens);
  const setSplitSpecialTokens = useStore((s) => s.setSplitSpecialTokens);
  const tokId = useId();
  const weightId = useId();
  const full = policy.mode === 'full';
  const { t } = useTranslation('settings');

  return (
    <section className="panel settings-panel" aria-labelledby={`${tokId}-h`}>
      <h2 id={`${tokId}-h`}>{t('title')}</h2>

      <div className="field">
        <label htmlFor={tokId}>{t('tokenizer')}</label>
        <select
          id={tokId}
          data-testid="tokenizer"
          value={tokenizerId}
          onChange={(e) => setTokenizer(e.target.value as TokenizerId)}
        >
          {TOKENIZERS.map((tok) => (
            <option key={tok.id} value={tok.id}>
              {tok.id === 'default' && modelTokenizer ? t('loadedModel', { label: modelTokenizer.label }) : tok.label}
            </option>
          ))}
          {customTokenizer && <option value="custom">{customTokenizer.label}</option>}
        </select>
      </div>
      <TokenizerLoader />
      <ContextLengthInput />
      <div className="field">
        <label className="choice">
          <input
            type="checkbox"
            data-testid="split-special-tokens"
            checked={splitSpecialTokens}
            onChange={(e) => setSplitSpecialTokens(e.target.checked)}
          />
          {t('splitSpecial')} <span className="muted">(split_special_tokens)</span>
        </label>
        <p className="hint">
          <Trans t={t} i18nKey="splitSpecialHint" components={{ code: <code /> }} shouldUnescape />
        </p>
      </div>

      <fieldset className="field">
        <legend>{t('lossOn')}</legend>
        <label className="choice">
          <input
            type="radio"
            name="mode"
            value="response-only"
            checked={policy.mode === 'response-only'}
            onChange={() => setPolicy({ mode: 'response-only' })}
          />
          {t('responsesOnly')} <span className="muted">{t('assistantTurns')}</span>
        </label>
        <label className="choice">
          <input type="radio" name="mode" value="full" checked={full} onChange={() => setPolicy({ mode: 'full' })} />
          {t('fullSequence')} <span className="muted">{t('rolesBelow')}</span>
        </label>
      </fieldset>

      <fieldset className="field">
        <legend>{t('turnsTrained')}</legend>
        <label className="choice">
          <input
            type="radio"
            name="turns"
            value="all"
            checked={policy.assistantTurns === 'all'}
            onChange={() => setPolicy({ assistantTurns: 'all' })}
          />
          {t('all')}
        </label>
        <label className="choice">
          <input
            type="radio"
            name="turns"
            value="last"
            checked={policy.assistantTurns === 'last'}
            onChange={() => setPolicy({ assistantTurns: 'last' })}
          />
          {t('lastOnly')}
        </label>
        <label className="choice">
          <input
            type="checkbox"
            checked={policy.trainEndOfTurn}
            onChange={(e) => setPolicy({ trainEndOfTurn: e.target.checked })}
          />
          {t('trainEot')} <span className="muted">{t('trainEotHint')}</span>
        </label>
      </fieldset>

      <fieldset className="field">
        <legend>{t('reasoningAndTools')}</legend>
        {FIELD_SWITCHES.map(([key, name]) => (
          <label className="choice" key={key}>
            <input type="checkbox" name={name} checked={policy[key]} onChange={(e) => setPolicy({ [key]: e.target.checked })} />
            {t(`field.${key}.title`)} <span className="muted">({t(`field.${key}.hint`)})</span>
          </label>
        ))}
      </fieldset>

      <fieldset className="field" disabled={!full} aria-describedby={`${tokId}-roles-hint`}>
        <legend>{t('rolesInFull')}</legend>
        <div className="role-checks">
          {POLICY_ROLES.map((role) => (
            <label key={role} className={`choice role-choice role-${role}`}>
              <input
                type="checkbox"
                name={`role-${role}`}
                checked={policy.roles[role]}
                onChange={(e) => setRoleTrained(role, e.target.checked)}
              />
              {t(`role.${role}`)}
            </label>
          ))}
        </div>
        <p className="hint" id={`${tokId}-roles-hint`}>
          {full ? t('uncheckedArePrompt') : t('responseOnlyTrains')}
        </p>
      </fieldset>

      <div className="field">
        <label htmlFor={weightId}>
          {t('promptWeight')} <output htmlFor={weightId}>{policy.promptLossWeight.toFixed(2)}</output>
        </label>
        <input
          id={weightId}
          type="range"
          min={0}
          max={1}
          step={0.05}
          value={policy.promptLossWeight}
          data-testid="prompt-weight"
          onChange={(e) => setPolicy({ promptLossWeight: Number(e.target.value) })}
        />
        <p className="hint">{t('promptWeightHint')}</p>
      </div>

      <div className="field overrides">
        <span>
          {overrideCount === 0 ? t('clickToOverride') : t('overrides', { count: overrideCount })}
        </span>
        <button type="button" onClick={clearOverrides} disabled={overrideCount === 0} data-testid="clear-overrides">
          {t('clearOverrides')}
        </button>
      </div>

      <Explainer />
    </section>
  );
}
