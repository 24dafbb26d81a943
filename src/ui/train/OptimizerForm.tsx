// Optimizer settings shared by every run. Each number is a draft while typed and applies on blur or
// Enter, so typing "0.0005" never trains at "0". A refused value stays in the field, marked invalid,
// with the allowed range beside it (checkOptimizer's wording); the setting keeps its last good value
// until a valid one is entered or Escape puts it back. Defaults follow the loaded model's size until edited.
import { useStore } from '../../store';
import { memo, useEffect, useId, useState } from 'react';
import { lrAt, optimizerProblems, type OptimizerSettings } from '../../spec/optimizer';
import { englishOf } from '../../spec/message';
import { useMessage } from '../i18n/useMessage';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';

type NumericKey = { [K in keyof OptimizerSettings]: OptimizerSettings[K] extends number ? K : never }[keyof OptimizerSettings];

interface Range {
  min: number;
  max?: number;
  integer?: boolean;
}

/**
 * Why `draft` is refused for `k`, null when it is usable: checkOptimizer's own words for the
 * settings with this value ("Steps must be a whole number from 1 to 100000 (got 0)."), else the
 * field's range (it can be narrower, e.g. a learning rate above 1).
 */
function refusal(t: TFunction, say: ReturnType<typeof useMessage>, o: OptimizerSettings, k: NumericKey, draft: string, name: string, { min, max, integer }: Range): string | null {
  const v = Number(draft);
  if (draft.trim() === '' || !Number.isFinite(v)) return t('optimizer.mustBeNumber', { name, got: draft.trim() === '' ? t('optimizer.nothing') : draft });
  const before = new Set(optimizerProblems(o).map(englishOf));
  const own = optimizerProblems({ ...o, [k]: v }).find((p) => !before.has(englishOf(p)));
  if (own) return say(own);
  if (v >= min && (max === undefined || v <= max) && (!integer || Number.isInteger(v))) return null;
  const kind = integer ? t('optimizer.wholeNumber') : t('optimizer.number');
  return max === undefined ? t('optimizer.atLeast', { name, kind, min, got: v }) : t('optimizer.between', { name, kind, min, max, got: v });
}

function NumberField({ k, label, name = label, hint, step, ...range }: { k: NumericKey; label: string; name?: string; hint?: string; step: number } & Range) {
  const { t } = useTranslation('train');
  const settings = useStore((s) => s.optimizer);
  const value = settings[k];
  const setOptimizer = useStore((s) => s.setOptimizer);
  const id = useId();
  const [draft, setDraft] = useState(String(value));
  const say = useMessage();
  // The refused text: its refusal is worded at each render, so it follows the page's language.
  const [refused, setRefused] = useState<string | null>(null);
  const error = refused === null ? null : refusal(t, say, settings, k, refused, name, range);
  const setError = (why: string | null, text: string) => setRefused(why === null ? null : text);
  useEffect(() => {
    setDraft(String(value));
    setRefused(null);
  }, [value]);
  const commit = () => {
    const why = refusal(t, say, settings, k, draft, name, range);
    setError(why, draft);
    if (why === null && Number(draft) !== value) setOptimizer({ [k]: Number(draft) } as Partial<OptimizerSettings>);
  };
  return (
    <div className="opt-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        step={step}
        min={range.min}
        max={range.max}
        value={draft}
        data-testid={`opt-${k}`}
        title={hint}
        aria-invalid={error !== null || undefined}
        aria-describedby={error !== null ? `${id}-error` : undefined}
        onChange={(e) => {
          setDraft(e.target.value);
          // A shown refusal follows the typing, and goes once the value is usable.
          if (error !== null) setError(refusal(t, say, settings, k, e.target.value, name, range), e.target.value);
        }}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
          else if (e.key === 'Escape') {
            setDraft(String(value));
            setRefused(null);
          }
        }}
      />
      {error !== null && (
        <span id={`${id}-error`} className="message error small opt-error" role="alert" data-testid={`opt-${k}-error`}>
          {t('optimizer.stays', { error, value })}
        </span>
      )}
    </div>
  );
}

export const OptimizerForm = memo(function OptimizerForm() {
  const o = useStore((s) => s.optimizer);
  const optimizerFor = useStore((s) => s.optimizerFor);
  const modelName = useStore((s) => s.model.loaded?.name ?? null);
  const setOptimizer = useStore((s) => s.setOptimizer);
  const scheduleId = useId();
  const peakAt = Math.max(1, o.warmupSteps);
  const { t } = useTranslation('train');
  /** A field's label, its name in messages and its hint (train:optimizer.field.<key>). */
  const f = (k: NumericKey) => ({
    label: t(`optimizer.field.${k}.label`),
    name: t(`optimizer.field.${k}.name`, { defaultValue: t(`optimizer.field.${k}.label`) }),
    hint: t(`optimizer.field.${k}.hint`, { defaultValue: '' }) || undefined,
  });
  return (
    <details className="optimizer" open>
      <summary>
        {t('optimizer.summary')}{' '}
        <span className="muted small">
          {optimizerFor !== null && modelName ? t('optimizer.defaultsFor', { model: modelName }) : t('optimizer.yours')}
          {t('optimizer.lr', { first: lrAt(1, o).toExponential(1), peak: lrAt(peakAt, o).toExponential(1), peakAt, last: lrAt(o.steps, o).toExponential(1), steps: o.steps })}
        </span>
      </summary>
      <div className="opt-grid">
        <NumberField k="lr" {...f('lr')} step={0.0001} min={1e-9} max={1} />
        <NumberField k="warmupSteps" {...f('warmupSteps')} step={1} min={0} integer />
        <div className="opt-field">
          <label htmlFor={scheduleId}>{t('optimizer.schedule')}</label>
          <select id={scheduleId} value={o.schedule} onChange={(e) => setOptimizer({ schedule: e.target.value as OptimizerSettings['schedule'] })}>
            <option value="cosine">{t('optimizer.cosine')}</option>
            <option value="linear">{t('optimizer.linear')}</option>
            <option value="constant">{t('optimizer.constant')}</option>
          </select>
        </div>
        <NumberField k="steps" {...f('steps')} step={1} min={1} max={100_000} integer />
        <NumberField k="batchSize" {...f('batchSize')} step={1} min={1} max={256} integer />
        <NumberField k="beta1" label="β1" name={f('beta1').name} step={0.01} min={0} max={0.9999} />
        <NumberField k="beta2" label="β2" name={f('beta2').name} step={0.001} min={0} max={0.99999} />
        <NumberField k="weightDecay" {...f('weightDecay')} step={0.01} min={0} />
        <NumberField k="maxGradNorm" {...f('maxGradNorm')} step={0.1} min={0} />
        <NumberField k="seed" {...f('seed')} step={1} min={0} integer />
      </div>
    </details>
  );
});
