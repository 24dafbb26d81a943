// "Train and compare": model and GPU status, the runs and their masks, the optimizer, the controls,
// progress, live curves, the latest numbers, answers, share link and the discard dialog.
import { useMemo } from 'react';
import { useStore, type PolicySettings, type RunSpec } from '../../store';
import { IGNORE_INDEX } from '../../spec/loss';
import type { LabelColumns } from '../../worker/dataProtocol';
import { Answers } from './Answers';
import { ConfirmDiscard } from './ConfirmDiscard';
import { LossArithmetic } from './LossArithmetic';
import { LossChart } from './LossChart';
import { StopMeter } from './StopMeter';
import { OptimizerForm } from './OptimizerForm';
import { HeldOutField } from './HeldOutField';
import { RunsEditor } from './RunsEditor';
import { RunTable } from './RunTable';
import { SavedWeights } from './SavedWeights';
import { TrainExplainer } from './TrainExplainer';
import { ModelStatus, TrainProgress } from './TrainStatus';
import { useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';
import type { TFunction } from 'i18next';

/** Whether two masks label every token alike (roles count only in full mode). */
function sameMask(a: PolicySettings, b: PolicySettings): boolean {
  const roles = a.mode === 'response-only' || (Object.keys(a.roles) as (keyof PolicySettings['roles'])[]).every((r) => a.roles[r] === b.roles[r]);
  const parts = a.trainReasoning === b.trainReasoning && a.trainToolCalls === b.trainToolCalls && a.trainToolResults === b.trainToolResults;
  return a.mode === b.mode && a.assistantTurns === b.assistantTurns && a.trainEndOfTurn === b.trainEndOfTurn && a.promptLossWeight === b.promptLossWeight && roles && parts;
}

/** What untrainedRuns reads from the store. */
interface ShownSample {
  labels: LabelColumns | null;
  /** The view shows the run's tokens: no failure, the model's tokenizer ('default'). */
  current: boolean;
  samples: number;
  sampleIndex: number;
  viewMask: PolicySettings;
  runs: RunSpec[];
  modelPositions: number | null;
}

interface Untrained {
  /** Names of the runs that would train 0 tokens. */
  runs: string[];
  /** Every run trains nothing on the only sample: training would update nothing at all. */
  all: boolean;
  /** Where and why, and what to do. */
  text: string;
}

/**
 * Before training: the runs that would train nothing on the shown sample, and why. A run with the
 * token view's mask gets the view's labels (training tokenizes the same way, with the same cut), so
 * when no position from 1 to the cut has a label, that run has nothing to learn from this sample.
 * Null when every such run has something, or when the view cannot tell (another tokenizer is shown).
 */
function untrainedRuns(t: TFunction, { labels, current, samples, sampleIndex, viewMask, runs, modelPositions }: ShownSample): Untrained | null {
  if (!labels || !current) return null;
  const kept = labels.context.cutAt ?? labels.labels.length;
  // Position 0 predicts nothing (the HF shift): training counts labels from position 1.
  for (let i = 1; i < kept; i++) if (labels.labels[i] !== IGNORE_INDEX) return null;
  const names = runs.filter((r) => sameMask(r.policy, viewMask)).map((r) => r.name);
  if (names.length === 0) return null;
  const where = samples === 1 ? t('untrained.thisSample') : t('untrained.sampleOf', { n: sampleIndex + 1, total: samples });
  const atLimit = labels.contextLength === modelPositions;
  const cut = labels.context.cutAt !== null && labels.context.trainedRemoved > 0;
  const why = cut
    ? t('untrained.cutDrops', { at: labels.context.cutAt }) + (atLimit ? t('untrained.atLimit', { positions: modelPositions }) : '')
    : t('untrained.noneTrained');
  const fix = cut && atLimit ? t('untrained.fixAtLimit') : cut ? t('untrained.fixCut') : t('untrained.fixNone');
  const all = samples === 1 && names.length === runs.length;
  const then = all ? t('untrained.allOff') : samples === 1 ? t('untrained.others', { count: names.length }) : null;
  return {
    runs: names, all,
    text: [t('untrained.who', { count: names.length, names: names.join(', '), where, why }), then, fix].filter(Boolean).join(' '),
  };
}

function Controls() {
  const phase = useStore((s) => s.phase);
  const modelReady = useStore((s) => s.model.status === 'ready');
  const gpuOk = useStore((s) => s.gpu.status !== 'unavailable');
  const hasRecord = useStore((s) => s.record !== null);
  const { train, pause, resume, stop, reset } = useStore.getState();
  const inputOk = useStore((s) => s.failure === null && !s.busy);
  const labels = useStore((s) => s.labels);
  const current = useStore((s) => !s.stale && s.failure === null && s.settings.tokenizerId === 'default');
  const samples = useStore((s) => s.parse?.sampleCount ?? 1);
  const sampleIndex = useStore((s) => s.sampleIndex);
  const viewMask = useStore((s) => s.settings.policy);
  const runs = useStore((s) => s.runs);
  const modelPositions = useStore((s) => s.modelTokenizer?.contextLength ?? null);
  const { t } = useTranslation('train');
  const untrained = useMemo(
    () => untrainedRuns(t, { labels, current, samples, sampleIndex, viewMask, runs, modelPositions }),
    [t, labels, current, samples, sampleIndex, viewMask, runs, modelPositions],
  );
  const running = phase === 'training' || phase === 'paused' || phase === 'starting';
  return (
    <>
      <div className="train-controls" role="group" aria-label={t('panel.controls')}>
        <button type="button" className="primary" onClick={train} disabled={!modelReady || !gpuOk || running || !inputOk || untrained?.all === true} data-testid="train">
          {phase === 'idle' ? t('panel.train') : t('panel.trainAgain')}
        </button>
        {phase === 'paused' ? (
          <button type="button" onClick={resume} data-testid="resume">
            {t('panel.resume')}
          </button>
        ) : (
          <button type="button" onClick={pause} disabled={phase !== 'training'} data-testid="pause">
            {t('panel.pause')}
          </button>
        )}
        <button type="button" onClick={stop} disabled={!running} data-testid="stop">
          {t('panel.stop')}
        </button>
        <button type="button" onClick={reset} disabled={phase === 'idle' && !hasRecord} data-testid="reset">
          {t('panel.reset')}
        </button>
        {!inputOk && <span className="muted small">{t('panel.fixSample')}</span>}
      </div>
      {untrained && !running && (
        <p className="message warn train-untrained" role="status" data-testid="train-untrained">
          {untrained.text}
        </p>
      )}
    </>
  );
}

function Messages() {
  const error = useStore((s) => s.error);
  const warnings = useStore((s) => s.warnings);
  const { t } = useTranslation('train');
  const say = useMessage();
  return (
    <>
      {error && (
        <p className="message error" role="alert" data-testid="train-error">
          {say(error)}
        </p>
      )}
      {warnings.length > 0 && (
        <details className="message warn" data-testid="train-warnings" open={warnings.length <= 3}>
          <summary>
            {t('panel.warnings', { count: warnings.length })}
          </summary>
          <ul>
            {warnings.slice(-50).map((w, i) => (
              <li key={i}>{say(w)}</li>
            ))}
          </ul>
        </details>
      )}
    </>
  );
}

function ShareLink() {
  const share = useStore((s) => s.share);
  const makeShareLink = useStore((s) => s.makeShareLink);
  const { t } = useTranslation('train');
  const say = useMessage();
  return (
    <div className="share">
      <button type="button" onClick={() => void makeShareLink()} data-testid="share">
        {t('panel.share')}
      </button>
      {share.message && (
        <span className="muted small" role="status">
          {say(share.message)}
        </span>
      )}
      {share.url && <input className="share-url" readOnly value={share.url} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} aria-label={t('panel.share')} />}
    </div>
  );
}

export function TrainPanel() {
  const runs = useStore((s) => s.runs);
  const phase = useStore((s) => s.phase);
  const { t } = useTranslation('train');
  return (
    <section className="panel train-panel" aria-labelledby="train-h" data-phase={phase} data-testid="train-panel">
      <div className="panel-head">
        <h2 id="train-h">{t('panel.title')}</h2>
        <ShareLink />
      </div>
      <ModelStatus />
      <TrainExplainer />
      <RunsEditor />
      <OptimizerForm />
      <HeldOutField />
      <Controls />
      <Messages />
      <TrainProgress />
      <SavedWeights />
      {/* Mounted before training starts: building the chart is the costliest render here, and it
          must not land in the same task as the click on Train. */}
      <LossChart runs={runs} />
      <StopMeter runs={runs} />
      <RunTable runs={runs} />
      <LossArithmetic />
      <Answers runs={runs} />
      <ConfirmDiscard />
    </section>
  );
}
