// The runs to compare: one card per run with its mask settings (the only thing that differs
// between runs), "+ add run", remove. Edits while runs exist go through the discard dialog. Labels
// differ from the first screen's mask controls ("Full sequence", "User"…) so each name finds one control.
import { useStore, type RunSpec } from '../../store';
import { LOSS_MODES, MAX_RUNS } from '../../store/validate';
import type { LossMode } from '../../spec/loss';
import { Trans, useTranslation } from 'react-i18next';
import { memo, useDeferredValue, useId, type CSSProperties } from 'react';
import { POLICY_ROLES } from '../../data/types';
import { STRATEGY_BY_ID } from '../lab/strategyMeta';
import { TrainingChoice } from '../lora/TrainingChoice';

/** A run whose labels come from a masking-lab strategy: which one, with which options. */
function StrategyMask({ run, index }: { run: RunSpec; index: number }) {
  const setRunStrategy = useStore((s) => s.setRunStrategy);
  const { t } = useTranslation('train');
  const st = run.strategy;
  if (!st) return null;
  const opts = Object.entries(st.options);
  return (
    <div className="run-mask run-strategy" data-testid={`run-${index}-strategy`} data-strategy={st.id}>
      <Trans t={t} i18nKey="runs.fromLab" values={{ strategy: STRATEGY_BY_ID.get(st.id)?.label ?? st.id }} components={{ b: <b /> }} />
      {opts.length > 0 && <span className="muted small"> {opts.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}</span>}{' '}
      <button type="button" className="link" onClick={() => setRunStrategy(index, null)}>
        {t('runs.useMask')}
      </button>
    </div>
  );
}


/** How the run's token losses become its objective (RunSpec.lossMode), with what that means in one line. */
function LossModeChoice({ run, index }: { run: RunSpec; index: number }) {
  const { t } = useTranslation('heldout');
  const setRunLossMode = useStore((s) => s.setRunLossMode);
  const id = useId();
  return (
    <div className="run-loss-mode">
      <label htmlFor={id}>{t('lossMode.label')}</label>
      <select id={id} value={run.lossMode} onChange={(e) => setRunLossMode(index, e.target.value as LossMode)} data-testid={`run-${index}-loss-mode`} aria-describedby={`${id}-explain`}>
        {LOSS_MODES.map((m) => (
          <option key={m} value={m}>
            {t(`lossMode.${m}`)}
          </option>
        ))}
      </select>
      <span id={`${id}-explain`} className="hint small">
        {t(`lossMode.explain.${run.lossMode}`)}
      </span>
    </div>
  );
}

// memo: the cards re-render when their run changes, not with every render of the list.
const RunCard = memo(function RunCard({ run, index, removable, locked }: { run: RunSpec; index: number; removable: boolean; locked: boolean }) {
  const setRunPolicy = useStore((s) => s.setRunPolicy);
  const setRunRole = useStore((s) => s.setRunRole);
  const setRunName = useStore((s) => s.setRunName);
  const removeRun = useStore((s) => s.removeRun);
  const id = useId();
  const { t } = useTranslation('train');
  const p = run.policy;
  const full = p.mode === 'full';
  return (
    <li className="run-card" style={{ '--run': run.color } as CSSProperties} data-testid={`run-card-${index}`}>
      <div className="run-card-head">
        <span className="run-swatch" aria-hidden="true" />
        <label htmlFor={`${id}-name`} className="visually-hidden">
          {t('runs.name')}
        </label>
        <input id={`${id}-name`} className="run-name" value={run.name} onChange={(e) => setRunName(index, e.target.value)} maxLength={48} />
        {removable && (
          <button type="button" className="link" onClick={() => removeRun(index)} aria-label={t('runs.removeLabel', { name: run.name })}>
            {t('runs.remove')}
          </button>
        )}
      </div>
      {run.strategy ? <StrategyMask run={run} index={index} /> : (
      <fieldset className="run-mask" aria-label={t('runs.mask', { name: run.name })} data-locked={locked || undefined}>
        <div className="seg" role="radiogroup" aria-label={t('runs.lossOn')}>
          <label className="choice">
            <input type="radio" name={`${id}-mode`} checked={!full} onChange={() => setRunPolicy(index, { mode: 'response-only' })} data-testid={`run-${index}-response-only`} />
            {t('runs.responseOnly')}
          </label>
          <label className="choice">
            <input type="radio" name={`${id}-mode`} checked={full} onChange={() => setRunPolicy(index, { mode: 'full' })} data-testid={`run-${index}-full`} />
            {t('runs.fullSequence')}
          </label>
        </div>
        {full && (
          <details className="run-roles-box">
            <summary>
              {t('runs.rolesTrained', { roles: POLICY_ROLES.filter((r) => p.roles[r]).map((r) => t(`runs.role.${r}`)).join(', ') || t('runs.none') })}
            </summary>
            <div className="run-roles">
              {POLICY_ROLES.map((role) => (
                <label key={role} className={`choice role-choice role-${role}`}>
                  <input type="checkbox" checked={p.roles[role]} onChange={(e) => setRunRole(index, role, e.target.checked)} />
                  {t(`runs.role.${role}`)}
                </label>
              ))}
            </div>
          </details>
        )}
        <div className="run-opts">
          <label className="choice">
            <input type="checkbox" checked={p.assistantTurns === 'last'} onChange={(e) => setRunPolicy(index, { assistantTurns: e.target.checked ? 'last' : 'all' })} />
            {t('runs.lastTurn')}
          </label>
          <label className="choice">
            <input type="checkbox" checked={p.trainEndOfTurn} onChange={(e) => setRunPolicy(index, { trainEndOfTurn: e.target.checked })} />
            {t('runs.eot')}
          </label>
          <label className="choice">
            <input type="checkbox" checked={p.trainReasoning} onChange={(e) => setRunPolicy(index, { trainReasoning: e.target.checked })} />
            {t('runs.reasoning')}
          </label>
          <label className="choice">
            <input type="checkbox" checked={p.trainToolCalls} onChange={(e) => setRunPolicy(index, { trainToolCalls: e.target.checked })} />
            {t('runs.toolCalls')}
          </label>
          <label className="choice">
            <input type="checkbox" checked={p.trainToolResults} onChange={(e) => setRunPolicy(index, { trainToolResults: e.target.checked })} />
            {t('runs.toolResults')}
          </label>
        </div>
        <label className="run-weight">
          {t('runs.promptWeight')}
          <input
            type="number"
            min={0}
            max={1}
            step={0.05}
            value={p.promptLossWeight}
            data-testid={`run-${index}-prompt-weight`}
            onChange={(e) => {
              const v = Number(e.target.value);
              if (e.target.value !== '' && v >= 0 && v <= 1) setRunPolicy(index, { promptLossWeight: v });
            }}
          />
        </label>
      </fieldset>
      )}
      <LossModeChoice run={run} index={index} />
      <TrainingChoice run={run} index={index} />
    </li>
  );
});

export const RunsEditor = memo(function RunsEditor() {
  const runs = useStore((s) => s.runs);
  const addRun = useStore((s) => s.addRun);
  // Deferred: the cards' "locked" look follows in a background render, not in the task of the
  // click on Train (that one already renders the whole training panel; issue 15's main-thread budget).
  const locked = useDeferredValue(useStore((s) => s.phase !== 'idle' || s.record !== null));
  const { t } = useTranslation('train');
  return (
    <div className="runs-editor">
      <ol className="run-cards">
        {runs.map((r, i) => (
          <RunCard key={r.id} run={r} index={i} removable={runs.length > 1} locked={locked} />
        ))}
      </ol>
      <div className="runs-foot">
        <button type="button" onClick={addRun} disabled={runs.length >= MAX_RUNS} data-testid="add-run">
          {t('runs.add')}
        </button>
        <span className="hint">
          {t('runs.hint')}
          {locked && t('runs.locked')}
        </span>
      </div>
    </div>
  );
});
