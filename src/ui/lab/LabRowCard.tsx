// One row of the masking lab: the strategy, its options (each error next to its field), what the
// row trains, how often it disagrees with the first row, the framework's notes or the error it
// raises, and the actions: compare against it, duplicate, remove, train it as a run.
import { useEffect, useId, useState } from 'react';
import { useStore, type LabChoiceSpec } from '../../store';
import { LAB_DEBOUNCE_MS } from '../../store/slices/lab';
import { MAX_RUNS } from '../../store/validate';
import { MAX_LAB_ROWS, type LabRow, type OptionSpec } from '../../data/strategies';
import { STRATEGY_BY_ID, escapeOption, unescapeOption } from './strategyMeta';
import { Trans, useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

function TextOption({ value, onChange, id, invalid, describedBy }: { value: string; onChange(v: string): void; id: string; invalid: boolean; describedBy?: string }) {
  // Local text while typing: the store (and the worker) see it after a pause.
  const [draft, setDraft] = useState(escapeOption(value));
  useEffect(() => setDraft(escapeOption(value)), [value]);
  return (
    <input
      id={id}
      className="lab-text-option"
      value={draft}
      spellCheck={false}
      aria-invalid={invalid || undefined}
      aria-describedby={describedBy}
      onChange={(e) => {
        setDraft(e.target.value);
        onChange(unescapeOption(e.target.value));
      }}
    />
  );
}

function OptionField({ spec, choice, row }: { spec: OptionSpec; choice: LabChoiceSpec; row: LabRow | null }) {
  const setLabOption = useStore((s) => s.setLabOption);
  const id = useId();
  const value = choice.options[spec.key] ?? row?.options[spec.key];
  const say = useMessage();
  const error = row && row.optionError === spec.key ? say(row.errorMsg ?? row.error) : null;
  const errId = `${id}-err`;
  const set = (v: LabChoiceSpec['options'][string], delay = 0) => setLabOption(choice.key, spec.key, v, delay);
  let field;
  if (spec.kind === 'flag') {
    field = <input id={id} type="checkbox" checked={value === true} onChange={(e) => set(e.target.checked)} />;
  } else if (spec.kind === 'choice') {
    field = (
      <select id={id} value={String(value ?? '')} onChange={(e) => set(e.target.value)}>
        {(spec.choices ?? []).map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  } else if (spec.kind === 'list') {
    const list = Array.isArray(value) ? value.join(', ') : String(value ?? '');
    field = (
      <TextOption
        id={id}
        value={list}
        invalid={error !== null}
        describedBy={error ? errId : undefined}
        onChange={(v) => set(v.split(',').map((x) => x.trim()).filter((x) => x !== ''), LAB_DEBOUNCE_MS)}
      />
    );
  } else {
    field = <TextOption id={id} value={typeof value === 'string' ? value : ''} invalid={error !== null} describedBy={error ? errId : undefined} onChange={(v) => set(v, LAB_DEBOUNCE_MS)} />;
  }
  return (
    <div className={`lab-option lab-option-${spec.kind}`} data-option={spec.key}>
      <label htmlFor={id} title={spec.help}>
        <code>{spec.key}</code>
      </label>
      {field}
      {error && (
        <span id={errId} className="field-error" role="alert" data-testid={`lab-option-error-${spec.key}`}>
          {error}
        </span>
      )}
    </div>
  );
}

function TrainAs({ choice, label }: { choice: LabChoiceSpec; label: string }) {
  const runs = useStore((s) => s.runs);
  const setRunStrategy = useStore((s) => s.setRunStrategy);
  const id = useId();
  const { t } = useTranslation('lab');
  return (
    <span className="lab-train-as">
      <label htmlFor={id}>{t('trainAs.label')}</label>{' '}
      <select
        id={id}
        value=""
        data-testid="lab-train-as"
        onChange={(e) => {
          const v = e.target.value;
          if (v === '') return;
          const strategy = { id: choice.id, options: { ...choice.options } };
          const target = v === 'new' ? 'new' : Number(v);
          const letter = String.fromCharCode(65 + (target === 'new' ? runs.length : target));
          setRunStrategy(target, strategy, `Run ${letter} · ${label}`);
        }}
      >
        <option value="">{t('trainAs.choose')}</option>
        {runs.map((r, i) => (
          <option key={r.id} value={i}>
            {t('trainAs.replace', { name: r.name })}
          </option>
        ))}
        {runs.length < MAX_RUNS && <option value="new">{t('trainAs.new')}</option>}
      </select>
    </span>
  );
}

export function LabRowCard({ choice, index, row, disagreements, removable }: { choice: LabChoiceSpec; index: number; row: LabRow | null; disagreements: number | null; removable: boolean }) {
  const s = STRATEGY_BY_ID.get(choice.id);
  const removeLabRow = useStore((st) => st.removeLabRow);
  const makeLabBase = useStore((st) => st.makeLabBase);
  const addLabRow = useStore((st) => st.addLabRow);
  const rows = useStore((st) => st.settings.lab.choices.length);
  const { t } = useTranslation('lab');
  const say = useMessage();
  if (!s) return null;
  const optionSummary = s.options.map((o) => `${o.key}=${JSON.stringify(choice.options[o.key] ?? row?.options[o.key] ?? '')}`).join(' ');
  return (
    <li className={`lab-row-card${row?.error ? ' has-error' : ''}`} data-testid={`lab-row-${index}`} data-strategy={choice.id}>
      <div className="lab-row-head">
        <b className="lab-row-num">{index + 1}</b>
        <span className="lab-row-label" title={s.source}>
          {s.label}
        </span>
        {row && (
          <span className="lab-row-counts" data-testid={`lab-row-counts-${index}`}>
            <Trans
              t={t}
              i18nKey="row.counts"
              values={{ tokens: row.ids.length.toLocaleString(), trained: row.trained.toLocaleString() }}
              components={{ trained: <span data-testid={`lab-trained-${index}`} /> }}
            />
            {index > 0 && disagreements !== null && (
              <Trans
                t={t}
                i18nKey="row.differ"
                values={{ differ: disagreements.toLocaleString() }}
                components={{ differ: <span data-testid={`lab-disagree-${index}`} className={disagreements > 0 ? 'lab-disagree' : ''} /> }}
              />
            )}
          </span>
        )}
        <span className="lab-row-actions">
          {index > 0 && (
            <button type="button" className="link" onClick={() => makeLabBase(choice.key)}>
              {t('row.compare')}
            </button>
          )}
          {rows < MAX_LAB_ROWS && (
            <button type="button" className="link" onClick={() => addLabRow(choice.id, { ...choice.options })} aria-label={t('row.duplicateLabel', { n: index + 1, label: s.label })}>
              {t('row.duplicate')}
            </button>
          )}
          {removable && (
            <button type="button" className="link" onClick={() => removeLabRow(choice.key)} aria-label={t('row.removeLabel', { n: index + 1, label: s.label })}>
              {t('row.remove')}
            </button>
          )}
          {row && !row.error && <TrainAs choice={choice} label={`${s.label}${s.options.length ? ` ${optionSummary}` : ''}`} />}
        </span>
      </div>
      <p className="lab-source muted small">{s.source}</p>
      {s.options.length > 0 && (
        <div className="lab-options">
          {s.options.map((o) => (
            <OptionField key={o.key} spec={o} choice={choice} row={row} />
          ))}
        </div>
      )}
      {row?.error && !row.optionError && (
        <p className="error" role="alert" data-testid={`lab-row-error-${index}`}>
          {say(row.errorMsg ?? row.error)}
        </p>
      )}
      {row && row.notes.length > 0 && (
        <details className="lab-notes">
          <summary>
            {t('row.notes', { count: row.notes.length, label: s.label })}
          </summary>
          <ul className="notes" data-testid={`lab-notes-${index}`}>
            {row.notes.map((n, i) => (
              <li key={i}>{say(row.noteMsgs?.[i] ?? n)}</li>
            ))}
          </ul>
        </details>
      )}
    </li>
  );
}
