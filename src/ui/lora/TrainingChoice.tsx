// How one run trains (RunSpec.training): full fine-tuning, or a LoRA adapter with its rank, alpha,
// target modules, base storage and learning rate. A number typed out of range stays in its box
// with the reason next to it; the run keeps its last valid value until the box holds a valid one.
import { memo, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useStore, type RunSpec } from '../../store';
import { FULL_TRAINING, MODULE_NAMES, loraScale, trainableCount, type RunTraining } from '../../spec/lora';
import { PROJECTIONS, type LayerParam } from '../../spec/params';
import { trainingProblems } from '../../store/validate';
import type { Message } from '../../spec/message';
import { useMessage } from '../i18n/useMessage';

type NumberField = 'r' | 'alpha' | 'lr';

function NumberBox({ index, field, training, label, step }: { index: number; field: NumberField; training: RunTraining; label: string; step: string }) {
  const setRunTraining = useStore((s) => s.setRunTraining);
  const shown = training[field] === null ? '' : String(training[field]);
  const [draft, setDraft] = useState<string | null>(null);
  const say = useMessage();
  const [problem, setError] = useState<Message | null>(null);
  const error = problem === null ? null : say(problem);
  const id = useId();
  return (
    <label className="lora-field">
      {label}
      <input
        id={id}
        type="number"
        step={step}
        value={draft ?? shown}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        data-testid={`run-${index}-lora-${field}`}
        onChange={(e) => {
          const text = e.target.value;
          const value = text.trim() === '' ? NaN : Number(text);
          const next = { ...training, [field]: field === 'lr' && text.trim() === '' ? null : value };
          const problem = trainingProblems(next).find((p) => p.field === field);
          setDraft(text);
          setError(problem?.msg ?? null);
          if (!problem) {
            setRunTraining(index, { [field]: next[field] } as Partial<RunTraining>);
            setDraft(null);
          }
        }}
        onBlur={() => {
          if (!error) setDraft(null);
        }}
      />
      {error && (
        <span id={`${id}-error`} className="field-error small" role="alert" data-testid={`run-${index}-lora-${field}-error`}>
          {error}
        </span>
      )}
    </label>
  );
}

export const TrainingChoice = memo(function TrainingChoice({ run, index }: { run: RunSpec; index: number }) {
  const { t } = useTranslation('lora');
  const setRunTraining = useStore((s) => s.setRunTraining);
  const config = useStore((s) => s.model.loaded?.config ?? null);
  const training = run.training ?? FULL_TRAINING;
  const id = useId();
  const lora = training.mode === 'lora';
  const toggle = (key: LayerParam, on: boolean) => {
    const targets = PROJECTIONS.filter((p) => (p === key ? on : training.targets.includes(p)));
    if (targets.length > 0) setRunTraining(index, { targets });
  };
  let trainable: string | null = null;
  if (config && lora) {
    const n = trainableCount(config, { r: training.r, alpha: training.alpha, targets: training.targets });
    const total = trainableCount(config, null);
    trainable = t('trainable', { n: n.toLocaleString(), share: `${((100 * n) / total).toFixed(2)}%` });
  }
  return (
    <div className="run-training" data-testid={`run-${index}-training`} data-mode={training.mode}>
      <label htmlFor={id}>{t('mode.label')}</label>
      <select id={id} value={training.mode} onChange={(e) => setRunTraining(index, { mode: e.target.value as RunTraining['mode'] })} data-testid={`run-${index}-training-mode`} aria-describedby={`${id}-explain`}>
        <option value="full">{t('mode.full')}</option>
        <option value="lora">{t('mode.lora')}</option>
      </select>
      <span id={`${id}-explain`} className="hint small">
        {t(`mode.explain.${training.mode}`)}
      </span>
      {lora && (
        <fieldset className="lora-settings" aria-label={t('settings', { name: run.name })}>
          <NumberBox index={index} field="r" training={training} label={t('r')} step="1" />
          <NumberBox index={index} field="alpha" training={training} label={t('alpha')} step="1" />
          <span className="muted small">{t('scale', { scale: +loraScale(training).toFixed(4) })}</span>
          <div className="lora-targets" role="group" aria-label={t('targets')}>
            <span>{t('targets')}</span>
            {PROJECTIONS.map((p) => (
              <label key={p} className="chip-toggle">
                <input
                  type="checkbox"
                  checked={training.targets.includes(p)}
                  // The last checked module cannot be unchecked: an adapter needs one.
                  disabled={training.targets.length === 1 && training.targets.includes(p)}
                  onChange={(e) => toggle(p, e.target.checked)}
                  data-testid={`run-${index}-lora-target-${p}`}
                />
                {MODULE_NAMES[p]}
              </label>
            ))}
          </div>
          <label className="lora-field">
            {t('base')}
            <select value={training.baseDtype} onChange={(e) => setRunTraining(index, { baseDtype: e.target.value as RunTraining['baseDtype'] })} data-testid={`run-${index}-lora-base`}>
              {(['f32', 'f16', 'bf16'] as const).map((d) => (
                <option key={d} value={d}>
                  {t(`baseDtype.${d}`)}
                </option>
              ))}
            </select>
          </label>
          <NumberBox index={index} field="lr" training={training} label={t('lr')} step="any" />
          <span className="hint small">{t('lrHint')}</span>
          {trainable && (
            <span className="muted small" data-testid={`run-${index}-lora-trainable`}>
              {trainable}
            </span>
          )}
        </fieldset>
      )}
    </div>
  );
});
